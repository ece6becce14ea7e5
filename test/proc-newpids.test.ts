// The pids handed out between two looks (src/proc/newpids.ts): the parsers
// on real and malformed texts, the ranges on every way the kernel's cursor
// can move, and the cursor read from this machine's /proc against a task
// started between two reads.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { parseForks, parseLastPid, pidRangesSince, processStart, readPidCursor, statExitSignal, type PidCursor } from '../src/proc/newpids.js';
import { parseStat } from '../src/proc/stat.js';

describe('parsers', () => {
  test('/proc/loadavg: its last field', () => {
    assert.equal(parseLastPid('0.82 0.87 1.61 2/12114 12019\n'), 12019);
    assert.equal(parseLastPid('12.20 25.79 13.45 12/345 4194303'), 4194303);
    for (const bad of ['', '0.82 0.87 1.61 2/12114\n', '0.82 0.87 1.61 2/12114 x\n', '0.82 0.87 1.61 12114 5\n', 'a b c 1/2 3 4\n']) {
      assert.equal(parseLastPid(bad), null, JSON.stringify(bad));
    }
  });

  test('/proc/stat: its processes line, wherever it is', () => {
    const stat = 'cpu  4626778 29345 2091318 5928570 12560 0 37924 0 0 0\nintr 51658159 0 0\nctxt 139017568\nbtime 1796365449\nprocesses 1921436\nprocs_running 3\n';
    assert.equal(parseForks(stat), 1921436);
    assert.equal(parseForks(readFileSync('/proc/stat', 'latin1')) !== null, true);
    assert.equal(parseForks('cpu 1 2 3\nprocs_running 3\n'), null);
    assert.equal(parseForks('xprocesses 5\n'), null);
    assert.equal(parseForks('processes five\n'), null);
  });

  test('stat: exit_signal, 17 for a process and -1 for a thread, whatever its name holds', () => {
    const fields = (exit: string): string =>
      ['S', '1', '2', '2', '0', '-1', '4194560', '100', '0', '0', '0', '5', '3', '0', '0', '20', '0', '3', '0', '631', '1000', '200'].join(' ') +
      ' ' +
      Array.from({ length: 13 }, () => '0').join(' ') +
      ` ${exit} 1 0 0 0 0 0\n`;
    assert.equal(statExitSignal(`123 (node) ${fields('17')}`), 17);
    assert.equal(statExitSignal(`124 (a) b) c 1 2) ${fields('-1')}`), -1);
    assert.equal(statExitSignal(`125 (x) S 1 2`), null);
    assert.equal(statExitSignal('no parenthesis'), null);
    assert.equal(statExitSignal(`126 (x) ${fields('SIGCHLD')}`), null);
  });

  test('stat of real processes and threads: init 17, kthreadd 0 (leaders both), this process 17, its threads -1', () => {
    const FIX = new URL('../../test/fixtures/proc/', import.meta.url);
    assert.equal(statExitSignal(readFileSync(new URL('init.stat', FIX), 'latin1')), 17);
    assert.equal(statExitSignal(readFileSync(new URL('kthreadd.stat', FIX), 'latin1')), 0);
    assert.equal(statExitSignal(readFileSync(`/proc/${process.pid}/stat`, 'latin1')), 17);
    const tids = readdirSync(`/proc/${process.pid}/task`)
      .map(Number)
      .filter((t) => t !== process.pid);
    assert.ok(tids.length > 0, 'node has threads of its own');
    for (const tid of tids) assert.equal(statExitSignal(readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'latin1')), -1, `thread ${tid}`);
  });
});

