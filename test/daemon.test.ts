// The daemon kit (src/daemon) with real processes and real signals: a small
// daemon (fixtures/daemon/testd.ts) is launched and inspected through /proc.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock } from '../src/daemon/index.js';
import { hasScript, runOnTerminal } from './helpers/terminal.js';
import { processesWith } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

const TESTD = fileURLToPath(new URL('./fixtures/daemon/testd.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dirs: string[] = [];
const pids = new Set<number>();
after(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'plog-daemon-'));
  dirs.push(d);
  return d;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  pid: number;
}

/** Run a command; resolve on its exit (not on the close of its pipes, which a
 * daemon may keep). Fails the test if it runs longer than `limit`. */
function run(cmd: string, args: string[], opts: { stdio?: StdioOptions; limit?: number } = {}): Promise<Run> {
  const start = Date.now();
  const child = spawn(cmd, args, { stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: still running after ${opts.limit ?? 10000} ms (hung)`));
    }, opts.limit ?? 10000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // let buffered output arrive
      setTimeout(() => resolve({ code, signal, stdout, stderr, ms: Date.now() - start, pid: child.pid! }), 50);
    });
  });
}

function testd(args: string[], opts: { stdio?: StdioOptions; limit?: number } = {}): Promise<Run> {
  return run(process.execPath, [TESTD, ...args], opts);
}

/** What testd writes to DIR/state.json just before it says it is ready. */
interface TestdState {
  pid: number;
  daemon: boolean;
  /** The descriptors its own closeInheritedFds() closed. */
  closedLate: number[];
}

function testdState(dir: string): TestdState {
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as TestdState;
}

/** The daemon's pid, from its lock file. */
function daemonPid(dir: string): number {
  const pid = Number(readFileSync(join(dir, 'testd.pid'), 'utf8').trim());
  assert.ok(pid > 0, 'a pid in the lock file');
  pids.add(pid);
  return pid;
}

/** Start a daemon in a new temp dir; return the dir and its pid. */
async function startDaemon(extra: string[] = []): Promise<{ dir: string; pid: number; run: Run }> {
  const dir = tempDir();
  const r = await testd(['--dir', dir, ...extra]);
  assert.equal(r.code, 0, `launcher failed: ${r.stderr}`);
  return { dir, pid: daemonPid(dir), run: r };
}

interface Stat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
}

function stat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // fields after "pid (comm)": 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), ttyNr: Number(f[4]) };
}

function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

async function waitGone(pid: number, ms = 5000): Promise<void> {
  await waitFor(`pid ${pid} to end`, () => !alive(pid), { timeout: ms, interval: 20 });
  pids.delete(pid);
}

function fdLinks(pid: number): Map<number, string> {
  const m = new Map<number, string>();
  for (const n of readdirSync(`/proc/${pid}/fd`)) {
    try {
      m.set(Number(n), readlinkSync(`/proc/${pid}/fd/${n}`));
    } catch {
      // closed meanwhile
    }
  }
  return m;
}

function umaskOf(pid: number): string {
  return /^Umask:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
}

test('the launcher returns 0 only once the daemon is ready', async () => {
  const dir = tempDir();
  const r = await testd(['--dir', dir, '--delay', '400']);
  // state.json is written just before notifyReady(): it must exist now
  const existed = existsSync(join(dir, 'state.json'));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existed, 'the daemon was ready when the launcher returned');
  assert.ok(r.ms >= 400, `the launcher waited for readiness (${r.ms} ms)`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
  const pid = daemonPid(dir);
  const state = testdState(dir);
  assert.equal(state.pid, pid);
  assert.equal(state.daemon, true);
  assert.ok(alive(pid));
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('the daemon is in a new session, not its leader, without a terminal, cwd runtime dir, umask 022, stdio /dev/null', async () => {
  const { dir, pid, run: r } = await startDaemon();
  const s = stat(pid)!;
  const me = stat(process.pid)!;
  assert.notEqual(s.session, pid, 'not a session leader (the second fork)');
  assert.notEqual(s.session, me.session, 'a new session');
  assert.notEqual(s.session, r.pid, 'not the launcher');
  assert.equal(s.pgrp, s.session, "in the session leader's process group");
  assert.notEqual(s.pgrp, pid, 'not a process group leader');
  assert.equal(s.ttyNr, 0, 'no controlling terminal');
  assert.notEqual(s.ppid, r.pid, 'the launcher is not its parent');
  // the session leader exits once the daemon is ready
  await waitFor('the condition', () => !alive(s.session));
  assert.equal(readlinkSync(`/proc/${pid}/cwd`), realpathSync(dir));
  assert.equal(umaskOf(pid), '0022');
  const fds = fdLinks(pid);
  for (const fd of [0, 1, 2]) assert.equal(fds.get(fd), '/dev/null', `fd ${fd}`);
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('the umask is the one asked for', async () => {
  const { pid } = await startDaemon(['--umask', '027']);
  assert.equal(umaskOf(pid), '0027');
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('stdout/stderr are kept when asked and they are a file', async () => {
  const dir = tempDir();
  const out = join(dir, 'out.log');
  const err = join(dir, 'err.log');
  const o = openSync(out, 'a');
  const e = openSync(err, 'a');
  const r = await testd(['--dir', dir, '-v', '--keep', '1,2'], { stdio: ['ignore', o, e] });
  closeSync(o);
  closeSync(e);
  assert.equal(r.code, 0, readFileSync(err, 'utf8'));
  const pid = daemonPid(dir);
  const fds = fdLinks(pid);
  assert.equal(fds.get(0), '/dev/null');
  assert.equal(fds.get(1), out);
  assert.equal(fds.get(2), err);
  await waitFor('the condition', () => readFileSync(out, 'utf8').includes('started'));
  assert.match(readFileSync(out, 'utf8'), new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d testd\\[${pid}\\]: started\\n$`));
  await waitFor('the condition', () => readFileSync(err, 'utf8').includes('a test error'));
  assert.match(readFileSync(err, 'utf8'), new RegExp(`testd\\[${pid}\\]: a test error\\n$`));
  // -v reports trapped signals, such as SIGPIPE
  process.kill(pid, 'SIGPIPE');
  process.kill(pid, 'SIGUSR1');
  await waitFor('the condition', () => /trapped SIGUSR1/.test(readFileSync(out, 'utf8')));
  assert.match(readFileSync(out, 'utf8'), /testd\[\d+\]: trapped SIGPIPE\n/);
  assert.ok(alive(pid));
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('stdout is kept when asked and it is a pipe (a shell pipeline)', async () => {
  const dir = tempDir();
  const out = join(dir, 'out.log');
  // `testd ... | cat > out.log`: the launcher's stdout is a real pipe(2)
  const cmd = `'${process.execPath}' '${TESTD}' --dir '${dir}' -v --keep 1 | cat > '${out}'`;
  const sh = spawn('sh', ['-c', cmd], { stdio: 'ignore' });
  let done = false;
  try {
    await waitFor('the condition', () => existsSync(join(dir, 'state.json')) && readFileSync(join(dir, 'testd.pid'), 'utf8') !== '');
    const pid = daemonPid(dir);
    const fds = fdLinks(pid);
    assert.match(fds.get(1)!, /^pipe:\[\d+\]$/);
    assert.equal(fds.get(2), '/dev/null', 'stderr was not asked for');
    await waitFor('the condition', () => readFileSync(out, 'utf8').includes('started'));
    process.kill(pid, 'SIGTERM');
    await waitGone(pid);
    // the pipeline ends once the daemon, the last writer, is gone
    const code = await new Promise<number | null>((res) => (sh.exitCode !== null ? res(sh.exitCode) : sh.on('exit', (c) => res(c))));
    assert.equal(code, 0);
    assert.match(readFileSync(out, 'utf8'), new RegExp(`testd\\[${pid}\\]: started\n`));
    done = true;
  } finally {
    // A failed wait leaves the daemon and the pipeline running, and the
    // runner would wait for them for ever: stop them.
    if (!done) {
      try {
        process.kill(daemonPid(dir), 'SIGKILL');
      } catch {
        /* not started, or gone */
      }
      sh.kill('SIGKILL');
    }
  }
});

test('stdout is kept when asked and it is a socket; not kept when not asked', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, [TESTD, '--dir', dir, '-v', '--keep', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  assert.equal(code, 0);
  const pid = daemonPid(dir);
  const fds = fdLinks(pid);
  // child_process's 'pipe' is a socketpair
  assert.match(fds.get(1)!, /^socket:\[\d+\]$/);
  assert.equal(fds.get(2), '/dev/null', 'stderr was not asked for');
  // the daemon's own line arrives through the launcher's pipe
  await waitFor('the condition', () => out.includes('started'));
  assert.match(out, new RegExp(`testd\\[${pid}\\]: started`));
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
  child.stdout.destroy();
  child.stderr.destroy();
});

test('a terminal is never kept', { skip: hasScript ? false : 'script(1) from util-linux is not installed' }, async () => {
  const dir = tempDir();
  // script(1) gives the launcher a pseudo-terminal as controlling terminal and stdio
  const cmd = `'${process.execPath}' '${TESTD}' --dir '${dir}' -v --keep 1,2 --report-tty`;
  const r = await runOnTerminal(cmd);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /launcher-tty: true/, 'the launcher ran on a terminal');
  const pid = daemonPid(dir);
  const fds = fdLinks(pid);
  for (const fd of [0, 1, 2]) assert.equal(fds.get(fd), '/dev/null', `fd ${fd}`);
  for (const [, link] of fds) assert.doesNotMatch(link, /^\/dev\/(pts|tty)/);
  assert.equal(stat(pid)!.ttyNr, 0);
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('inherited descriptors are closed; descriptors asked for are kept', async () => {
  const dir = tempDir();
  const files = ['stray3', 'stray5', 'kept6'].map((n) => join(dir, n));
  const fds = files.map((f) => openSync(f, 'w'));
  // launcher: fd 3 and 5 inherited (as from a shell's 3>file 5>file), fd 6 to keep
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', fds[0], 'ignore', fds[1], fds[2]];
  const r = await testd(['--dir', dir, '--keep', '6'], { stdio });
  fds.forEach((fd) => closeSync(fd));
  assert.equal(r.code, 0, r.stderr);
  const pid = daemonPid(dir);
  const links = [...fdLinks(pid).values()];
  assert.ok(!links.includes(files[0]!), `fd to ${files[0]} closed: ${links.join(' ')}`);
  assert.ok(!links.includes(files[1]!), `fd to ${files[1]} closed`);
  assert.equal(fdLinks(pid).get(6), files[2], 'fd 6 kept under its number');
  // nothing was left for the daemon's own late closeInheritedFds() call
  const state = testdState(dir);
  assert.deepEqual(state.closedLate, []);
  // the readiness channel is gone too: only O_CLOEXEC descriptors remain above 2
  for (const n of fdLinks(pid).keys()) {
    if (n <= 2 || n === 6) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${n}`, 'utf8');
    } catch {
      continue;
    }
    const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(info)![1]!, 8);
    assert.ok(flags & 0o2000000, `fd ${n} (${fdLinks(pid).get(n)}) is close-on-exec`);
  }
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test("a failed start gives the daemon's message and exit code", async () => {
  const dir = tempDir();
  const r = await testd(['--dir', dir, '--fail']);
  assert.equal(r.code, 7);
  assert.equal(r.stderr, 'testd: asked to fail\n');
  assert.equal(r.stdout, '');
  const pid = Number(readFileSync(join(dir, 'testd.pid'), 'utf8'));
  await waitGone(pid);
});

test('a fatal error before ready goes to stderr, runs the cleanup, and gives its code', async () => {
  const dir = tempDir();
  const r = await testd(['--dir', dir, '--fatal']);
  assert.equal(r.code, 9, `launcher stderr: ${r.stderr}`);
  assert.equal(r.stderr, 'testd: cannot bind\n');
  await waitFor('the condition', () => existsSync(join(dir, 'cleanup')) && readFileSync(join(dir, 'cleanup'), 'utf8').includes('done'));
  assert.equal(readFileSync(join(dir, 'cleanup'), 'utf8'), 'null start\nnull done\n');
});

test('a second instance on the same lock fails with the holder pid', async () => {
  const { dir, pid } = await startDaemon();
  const r = await testd(['--dir', dir]);
  assert.equal(r.code, 12);
  assert.equal(r.stderr, `testd: already running in ${dir} (pid ${pid})\n`);
  assert.ok(alive(pid), 'the first instance still runs');
  assert.equal(Number(readFileSync(join(dir, 'testd.pid'), 'utf8')), pid, 'its pid file is intact');
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('the launcher does not hang when the daemon dies before ready', async (t) => {
  await t.test('uncaught exception', async () => {
    const r = await testd(['--dir', tempDir(), '--throw'], { limit: 5000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^testd: the daemon \(pid \d+\) crashed \(Error: boom before ready\), exit status 1, before it was ready\n$/);
  });
  await t.test('exit with a status', async () => {
    const r = await testd(['--dir', tempDir(), '--exit', '5'], { limit: 5000 });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /exited with status 5 before it was ready/);
  });
  await t.test('exit 0 unready', async () => {
    const r = await testd(['--dir', tempDir(), '--exit', '0'], { limit: 5000 });
    assert.equal(r.code, 4, 'the failCode');
    assert.match(r.stderr, /exited with status 0 before it was ready/);
  });
  await t.test('killed by a signal', async () => {
    const r = await testd(['--dir', tempDir(), '--kill'], { limit: 5000 });
    assert.equal(r.code, 128 + 9);
    assert.match(r.stderr, /was killed by SIGKILL before it was ready/);
  });
  await t.test('never ready, with a timeout: the daemon and its session leader stopped, whenever the timeout falls', async () => {
    const dir = tempDir();
    const r = await testd(['--dir', dir, '--hang', '--timeout', '500'], { limit: 5000 });
    assert.equal(r.code, 4);
    // On a loaded machine the daemon may not have said its pid yet.
    const m = /^testd: the daemon was not ready after 0.5 s; stopped the daemon(?: \(pid (\d+)\)| before it said its pid)\n$/.exec(r.stderr);
    assert.ok(m, r.stderr);
    // Nothing of the start is left running: every process whose command
    // line names its directory (the session leader's too) ends.
    await waitFor('nothing of the start left running', () => processesWith(dir).length === 0, { timeout: 5000, interval: 20 });
    // A daemon that had its SIGTERM handler when the stop came cleaned up.
    if (existsSync(join(dir, 'hanging'))) assert.equal(readFileSync(join(dir, 'cleanup'), 'utf8'), 'SIGTERM start\nSIGTERM done\n');
  });
  await t.test('the session leader killed during the start', async () => {
    const dir = tempDir();
    const launcher = testd(['--dir', dir, '--delay', '3000'], { limit: 5000 });
    await waitFor('the condition', () => existsSync(join(dir, 'testd.pid')) && readFileSync(join(dir, 'testd.pid'), 'utf8') !== '');
    const pid = daemonPid(dir);
    process.kill(stat(pid)!.session, 'SIGKILL');
    const r = await launcher;
    assert.equal(r.code, 4);
    assert.equal(r.stderr, `testd: the daemon's start was interrupted (its session leader died); stopped the daemon (pid ${pid})\n`);
    await waitGone(pid);
    assert.equal(readFileSync(join(dir, 'cleanup'), 'utf8'), 'SIGTERM start\nSIGTERM done\n');
  });
  await t.test('a missing runtime directory', async () => {
    const r = await testd(['--dir', join(tempDir(), 'nope')], { limit: 5000 });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^testd: cannot use .*nope as its runtime directory: No such file or directory$/m);
  });
});

