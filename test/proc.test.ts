import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import { parseStat } from '../src/proc/stat.js';
import { parseStatm } from '../src/proc/statm.js';
import { parseSmaps } from '../src/proc/smaps.js';
import { privateWritableKb } from '../src/proc/maps.js';
import { formatCmdline, escapeComm, escapeBytes } from '../src/proc/cmdline.js';
import { parseStatusIds, statusField } from '../src/proc/status.js';
import { CLK_TCK, pageSizeKb, pageKbFrom, parseBtime, bootTimeMs, startTimeMs } from '../src/proc/system.js';
import { ProcessReader, decodeProc } from '../src/proc/reader.js';
import { formatLine } from '../src/plog/log/logline.js';
import { ProcParseError, ProcReadError, errnoWords } from '../src/proc/errors.js';

const FIX = new URL('../../test/fixtures/proc/', import.meta.url);
const raw = (name: string): Buffer => fs.readFileSync(new URL(name, FIX));
const text = (name: string): string => decodeProc(raw(name));

describe('parseStat', () => {
  test('init (pid 1)', () => {
    const s = parseStat(text('init.stat'));
    assert.equal(s.pid, 1);
    assert.equal(s.comm, 'process_api');
    assert.equal(s.state, 'S');
    assert.equal(s.ppid, 0);
    assert.equal(s.minflt, 28233);
    assert.equal(s.cminflt, 280025);
    assert.equal(s.majflt, 0);
    assert.equal(s.cmajflt, 140);
    assert.equal(s.utime, 15);
    assert.equal(s.stime, 42);
    assert.equal(s.cutime, 306);
    assert.equal(s.cstime, 107);
    assert.equal(s.priority, 10);
    assert.equal(s.nice, -10);
    assert.equal(s.numThreads, 14);
    assert.equal(s.starttime, 8);
    assert.equal(s.vsize, 44929024);
    assert.equal(s.rss, 3015);
  });

  test('kernel thread (kthreadd)', () => {
    const s = parseStat(text('kthreadd.stat'));
    assert.equal(s.pid, 2);
    assert.equal(s.comm, 'kthreadd');
    assert.equal(s.vsize, 0);
    assert.equal(s.rss, 0);
    assert.equal(s.priority, 20);
  });

  test('zombie', () => {
    const s = parseStat(text('zombie.stat'));
    assert.equal(s.state, 'Z');
    assert.equal(s.comm, 'python3');
    assert.equal(s.vsize, 0);
  });

  test('comm with spaces, parentheses and a newline', () => {
    const s = parseStat(text('weird.stat'));
    assert.equal(s.comm, 'a) (b\nc x)');
    assert.equal(s.state, 'R');
    assert.equal(s.numThreads, 1);
    assert.equal(s.starttime, 15706);
  });

  test('comm with raw non-UTF-8 bytes is kept byte for byte (latin1)', () => {
    const buf = Buffer.concat([Buffer.from('77 ('), Buffer.from([0xff, 0x29, 0xc3, 0xa9]), Buffer.from(') S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2\n')]);
    const s = parseStat(decodeProc(buf));
    assert.equal(s.comm, '\xff)\xc3\xa9');
    assert.equal(s.minflt, 1);
    assert.equal(s.cmajflt, 4);
    assert.equal(s.rss, 2);
  });

  for (const f of ['malformed-empty.stat', 'malformed-noparens.stat', 'malformed-truncated.stat', 'malformed-garbage.stat', 'malformed-binary.stat']) {
    test(`malformed: ${f}`, () => {
      assert.throws(() => parseStat(text(f)), ProcParseError);
    });
  }

  test('malformed: bad pid, bad state, nothing after comm', () => {
    assert.throws(() => parseStat('x (a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2'), ProcParseError);
    assert.throws(() => parseStat('1 (a) SS 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2'), ProcParseError);
    assert.throws(() => parseStat('1 (a)'), ProcParseError);
    assert.throws(() => parseStat('1 (a)S 1'), ProcParseError);
  });
});

describe('parseStatm', () => {
  test('real file', () => {
    assert.deepEqual(parseStatm(text('target.statm')), { size: 5817, resident: 1398, shared: 319, text: 1, data: 5235 });
    assert.deepEqual(parseStatm(text('kthreadd.statm')), { size: 0, resident: 0, shared: 0, text: 0, data: 0 });
  });
  test('malformed', () => {
    assert.throws(() => parseStatm(text('malformed-truncated.statm')), ProcParseError);
    assert.throws(() => parseStatm(text('malformed-garbage.statm')), ProcParseError);
    assert.throws(() => parseStatm(''), ProcParseError);
  });
});

