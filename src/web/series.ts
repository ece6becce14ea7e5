/**
 * plog web's charts: a log's series between two times, from its samples
 * read again when the range is short enough, else from its blocks' lowest
 * and highest (stats.ts); and the log as a Log for plog plot's SVG.
 */
import type { Log, Sample } from '../plog/log/sample.js';
import { CHART_KEYS, chartValue, type ChartKey } from './stats.js';
import type { Entry } from './engine.js';

/** A range of a log read again for a chart or an SVG at most; longer ranges use the blocks. */
export const RAW_LIMIT = 16 << 20;

export interface Series {
  t: number[];
  rss: Array<number | null>;
  pss: Array<number | null>;
  swap: Array<number | null>;
  cpu: Array<number | null>;
  /** Every sample, as in the log (false: thinned to the lowest and highest per step). */
  exact: boolean;
}

function pushPair(out: Series, t0: number, t1: number, lo: Record<ChartKey, number | null>, hi: Record<ChartKey, number | null>): void {
  out.t.push(t0);
  for (const k of CHART_KEYS) out[k].push(lo[k]);
  if (t1 > t0) {
    out.t.push(t1);
    for (const k of CHART_KEYS) out[k].push(hi[k]);
  }
}

/**
 * A log's chart series between two times: its samples when the range
 * is short enough to read again (RAW_LIMIT), thinned to the lowest and
 * highest of each series per step when there are more than maxPoints;
 * else the blocks' lowest and highest (no peak is lost either way).
 */
export function seriesOf(e: Entry, from = -Infinity, to = Infinity, maxPoints = 4000): Series {
  const blocks = e.stats.blockViews(from, to);
  const out: Series = { t: [], rss: [], pss: [], swap: [], cpu: [], exact: true };
  const first = blocks[0];
  const last = blocks[blocks.length - 1];
  if (first === undefined || last === undefined) return out;
  const { start } = first;
  const { end } = last;
  let samples: Sample[] | null = null;
  if (end - start <= RAW_LIMIT)
    samples =
      e.tail
        .readRange(start, end, first.line)
        ?.map((l) => l.sample)
        .filter((s) => s.timeMs >= from && s.timeMs <= to) ?? null;
  if (samples) {
    if (samples.length <= maxPoints) {
      for (const s of samples) {
        out.t.push(s.timeMs);
        for (const k of CHART_KEYS) out[k].push(chartValue[k](s));
      }
      return out;
    }
    out.exact = false;
    // More than maxPoints samples; below, i < j <= samples.length.
    const t0 = samples[0]!.timeMs;
    const span = Math.max(1, samples[samples.length - 1]!.timeMs - t0);
    const buckets = Math.max(1, Math.floor(maxPoints / 2));
    let i = 0;
    while (i < samples.length) {
      const k = Math.min(buckets - 1, Math.floor(((samples[i]!.timeMs - t0) / span) * buckets));
      let j = i;
      const lo: Record<ChartKey, number | null> = { rss: null, pss: null, swap: null, cpu: null };
      const hi: Record<ChartKey, number | null> = { rss: null, pss: null, swap: null, cpu: null };
      for (; j < samples.length && Math.min(buckets - 1, Math.floor(((samples[j]!.timeMs - t0) / span) * buckets)) === k; j++) {
        for (const c of CHART_KEYS) {
          const v = chartValue[c](samples[j]!);
          if (v === null) continue;
          if (lo[c] === null || v < lo[c]) lo[c] = v;
          if (hi[c] === null || v > hi[c]) hi[c] = v;
        }
      }
      pushPair(out, samples[i]!.timeMs, samples[j - 1]!.timeMs, lo, hi);
      i = j;
    }
    return out;
  }
  out.exact = false;
  for (const b of blocks) pushPair(out, b.t0, b.t1, b.min, b.max);
  return out;
}

/** The log as a Log (for plot's SVG): its samples read again, or the blocks' extremes for a long one. */
export function logOf(e: Entry): Log | null {
  const info = e.tail.parser.info;
  const blocks = e.stats.blockViews();
  const first = blocks[0];
  const last = blocks[blocks.length - 1];
  if (!info || first === undefined || last === undefined) return null;
  const { start } = first;
  const { end } = last;
  let samples: Sample[] | null = null;
  if (end - start <= RAW_LIMIT) samples = e.tail.readRange(start, end, first.line)?.map((l) => l.sample) ?? null;
  if (!samples) {
    const base = e.stats.last!;
    samples = [];
    for (const b of blocks) {
      samples.push({ ...base, timeMs: b.t0, residentBytes: b.min.rss ?? 0, pssBytes: b.min.pss, swapBytes: b.min.swap, cpuPercent: b.min.cpu });
      if (b.t1 > b.t0) samples.push({ ...base, timeMs: b.t1, residentBytes: b.max.rss ?? 0, pssBytes: b.max.pss, swapBytes: b.max.swap, cpuPercent: b.max.cpu });
    }
  }
  return e.tail.parser.log(samples, e.id);
}
