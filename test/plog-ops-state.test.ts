// plogsrvd's registrations across its runs: DIR/plogsrvd.state
// rewritten atomically on every change and kept at a clean stop (which ends
// logging); --resume takes up a registration whose process runs with the
// same start time and whose log is still the same kind of file, appending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseState, serializeState, type SavedRegistration } from '../src/plog/ops/state.js';
import { assertLength, killChild, lines, plog, procStat, ROOT, run, Server, sleep, spawnSleep, tempDir, testEnv, waitFor } from './helpers/plog.js';
import { sandboxed, sandboxUnavailable, unitSandbox } from './helpers/sandbox.js';

interface State {
  version: number;
  registrations: SavedRegistration[];
}
const readState = (dir: string): State => JSON.parse(readFileSync(join(dir, 'plogsrvd.state'), 'utf8')) as State;

async function logOf(dir: string, pid: number, interval: string): Promise<string> {
  const r = await plog(['-d', dir, '-p', String(pid), '-i', interval]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().replace(/^Log file: /, '');
}

test('parseState: valid entries kept, malformed ones said; what serializeState writes reads back', () => {
  const reg: SavedRegistration = { pid: 5, starttime: 100, intervalMs: 1000, uid: 0, format: 'text', log: 'a.5' };
  const regs = [reg];
  assert.deepEqual(parseState(serializeState(regs)), { registrations: regs, selections: [], problems: [] });
  const sels = [{ pattern: 'nginx', regex: false, intervalMs: 1000, format: 'text' as const, uid: 1000, gid: 1000 }];
  const tagged = [{ ...reg, selection: '1000\0n\0nginx' }];
  assert.deepEqual(parseState(serializeState(tagged, sels)), { registrations: tagged, selections: sels, problems: [] });
  assert.deepEqual(parseState(JSON.stringify({ version: 1, registrations: [], selections: [{ ...sels[0], regex: 'yes' }] })).problems, ['selection 1 is malformed']);
  const bad = JSON.stringify({ version: 1, registrations: [reg, { ...reg, log: '../etc/passwd' }, { ...reg, pid: -1 }, { ...reg, format: 'xml' }] });
  const p = parseState(bad);
  assert.deepEqual(p.registrations, regs);
  assert.deepEqual(p.problems, ['entry 2 is malformed', 'entry 3 is malformed', 'entry 4 is malformed']);
  assert.deepEqual(parseState('{"version":2,"registrations":[]}').problems, ['not a plogsrvd state of version 1']);
  const [notJson] = parseState('{').problems;
  assert.ok(notJson !== undefined, 'a problem');
  assert.match(notJson, /^not JSON/);
});

test('the state follows every change, atomically; a clean stop ends logging but keeps the registrations; --resume appends to the same logs', async () => {
  const dir = tempDir();
  let srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v'] });
  const a = spawnSleep();
  const b = spawnSleep();
  const c = spawnSleep();
  const d = spawnSleep();
  const logA = await logOf(dir, a.pid, '50ms');
  const logB = await logOf(dir, b.pid, '1m');
  await logOf(dir, c.pid, '50ms');
  const logD = await logOf(dir, d.pid, '50ms');
  await waitFor('4 registrations saved', () => readState(dir).registrations.length === 4);
  const st = readState(dir);
  const ra = st.registrations.find((r) => r.pid === a.pid)!;
  assert.deepEqual({ ...ra, starttime: 0 }, { pid: a.pid, starttime: 0, intervalMs: 50, uid: process.getuid!(), format: 'text', log: logA.split('/').pop() });
  assert.equal(statSync(join(dir, 'plogsrvd.state')).mode & 0o777, 0o600);
  // A process that ends leaves the state.
  await killChild(c);
  await waitFor('3 registrations saved', () => readState(dir).registrations.length === 3);
  // No temporary file left.
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes('.tmp')),
    [],
  );

  srv.signal('SIGTERM');
  assert.equal((await srv.ended()).code, 0);
  assert.equal(readState(dir).registrations.length, 3, 'a clean stop forgot the registrations');
  const n = lines(logA).length;
  await sleep(300); // six 50 ms intervals: a sample would have come
  assert.equal(lines(logA).length, n, 'logging went on after the stop');
  const ino = lstatSync(logA).ino;

  // Between the runs: b's process ends; d's log is replaced by a symlink to another file.
  await killChild(b);
  const victim = join(tempDir(), 'victim');
  writeFileSync(victim, 'precious\n');
  unlinkSync(logD);
  symlinkSync(victim, logD);

  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 1 log');
  assert.match(srv.stdout, new RegExp(`not resuming ${logD.split('/').pop()!.replace(/\./g, '\\.')} \\(pid ${d.pid}\\)`));
  assert.match(srv.stdout, new RegExp(`not resuming ${logB.split('/').pop()!.replace(/\./g, '\\.')} \\(pid ${b.pid}\\)`));
  await waitFor('a appended to again', () => lines(logA).length >= n + 5);
  assert.equal(lstatSync(logA).ino, ino, 'not the same file');
  assert.match(lines(logA)[0]!, /^sleep 300$/);
  assert.equal(lines(logA).filter((l) => l.startsWith('Date')).length, 1, 'a second header');
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  const l = await plog(['-d', dir, '-l']);
  assert.deepEqual(l.stdout.trim().split('\n'), [logA.split('/').pop()], l.stdout);
  assert.deepEqual(
    readState(dir).registrations.map((r) => r.pid),
    [a.pid],
  );
  // Killed (a crash): the state is as it was; --resume again.
  srv.signal('SIGKILL');
  await srv.ended();
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 1 log');
  await srv.kill();
  // Without --resume: the previous run's registrations are forgotten.
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v'] });
  await waitFor('an empty state', () => readState(dir).registrations.length === 0);
  const m = lines(logA).length;
  await sleep(300); // six 50 ms intervals: a sample would have come
  assert.equal(lines(logA).length, m);
  await srv.kill();
});

