// The strlog programs' command lines: one table of exit codes per program
// (src/strlog/exitcodes.ts), listed the same in --help and the man page;
// strlogd's options, detaching, signals and every start-up exit code;
// strtrace's usage and end conditions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { STRCLEAN, STRERR, STRLOG, STRLOGD, STRTRACE, type ExitCode } from '../src/strlog/exitcodes.js';
import { driverStats, SL_TRACE } from '../src/strlog/index.js';
import {
  Driver,
  node,
  ROOT,
  sleep,
  startStrtrace,
  STRCLEAN as STRCLEAN_BIN,
  STRERR as STRERR_BIN,
  STRLOG as STRLOG_BIN,
  STRLOGD as STRLOGD_BIN,
  STRTRACE as STRTRACE_BIN,
  tempDir,
  VERSION,
  waitFor,
} from './helpers/strlog.js';

const programs: [string, string, string, Record<string, ExitCode>][] = [
  ['strlogd', 'strlogd.8', STRLOGD_BIN, STRLOGD],
  ['strerr', 'strerr.8', STRERR_BIN, STRERR],
  ['strtrace', 'strtrace.8', STRTRACE_BIN, STRTRACE],
  ['strclean', 'strclean.8', STRCLEAN_BIN, STRCLEAN],
  ['strlog', 'strlog.1', STRLOG_BIN, STRLOG],
];

function manExitCodes(page: string): [number, string][] {
  const text = readFileSync(join(ROOT, 'man', page), 'utf8');
  const section = text.split(/^\.SH /m).find((s) => s.startsWith('EXIT STATUS'));
  assert.ok(section, `${page} has an EXIT STATUS section`);
  return [...section.matchAll(/^\.TP\n\.B (\d+)\n(.*)$/gm)].map((m) => [Number(m[1]), m[2]!]);
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const [name, page, script, table] of programs) {
  test(`${name}: the man page lists exactly the exit codes of the table, with the same words`, () => {
    assert.deepEqual(
      manExitCodes(page),
      Object.values(table).map((c) => [c.code, c.meaning]),
    );
  });

  test(`${name} --help and -h: every exit code with its meaning, status 0; --version`, async () => {
    for (const opt of ['--help', '-h']) {
      const r = await node(script, [opt]);
      assert.deepEqual([r.code, r.stderr], [0, '']);
      assert.ok(r.stdout.startsWith(`${name} ${VERSION} - `), r.stdout);
      for (const c of Object.values(table)) assert.match(r.stdout, new RegExp(`^\\s+${c.code}\\s+${esc(c.meaning)}$`, 'm'), `${opt}: ${c.code}`);
    }
    const v = await node(script, ['--version']);
    assert.deepEqual([v.code, v.stdout, v.stderr], [0, `${name} ${VERSION}\n`, '']);
  });
}

test('package.json names every strlog program and man page, and plogkit/strlog', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[]; bin: Record<string, string>; exports: Record<string, unknown> };
  for (const [name, page] of programs) {
    assert.ok(pkg.man.includes(`man/${page}`), page);
    assert.equal(pkg.bin[name], `dist/src/bin/${name}.js`); // SIGUSR1's guard, then dist/src/cli/NAME.js
    assert.ok(existsSync(join(ROOT, 'man', page)));
  }
  assert.ok(pkg.man.includes('man/strlog.3'));
  assert.ok(existsSync(join(ROOT, 'man/strlog.3')));
  assert.ok(pkg.exports['./strlog']);
});

test('strlogd: usage errors (1), an unusable runtime directory (2), an unknown group (3)', async () => {
  for (const bad of [['-x'], ['-e', 'loud'], ['-q', '100'], ['-b', 'lots'], ['extra']]) {
    const r = await node(STRLOGD_BIN, ['-f', '-d', tempDir(), ...bad]);
    assert.equal(r.code, STRLOGD.USAGE.code, bad.join(' '));
    assert.match(r.stderr, /Try 'strlogd --help'/);
  }
  const file = join(tempDir(), 'file');
  writeFileSync(file, '');
  for (const [dir, re] of [
    ['relative', /must be an absolute path/],
    ['/' + 'd'.repeat(120), /too long/],
    [file, /not a directory/],
    [join(tempDir(), 'no', 'parent'), /cannot create/],
  ] as const) {
    const r = await node(STRLOGD_BIN, ['-d', dir]);
    assert.equal(r.code, STRLOGD.RUNDIR.code, dir);
    assert.match(r.stderr, re);
  }
  const env = await node(STRLOGD_BIN, [], { env: { STRLOGDIR: 'rel' } });
  assert.equal(env.code, STRLOGD.RUNDIR.code);
  assert.match(env.stderr, /\$STRLOGDIR must be an absolute path/);
  const g = await node(STRLOGD_BIN, ['-d', tempDir(), '-g', 'no-such-group-here']);
  assert.equal(g.code, STRLOGD.GROUP.code);
  assert.match(g.stderr, /no such group: no-such-group-here/);
});