describe('parseSmaps', () => {
  test('smaps_rollup', () => {
    assert.deepEqual(parseSmaps(text('target.smaps_rollup')), {
      rss: 5592,
      pss: 4427,
      swap: 0,
      sharedClean: 1268,
      sharedDirty: 8,
      privateClean: 0,
      privateDirty: 4316,
    });
  });
  test('full smaps: sums every mapping (expected values from awk)', () => {
    assert.deepEqual(parseSmaps(text('target.smaps')), {
      rss: 5592,
      pss: 4424,
      swap: 0,
      sharedClean: 1268,
      sharedDirty: 8,
      privateClean: 0,
      privateDirty: 4316,
    });
  });
  test('Pss: does not match Pss_*/SwapPss:, Swap: does not match SwapPss:', () => {
    const s = parseSmaps(text('swap.smaps_rollup'));
    assert.equal(s.swap, 2048);
    assert.equal(s.pss, 4427);
    const t = parseSmaps('Rss: 10 kB\nPss_Anon: 7 kB\nPss: 5 kB\nPss_File: 3 kB\nSwapPss: 9 kB\nSwap: 1 kB\nPss_Dirty: 4 kB\n');
    assert.equal(t.pss, 5);
    assert.equal(t.swap, 1);
    assert.equal(t.rss, 10);
  });
  test('empty (no mappings) gives zeros', () => {
    assert.deepEqual(parseSmaps(''), {
      rss: 0,
      pss: 0,
      swap: 0,
      sharedClean: 0,
      sharedDirty: 0,
      privateClean: 0,
      privateDirty: 0,
    });
  });
  test('malformed', () => {
    assert.throws(() => parseSmaps(text('malformed-truncated.smaps')), ProcParseError);
    assert.throws(() => parseSmaps(text('malformed-garbage.smaps')), ProcParseError);
    assert.throws(() => parseSmaps(text('malformed-badvalue.smaps_rollup')), ProcParseError);
    assert.throws(() => parseSmaps('Rss: 12'), ProcParseError);
  });
  test('20,000 mappings', (t) => {
    const one = text('target.smaps');
    // target.smaps has 128 mappings; ~157 copies make ~20,000.
    const big = one.repeat(157);
    const t0 = performance.now();
    const s = parseSmaps(big);
    const ms = performance.now() - t0;
    assert.equal(s.rss, 5592 * 157);
    t.diagnostic(`parsed in ${ms.toFixed(1)} ms (speed is measured in bench/)`);
  });
});

describe('privateWritableKb', () => {
  test('real maps (expected value from python)', () => {
    assert.deepEqual(privateWritableKb(text('target.maps')), { kb: 20940, complete: true });
  });
  test('short read: complete false', () => {
    assert.equal(privateWritableKb(text('truncated.maps')).complete, false);
  });
  test('garbage line: complete false', () => {
    const r = privateWritableKb(text('garbage.maps'));
    assert.equal(r.complete, false);
  });
  test('empty (kernel thread, zombie) is complete', () => {
    assert.deepEqual(privateWritableKb(''), { kb: 0, complete: true });
  });
  test('addresses above 2^53 and only rw-p counted', () => {
    // 4 kB + 64 kB rw-p; vsyscall (--xp), rw-s and r--p are not counted.
    assert.deepEqual(privateWritableKb(text('highaddr.maps')), { kb: 68, complete: true });
    assert.deepEqual(privateWritableKb('ffffffffffffe000-fffffffffffff000 rw-p 00000000 00:00 0\n'), { kb: 4, complete: true });
  });
  test('20,000 lines', (tc) => {
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const s = 0x7f0000000000 + i * 0x2000;
      lines.push(`${s.toString(16)}-${(s + 0x1000).toString(16)} ${i % 2 ? 'rw-p' : 'r--p'} 00000000 00:00 0 \n`);
    }
    const t = lines.join('');
    const t0 = performance.now();
    const r = privateWritableKb(t);
    const ms = performance.now() - t0;
    assert.deepEqual(r, { kb: 10000 * 4, complete: true });
    tc.diagnostic(`parsed in ${ms.toFixed(1)} ms (speed is measured in bench/)`);
  });
});