test('--resume does not take up a process whose pid now names another process (start time differs)', async () => {
  const dir = tempDir();
  const a = spawnSleep();
  let srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v'] });
  const logA = await logOf(dir, a.pid, '1m');
  await waitFor('saved', () => readState(dir).registrations.length === 1);
  await srv.kill();
  const s = readState(dir);
  assertLength(s.registrations, 1);
  s.registrations[0].starttime += 1;
  writeFileSync(join(dir, 'plogsrvd.state'), JSON.stringify(s), { mode: 0o600 });
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 0 logs');
  assert.match(srv.stdout, new RegExp(`not resuming ${logA.split('/').pop()!.replace(/\./g, '\\.')} .*is another process now`));
  await srv.kill();
});

test('a state file that is not ours (a symlink) is not read', async () => {
  const dir = tempDir();
  const other = join(tempDir(), 'other');
  writeFileSync(other, serializeState([]));
  symlinkSync(other, join(dir, 'plogsrvd.state'));
  const srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stderr', /--resume: not using .*plogsrvd.state/);
  // And it is replaced by a file of ours, the link's target untouched.
  await waitFor('our own state file', () => lstatSync(join(dir, 'plogsrvd.state')).isFile());
  assert.equal(readFileSync(other, 'utf8'), serializeState([]));
  await srv.kill();
});