describe('pidRangesSince', () => {
  const at = (lastPid: number, forks: number, pidMax = 32768): PidCursor => ({ lastPid, forks, pidMax });

  test('nothing created: no range, even when the pid is the same', () => {
    assert.deepEqual(pidRangesSince(at(500, 10), at(500, 10), 4096), []);
  });

  test('pids handed out in order: the range after the last one', () => {
    assert.deepEqual(pidRangesSince(at(500, 10), at(510, 20), 4096), [[501, 510]]);
    // Fewer tasks created than pids passed: numbers skipped as in use.
    assert.deepEqual(pidRangesSince(at(500, 10), at(510, 12), 4096), [[501, 510]]);
  });

  test('wrapped at pid_max: the top, then from the bottom', () => {
    assert.deepEqual(pidRangesSince(at(32760, 10), at(305, 30), 4096), [
      [32761, 32767],
      [1, 305],
    ]);
    // pid_max raised meanwhile: up to the larger.
    assert.deepEqual(pidRangesSince(at(32760, 10, 32768), at(5, 12, 65536), 70000), [
      [32761, 65535],
      [1, 5],
    ]);
    // The last pid was the top one: only the bottom.
    assert.deepEqual(pidRangesSince(at(32767, 10), at(3, 13), 4096), [[1, 3]]);
  });

  test('more tasks created than the range holds: only a listing can tell', () => {
    // The cursor went all the way round (or past where it was).
    assert.equal(pidRangesSince(at(500, 10), at(510, 40000), 1 << 20), null);
    assert.equal(pidRangesSince(at(500, 10), at(500, 11), 4096), null);
    // Tasks of another pid namespace counted: the same answer.
    assert.equal(pidRangesSince(at(500, 10), at(502, 13), 4096), null);
  });

  test('a count that went back (another boot, a bad read): a listing', () => {
    assert.equal(pidRangesSince(at(500, 10), at(510, 5), 4096), null);
  });

  test('more pids to look at than maxCount: a listing (cheaper then)', () => {
    assert.equal(pidRangesSince(at(500, 10), at(5000, 20), 4096), null);
    assert.deepEqual(pidRangesSince(at(500, 10), at(4596, 20), 4096), [[501, 4596]]);
  });
});

describe('processStart', () => {
  test("a process's start time; null for one of its threads, and for a pid nobody has", () => {
    assert.equal(processStart(process.pid), parseStat(readFileSync('/proc/self/stat', 'latin1')).starttime);
    const tid = readdirSync(`/proc/${process.pid}/task`)
      .map(Number)
      .find((t) => t !== process.pid)!;
    // /proc/TID is there for a thread too (not listed): its stat reads.
    assert.ok(readFileSync(`/proc/${tid}/stat`, 'latin1').startsWith(`${tid} (`));
    assert.equal(processStart(tid), null);
    const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
    assert.equal(processStart(max), null);
    assert.equal(processStart(1, '/nonexistent'), null);
  });
});

describe('readPidCursor', () => {
  test('a process started between two reads is in the range, and counted', async () => {
    const before = readPidCursor();
    assert.ok(before, 'the cursor of this machine reads');
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const after = readPidCursor()!;
    assert.ok(after.forks > before.forks);
    const ranges = pidRangesSince(before, after, 1 << 22);
    try {
      // Tasks of this machine made meanwhile are in the same range: the
      // counts agree in one pid namespace.
      assert.ok(ranges, `no range: ${JSON.stringify({ before, after })}`);
      assert.ok(
        ranges.some(([a, b]) => child.pid! >= a && child.pid! <= b),
        `${child.pid} in ${JSON.stringify(ranges)}`,
      );
    } finally {
      child.kill();
    }
  });

  test("a /proc of another pid namespace than the reader's: null (its pids are not the cursor's)", () => {
    // A new pid namespace without its own /proc: getpid() is 1 there, /proc/self another number.
    const code = `import('${new URL('../src/proc/newpids.js', import.meta.url).href}').then((m) => console.log(JSON.stringify([process.pid, m.readPidCursor()])))`;
    const out = execFileSync('unshare', ['--pid', '--fork', process.execPath, '-e', code], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), [1, null]);
    // The same program in this namespace reads one.
    const here = JSON.parse(execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' })) as [number, PidCursor | null];
    assert.ok(here[1] !== null && here[1].lastPid > 0);
  });

  test('a /proc without the files: null', () => {
    assert.equal(readPidCursor('/nonexistent'), null);
  });
});