describe('formatCmdline', () => {
  test('real command line', () => {
    assert.equal(formatCmdline(raw('target.cmdline'), 'plogtarget'), '/tmp/plogtarget 50 4 2');
    assert.ok(formatCmdline(raw('init.cmdline'), 'x').startsWith('/process_api --firecracker-init --addr 0.0.0.0:2024 '));
  });
  test('kernel thread and zombie: [comm]', () => {
    assert.equal(formatCmdline(raw('kthreadd.cmdline'), 'kthreadd'), '[kthreadd]');
    assert.equal(formatCmdline(raw('zombie.cmdline'), 'python3'), '[python3]');
    assert.equal(formatCmdline(Buffer.from([0]), 'x'), '[x]');
  });
  test('escapes control characters, backslash, bytes >= 0x7f and invalid UTF-8; keeps empty args', () => {
    assert.equal(formatCmdline(raw('weird.cmdline'), 'prog'), 'prog a b  tab\\there nl\\nx back\\\\slash caf\\xc3\\xa9 bad\\xff esc\\x1b[31m');
    assert.equal(formatCmdline(Buffer.from('a\0\0b\0'), 'x'), 'a  b');
    assert.equal(formatCmdline(Buffer.from('no-trailing-nul'), 'x'), 'no-trailing-nul');
    assert.equal(escapeBytes(Buffer.from([0x7f, 0x0d, 0x00])), '\\x7f\\r\\x00');
  });
  test('[comm] escaped the same way', () => {
    const comm = parseStat(text('weird.stat')).comm;
    assert.equal(formatCmdline(Buffer.alloc(0), comm), '[a) (b\\nc x)]');
    assert.equal(escapeComm('\xff\t'), '\\xff\\t');
    assert.equal(escapeComm('é'), '\\xe9'); // latin1 char = one byte
    assert.equal(escapeComm('€'), '\\xe2\\x82\\xac'); // > U+00FF: taken as UTF-8
  });
});

describe('parseStatusIds', () => {
  test('real files', () => {
    assert.deepEqual(parseStatusIds(text('init.status')), { uid: [0, 0, 0, 0], gid: [0, 0, 0, 0], groups: [] });
    assert.deepEqual(parseStatusIds(text('weird.status')), { uid: [0, 0, 0, 0], gid: [0, 0, 0, 0], groups: [] });
    assert.deepEqual(parseStatusIds('Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t4 24 100 \n').groups, [4, 24, 100]);
    assert.throws(() => parseStatusIds('Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\t4 x\n'), /bad Groups/);
    assert.deepEqual(parseStatusIds('Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n').groups, []);
    assert.deepEqual(parseStatusIds(text('zombie.status')).uid, [0, 0, 0, 0]);
  });
  test('distinct ids', () => {
    const t = 'Name:\tx\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n';
    assert.deepEqual(parseStatusIds(t), { uid: [1000, 1001, 1002, 1003], gid: [100, 101, 102, 103], groups: [] });
  });
  test('a process name cannot forge a Uid: line', () => {
    // status escapes the name: 'a\nUid:...' appears as 'a\\nUid:...'
    const t = 'Name:\ta\\nUid:\t5\t5\t5\t5\nUid:\t1\t2\t3\t4\nGid:\t0\t0\t0\t0\n';
    assert.deepEqual(parseStatusIds(t).uid, [1, 2, 3, 4]);
  });
  test('malformed', () => {
    assert.throws(() => parseStatusIds(''), ProcParseError);
    assert.throws(() => parseStatusIds('Uid:\t1\t2\nGid:\t0\t0\t0\t0\n'), ProcParseError);
    assert.throws(() => parseStatusIds('Uid:\ta\tb\tc\td\nGid:\t0\t0\t0\t0\n'), ProcParseError);
    assert.equal(statusField('Name:\tx\n', 'VmSize'), undefined);
  });
});

