// The log files plogsrvd writes (plogsrvd(1), LOG FILES), checked on real processes:
// the command line, the header, the samples and their formats, the names.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLog } from '../src/plog/log/readlog.js';
import type { Readable } from 'node:stream';
import { alive, assertLength, exited, ints, killChild, lines, plog, procStat, raw, Server, spawnChild, spawnSleep, waitFor, waitLines, waitStable, type Tuple } from './helpers/plog.js';

const HEADER = ['Date', 'Time', 'State', 'Prio', 'CPU_time', 'CPU%', 'Threads', 'MinFlt', 'MajFlt', 'VirtualSz', 'ResidentSz', 'Share', 'Proportion', 'Swap', 'Dat+Stck', 'Priv&Write'];
const SIZE = /^(\d+kB|\d+\.\d\dMB|\d+\.\d\dGB)$/;
const p2 = (n: number): string => String(n).padStart(2, '0');

let srv: Server;
before(async () => {
  srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
});

/** Check one sample line field by field; returns the fields. */
function checkSample(line: string, withSeconds: boolean | 'ms', first: boolean): Tuple<string, 16> {
  assert.doesNotMatch(line, /\s$/, 'trailing space');
  const f = line.split(/ +/);
  assertLength(f, 16, `16 fields: ${line}`);
  const [dm, time, state, prio, cpu, pct, threads, minflt, majflt, virt, res, share, pss, swap, data, priv] = f;
  // The date and time are now, in local time, month first (as plog 0.1.0), hour space-padded.
  const okDate = [new Date(Date.now() - 2000), new Date()].some((d) => dm === `${p2(d.getMonth() + 1)}-${p2(d.getDate())}`);
  assert.ok(okDate, `date ${dm}`);
  assert.match(line, /^\d\d-\d\d [ \d]\d:/, 'the hour in two places');
  const form = withSeconds === 'ms' ? /^([1-9]?\d):\d\d:\d\d\.\d\d\d$/ : withSeconds ? /^([1-9]?\d):\d\d:\d\d$/ : /^([1-9]?\d):\d\d$/;
  assert.match(time, form, `time ${time}`);
  assert.ok(Number(time.split(':')[0]) < 24);
  assert.match(state, /^[RSDZTtXIWPK]$/);
  assert.match(prio, /^-?\d+$/);
  assert.match(cpu, /^(\d+s|\d+:\d\d|\d+:\d\d:\d\d)$/);
  if (first) assert.equal(pct, '-');
  else assert.match(pct, /^\d+\.\d$/);
  for (const n of [threads, minflt, majflt]) assert.match(n, /^\d+$/);
  for (const s of [virt, res, data, priv]) assert.match(s, SIZE);
  // from smaps_rollup; '*' carried with PSS, '~' from statm where smaps_rollup is unreadable
  assert.match(share, first ? /^\d+\.\d~?$/ : /^\d+\.\d[*~]?$/);
  if (share.endsWith('~')) assert.equal(pss, '-', 'statm only without smaps');
  // '*': the last values, kept while the Safe PSS budget waits (a loaded
  // machine makes a small target's read cost more than its 1%); never on the first line.
  for (const s of [pss, swap]) assert.match(s, first ? /^(\d+kB|\d+\.\d\dMB|\d+\.\d\dGB|-)$/ : /^(\d+kB|\d+\.\d\dMB|\d+\.\d\dGB|-)\*?$/);
  return f;
}

