import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';

import { logBaseName, formatSize, formatCpuTime, formatDate, HEADER_COLUMNS, formatHeader, formatLine, type LineOptions } from '../src/plog/log/logline.js';
import { parseLogLine, parseSize, parseCpuTime } from '../src/plog/log/lineparse.js';
import type { RawSample } from '../src/proc/reader.js';
import { parseStat, type ProcStat } from '../src/proc/stat.js';
import { parseStatm } from '../src/proc/statm.js';
import { parseSmaps } from '../src/proc/smaps.js';
import { privateWritableKb } from '../src/proc/maps.js';
import { decodeProc } from '../src/proc/reader.js';

const FIX = new URL('../../test/fixtures/proc/', import.meta.url);
const text = (name: string): string => decodeProc(fs.readFileSync(new URL(name, FIX)));

const OPTS: LineOptions = { withSeconds: false, pageKb: 4, clkTck: 100 };

function stat(over: Partial<ProcStat> = {}): ProcStat {
  return {
    pid: 123,
    comm: 'prog',
    state: 'S',
    ppid: 1,
    minflt: 1000,
    cminflt: 234,
    majflt: 5,
    cmajflt: 2,
    utime: 6000,
    stime: 1512,
    cutime: 0,
    cstime: 0,
    priority: 20,
    nice: 0,
    numThreads: 4,
    starttime: 500,
    vsize: 0,
    rss: 0,
    ...over,
  };
}

function sample(over: Partial<RawSample> = {}, st: Partial<ProcStat> = {}): RawSample {
  return {
    timeMs: new Date(2024, 0, 5, 9, 7, 3).getTime(),
    stat: stat(st),
    statm: { size: 25600, resident: 1000, shared: 250, text: 10, data: 900 },
    smaps: { rss: 4000, pss: 3000, swap: 12, sharedClean: 400, sharedDirty: 100, privateClean: 0, privateDirty: 0 },
    maps: { kb: 3500, complete: true },
    ...over,
  };
}

describe('logBaseName', () => {
  test('replaces / * and everything outside 0x21..0x7e (space included) by _', () => {
    assert.equal(logBaseName('bash'), 'bash');
    assert.equal(logBaseName('kworker/0:1H'), 'kworker_0:1H');
    assert.equal(logBaseName('a*b'), 'a_b');
    assert.equal(logBaseName('Web Content'), 'Web_Content');
    assert.equal(logBaseName(parseStat(text('weird.stat')).comm), 'a)_(b_c_x)');
    assert.equal(logBaseName('caf\xc3\xa9\xff\x7f\x01~!'), 'caf_____~!'); // per byte
    assert.equal(logBaseName('..'), '..'); // the caller appends .PID, so never '..' alone
    assert.equal(logBaseName(''), '_');
  });
});

describe('formatSize', () => {
  test('kB, MB, GB thresholds', () => {
    assert.equal(formatSize(0), '0kB');
    assert.equal(formatSize(4095), '4095kB');
    assert.equal(formatSize(4095.9), '4095kB');
    assert.equal(formatSize(4096), '4.00MB');
    assert.equal(formatSize(1536 * 10), '15.00MB');
    assert.equal(formatSize(4096 * 1024 - 1), '4095.99MB');
    assert.equal(formatSize(4096 * 1024), '4.00GB');
    assert.equal(formatSize(5 * 1024 * 1024 + 512 * 1024), '5.50GB');
    assert.equal(formatSize(10 * 1024 ** 3), '10240.00GB');
  });
  test('parseSize is its inverse (to the hundredth)', () => {
    assert.equal(parseSize('12kB'), 12);
    assert.equal(parseSize('1.50MB'), 1536);
    assert.equal(parseSize('2.00GB'), 2097152);
    assert.ok(Number.isNaN(parseSize('12')));
    assert.ok(Number.isNaN(parseSize('1.5MB')));
    assert.ok(Number.isNaN(parseSize('')));
  });
});

