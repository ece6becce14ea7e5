// plog web, the command: its options and exit codes (the same table in
// --help and plog(1)), the URL it prints, loopback by default, a port in
// use, a clean stop on SIGTERM and SIGINT, logs named on the command line,
// --open without the token on any command line, and plog --help naming it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { WEB_EXIT, parse } from '../src/cli/plog-web.js';
import { series, textLog } from './helpers/logs.js';
import { plog, tempDir, waitFor } from './helpers/plog.js';
import { get, startWeb } from './helpers/web.js';

const dir = tempDir(0o755);
const LOG = join(dir, 'node.31');
writeFileSync(
  LOG,
  textLog(
    'node app.js',
    series(new Date(Date.now() - 60_000), 1000, 20, (i) => 1000 + i),
  ),
);
const page = readFileSync(new URL('../../man/plog.1', import.meta.url), 'utf8');

describe('options and exit codes', () => {
  test('usage errors exit 11 and say so', async () => {
    for (const args of [['--listen', 'nowhere'], ['--listen', 'host.example:80'], ['--listen', '127.0.0.1:70000'], ['--bogus'], ['-'], ['--allow-host', 'a b'], ['-d', 'relative/dir']]) {
      const r = await plog(['web', ...args]);
      assert.equal(r.code, WEB_EXIT.USAGE.code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Try 'plog web --help'\./);
    }
  });

  test('a file that cannot be read exits 16; a directory -d that is not there 16; not a log 17', async () => {
    let r = await plog(['web', '-d', dir, join(dir, 'missing')]);
    assert.equal(r.code, WEB_EXIT.READ.code);
    assert.match(r.stderr, /missing: No such file or directory/);
    r = await plog(['web', '-d', join(dir, 'nodir')]);
    assert.equal(r.code, WEB_EXIT.READ.code);
    const notLog = join(dir, 'passwd-copy');
    writeFileSync(notLog, 'root:x:0:0:root:/root:/bin/bash\nbin:x:2:2::/bin:/usr/sbin/nologin\n');
    r = await plog(['web', '-d', tempDir(), notLog]);
    assert.equal(r.code, WEB_EXIT.NOT_A_LOG.code, r.stderr);
  });

  test('a port in use exits 20', async () => {
    const s = createServer();
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
    const port = (s.address() as { port: number }).port;
    const r = await plog(['web', '-d', dir, '--listen', `127.0.0.1:${port}`]);
    s.close();
    assert.equal(r.code, WEB_EXIT.LISTEN.code);
    assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: /);
  });

  test('--help and plog(1) list the same exit codes, with their meanings', async () => {
    const r = await plog(['web', '--help']);
    assert.equal(r.code, 0);
    for (const c of Object.values(WEB_EXIT)) assert.match(r.stdout, new RegExp(`^\\s*${c.code}\\s+${c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const sec = page.split(/^\.SS /m).find((s) => s.startsWith('plog web'))!;
    const entries = [...sec.matchAll(/^\.TP\n\.B (\d+)\n(.*)$/gm)].map((m) => [Number(m[1]), m[2]!.replace(/\\-/g, '-')]);
    assert.deepEqual(
      entries,
      Object.values(WEB_EXIT).map((c) => [c.code, c.meaning]),
    );
    const help = await plog(['--help']);
    assert.match(help.stdout, /^ {2}plog web \[-d DIR\] \[--listen ADDR:PORT\] \[FILE\.\.\.\]$/m);
  });

  test('the directory: -d, else $PLOGDIR, else /var/local/plog; loopback by default', () => {
    const a = parse([], { PLOGDIR: '/srv/plog' });
    assert.ok(a !== 'help');
    assert.equal(a.dir, '/srv/plog');
    assert.equal(a.host, '127.0.0.1');
    assert.equal(a.port, 0);
    const b = parse([], {});
    assert.ok(b !== 'help' && b.dir === '/var/local/plog');
    const c = parse(['-d', '/x', '--listen', '[::1]:8080'], {});
    assert.ok(c !== 'help' && c.dir === '/x' && c.host === '::1' && c.port === 8080);
  });
});

describe('running', () => {
  test('prints a URL on the loopback with a token; serves the directory and the files named; SIGTERM stops it (0)', async () => {
    const other = tempDir(0o755);
    const extra = join(other, 'run-before.log');
    writeFileSync(
      extra,
      textLog(
        'before the fix',
        series(new Date(Date.now() - 600_000), 1000, 10, () => 5000),
      ),
    );
    const w = await startWeb(['-d', dir, extra]);
    assert.match(w.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.match(w.stderr(), /serving the logs of .* and 1 file \(2 logs now\)/);
    const r = await get(w.port, `/api/logs?token=${w.token}`);
    const ids = (JSON.parse(r.body) as { rows: Array<{ id: string }> }).rows.map((x) => x.id).sort();
    assert.deepEqual(ids, ['node.31', 'run-before.log']);
    w.child.kill('SIGTERM');
    assert.deepEqual(await w.exit, { code: 0, signal: null });
  });

  test('SIGINT stops it too; two runs have two tokens', async () => {
    const a = await startWeb(['-d', dir]);
    const b = await startWeb(['-d', dir]);
    assert.notEqual(a.token, b.token);
    assert.equal((await get(a.port, `/api/logs?token=${b.token}`)).status, 403);
    a.child.kill('SIGINT');
    b.child.kill('SIGINT');
    assert.equal((await a.exit).code, 0);
    assert.equal((await b.exit).code, 0);
  });

  test('--open hands the browser a page of its own (mode 600), never the token on a command line', async () => {
    const d = tempDir(0o700);
    const seen = join(d, 'seen');
    const fake = join(d, 'browser');
    // A "browser" that records its arguments and the page it was given.
    writeFileSync(fake, `#!/bin/sh\necho "$@" > ${seen}.args\nstat -c %a "\${1#file://}" > ${seen}.mode\ncat "\${1#file://}" > ${seen}.page\n`);
    chmodSync(fake, 0o755);
    const w = await startWeb(['-d', dir, '--open'], { env: { BROWSER: fake, XDG_RUNTIME_DIR: d } });
    await waitFor('the browser to run', () => {
      try {
        return readFileSync(`${seen}.page`, 'utf8').includes('token=');
      } catch {
        return false;
      }
    });
    const args = readFileSync(`${seen}.args`, 'utf8');
    assert.doesNotMatch(args, /token/);
    assert.match(args, /^file:\/\/.*\/open\.html$/m);
    assert.equal(readFileSync(`${seen}.mode`, 'utf8').trim(), '600');
    assert.ok(readFileSync(`${seen}.page`, 'utf8').includes(w.url));
    w.child.kill('SIGTERM');
    await w.exit;
  });
});