test('strlogd: detaches by default, returns once ready; one per directory (5); SIGTERM removes its sockets', async () => {
  const dir = join(tempDir(), 'run'); // created by strlogd
  const r = await node(STRLOGD_BIN, ['-d', dir, '-e', 'none'], { env: { PLOG_SYSLOG_SOCKET: '/nonexistent' } });
  assert.deepEqual([r.code, r.stderr], [0, '']);
  assert.equal(lstatSync(dir).mode & 0o777, 0o755);
  const pid = Number(readFileSync(join(dir, 'strlogd.pid'), 'utf8'));
  try {
    assert.notEqual(pid, r.pid);
    assert.equal((await driverStats(dir)).pid, pid, 'ready when the launcher returned');
    for (const s of ['submit', 'logger']) assert.equal(lstatSync(join(dir, s)).mode & 0o7777, 0o666, s);
    const again = await node(STRLOGD_BIN, ['-d', dir]);
    assert.equal(again.code, STRLOGD.RUNNING.code);
    assert.match(again.stderr, new RegExp(`already running on ${esc(dir)} \\(pid ${pid}\\)`));
    const fg = await node(STRLOGD_BIN, ['-f', '-d', dir]);
    assert.equal(fg.code, STRLOGD.RUNNING.code);
    process.kill(pid, 'SIGHUP');
    await sleep(100); // SIGHUP's default action would have ended it by now
    assert.equal((await driverStats(dir)).pid, pid, 'SIGHUP is ignored');
  } finally {
    process.kill(pid, 'SIGTERM');
  }
  await waitFor('the sockets removed', () => !existsSync(join(dir, 'submit')) && !existsSync(join(dir, 'logger')));
});

test("strlogd: stale sockets are replaced; anything else at a socket's name is an error (6)", async () => {
  const dir = tempDir();
  const d = await Driver.start({ dir, args: ['-n'] });
  d.child.kill('SIGKILL');
  await waitFor('dead', () => d.child.exitCode !== null || d.child.signalCode !== null);
  assert.ok(existsSync(join(dir, 'submit')), 'left behind by a killed strlogd');
  const d2 = await Driver.start({ dir, args: ['-n'] });
  assert.equal((await d2.stats()).pid, d2.pid);
  await d2.stop();
  mkdirSync(join(dir, 'logger'));
  const r = await node(STRLOGD_BIN, ['-f', '-d', dir]);
  assert.equal(r.code, STRLOGD.SOCKET.code);
  assert.match(r.stderr, /logger exists and is not a socket/);
});

test('strlogd: a socket of its uid that another process serves is left alone (6), not removed', async () => {
  const dir = tempDir();
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(join(dir, 'logger'), resolve));
  try {
    const r = await node(STRLOGD_BIN, ['-f', '-d', dir]);
    assert.equal(r.code, STRLOGD.SOCKET.code, r.stderr);
    assert.match(r.stderr, /logger is served by another process/);
    assert.ok(lstatSync(join(dir, 'logger')).isSocket(), 'still there');
  } finally {
    srv.close();
  }
});

test('strtrace: malformed triples (1), no driver (2), driver gone (4), output closed (0)', async () => {
  for (const bad of [['1'], ['1', '2'], ['x', 'all', 'all'], ['1', '2', '3', '4'], ['--nope'], ['--rundir']]) {
    const r = await node(STRTRACE_BIN, bad);
    assert.equal(r.code, STRTRACE.USAGE.code, bad.join(' '));
    assert.match(r.stderr, /Try 'strtrace --help'/);
  }
  const none = await node(STRTRACE_BIN, ['--rundir', tempDir()]);
  assert.equal(none.code, STRTRACE.NO_DRIVER.code);
  assert.match(none.stderr, /^strtrace: no strlogd in \/tmp\/sl-\w+: \/tmp\/sl-\w+\/logger does not exist \(is strlogd running\?\)$/m);

  const d = await Driver.start({ args: ['-n'] });
  // -1 is "all" too, and a negative number is not an option.
  const t = await startStrtrace(d, ['-1', '-1', '-1']);
  const c = d.client();
  await c.strlogWait(1, 2, 3, SL_TRACE, 'seen');
  await t.waitLines(1);
  t.child.stdout!.destroy(); // the reader goes away
  await c.strlogWait(1, 2, 3, SL_TRACE, 'nobody reads this');
  const e = await t.exit;
  assert.equal(e.code, STRTRACE.OK.code);

  const t2 = await startStrtrace(d);
  await d.stop();
  const e2 = await t2.exit;
  assert.equal(e2.code, STRTRACE.DRIVER_GONE.code);
  assert.match(t2.stderr, /strlogd closed the connection/);
});

test('strlogd: a connection that does not register within 10 s is closed; a logger stays', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logger = await d.open('console');
  const idle = createConnection(join(d.dir, 'logger'));
  const t0 = Date.now();
  await new Promise((r) => idle.once('close', r));
  const waited = Date.now() - t0;
  assert.ok(waited >= 9_000 && waited < 20_000, `closed after ${waited} ms`);
  assert.equal(logger.stream.socket.destroyed, false);
  assert.equal((await d.stats()).loggers.length, 1);
});