describe('formatCpuTime', () => {
  test('Ns, M:SS, H:MM:SS, rounded down', () => {
    assert.equal(formatCpuTime(0), '0s');
    assert.equal(formatCpuTime(59.99), '59s');
    assert.equal(formatCpuTime(60), '1:00');
    assert.equal(formatCpuTime(75.12), '1:15');
    assert.equal(formatCpuTime(3599.9), '59:59');
    assert.equal(formatCpuTime(3600), '1:00:00');
    assert.equal(formatCpuTime(3600 * 100 + 61), '100:01:01');
    for (const s of [0, 59, 60, 3599, 3600, 86399, 360061]) assert.equal(parseCpuTime(formatCpuTime(s)), s);
    assert.ok(Number.isNaN(parseCpuTime('1:5')));
  });
});

describe('formatDate', () => {
  test('MM-DD HH:MM local time, month first and the hour space-padded, as plog 0.1.0 writes it', () => {
    // plog 0.1.0's own line of 4 December, 5:06 (test/fixtures/plog-0.1.0/threads.log)
    assert.equal(formatDate(new Date(2024, 11, 4, 5, 6, 59), false), '12-04  5:06');
    assert.equal(formatDate(new Date(2024, 0, 5, 9, 7, 3), false), '01-05  9:07');
    assert.equal(formatDate(new Date(2024, 11, 31, 23, 59, 59), false), '12-31 23:59');
    assert.equal(formatDate(new Date(2024, 5, 1, 0, 0, 0), false), '06-01  0:00');
    assert.equal(formatDate(new Date(2024, 0, 5, 9, 7, 3), true), '01-05  9:07:03');
    // not whole seconds: milliseconds
    assert.equal(formatDate(new Date(2024, 0, 5, 9, 7, 3, 5), 'ms'), '01-05  9:07:03.005');
    assert.equal(formatDate(new Date(2024, 0, 5, 19, 7, 3, 500), 'ms'), '01-05 19:07:03.500');
    // one width each, whatever the hour
    for (const form of [false, true, 'ms'] as const) {
      const w = new Set([0, 9, 10, 23].map((h) => formatDate(new Date(2024, 0, 5, h, 7, 3), form).length));
      assert.equal(w.size, 1, String(form));
    }
  });
});

/** Start offsets of the columns, taking the first two space-separated fields as one. */
function columnStarts(line: string): number[] {
  const starts: number[] = [];
  const re = /\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) starts.push(m.index);
  starts.splice(1, 1);
  return starts;
}

