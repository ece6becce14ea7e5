// plog run: a real command under a real plogsrvd (the runtime
// directory's, or a private one on a temporary directory), its exit status,
// its signals, the summary, the log kept with -o.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunArgs, exitStatus, formatSummary, RUN_EXIT } from '../src/cli/plog-run.js';
import { readLog } from '../src/plog/log/readlog.js';
import { UNRECOGNIZED } from '../src/plog/protocol.js';
import { ProcessReader } from '../src/proc/reader.js';
import { fakeServer, lines, PLOG, plog, Server, tempDir, testEnv, waitFor } from './helpers/plog.js';
import { processesWith } from './helpers/run.js';
import { onTerminal } from './helpers/terminal.js';

/** A directory for TMPDIR: where a private plogsrvd makes its own. */
function privateTmp(): string {
  return tempDir();
}

/** The lines of a log in the private plogsrvd's directory under tmp ([] before it is there). */
function privateLog(tmp: string, name: string): string[] {
  const path = readdirSync(tmp, { recursive: true, encoding: 'utf8' }).find((p) => p.endsWith(`/${name}`));
  return path ? lines(join(tmp, path)) : [];
}

/** The children of a process (from /proc/PID/task/PID/children). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '';
  }
};

describe('arguments', () => {
  test("options end at '--' or at CMD; CMD's own options are its own", () => {
    const a = parseRunArgs(['-i', '50ms', '-o', 'x.csv', '--format', 'csv', '--', 'make', '-j', '4']);
    assert.deepEqual(a, { intervalMs: 50, output: 'x.csv', format: 'csv', dir: undefined, timeoutMs: 3000, cmd: ['make', '-j', '4'] });
    const b = parseRunArgs(['-i', '2s', 'ls', '-l', '--', 'x']);
    assert.deepEqual(b !== 'help' && [b.intervalMs, b.cmd], [2000, ['ls', '-l', '--', 'x']]);
    const c = parseRunArgs(['sleep', '1']);
    assert.deepEqual(c !== 'help' && [c.intervalMs, c.format, c.output, c.cmd], [1000, 'text', null, ['sleep', '1']]);
    assert.equal(parseRunArgs(['--help']), 'help');
    for (const bad of [[], ['-i', '5ms', 'x'], ['--format', 'xml', 'x'], ['-t', '0', 'x'], ['-i', '1s'], ['--'], ['-z', 'x']]) {
      assert.throws(
        () => parseRunArgs(bad),
        (e: unknown) => (e as { exitCode?: number }).exitCode === 125,
        bad.join(' '),
      );
    }
  });
  test('exit status as a shell gives it', () => {
    assert.equal(exitStatus(0, null), 0);
    assert.equal(exitStatus(7, null), 7);
    assert.equal(exitStatus(null, 'SIGINT'), 130);
    assert.equal(exitStatus(null, 'SIGKILL'), 137);
  });
  test('a summary without samples says so', () => {
    const s = formatSummary({ cmd: ['true'], status: 0, signal: null, wallMs: 3, logPath: '', logNote: 'not logged', report: null });
    assert.match(s, /^plog run: true exited with status 0 after 3 ms\n  log: +- \(not logged\)\n  samples: +none/);
  });
});

test("CMD's status, its streams untouched, the summary on stderr; the private plogsrvd and its directory gone after", async () => {
  const tmp = privateTmp();
  const r = await plog(['run', '-i', '50ms', '-d', tempDir(), '--', 'sh', '-c', 'echo out; echo err >&2; sleep 0.3; exit 7'], { env: { TMPDIR: tmp } });
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /^err\n/);
  assert.match(r.stderr, /plog run: sh -c echo out; echo err >&2; sleep 0\.3; exit 7 exited with status 7 after /);
  assert.match(r.stderr, /removed with the private plogsrvd/);
  assert.match(r.stderr, /  samples: +\d+ (over|within) /);
  assert.match(r.stderr, /  peak: +RSS [\d.]+ [KM]iB, PSS /);
  assert.match(r.stderr, /  CPU: +mean [\d.]+%/);
  assert.match(r.stderr, /  verdict: /);
  assert.deepEqual(readdirSync(tmp), []);
  assert.deepEqual(processesWith(tmp), []);
});

test('-o FILE keeps the log (jsonl here): from the first sample, through an exec, PSS read after it', async () => {
  const tmp = privateTmp();
  const out = join(tempDir(), 'run.jsonl');
  // The private plogsrvd inherits PLOG_PSS_BUDGET=off: PSS at every sample,
  // which a loaded machine's Safe PSS budget could otherwise skip after the exec.
  const r = await plog(['run', '-i', '50ms', '-o', out, '--format', 'jsonl', '-d', tempDir(), '--', 'sh', '-c', 'sleep 0.4; exec sleep 0.4'], {
    env: { TMPDIR: tmp, PLOG_PSS_BUDGET: 'off' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`  log: +${out}\\n`));
  assert.match(
    r.stderr,
    /  I\/O: +storage read [\d.]+ [KMG]?i?B, written [\d.]+ [KMG]?i?B; read\(\) [\d.]+ [KMG]?i?B, write\(\) [\d.]+ [KMG]?i?B; open fds up to \d+; context switches \d+ voluntary, \d+ involuntary \(at the last sample\)/,
  );
  const log = readLog(out);
  assert.equal(log.format, 'jsonl');
  assert.equal(log.command, 'sh -c sleep 0.4; exec sleep 0.4');
  assert.ok(log.samples.length >= 6, String(log.samples.length));
  assert.equal(log.samples[0]!.cpuPercent, null, 'the first sample is the registration');
  // After the exec too: maps and smaps_rollup follow the new program. (Not
  // the last sample: one taken while the process exits, its memory already
  // released, has no sizes: a known bug of its own.)
  const t0 = log.samples[0]!.timeMs;
  for (const s of log.samples.slice(0, -1)) {
    assert.ok((s.privWriteBytes ?? 0) > 0, `line ${s.line}`);
    assert.equal(typeof s.extra?.open_fds, 'number');
  }
  assert.ok(
    log.samples.slice(0, -1).some((s) => s.timeMs - t0 >= 550 && typeof s.pssBytes === 'number'),
    'PSS after the exec',
  );
  assert.deepEqual(readdirSync(tmp), []);
});

test("the runtime directory's plogsrvd is used when it answers: the log stays there (and is copied to -o)", async () => {
  const srv = await Server.start();
  const tmp = privateTmp();
  const out = join(tempDir(), 'copy');
  const r = await plog(['run', '-d', srv.dir, '-i', '50ms', '-o', out, '--', 'sleep', '0.3'], { env: { TMPDIR: tmp } });
  assert.equal(r.code, 0, r.stderr);
  const m = new RegExp(`  log: +(${srv.dir}/sleep\\.\\d+) \\(copied to ${out}\\)`).exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.equal(readFileSync(m[1]!, 'utf8'), readFileSync(out, 'utf8'));
  assert.ok(readLog(out).samples.length >= 2);
  assert.deepEqual(readdirSync(tmp), [], 'no private server');
  // And $PLOGDIR names it as well.
  const e = await plog(['run', '-i', '50ms', '--', 'true'], { env: { TMPDIR: tmp, PLOGDIR: srv.dir } });
  assert.equal(e.code, 0, e.stderr);
  assert.doesNotMatch(e.stderr, /private/);
  assert.deepEqual(readdirSync(tmp), []);
});

test('CMD not found: 127; not executable: 126; killed by a signal: 128+N; -o unwritable: 125 and CMD not run', async () => {
  const tmp = privateTmp();
  const env = { env: { TMPDIR: tmp } };
  let r = await plog(['run', '-d', tempDir(), '--', 'no-such-command-here'], env);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /no-such-command-here: command not found/);
  r = await plog(['run', '-d', tempDir(), '--', '/etc/passwd'], env);
  assert.equal(r.code, 126, r.stderr);
  assert.match(r.stderr, /^plog run: cannot run \/etc\/passwd: Permission denied$/m);
  r = await plog(['run', '-d', tempDir(), '-i', '50ms', '--', 'sh', '-c', 'sleep 0.2; kill -KILL $$'], env);
  assert.equal(r.code, 137, r.stderr);
  assert.match(r.stderr, /was killed by SIGKILL \(status 137\)/);
  const marker = join(tempDir(), 'ran');
  r = await plog(['run', '-o', '/nonexistent/dir/log', '--', 'touch', marker], env);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^plog run: -o \/nonexistent\/dir\/log: No such file or directory$/m);
  assert.equal(existsSync(marker), false);
  r = await plog(['run', '--format', 'xml', '--', 'true'], env);
  assert.equal(r.code, 125);
  assert.deepEqual(readdirSync(tmp), []);
  assert.deepEqual(processesWith(tmp), []);
});

test('SIGINT to plog run (no terminal) goes to CMD; plog run waits for it, prints the summary, exits 128+2', async () => {
  const tmp = privateTmp();
  const child = spawn(process.execPath, [PLOG, 'run', '-d', tempDir(), '-i', '50ms', '--', 'sleep', '30'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: testEnv({ TMPDIR: tmp }),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const cmd = await waitFor('sleep 30 under plog run', () => childrenOf(child.pid!).find((p) => comm(p) === 'sleep'));
  await waitFor('a few samples', () => privateLog(tmp, `sleep.${cmd}`).length >= 2 + 3);
  child.kill('SIGINT');
  assert.equal(await done, 130);
  await waitFor('the summary', () => /verdict:/.test(stderr));
  assert.match(stderr, /plog run: sleep 30 was killed by SIGINT \(status 130\)/);
  assert.equal(existsSync(`/proc/${cmd}`), false);
  assert.deepEqual(readdirSync(tmp), []);
});

test('Ctrl-C on a terminal reaches CMD once (not again from plog run); the summary follows', async () => {
  const tmp = privateTmp();
  const work = tempDir();
  const count = join(work, 'count');
  const ready = join(work, 'ready');
  const script = join(work, 'cmd.js');
  writeFileSync(
    script,
    `const fs = require('fs'); let n = 0;
process.on('SIGINT', () => { n++; setTimeout(() => { fs.writeFileSync(${JSON.stringify(count)}, String(n)); process.exit(3); }, 300); });
fs.writeFileSync(${JSON.stringify(ready)}, String(process.pid)); setInterval(() => {}, 1000);\n`,
  );
  const run = [process.execPath, PLOG, 'run', '-d', tempDir(), '-i', '50ms', '--', process.execPath, script].map((a) => `'${a}'`).join(' ');
  const term = onTerminal(run, testEnv({ TMPDIR: tmp }));
  await waitFor('CMD to start', () => existsSync(ready));
  const pid = readFileSync(ready, 'utf8');
  await waitFor('a few samples', () => privateLog(tmp, `node.${pid}`).length >= 2 + 3);
  term.child.stdin!.write('\x03');
  assert.equal(await term.status(), 3, term.output());
  assert.equal(readFileSync(count, 'utf8'), '1', 'one SIGINT');
  assert.match(term.output(), /exited with status 3 after/);
  assert.match(term.output(), /verdict:/);
  assert.deepEqual(readdirSync(tmp), []);
});

test('plog run --help, plog --help and plog(1) agree on plog run and its exit codes', async () => {
  const h = await plog(['run', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage:\n  plog run /m);
  const page = readFileSync(new URL('../../man/plog.1', import.meta.url), 'utf8');
  const sub = page.split(/^\.SS /m).find((s) => s.startsWith('plog run'));
  assert.ok(sub, 'plog(1) has plog run');
  const manCodes = [...sub.matchAll(/^\.TP\n\.B (\d+)\n(.*)$/gm)].map((m) => [Number(m[1]), m[2]!.replace(/\\-/g, '-')]);
  assert.deepEqual(
    manCodes,
    Object.values(RUN_EXIT).map((c) => [c.code, c.meaning.replace(/CMD/g, 'cmd').replace('-o FILE', '-o file')]),
  );
  for (const c of Object.values(RUN_EXIT)) assert.match(h.stdout, new RegExp(`^  ${c.code}  ${c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  const top = await plog(['--help']);
  assert.match(top.stdout, /^  plog run \[-i INTERVAL\]/m);
  assert.match(top.stdout, /--format F +the log's format: text \(default\), csv or jsonl/);
});

test('an old server in the runtime directory: plog 0.1.0 is passed over for a private one; one without formats, late, with a warning', async () => {
  const tmp = privateTmp();
  // plog 0.1.0: nothing but {pid, minutes} and {0, 1..3}.
  const old = tempDir();
  const s1 = fakeServer(old, (r) => (r.kind === 'log' && r.legacy ? 'Log file: /nowhere' : r.kind === 'pid' ? '1' : UNRECOGNIZED));
  // The extensions' first days: hello, but no {0, 24}.
  const early = tempDir();
  const s2 = fakeServer(early, (r) => (r.kind === 'hello' ? 'plogsrvd 0.1.9 ext 2' : r.kind === 'log' && r.format ? UNRECOGNIZED : 'Log file: /nowhere'));
  try {
    let r = await plog(['run', '-d', old, '-i', '50ms', '--format', 'csv', '--', 'sleep', '0.3'], { env: { TMPDIR: tmp } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /removed with the private plogsrvd/);
    assert.match(r.stderr, /  samples: +\d+ (over|within)/);
    // Here the private server starts only after CMD: CMD waits until a
    // plogsrvd holds its /proc/PID/stat open (a loaded machine can take
    // longer than any fixed sleep to start one), then lives 0.3 s more.
    const untilLogged = 'i=0; until ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q " /proc/$$/stat$"; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done; sleep 0.3';
    r = await plog(['run', '-d', early, '-i', '50ms', '--format', 'jsonl', '--', 'sh', '-c', untilLogged], { env: { TMPDIR: tmp } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`the plogsrvd on ${early} cannot write jsonl logs; using a private one`));
    assert.match(r.stderr, /  samples: +\d+ (over|within)/);
    assert.deepEqual(readdirSync(tmp), []);
  } finally {
    s1.close();
    s2.close();
  }
});

test('Ctrl-C while the private plogsrvd starts: CMD not started, the server stopped, its directory removed, 130', async () => {
  const tmp = privateTmp();
  const marker = join(tempDir(), 'ran');
  const child = spawn(process.execPath, [PLOG, 'run', '-d', tempDir(), '--', 'touch', marker], { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv({ TMPDIR: tmp }) });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // The private server's directory is made before the server is started.
  await waitFor('the private directory', () => readdirSync(tmp).length > 0, { interval: 2 });
  child.kill('SIGINT');
  assert.equal(await done, 130, stderr);
  assert.match(stderr, /SIGINT before touch started: not started/);
  assert.equal(existsSync(marker), false);
  assert.deepEqual(readdirSync(tmp), []);
  assert.deepEqual(processesWith(tmp), []);
});

for (const lean of [false, true]) {
  test(`ProcessReader${lean ? ' (lean)' : ''} follows an exec: smaps_rollup and maps read the new program (they went null and 0)`, async () => {
    const child = spawn('sh', ['-c', 'read x; exec sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await waitFor('sh to start', () => comm(child.pid!) === 'sh');
      const reader = ProcessReader.open(child.pid!, { lean });
      try {
        const before = reader.sample();
        assert.ok(before.smaps !== null && before.maps !== null && before.maps.kb > 0);
        child.stdin.write('go\n');
        await waitFor('the exec', () => comm(child.pid!) === 'sleep');
        for (let i = 0; i < 2; i++) {
          const after = reader.sample();
          assert.equal(after.stat.comm, 'sleep');
          assert.ok(after.smaps !== null, `sample ${i}: ${after.smapsError?.message}`);
          assert.ok(after.maps !== null && after.maps.complete && after.maps.kb > 0, `sample ${i}`);
        }
      } finally {
        reader.close();
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
}