test('a start-up warning is printed by the launcher and the start goes on', async () => {
  const { pid, run: r } = await startDaemon(['--warn']);
  assert.equal(r.stderr, 'testd: warning: could not set the group of the socket\n');
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
  test(`${sig} runs the cleanup once and ends the daemon`, async () => {
    const { dir, pid } = await startDaemon();
    process.kill(pid, sig);
    await waitGone(pid);
    assert.equal(readFileSync(join(dir, 'cleanup'), 'utf8'), `${sig} start\n${sig} done\n`);
    assert.equal(readFileSync(join(dir, 'testd.pid'), 'utf8'), '', 'the lock released (pid file emptied)');
  });
}

test('a second signal during the cleanup does not abort it', async () => {
  const { dir, pid } = await startDaemon(['--slow-cleanup', '400']);
  process.kill(pid, 'SIGTERM');
  await waitFor('the condition', () => existsSync(join(dir, 'cleanup')));
  process.kill(pid, 'SIGINT');
  process.kill(pid, 'SIGQUIT');
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
  assert.equal(readFileSync(join(dir, 'cleanup'), 'utf8'), 'SIGTERM start\nSIGTERM done\n');
});

test('in the foreground, shutdown signals clean up and exit 0', async (t) => {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
    await t.test(sig, async () => {
      const dir = tempDir();
      const child = spawn(process.execPath, [TESTD, '--dir', dir, '-f', '--slow-cleanup', '200'], { stdio: 'ignore' });
      const exited = new Promise<[number | null, string | null]>((res) => child.on('exit', (c, s) => res([c, s])));
      await waitFor('the condition', () => existsSync(join(dir, 'state.json')));
      const state = testdState(dir);
      assert.equal(state.pid, child.pid, 'ran in place');
      assert.equal(state.daemon, false);
      assert.equal(stat(child.pid!)!.session, stat(process.pid)!.session, 'no new session in the foreground');
      child.kill(sig);
      await waitFor('the cleanup to start', () => existsSync(join(dir, 'cleanup')), { interval: 10 });
      child.kill('SIGTERM'); // during the cleanup
      assert.deepEqual(await exited, [0, null]);
      assert.equal(readFileSync(join(dir, 'cleanup'), 'utf8'), `${sig} start\n${sig} done\n`);
    });
  }
});