describe('system', () => {
  test('CLK_TCK, pageSizeKb, boot time', () => {
    assert.equal(CLK_TCK, 100);
    const getconf = execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' });
    assert.equal(pageSizeKb(), Number(getconf.trim()) / 1024);
    assert.equal(pageKbFrom('VmSize:\t  400 kB\n', '100 1 1 1 0 1 0\n'), 4);
    assert.equal(pageKbFrom('VmSize:\t  401 kB\n', '100 1 1 1 0 1 0\n'), undefined);
    assert.equal(pageKbFrom('VmSize:\t  300 kB\n', '100 1 1 1 0 1 0\n'), undefined);
    assert.equal(pageKbFrom('Name:\tx\n', '100 1 1 1 0 1 0\n'), undefined);
    assert.equal(parseBtime('cpu  1 2 3\nbtime 1700000000\nprocesses 5\n'), 1700000000);
    assert.equal(parseBtime('cpu 1\n'), undefined);
    const boot = bootTimeMs();
    assert.ok(boot > 1e12 && boot <= Date.now());
    // our own start time is in the past few minutes, after boot
    const me = ProcessReader.readStartTime(process.pid);
    const started = startTimeMs(me);
    assert.ok(started <= Date.now() + 1000 && started > Date.now() - 3600_000, `started ${started}`);
  });
});

describe('errors', () => {
  test('errnoWords and ProcReadError wording', () => {
    assert.equal(errnoWords({ code: 'ESRCH' }), 'No such process');
    assert.equal(errnoWords({ code: 'EWEIRD' }), 'EWEIRD');
    const e = new ProcReadError('stat', Object.assign(new Error('x'), { code: 'ESRCH' }));
    assert.equal(e.message, "Can't read 'stat': No such process");
    assert.equal(e.code, 'ESRCH');
    const p = new ProcReadError('statm', new ProcParseError('statm', 'too few fields'));
    assert.equal(p.message, "Can't read 'statm': Malformed 'statm': too few fields");
    assert.equal(p.code, 'EPARSE');
  });
});

// ---- ProcessReader on real processes ----