test('a log: the command line, the header, then samples; the first before the reply', async () => {
  const child = spawnSleep({ seconds: 301 });
  const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '300ms']);
  const log = join(srv.dir, `sleep.${child.pid}`);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${log}\n`, '']);
  const first = lines(log);
  assertLength(first, 3, 'the first sample is written before the reply');
  assert.equal(first[0], 'sleep 301');
  assert.deepEqual(first[1].split(/ +/), HEADER);
  checkSample(first[2], 'ms', true);
  const l = await waitLines(log, 5);
  for (const line of l.slice(3)) {
    const f = checkSample(line, 'ms', false);
    assert.equal(f[2], 'S');
    assert.equal(f[6], '1');
    assert.equal(f[4], '0s');
  }
  // Columns are aligned with the header (the header's names start where the values do).
  const cols = (s: string): number[] => [...s.matchAll(/(?<=^| )\S/g)].map((m) => m.index);
  assert.deepEqual(cols(l[3]!).slice(2, 8), cols(l[1]!).slice(2, 8));
  // Every line ends with a newline: nothing half-written.
  assert.ok(readFileSync(log, 'utf8').endsWith('\n'));
});

test('minute intervals give MM-DD HH:MM, sub-minute MM-DD HH:MM:SS, not whole seconds MM-DD HH:MM:SS.mmm', async () => {
  const child = spawnSleep();
  assert.equal(await raw().ask(srv.dir, ints(child.pid, 1)), `Log file: ${srv.dir}/sleep.${child.pid}`);
  const l = lines(join(srv.dir, `sleep.${child.pid}`));
  assertLength(l, 3, 'the first sample is written before the reply');
  checkSample(l[2], false, true);
  assert.match(l[2], /^\d\d-\d\d [ \d]\d:\d\d [A-Z]/);
  // the header says month-day as plog 0.1.0's does: 'Date', three spaces, 'Time'
  assert.match(l[1], /^Date {3}Time /);
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '59s'])).code, 0);
  const s = lines(join(srv.dir, `sleep.${child.pid}.2`));
  assertLength(s, 3, 'the first sample is written before the reply');
  const state = checkSample(s[2], true, true)[2];
  // The Date Time header is as wide as its values.
  assert.equal(s[1].indexOf('State'), s[2].indexOf(state));
  assert.equal(l[1].indexOf('State'), l[2].indexOf(l[2].split(/ +/)[2]!));
});

test('-i 500ms: times with milliseconds, two samples a second told apart; the readers place them 500 ms apart', async () => {
  const child = spawnSleep({ seconds: 302 });
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '500ms'])).code, 0);
  const path = join(srv.dir, `sleep.${child.pid}`);
  await waitLines(path, 9);
  await plog(['-d', srv.dir, '-x', String(child.pid)]);
  // Read once the log has stopped: a sample may have come between the wait and -x.
  const times = readFileSync(path, 'utf8')
    .split('\n')
    .slice(2)
    .filter((x) => /^\d\d-\d\d /.test(x))
    .map((x) => x.split(/ +/)[1]!);
  assert.ok(times.length >= 7, times.join(' '));
  for (const t of times) assert.match(t, /^\d{1,2}:\d\d:\d\d\.\d{3}$/);
  assert.equal(new Set(times).size, times.length, `a time twice: ${times.join(' ')}`);
  const log = readLog(path);
  assert.equal(log.withMillis, true);
  assert.equal(log.samples.length, times.length);
  // the readers take the milliseconds: each sample's time is its line's, to the millisecond
  const clock = (ms: number): string => {
    const d = new Date(ms);
    return `${d.getHours()}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  };
  assert.deepEqual(
    log.samples.map((s) => clock(s.timeMs)),
    times,
  );
  const gaps = log.samples.slice(1).map((s, i) => s.timeMs - log.samples[i]!.timeMs);
  assert.ok(
    gaps.every((g) => g > 0),
    `not in order: ${gaps.join(' ')}`,
  );
});

test('the command line: arguments joined by spaces, control characters escaped', async () => {
  const child = spawnChild('bash', ['-c', 'while :; do sleep 1; done', 'x\ty', 'a\\b', '', 'é']);
  await waitFor('bash to run', () => procStat(child.pid!)?.comm === 'bash');
  const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(join(srv.dir, `bash.${child.pid}`))[0], 'bash -c while :; do sleep 1; done x\\ty a\\\\b  \\xc3\\xa9');
});

test('a kernel thread (pid 2, kthreadd): the command line is [kthreadd]', async (t) => {
  if (procStat(2)?.comm !== 'kthreadd') return t.skip('no kthreadd at pid 2 in this pid namespace');
  const r = await plog(['-d', srv.dir, '-p', '2', '-i', '1']);
  const log = join(srv.dir, 'kthreadd.2');
  assert.deepEqual([r.code, r.stdout], [0, `Log file: ${log}\n`]);
  const l = lines(log);
  assertLength(l, 3, 'the first sample is written before the reply');
  assert.equal(l[0], '[kthreadd]');
  const f = checkSample(l[2], false, true);
  assert.match(f[2], /^[SI]$/);
  assert.equal(f[9], '0kB'); // no address space
  const x = await plog(['-d', srv.dir, '-x', '2']);
  assert.deepEqual([x.code, x.stdout], [0, `Stopped logging to ${log}\n`]);
});