describe('formatHeader / formatLine', () => {
  test('header names in order', () => {
    assert.deepEqual(
      [...HEADER_COLUMNS],
      ['Date   Time', 'State', 'Prio', 'CPU_time', 'CPU%', 'Threads', 'MinFlt', 'MajFlt', 'VirtualSz', 'ResidentSz', 'Share', 'Proportion', 'Swap', 'Dat+Stck', 'Priv&Write'],
    );
    for (const ws of [false, true, 'ms'] as const) {
      const h = formatHeader(ws);
      assert.ok(h.endsWith('\n') && !h.endsWith(' \n'));
      assert.equal(h.replace(/ +/g, ' ').trim(), HEADER_COLUMNS.join(' ').replace(/ +/g, ' '));
      // 'Date', three spaces, 'Time', as plog 0.1.0's header: the month-day mark
      assert.ok(h.startsWith('Date   Time '), h);
    }
  });

  test('a full line, exactly', () => {
    const line = formatLine(sample(), null, OPTS);
    assert.equal(line, '01-05  9:07 S     20   1:15     -      4       1234      7       100.00MB  4000kB     12.5  3000kB     12kB      3600kB    3500kB\n');
  });

  test('values line up under the header (with and without seconds, with milliseconds)', () => {
    for (const ws of [false, true, 'ms'] as const) {
      const h = formatHeader(ws);
      const prev = sample();
      const cur = sample({ timeMs: prev.timeMs + 60_000 }, { utime: 7000 });
      const l = formatLine(cur, prev, { ...OPTS, withSeconds: ws });
      assert.deepEqual(columnStarts(l), columnStarts(h));
      // a two-digit hour too
      const l2 = formatLine(sample({ timeMs: new Date(2024, 0, 5, 19, 7, 3).getTime() }), null, { ...OPTS, withSeconds: ws });
      assert.deepEqual(columnStarts(l2), columnStarts(h));
    }
  });

  test('CPU% over the wall time between samples', () => {
    const prev = sample();
    // 50 s of CPU (5000 ticks) in 100 s of wall time
    const cur = sample({ timeMs: prev.timeMs + 100_000 }, { utime: 6000 + 3000, stime: 1512 + 2000 });
    assert.equal(parseLogLine(formatLine(cur, prev, OPTS))!.cpuPercent, 50.0);
    // several threads: over 100%
    const busy = sample({ timeMs: prev.timeMs + 1000 }, { utime: 6000 + 250 });
    assert.equal(parseLogLine(formatLine(busy, prev, OPTS))!.cpuPercent, 250.0);
    // no time passed: '-'
    assert.equal(parseLogLine(formatLine(sample(), prev, OPTS))!.cpuPercent, null);
  });

  test("smaps unreadable: '-' for Proportion and Swap; maps unreadable: '-'", () => {
    const l = formatLine(sample({ smaps: null, maps: null }), null, OPTS);
    const f = l.trim().split(/ +/);
    assert.equal(f.length, 16);
    assert.deepEqual(f.slice(12), ['-', '-', '3600kB', '-']);
    const r = parseLogLine(l)!;
    assert.equal(r.pssKb, null);
    assert.equal(r.swapKb, null);
    assert.equal(r.privWriteKb, null);
  });

  test('maps short read: Priv&Write left out of that line only', () => {
    const l = formatLine(sample({ maps: { kb: 12, complete: false } }), null, OPTS);
    assert.ok(l.endsWith('3600kB\n'));
    assert.equal(l.trim().split(/ +/).length, 15);
    const r = parseLogLine(l)!;
    assert.equal(r.dataKb, 3600);
    assert.equal(r.privWriteKb, undefined);
  });

  test("zombie / kernel thread: zero sizes, Share 0.0 (from statm without smaps: '~')", () => {
    const st = parseStat(text('zombie.stat'));
    const l = formatLine(
      {
        timeMs: Date.now(),
        stat: st,
        statm: parseStatm(text('zombie.statm')),
        smaps: null,
        maps: privateWritableKb(''),
      },
      null,
      OPTS,
    );
    const r = parseLogLine(l)!;
    assert.equal(r.state, 'Z');
    assert.equal(r.sharePercent, 0);
    assert.equal(r.shareFromStatm, true);
    assert.equal(l.split(/ +/)[11], '0.0~');
    assert.equal(r.residentKb, 0);
    assert.equal(r.privWriteKb, 0);
  });

  test('real fixtures: target process', () => {
    const cur: RawSample = {
      timeMs: new Date(2024, 2, 9, 14, 30, 0).getTime(),
      stat: parseStat(text('target.stat')),
      statm: parseStatm(text('target.statm')),
      smaps: parseSmaps(text('swap.smaps_rollup')),
      maps: privateWritableKb(text('target.maps')),
    };
    const r = parseLogLine(formatLine(cur, null, OPTS))!;
    assert.equal(r.virtualKb, parseSize(formatSize(5817 * 4)));
    assert.equal(r.residentKb, parseSize(formatSize(5592)));
    assert.equal(formatSize(5592), '5.46MB');
    assert.equal(r.sharePercent, 22.8); // smaps_rollup: (1268 + 8) / 5592 (statm's 319 / 1398 agree here)
    assert.equal(r.pssKb, parseSize(formatSize(4427)));
    assert.equal(r.swapKb, 2048);
    assert.equal(r.privWriteKb, parseSize(formatSize(20940)));
  });

  test('values longer than their column push on with one space and still parse', () => {
    const big = sample({}, { minflt: 123456789012, cminflt: 0, priority: -100, numThreads: 123456789, utime: 36_000_000_00 });
    const l = formatLine(big, null, OPTS);
    assert.equal(l.trim().split(/ +/).length, 16);
    const r = parseLogLine(l)!;
    assert.equal(r.minFlt, 123456789012);
    assert.equal(r.prio, -100);
    assert.equal(r.threads, 123456789);
    assert.equal(r.cpuSeconds, 36_000_000 + 15);
  });
});