/** N touched private mappings separated by PROT_NONE guard pages (so none merge). */
const MANY_MAPS_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1, pg = sysconf(_SC_PAGESIZE);
  for (long i = 0; i < n; i++) {
    char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    mprotect(p + pg, pg, PROT_NONE);
    memset(p, 1, pg);
  }
  printf("ready\\n");
  fflush(stdout);
  for (;;) pause();
}
`;

async function startChild(cmd: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  await once(child, 'spawn');
  return child;
}

async function killAndReap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('ProcessReader', () => {
  test("samples a live child, then fails with \"Can't read 'stat'\" once it is gone", async () => {
    const child = await startChild('sleep', ['30']);
    const r = new ProcessReader(child.pid!);
    try {
      // exec may still be in progress right after spawn: wait for the comm
      for (let i = 0; i < 100 && r.sample().stat.comm !== 'sleep'; i++) await new Promise((res) => setTimeout(res, 10));
      const a = r.sample();
      await new Promise((res) => setTimeout(res, 20));
      const b = r.sample();
      assert.equal(a.stat.pid, child.pid);
      assert.equal(a.stat.comm, 'sleep');
      assert.equal(a.stat.ppid, process.pid);
      assert.equal(a.smaps !== null, true);
      assert.equal(r.smapsFile, 'smaps_rollup');
      assert.ok(a.smaps!.rss > 0);
      assert.ok(a.maps !== null && a.maps.complete && a.maps.kb > 0);
      assert.ok(a.statm.size > 0 && a.statm.resident > 0);
      assert.equal(a.smapsError, null);
      assert.equal(a.mapsError, null);
      assert.ok(b.timeMs >= a.timeMs);
      assert.equal(b.stat.starttime, a.stat.starttime);
      assert.equal(ProcessReader.readStartTime(child.pid!), a.stat.starttime);
      assert.equal(formatCmdline(r.readCmdline(), a.stat.comm), 'sleep 30');
      assert.equal(r.readStatus().uid[0], process.getuid!());
      await killAndReap(child);
      assert.throws(
        () => r.sample(),
        (e: unknown) => {
          assert.ok(e instanceof ProcReadError);
          assert.equal(e.message, "Can't read 'stat': No such process");
          assert.equal(e.code, 'ESRCH');
          return true;
        },
      );
      assert.throws(() => r.readStat(), /Can't read 'stat': No such process/);
    } finally {
      await killAndReap(child);
      r.close();
      r.close(); // idempotent
    }
    assert.throws(() => r.sample(), /Can't read 'stat'/);
  });

  test('a zombie still samples (state Z), with empty maps', async () => {
    // sh forks a child that exits at once and is not waited for while sh sleeps (exec'd)
    const child = await startChild('sh', ['-c', '(exit 0) & exec sleep 30']);
    try {
      let zpid = 0;
      for (let i = 0; i < 200 && zpid === 0; i++) {
        await new Promise((res) => setTimeout(res, 10));
        for (const d of fs.readdirSync('/proc')) {
          if (!/^\d+$/.test(d)) continue;
          try {
            const s = ProcessReader.readStat(Number(d));
            if (s.ppid === child.pid && s.state === 'Z') zpid = s.pid;
          } catch {
            /* raced */
          }
        }
      }
      assert.ok(zpid > 0, 'no zombie found');
      const r = new ProcessReader(zpid);
      try {
        const s = r.sample();
        assert.equal(s.stat.state, 'Z');
        assert.deepEqual(s.statm, { size: 0, resident: 0, shared: 0, text: 0, data: 0 });
        assert.deepEqual(s.maps, { kb: 0, complete: true });
        assert.equal(formatCmdline(r.readCmdline(), s.stat.comm), `[${s.stat.comm}]`);
      } finally {
        r.close();
      }
    } finally {
      await killAndReap(child);
    }
  });

  test('a process read while alive, then a zombie: its maps reads empty, Priv&Write 0 (not unreadable)', async () => {
    // sh's child reads a line from a FIFO, then exits and is not waited for while sh sleeps (exec'd)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plog-zombie-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn('sh', ['-c', 'read x < "$0" & echo $!; exec sleep 30', fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [out] = (await once(child.stdout, 'data')) as [Buffer];
      const pid = Number(String(out).trim());
      const r = new ProcessReader(pid);
      try {
        const alive = r.sample();
        assert.notEqual(alive.stat.state, 'Z');
        assert.ok(alive.smaps !== null && alive.maps !== null && alive.maps.kb > 0, JSON.stringify(alive.maps));
        fs.writeFileSync(fifo, 'go\n');
        for (let i = 0; i < 500 && ProcessReader.readStat(pid).state !== 'Z'; i++) await new Promise((res) => setTimeout(res, 10));
        const z = r.sample();
        assert.equal(z.stat.state, 'Z');
        assert.deepEqual(z.statm, { size: 0, resident: 0, shared: 0, text: 0, data: 0 });
        assert.deepEqual(z.maps, { kb: 0, complete: true }, String(z.mapsError));
        assert.equal(formatLine(z, alive, { withSeconds: true, pageKb: 4, clkTck: 100 }).trimEnd().split(/ +/)[15], '0kB');
      } finally {
        r.close();
      }
    } finally {
      await killAndReap(child);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a kernel thread (kthreadd): no mappings, [kthreadd]', () => {
    const r = new ProcessReader(2);
    try {
      const s = r.sample();
      assert.equal(s.stat.comm, 'kthreadd');
      assert.equal(s.statm.size, 0);
      assert.equal(formatCmdline(r.readCmdline(), s.stat.comm), '[kthreadd]');
      // smaps_rollup of a kernel thread reads as ESRCH: null, not a stop
      if (s.smaps === null) assert.ok(s.smapsError instanceof ProcReadError);
    } finally {
      r.close();
    }
  });

  test('open fails clearly for a pid that does not exist', () => {
    const dead = 0x3ffffff0; // above pid_max's ceiling (2^22): never a live pid
    assert.throws(
      () => new ProcessReader(dead),
      (e: unknown) => {
        assert.ok(e instanceof ProcReadError);
        assert.equal(e.message, "Can't read 'stat': No such file or directory");
        return true;
      },
    );
    assert.throws(() => ProcessReader.readStartTime(dead), /Can't read 'stat': No such file or directory/);
    assert.throws(() => new ProcessReader(0), RangeError);
    assert.throws(() => new ProcessReader(-5), RangeError);
  });

  /** A fake proc root with pid 4242: stat, statm and a full smaps (a kernel before 4.14: no smaps_rollup); no maps at all. */
  function fakeProc(): { root: string; d: string } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plog-proc-'));
    const d = path.join(root, '4242');
    fs.mkdirSync(d);
    for (const f of ['stat', 'statm', 'smaps']) fs.copyFileSync(new URL(`target.${f}`, FIX), path.join(d, f));
    return { root, d };
  }

  test('procRoot: unreadable smaps/maps give null, not a stop', () => {
    const { root, d } = fakeProc();
    try {
      let r = new ProcessReader(4242, { procRoot: root });
      try {
        assert.equal(r.smapsFile, 'smaps');
        const s = r.sample();
        assert.equal(s.smaps!.pss, 4424);
        assert.equal(s.maps, null);
        assert.match(s.mapsError!.message, /^Can't read 'maps': No such file or directory$/);
      } finally {
        r.close();
      }
      // a short read of maps, a malformed smaps_rollup
      fs.copyFileSync(new URL('truncated.maps', FIX), path.join(d, 'maps'));
      fs.copyFileSync(new URL('malformed-badvalue.smaps_rollup', FIX), path.join(d, 'smaps_rollup'));
      r = new ProcessReader(4242, { procRoot: root });
      try {
        const s = r.sample();
        assert.equal(r.smapsFile, 'smaps_rollup');
        assert.equal(s.smaps, null);
        assert.match(s.smapsError!.message, /^Can't read 'smaps_rollup': Malformed/);
        assert.equal(s.maps!.complete, false);
      } finally {
        r.close();
      }
      // malformed stat: stop with plog 0.1.0's wording
      fs.copyFileSync(new URL('malformed-truncated.stat', FIX), path.join(d, 'stat'));
      r = new ProcessReader(4242, { procRoot: root });
      try {
        assert.throws(() => r.sample(), /^ProcReadError: Can't read 'stat': Malformed 'stat'/);
      } finally {
        r.close();
      }
      fs.rmSync(path.join(d, 'statm'));
      assert.throws(() => new ProcessReader(4242, { procRoot: root }), /Can't read 'statm': No such file or directory/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('lean: one descriptor (of /proc/PID) for as many samples as asked, the same figures as a full reader, closed with it', async () => {
    const child = await startChild('sleep', ['30']);
    try {
      const full = new ProcessReader(child.pid!);
      // Until sleep sleeps: after its exec the loader still maps its
      // libraries (statm grows from about 100 pages to 600), and the two
      // readers below must see one address space.
      let last = '';
      for (let i = 0; i < 300; i++) {
        const s = full.sample();
        const now = `${s.stat.comm} ${s.stat.state} ${JSON.stringify(s.statm)}`;
        if (s.stat.comm === 'sleep' && s.stat.state === 'S' && now === last) break;
        last = now;
        await new Promise((res) => setTimeout(res, 10));
      }
      const fds = (): string[] => fs.readdirSync('/proc/self/fd');
      const before = fds().length;
      const r = new ProcessReader(child.pid!, { lean: true });
      try {
        assert.equal(fds().length, before + 1);
        const target = (fd: string): string | null => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return null; // readdir's own, closed since
          }
        };
        assert.deepEqual(
          fds()
            .map(target)
            .filter((t) => t === `/proc/${child.pid}`),
          [`/proc/${child.pid}`],
        );
        for (let i = 0; i < 50; i++) r.sample(undefined, i % 10 === 0);
        assert.equal(fds().length, before + 1, 'no descriptor left open by a sample');
        const a = full.sample();
        const b = r.sample();
        assert.equal(r.smapsFile, 'smaps_rollup');
        assert.deepEqual([b.stat.pid, b.stat.comm, b.stat.starttime, b.stat.ppid], [a.stat.pid, a.stat.comm, a.stat.starttime, a.stat.ppid]);
        assert.deepEqual(b.statm, a.statm);
        assert.deepEqual(b.maps, a.maps);
        assert.equal(b.smaps!.rss, a.smaps!.rss);
        assert.deepEqual([b.smapsError, b.mapsError, b.smapsStale], [null, null, false]);
        assert.equal(r.readStat().starttime, a.stat.starttime);
        // Not read this time: the last values, carried and marked.
        const c = r.sample(undefined, false);
        assert.deepEqual([c.smapsStale, c.smaps!.rss], [true, b.smaps!.rss]);
      } finally {
        r.close();
        full.close();
      }
      assert.equal(fs.readdirSync('/proc/self/fd').length, before - 4);
    } finally {
      await killAndReap(child);
    }
  });

  test('lean: once the process is reaped, nothing reads through its /proc/PID, even with its pid free for another', async () => {
    const child = await startChild('sleep', ['30']);
    const r = new ProcessReader(child.pid!, { lean: true });
    try {
      r.sample();
      await killAndReap(child);
      for (const read of [() => r.sample(), () => r.readStat()]) {
        assert.throws(read, (e: unknown) => {
          assert.ok(e instanceof ProcReadError);
          assert.match(e.message, /^Can't read 'stat': (No such file or directory|No such process)$/);
          assert.ok(e.code === 'ENOENT' || e.code === 'ESRCH', e.code);
          return true;
        });
      }
    } finally {
      r.close();
    }
  });

  test('lean: a fake proc root (procRoot) reads as a full reader does: smaps without smaps_rollup, maps missing', () => {
    const { root, d } = fakeProc();
    try {
      const r = new ProcessReader(4242, { procRoot: root, lean: true });
      try {
        assert.equal(r.smapsFile, 'smaps');
        const s = r.sample();
        assert.equal(s.smaps!.pss, 4424);
        assert.equal(s.maps, null);
        assert.match(s.mapsError!.message, /^Can't read 'maps': No such file or directory$/);
        // statm gone between samples: the sample stops, as a failed read of it does.
        fs.rmSync(path.join(d, 'statm'));
        assert.throws(() => r.sample(), /^ProcReadError: Can't read 'statm': No such file or directory$/);
      } finally {
        r.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('keeps its descriptors open and closes them all', () => {
    const before = fs.readdirSync('/proc/self/fd').length;
    const r = new ProcessReader(process.pid);
    assert.equal(fs.readdirSync('/proc/self/fd').length, before + 4);
    r.sample();
    r.sample();
    assert.equal(fs.readdirSync('/proc/self/fd').length, before + 4);
    r.close();
    assert.equal(fs.readdirSync('/proc/self/fd').length, before);
  });

  test('reads files far larger than one read(2): 3000 mappings, buffer grows, full smaps fallback', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plog-target-'));
    const bin = path.join(dir, 'target');
    fs.writeFileSync(path.join(dir, 'target.c'), MANY_MAPS_C);
    try {
      try {
        execFileSync('cc', ['-O2', '-o', bin, path.join(dir, 'target.c')], { stdio: 'ignore' });
      } catch {
        t.skip('no C compiler');
        return;
      }
      const child = spawn(bin, ['3000'], { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        // it writes a line once its mappings are made
        await once(child.stdout, 'data');
        const maps = `/proc/${child.pid}/maps`;
        const r = new ProcessReader(child.pid!);
        try {
          const s = r.sample();
          const mapsText = fs.readFileSync(maps, 'latin1');
          assert.ok(mapsText.length > 200_000, `maps is ${mapsText.length} bytes`);
          assert.deepEqual(s.maps, privateWritableKb(mapsText));
          assert.equal(s.maps.complete, true);
          assert.ok(s.maps.kb >= 3000 * 4);
          assert.ok(s.smaps!.privateDirty >= 3000 * 4);
          assert.ok(ProcessReader.bufferSize >= mapsText.length);
          const again = r.sample();
          assert.deepEqual(again.maps, s.maps);
        } finally {
          r.close();
        }
        // A kernel without smaps_rollup: a fake proc root whose entries
        // link to the real files, without smaps_rollup, so the reader reads
        // the full smaps (megabytes) through its pread loop.
        const root = path.join(dir, 'proc');
        fs.mkdirSync(path.join(root, String(child.pid)), { recursive: true });
        for (const f of ['stat', 'statm', 'smaps', 'maps']) {
          fs.symlinkSync(`/proc/${child.pid}/${f}`, path.join(root, String(child.pid), f));
        }
        const r2 = new ProcessReader(child.pid!, { procRoot: root });
        try {
          assert.equal(r2.smapsFile, 'smaps');
          const full = r2.sample();
          const rollup = parseSmaps(fs.readFileSync(`/proc/${child.pid}/smaps_rollup`, 'latin1'));
          assert.ok(ProcessReader.bufferSize >= 3000 * 2 * 500);
          assert.equal(full.smaps!.rss, rollup.rss);
          assert.equal(full.smaps!.privateDirty, rollup.privateDirty);
          assert.equal(full.smaps!.swap, rollup.swap);
        } finally {
          r2.close();
        }
      } finally {
        await killAndReap(child);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