test('selections are kept too: --resume takes up a selection with its logs, and plog -x NAME stops them all', async () => {
  const { copyFileSync, chmodSync } = await import('node:fs');
  const { spawnChild } = await import('./helpers/plog.js');
  const name = `zr${process.pid}`.slice(0, 15);
  const exe = join(tempDir(0o755), name);
  copyFileSync('/bin/sleep', exe);
  chmodSync(exe, 0o755);
  const dir = tempDir();
  let srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v'] });
  const a = spawnChild(exe, ['300']);
  const b = spawnChild(exe, ['300']);
  await waitFor(`the two ${name} to run`, () => [a, b].every((c) => procStat(c.pid!)?.comm === name));
  let r = await plog(['-d', dir, '-n', name, '-i', '100ms']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor('the selection saved', () => {
    const s = readState(dir) as State & { selections?: Array<{ pattern: string }> };
    return s.selections?.length === 1 && s.registrations.length === 2 && s.registrations.every((x) => typeof (x as { selection?: string }).selection === 'string');
  });
  srv.signal('SIGTERM');
  await srv.ended();
  const logA = join(dir, `${name}.${a.pid}`);
  const n = lines(logA).length;
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 2 logs');
  await waitFor('appended to again', () => lines(logA).length > n + 3);
  // No second log for a process the selection had already.
  assert.ok(!readdirSync(dir).includes(`${name}.${a.pid}.2`), readdirSync(dir).join(' '));
  const c = spawnChild(exe, ['300']);
  await waitFor('the new one logged', () => readdirSync(dir).includes(`${name}.${c.pid}`), { timeout: 5000 });
  r = await plog(['-d', dir, '-x', name]);
  assert.deepEqual([r.code, r.stdout], [0, `Stopped selecting ${name} and logging to 3 files.\n`], r.stderr);
  await srv.kill();
});

/** What nobody can plant at a name in a sticky directory, made by a shell command as nobody ($1 the name, $2 a file of root's). */
const PLANTS: Record<string, string> = {
  'a directory': 'mkdir "$1" && touch "$1/x"',
  "a symlink to root's file": 'ln -s "$2" "$1"',
  'a dangling symlink': 'ln -s /nonexistent/x "$1"',
  'a FIFO': 'mkfifo "$1"',
  "a file of nobody's": 'printf \'{"version":1,"registrations":[]}\\n\' > "$1"',
  "a hard link to nobody's file": 'printf x > "$1.mine" && ln "$1.mine" "$1"',
};

async function plant(kind: string, path: string, victim: string): Promise<void> {
  const command = PLANTS[kind];
  assert.ok(command, `no plant called ${kind}`);
  const r = await run('sh', ['-c', command, 'sh', path, victim], { asNobody: true });
  assert.equal(r.code, 0, `${kind}: ${r.stderr}`);
}

/** Whether the state at dir is a regular file of ours with one link that lists pid. */
function ourStateWith(dir: string, pid: number): boolean {
  const path = join(dir, 'plogsrvd.state');
  const st = lstatSync(path);
  return st.isFile() && st.uid === 0 && st.nlink === 1 && readState(dir).registrations.some((r) => r.pid === pid);
}

for (const kind of Object.keys(PLANTS)) {
  test(`attack: ${kind} planted by nobody at DIR/plogsrvd.state, or at the next temporary name, stops neither saving nor --resume`, async () => {
    const dir = tempDir(0o1777);
    const victim = join(tempDir(0o755), 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    const state = join(dir, 'plogsrvd.state');
    await plant(kind, state, victim);
    let srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
    // A temporary name nobody can guess is no more use: whatever the daemon's pid.
    for (const name of [`plogsrvd.state.tmp.${srv.pid}`, `plogsrvd.state.tmp`, `plogsrvd.state.new`]) await plant(kind, join(dir, name), victim);
    const a = spawnSleep();
    await logOf(dir, a.pid, '1m');
    await waitFor('our own state file, with the log', () => ourStateWith(dir, a.pid));
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.equal(statSync(victim).mode & 0o7777, 0o644);
    // Said: not read for --resume, then moved aside (a directory, which rename cannot replace) or replaced.
    const what = kind === 'a directory' ? 'a directory' : kind.includes('symlink') ? 'a symlink' : kind === 'a FIFO' ? 'a FIFO' : 'a regular file';
    assert.match(srv.stderr, new RegExp(`--resume: not using ${state}: it is ${what} of uid 65534, not our own file`));
    const said = new RegExp(`${state} was ${what} of uid 65534, not our own file: (moved aside to (${state}\\.unsafe\\.[0-9a-f]+)|replaced)\n`).exec(srv.stderr);
    assert.ok(said, srv.stderr);
    if (kind === 'a directory') {
      // nobody's directory is kept as it was, under another name.
      assert.ok(said[2], said[0]);
      assert.deepEqual(readdirSync(said[2]), ['x']);
      assert.equal(lstatSync(said[2]).uid, 65534);
    } else assert.equal(said[1], 'replaced');
    srv.signal('SIGTERM');
    await srv.ended();
    srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
    await srv.waitOutput('stdout', '--resume: resumed 1 log');
    await srv.kill();
  });
}

test(
  "attack, in the sandbox of plogsrvd.service (no CAP_FOWNER, no CAP_DAC_OVERRIDE): nobody's directory at DIR/plogsrvd.state is moved aside all the same (the sticky directory is root's)",
  { skip: sandboxUnavailable() ?? false },
  async () => {
    const { spawn } = await import('node:child_process');
    const u = unitSandbox(join(ROOT, 'systemd/plogsrvd.service'));
    assert.ok(!u.caps.includes('CAP_FOWNER') && !u.caps.includes('CAP_DAC_OVERRIDE'), u.caps.join(' '));
    const dir = tempDir(0o1777);
    const rundir = tempDir(0o700);
    const state = join(dir, 'plogsrvd.state');
    await plant('a directory', state, '/nonexistent');
    const [cmd, args] = sandboxed(u, [dir, rundir], [process.execPath, join(ROOT, 'dist/src/bin/plogsrvd.js'), '-f', '-v', '-m', 'world', '-d', dir]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: testEnv({ PLOG_TMPDIR: rundir }) });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    try {
      await waitFor('the sandboxed server', async () => (await plog(['-d', dir, '-q', 'pid'])).code === 0, { timeout: 20_000 });
      const a = spawnSleep();
      await logOf(dir, a.pid, '1m');
      await waitFor('our own state file, with the log', () => ourStateWith(dir, a.pid));
      assert.match(stderr, new RegExp(`${state} was a directory of uid 65534, not our own file: moved aside to ${state}\\.unsafe\\.[0-9a-f]+\\n`));
    } finally {
      child.kill('SIGKILL');
    }
  },
);