describe('parseLogLine', () => {
  test('round trip', () => {
    const prev = sample();
    const cur = sample({ timeMs: prev.timeMs + 30_000 }, { utime: 6300 });
    for (const ws of [false, true]) {
      const r = parseLogLine(formatLine(cur, prev, { ...OPTS, withSeconds: ws }), { withSeconds: ws })!;
      assert.equal(r.date, '01-05');
      assert.equal(r.time, ws ? '9:07:33' : '9:07');
      assert.deepEqual([r.day, r.month, r.hour, r.minute, r.second, r.millisecond], [5, 1, 9, 7, ws ? 33 : null, null]);
      assert.equal(r.state, 'S');
      assert.equal(r.prio, 20);
      assert.equal(r.cpuSeconds, 78);
      assert.equal(r.cpuPercent, 10.0);
      assert.equal(r.threads, 4);
      assert.equal(r.minFlt, 1234);
      assert.equal(r.majFlt, 7);
      assert.equal(r.virtualKb, 102400);
      assert.equal(r.residentKb, 4000);
      assert.equal(r.sharePercent, 12.5); // smaps' shared 500 kB of its Rss 4000 kB (statm would say 25.0)
      assert.equal(r.shareFromStatm, false);
      assert.equal(r.pssKb, 3000);
      assert.equal(r.swapKb, 12);
      assert.equal(r.dataKb, 3600);
      assert.equal(r.privWriteKb, 3500);
      // the wrong time form is refused when asked for
      assert.equal(parseLogLine(formatLine(cur, prev, { ...OPTS, withSeconds: ws }), { withSeconds: !ws }), null);
    }
    // milliseconds
    const ms = parseLogLine(formatLine(sample({ timeMs: prev.timeMs + 30_250 }), prev, { ...OPTS, withSeconds: 'ms' }))!;
    assert.equal(ms.time, '9:07:33.250');
    assert.deepEqual([ms.day, ms.month, ms.hour, ms.minute, ms.second, ms.millisecond], [5, 1, 9, 7, 33, 250]);
  });

  test('dates: month-day unless told day-month (the logs of our versions before); impossible dates refused', () => {
    const line = formatLine(sample({ timeMs: new Date(2024, 11, 4, 5, 6, 0).getTime() }), null, OPTS);
    assert.ok(line.startsWith('12-04  5:06 '), line);
    const md = parseLogLine(line)!;
    assert.deepEqual([md.month, md.day, md.hour, md.minute], [12, 4, 5, 6]);
    const dm = parseLogLine(line, { order: 'day-month' })!;
    assert.deepEqual([dm.month, dm.day], [4, 12]);
    // 13th month, 32nd day, 24th hour
    assert.equal(parseLogLine(line.replace('12-04', '13-04')), null);
    assert.equal(parseLogLine(line.replace('12-04', '13-04'), { order: 'day-month' })!.month, 4);
    assert.equal(parseLogLine(line.replace('12-04', '12-32')), null);
    assert.equal(parseLogLine(line.replace('12-04', '00-04')), null);
    assert.equal(parseLogLine(line.replace(' 5:06', '24:06')), null);
  });

  test('not sample lines: null', () => {
    assert.equal(parseLogLine(formatHeader(false)), null);
    assert.equal(parseLogLine(formatHeader(true)), null);
    assert.equal(parseLogLine('/usr/bin/sleep 30\n'), null);
    assert.equal(parseLogLine('[kthreadd]\n'), null);
    assert.equal(parseLogLine(''), null);
    assert.equal(parseLogLine('\n'), null);
    assert.equal(parseLogLine('05-01 9:07  S 20 1:15 - 4 x 7 100.00MB 3.90MB 25.0 2.92MB 12kB 3.51MB 3500kB'), null);
  });

  test('truncated last line: null, at every cut', () => {
    const full = formatLine(sample(), null, OPTS);
    const endOfData = full.indexOf('3600kB') + '3600kB'.length;
    for (let n = 0; n < full.length - 1; n++) {
      const r = parseLogLine(full.slice(0, n));
      if (n === endOfData) {
        // indistinguishable from a line written after a short read of maps
        assert.equal(r!.privWriteKb, undefined);
      } else if (n === full.length - 1) {
        assert.ok(r);
      } else {
        assert.equal(r, null, `cut at ${n}: ${JSON.stringify(full.slice(0, n))}`);
      }
    }
    assert.ok(parseLogLine(full.slice(0, -1)));
    assert.ok(parseLogLine(full));
  });
});