test('in the foreground, a failed start prints the message and exits with its code', async () => {
  const dir = tempDir();
  const r = await testd(['--dir', dir, '-f', '--fail']);
  assert.equal(r.code, 7);
  assert.equal(r.stderr, 'testd: asked to fail\n');
});

test('SIGHUP is ignored by a daemon, or handled for a reload', async () => {
  const a = await startDaemon();
  const b = await startDaemon(['--reload']);
  process.kill(a.pid, 'SIGHUP');
  process.kill(b.pid, 'SIGHUP');
  await waitFor('the condition', () => existsSync(join(b.dir, 'reloaded')));
  process.kill(b.pid, 'SIGHUP');
  await waitFor('the condition', () => readFileSync(join(b.dir, 'reloaded'), 'utf8') === 'reload\nreload\n');
  await sleep(100); // SIGHUP's default action would have ended a by now
  assert.ok(alive(a.pid), 'SIGHUP ignored');
  assert.ok(alive(b.pid), 'SIGHUP handled');
  for (const d of [a, b]) {
    process.kill(d.pid, 'SIGTERM');
    await waitGone(d.pid);
  }
});

test('a stale pid file (no lock held) is taken over', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'testd.pid'), '99999999\n');
  const r = await testd(['--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  const pid = daemonPid(dir);
  assert.notEqual(pid, 99999999);
  assert.equal(readFileSync(join(dir, 'testd.pid'), 'utf8'), `${pid}\n`);
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
});

test('the stage marker alone does not make a daemon copy', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, [TESTD, '--dir', dir, '-f'], {
    stdio: 'ignore',
    env: { ...process.env, PLOG_DAEMON_STAGE: 'daemon' },
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  await waitFor('the condition', () => existsSync(join(dir, 'state.json')));
  assert.equal(testdState(dir).daemon, false);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('acquireLock in another process reports the holder', async () => {
  const { dir, pid } = await startDaemon();
  const r = acquireLock(join(dir, 'testd.pid'));
  assert.equal(r.acquired, false);
  assert.equal(!r.acquired && r.pid, pid);
  process.kill(pid, 'SIGTERM');
  await waitGone(pid);
  const r2 = acquireLock(join(dir, 'testd.pid'));
  assert.equal(r2.acquired, true);
  if (r2.acquired) {
    assert.equal(readFileSync(join(dir, 'testd.pid'), 'utf8'), `${process.pid}\n`);
    r2.lock.release();
  }
});