test("names: '/', '*', spaces and control characters in comm become '_'", async () => {
  // A process may only rename itself, in one write(2) (bash's printf
  // writes line by line): node does it.
  for (const [comm, name] of [
    ['a/b*c d', 'a_b_c_d'],
    ['x\ny\t(z)', 'x_y_(z)'],
    ['***', '___'],
    ['caf\u00e9', 'caf__'], // UTF-8: two bytes outside ASCII
  ] as const) {
    const script = `require('fs').writeFileSync('/proc/self/comm', ${JSON.stringify(comm)}); setInterval(() => {}, 1000)`;
    const child = spawnChild(process.execPath, ['-e', script]);
    const want = Buffer.from(comm, 'utf8').toString('latin1');
    await waitFor(`comm ${JSON.stringify(want)}`, () => procStat(child.pid!)?.comm === want);
    const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${srv.dir}/${name}.${child.pid}\n`, '']);
    const [cmdline] = lines(join(srv.dir, `${name}.${child.pid}`));
    assert.ok(cmdline !== undefined, 'a command line');
    assert.match(cmdline, /^\S+ -e require/);
    await killChild(child);
  }
});

test('the same pid registered again: NAME.PID.2, NAME.PID.3', async () => {
  const child = spawnSleep();
  for (const suffix of ['', '.2', '.3']) {
    const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1']);
    assert.deepEqual([r.code, r.stdout], [0, `Log file: ${srv.dir}/sleep.${child.pid}${suffix}\n`]);
  }
  const l = await plog(['-d', srv.dir, '-l']);
  for (const suffix of ['', '.2', '.3']) assert.ok(l.stdout.split('\n').includes(`sleep.${child.pid}${suffix}`), l.stdout);
});

test('a busy process: CPU% near 100 and CPU_time growing', async () => {
  const child = spawnChild('sh', ['-c', 'while :; do :; done']);
  try {
    const log = join(srv.dir, `sh.${child.pid}`);
    const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '500ms']);
    assert.equal(r.code, 0, r.stderr);
    const l = await waitLines(log, 7, { timeout: 20_000 });
    const pct = l.slice(3).map((x) => Number(x.split(/ +/)[5]));
    // Well above idle even on a loaded machine (one core of two shared with other tests).
    assert.ok(Math.max(...pct) > 10, `CPU% ${pct.join(' ')}`);
    // One thread: about 100, give or take a clock tick (10 ms) per interval.
    assert.ok(
      pct.every((p) => p <= 120),
      `CPU% ${pct.join(' ')}`,
    );
    assert.equal(l.at(-1)!.split(/ +/)[2], 'R');
  } finally {
    await killChild(child);
  }
});

test('a zombie: the log ends with its Z line', async () => {
  // The background sleep's parent execs another sleep and never reaps it.
  const parent = spawnChild('sh', ['-c', 'sleep 3 & echo $!; exec sleep 300'], { stdout: true });
  const pid = await new Promise<number>((res) => (parent.stdout as Readable).once('data', (d: Buffer) => res(Number(String(d).trim()))));
  assert.ok(pid > 0 && alive(pid));
  const log = join(srv.dir, `sleep.${pid}`);
  const r = await plog(['-d', srv.dir, '-p', String(pid), '-i', '200ms']);
  assert.deepEqual([r.code, r.stdout], [0, `Log file: ${log}\n`]);
  assert.equal(lines(log)[0], 'sleep 3', 'registered before it died');
  await waitFor('the zombie', () => procStat(pid)?.rest[0] === 'Z');
  await srv.waitOutput('stdout', `pid ${pid} ended (zombie); stopped logging sleep.${pid}`);
  const n = await waitStable(log, 1000);
  const l = lines(log);
  assert.equal(l.length, n);
  const z = l.at(-1)!.split(/ +/);
  assert.equal(z[2], 'Z', l[l.length - 1]);
  assert.equal(l.filter((x) => x.split(/ +/)[2] === 'Z').length, 1);
  // Its maps reads (empty: no address space left): Priv&Write is 0kB, as plog 0.1.0 writes it, not '-'.
  assert.equal(z.length, 16, l[l.length - 1]);
  assert.equal(z[15], '0kB', l[l.length - 1]);
  assert.deepEqual([z[9], z[10]], ['0kB', '0kB']);
  assert.equal(procStat(pid)?.rest[0], 'Z', 'still a zombie: the stop came from the Z line');
  assert.ok(!(await plog(['-d', srv.dir, '-l'])).stdout.split('\n').includes(`sleep.${pid}`));
  await killChild(parent);
  await exited(parent);
});
