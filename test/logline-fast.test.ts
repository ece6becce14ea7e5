// formatLine as the sampler runs it (the date made once a minute, cells
// padded from a table) against the plain implementation it replaced, kept
// here as the reference: same bytes for random samples and times, across
// daylight saving time changes, and for a sampler reusing sample objects.
process.env.TZ = 'Europe/Berlin';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { formatSize, formatCpuTime, formatDate, formatLine, formatTime, type LineOptions } from '../src/plog/log/logline.js';
import { parseLogLine } from '../src/plog/log/lineparse.js';
import type { RawSample } from '../src/proc/reader.js';

// ---- the reference: formatLine as it was ----
const WIDTHS = [0, 5, 4, 8, 6, 7, 9, 7, 9, 10, 5, 10, 9, 9, 10];
function refJoin(values: readonly string[], withSeconds: LineOptions['withSeconds']): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out += v;
    if (i < values.length - 1) {
      const w = i === 0 ? (withSeconds === 'ms' ? 18 : withSeconds ? 14 : 11) : WIDTHS[i]!;
      out += ' '.repeat(Math.max(1, w - v.length + 1));
    }
  }
  return out;
}
function refFormatLine(cur: RawSample, prev: RawSample | null, opts: LineOptions): string {
  const { stat, statm } = cur;
  const ticks = stat.utime + stat.stime;
  let cpuPct = '-';
  if (prev !== null) {
    const wallS = (cur.timeMs - prev.timeMs) / 1000;
    const usedS = (ticks - (prev.stat.utime + prev.stat.stime)) / opts.clkTck;
    if (wallS > 0 && usedS >= 0) cpuPct = ((usedS / wallS) * 100).toFixed(1);
  }
  // Share from smaps (shared over Rss), else statm's marked '~'.
  const sm = cur.smaps;
  const share = sm ? (sm.rss > 0 ? (((sm.sharedClean + sm.sharedDirty) / sm.rss) * 100).toFixed(1) : '0.0') : (statm.resident > 0 ? ((statm.shared / statm.resident) * 100).toFixed(1) : '0.0') + '~';
  const values: string[] = [
    formatDate(new Date(cur.timeMs), opts.withSeconds),
    stat.state,
    String(stat.priority),
    formatCpuTime(ticks / opts.clkTck),
    cpuPct,
    String(stat.numThreads),
    String(stat.minflt + stat.cminflt),
    String(stat.majflt + stat.cmajflt),
    formatSize(statm.size * opts.pageKb),
    formatSize(statm.resident * opts.pageKb),
    share,
    cur.smaps ? formatSize(cur.smaps.pss) : '-',
    cur.smaps ? formatSize(cur.smaps.swap) : '-',
    formatSize(statm.data * opts.pageKb),
  ];
  if (cur.maps === null) values.push('-');
  else if (cur.maps.complete) values.push(formatSize(cur.maps.kb));
  return refJoin(values, opts.withSeconds) + '\n';
}

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

function randomSample(r: () => number, timeMs: number): RawSample {
  const big = (): number => Math.floor(r() ** 4 * 2 ** (r() < 0.1 ? 40 : 24));
  return {
    timeMs,
    stat: {
      pid: 1 + big(),
      comm: 'x',
      state: 'RSDZTtXI'[Math.floor(r() * 8)]!,
      ppid: 1,
      minflt: big(),
      cminflt: big(),
      majflt: big(),
      cmajflt: big(),
      utime: big(),
      stime: big(),
      cutime: 0,
      cstime: 0,
      priority: Math.floor(r() * 140) - 100,
      nice: 0,
      numThreads: 1 + big(),
      starttime: 1,
      vsize: 0,
      rss: 0,
    },
    statm: { size: big(), resident: big(), shared: big(), text: 1, data: big() },
    smaps: r() < 0.1 ? null : { rss: big(), pss: big(), swap: big(), sharedClean: big(), sharedDirty: big(), privateClean: 0, privateDirty: 0 },
    maps: r() < 0.1 ? null : { kb: big(), complete: r() < 0.9 },
  };
}

describe('formatTime', () => {
  test('is formatDate of the same time, minute after minute, across DST changes', () => {
    const r = rng(3);
    // around the spring and autumn changes in Berlin, and random times
    const starts = [Date.UTC(2024, 2, 31, 0, 58, 0), Date.UTC(2024, 9, 27, 0, 58, 0), Date.UTC(2025, 0, 1, 0, 0, 0)];
    for (const t0 of starts) {
      for (let t = t0; t < t0 + 3 * 3600_000; t += 997 + Math.floor(r() * 20_000)) {
        for (const ws of [false, true, 'ms'] as const) assert.equal(formatTime(t, ws), formatDate(new Date(t), ws), new Date(t).toISOString());
      }
    }
    for (let k = 0; k < 5000; k++) {
      const t = Math.floor(r() * 4e12);
      for (const ws of [false, true, 'ms'] as const) assert.equal(formatTime(t, ws), formatDate(new Date(t), ws));
    }
  });
});

describe('formatLine against the reference', () => {
  test('random samples, times and options: the same bytes; parseLogLine reads them', () => {
    const r = rng(11);
    let prev: RawSample | null = null;
    let t = Date.UTC(2024, 2, 31, 0, 0, 0);
    for (let k = 0; k < 20_000; k++) {
      t += Math.floor(r() * 90_000);
      const cur = randomSample(r, t);
      const opts: LineOptions = { withSeconds: r() < 0.2 ? 'ms' : r() < 0.5, pageKb: r() < 0.8 ? 4 : 64, clkTck: 100 };
      const line = formatLine(cur, prev, opts);
      assert.equal(line, refFormatLine(cur, prev, opts));
      if (cur.maps === null || cur.maps.complete) assert.ok(parseLogLine(line), line);
      prev = r() < 0.8 ? cur : null;
    }
  });
});
