/**
 * What plog web keeps of a log in memory: running figures and a bounded
 * number of blocks of samples, never the samples themselves, so that a log
 * of any length costs the same few tens of kilobytes. Pure: samples in,
 * numbers out.
 *
 * - Running, exact: per figure of report.ts's FIGURES the first, last,
 *   lowest, peak (and when), mean, and the least-squares line through all
 *   samples, as moments updated one sample at a time (Welford's method,
 *   which stays exact to rounding where sums of squares would not); CPU%
 *   mean and peak, CPU time, threads.
 * - Blocks: consecutive runs of samples, at most `cap` (32): when full,
 *   neighbours are merged pairwise (moments combine exactly, Chan et al.),
 *   so a block holds 1 sample while the log is short and about n/cap when it
 *   is long. Each keeps its time span, the byte range of its lines (to read
 *   them again), the lowest and highest RSS, PSS, Swap and CPU% (the chart
 *   of a long log, no peak lost), and each figure's moments.
 * - The leak verdict is report.ts's own (isSteady, verdictOf), fed with
 *   fits computed here: the whole-log fit from the running moments, and the
 *   fit over the later half from the blocks after the midpoint plus, for
 *   the one block the midpoint falls in, its samples read again from the
 *   file (readBlock), so the verdict is plog report's, exactly, at any
 *   length. The midpoint moves at half the speed of the log's end: that
 *   block's samples are cached and read again only when it moves on.
 * - A sparkline: the highest RSS per 10 s over the last hour.
 */
import type { Sample } from '../plog/log/sample.js';
import { FIGURES, isSteady, verdictOf, type CpuStats, type FigureStats, type Report, type Verdict } from '../plog/readers/report.js';
import { addAt, mergeAt, Moments } from './moments.js';

export { Moments } from './moments.js';

const HOUR = 3_600_000;

/** The charted series of a block: lowest and highest of each. */
export const CHART_KEYS = ['rss', 'pss', 'swap', 'cpu'] as const;
export type ChartKey = (typeof CHART_KEYS)[number];
export const chartValue: Record<ChartKey, (s: Sample) => number | null> = {
  rss: (s) => s.residentBytes,
  pss: (s) => s.pssBytes,
  swap: (s) => s.swapBytes,
  cpu: (s) => s.cpuPercent,
};

// Block layout: one row of W numbers per block.
const B_T0 = 0; // time of the first sample
const B_T1 = 1; // time of the last
const B_N = 2; // samples
const B_START = 3; // byte offset of the first line
const B_END = 4; // byte offset after the last line
const B_LINE = 5; // line number of the first sample
const B_CHART = 6; // min, max of each CHART_KEYS
const B_MOM = B_CHART + 2 * CHART_KEYS.length; // 6 moments of each FIGURES
const W = B_MOM + 6 * FIGURES.length;
// A block is W numbers at an offset o of this.blocks (a multiple of W, inside it): hence `a[o + B_...]!` below.

/** A block as the chart sees it. */
export interface BlockView {
  t0: number;
  t1: number;
  n: number;
  start: number;
  end: number;
  line: number;
  min: Record<ChartKey, number | null>;
  max: Record<ChartKey, number | null>;
}

interface Running {
  n: number;
  first: number;
  last: number;
  min: number;
  peak: number;
  peakAt: number;
  sum: number;
  t0: number;
  t1: number;
  all: Moments;
}

/** Keep the highest value per slot in a ring (tag: the slot each place holds). */
function keepMax(arr: Float32Array, tag: Int32Array | Float64Array, slot: number, v: number): boolean {
  const i = ((slot % arr.length) + arr.length) % arr.length;
  if (tag[i] !== slot) {
    tag[i] = slot;
    arr[i] = v;
    return true;
  }
  if (Math.fround(v) > arr[i]!) {
    arr[i] = v;
    return true;
  }
  return false;
}

/** A block's samples read again: the caller's access to the file. */
export type ReadBlock = (start: number, end: number, line: number) => Sample[] | null;

const SPARK_STEP = 10_000;
const SPARK_SLOTS = HOUR / SPARK_STEP;
/** The last minute by the second, for a log younger than that. */
const FINE_STEP = 1000;
const FINE_SLOTS = 60;
/**
 * A young log's sparkline is sent again at most this often (ms): by the
 * second it was 500 sparklines of 60 points a second with 500 new logs,
 * a quarter of plog web's time in their first minute. Its row's figures
 * still change at every sample.
 */
const FINE_EVERY = 5000;

export class LogStats {
  /** Samples seen. */
  n = 0;
  firstMs = NaN;
  lastMs = NaN;
  last: Sample | null = null;
  /** Time origin of the moments' x (the first sample's). */
  private base = NaN;
  private readonly figs: Array<Running | null> = FIGURES.map(() => null);
  private cpuSum = 0;
  private cpuN = 0;
  private cpuPeak: number | null = null;
  private cpuPeakAt: number | null = null;
  private firstCpuSeconds = 0;
  private maxThreads = 0;
  /** The last gaps between samples, for the interval. */
  private readonly gaps: number[] = [];
  private blocks = new Float64Array(0);
  /** Blocks in use. */
  count = 0;
  /** Samples per block before a new one starts (doubles at each merge). */
  private per = 1;
  // Single precision is plenty for a sparkline; slots are whole numbers of 10 s and 1 s since 1970.
  private readonly spark = new Float32Array(SPARK_SLOTS);
  private readonly sparkTag = new Int32Array(SPARK_SLOTS).fill(-1);
  private readonly fine = new Float32Array(FINE_SLOTS);
  private readonly fineTag = new Float64Array(FINE_SLOTS).fill(-1);
  /** The block the midpoint was in last time, read again, by its start offset. */
  private straddle: { start: number; end: number; cols: Float64Array[] } | null = null;
  /** Bytes read again for verdicts (for the tests and the benchmark). */
  reread = 0;

  constructor(readonly cap = 32) {
    if (cap < 4 || cap % 2) throw new Error('block cap: an even number from 4');
  }

  add(s: Sample, start: number, end: number): void {
    const t = s.timeMs;
    if (this.n === 0) {
      this.base = t;
      this.firstMs = t;
      this.firstCpuSeconds = s.cpuSeconds;
    } else {
      this.gaps.push(t - this.lastMs);
      if (this.gaps.length > 63) this.gaps.shift();
    }
    this.n++;
    this.lastMs = t;
    this.last = s;
    const x = (t - this.base) / HOUR;
    // Running figures.
    for (let f = 0; f < FIGURES.length; f++) {
      const v = FIGURES[f]!.get(s);
      if (v === null) continue;
      let r = this.figs[f];
      if (!r) r = this.figs[f] = { n: 0, first: v, last: v, min: v, peak: v, peakAt: t, sum: 0, t0: t, t1: t, all: new Moments() };
      r.n++;
      r.last = v;
      r.t1 = t;
      r.sum += v;
      if (v < r.min) r.min = v;
      if (v > r.peak) {
        r.peak = v;
        r.peakAt = t;
      }
      r.all.add(x, v);
    }
    if (s.threads > this.maxThreads) this.maxThreads = s.threads;
    if (s.cpuPercent !== null) {
      this.cpuSum += s.cpuPercent;
      this.cpuN++;
      if (this.cpuPeak === null || s.cpuPercent > this.cpuPeak) {
        this.cpuPeak = s.cpuPercent;
        this.cpuPeakAt = t;
      }
    }
    // The block it goes to.
    let b = this.count - 1;
    if (b < 0 || this.blocks[b * W + B_N]! >= this.per) {
      if (this.count === this.cap) this.merge();
      b = this.count++;
      this.grow();
      const o = b * W;
      this.blocks.fill(0, o, o + W);
      this.blocks[o + B_T0] = t;
      this.blocks[o + B_START] = start;
      this.blocks[o + B_LINE] = s.line;
      for (let k = 0; k < 2 * CHART_KEYS.length; k++) this.blocks[o + B_CHART + k] = NaN;
    }
    const o = b * W;
    const a = this.blocks;
    a[o + B_T1] = t;
    a[o + B_N]!++;
    a[o + B_END] = end;
    for (let k = 0; k < CHART_KEYS.length; k++) {
      const v = chartValue[CHART_KEYS[k]!](s);
      if (v === null) continue;
      const m = o + B_CHART + 2 * k;
      if (!(a[m]! <= v)) a[m] = v;
      if (!(a[m + 1]! >= v)) a[m + 1] = v;
    }
    for (let f = 0; f < FIGURES.length; f++) {
      const v = FIGURES[f]!.get(s);
      if (v !== null) addAt(a, o + B_MOM + 6 * f, x, v);
    }
    // Sparkline: the highest RSS of each 10 s, and of each second of the last minute.
    const coarse = keepMax(this.spark, this.sparkTag, Math.floor(t / SPARK_STEP), s.residentBytes);
    const fine = keepMax(this.fine, this.fineTag, Math.floor(t / FINE_STEP), s.residentBytes);
    // The sparkline drawn changes: every FINE_EVERY while the log is young (drawn by the second), else by the 10 s.
    const young = this.lastMs - this.firstMs < FINE_SLOTS * FINE_STEP + FINE_STEP;
    if (young ? (fine || coarse) && t - this.fineSentMs >= FINE_EVERY : coarse) {
      this.sparkVersion++;
      this.fineSentMs = t;
    }
  }

  /** When a young log's sparkline last changed (its sample's time). */
  private fineSentMs = -Infinity;

  /** Changes whenever sparkline() would give something else. */
  sparkVersion = 0;
  private sparkCache: { version: number; points: number; value: ReturnType<LogStats['sparkline']> } | null = null;

  private grow(): void {
    if (this.blocks.length >= this.count * W) return;
    const next = new Float64Array(Math.min(this.cap, Math.max(8, this.count * 2)) * W);
    next.set(this.blocks);
    this.blocks = next;
  }

  /** Halve the blocks: each pair becomes one. */
  private merge(): void {
    const a = this.blocks;
    const half = this.count / 2;
    for (let i = 0; i < half; i++) {
      const o = i * W;
      const p = 2 * i * W;
      const q = (2 * i + 1) * W;
      if (o !== p) a.copyWithin(o, p, p + W);
      a[o + B_T1] = a[q + B_T1]!;
      a[o + B_N]! += a[q + B_N]!;
      a[o + B_END] = a[q + B_END]!;
      for (let k = 0; k < 2 * CHART_KEYS.length; k += 2) {
        const m = o + B_CHART + k;
        const n = q + B_CHART + k;
        if (!(a[m]! <= a[n]!)) a[m] = Number.isNaN(a[n]!) ? a[m]! : a[n]!;
        if (!(a[m + 1]! >= a[n + 1]!)) a[m + 1] = Number.isNaN(a[n + 1]!) ? a[m + 1]! : a[n + 1]!;
      }
      for (let f = 0; f < FIGURES.length; f++) mergeAt(a, o + B_MOM + 6 * f, q + B_MOM + 6 * f);
    }
    this.count = half;
    this.per *= 2;
    this.straddle = null;
  }

  /** Blocks overlapping [from, to] (all by default), in time order. */
  blockViews(from = -Infinity, to = Infinity): BlockView[] {
    const out: BlockView[] = [];
    const a = this.blocks;
    for (let b = 0; b < this.count; b++) {
      const o = b * W;
      if (a[o + B_T1]! < from || a[o + B_T0]! > to) continue;
      const min = {} as Record<ChartKey, number | null>;
      const max = {} as Record<ChartKey, number | null>;
      CHART_KEYS.forEach((k, j) => {
        const lo = a[o + B_CHART + 2 * j]!;
        const hi = a[o + B_CHART + 2 * j + 1]!;
        min[k] = Number.isNaN(lo) ? null : lo;
        max[k] = Number.isNaN(hi) ? null : hi;
      });
      out.push({ t0: a[o + B_T0]!, t1: a[o + B_T1]!, n: a[o + B_N]!, start: a[o + B_START]!, end: a[o + B_END]!, line: a[o + B_LINE]!, min, max });
    }
    return out;
  }

  /**
   * The median gap between the last samples (the log's interval); 0 with
   * fewer than 2. A log sampled faster than its times' resolution (a text
   * log with whole seconds, sampled every 500 ms) has a median of 0: then
   * the mean gap.
   */
  get intervalMs(): number {
    if (this.intervalAt === this.n) return this.interval;
    this.intervalAt = this.n;
    this.interval = this.computeInterval();
    return this.interval;
  }

  private intervalAt = -1;
  private interval = 0;

  private computeInterval(): number {
    if (this.gaps.length === 0) return 0;
    const d = this.gaps.slice().sort((x, y) => x - y);
    const med = d[Math.floor(d.length / 2)]!; // d is not empty
    return med > 0 ? med : Math.round(d.reduce((a, b) => a + b, 0) / d.length);
  }

  /**
   * The highest RSS per step over the hour before the last sample, oldest
   * first, in at most `points` values (null: no sample in a step); by the
   * second while the log is less than a minute old.
   */
  sparkline(points = 60): { fromMs: number; stepMs: number; values: Array<number | null> } {
    if (this.sparkCache && this.sparkCache.version === this.sparkVersion && this.sparkCache.points === points) return this.sparkCache.value;
    const value = this.computeSparkline(points);
    this.sparkCache = { version: this.sparkVersion, points, value };
    return value;
  }

  private computeSparkline(points: number): { fromMs: number; stepMs: number; values: Array<number | null> } {
    if (this.n === 0) return { fromMs: 0, stepMs: SPARK_STEP, values: [] };
    const young = this.lastMs - this.firstMs < FINE_SLOTS * FINE_STEP;
    const [arr, tag, step, slotsKept] = young ? [this.fine, this.fineTag, FINE_STEP, FINE_SLOTS] : [this.spark, this.sparkTag, SPARK_STEP, SPARK_SLOTS];
    const lastSlot = Math.floor(this.lastMs / step);
    const firstSlot = Math.max(lastSlot - slotsKept + 1, Math.floor(this.firstMs / step));
    const slots = lastSlot - firstSlot + 1;
    const group = Math.max(1, Math.ceil(slots / points));
    const values: Array<number | null> = [];
    for (let g = firstSlot; g <= lastSlot; g += group) {
      let best: number | null = null;
      for (let slot = g; slot < g + group && slot <= lastSlot; slot++) {
        const i = ((slot % slotsKept) + slotsKept) % slotsKept;
        if (tag[i] === slot && (best === null || arr[i]! > best)) best = arr[i]!;
      }
      values.push(best);
    }
    return { fromMs: firstSlot * step, stepMs: group * step, values };
  }

  /**
   * The times and figures of the block at row o, from the cache or read
   * again (kept as numbers, not Sample objects: NaN where a figure has no
   * value).
   */
  private blockSamples(o: number, read: ReadBlock): Float64Array[] | null {
    const a = this.blocks;
    const start = a[o + B_START]!;
    const end = a[o + B_END]!;
    if (this.straddle && this.straddle.start === start && this.straddle.end === end) return this.straddle.cols;
    const samples = read(start, end, a[o + B_LINE]!);
    if (!samples) return null;
    this.reread += end - start;
    const cols = [new Float64Array(samples.length), ...FIGURES.map(() => new Float64Array(samples.length))];
    samples.forEach((s, i) => {
      // A column for the times, then one a figure.
      cols[0]![i] = s.timeMs;
      FIGURES.forEach((def, f) => (cols[f + 1]![i] = def.get(s) ?? NaN));
    });
    this.straddle = { start, end, cols };
    return cols;
  }

  /** Each figure's report.ts FigureStats; lateExact false when a block could not be read again (the file changed). */
  figures(read: ReadBlock): { figures: FigureStats[]; lateExact: boolean } {
    const out: FigureStats[] = [];
    let lateExact = true;
    const a = this.blocks;
    FIGURES.forEach((def, f) => {
      const r = this.figs[f];
      if (!r) return;
      const x0 = (r.t0 - this.base) / HOUR;
      const fit = r.all.fit(x0);
      // The later half by time, as report.ts cuts it: samples at or after the midpoint.
      const mid = (r.t0 + r.t1) / 2;
      const late = new Moments();
      for (let b = 0; b < this.count; b++) {
        const o = b * W;
        if (a[o + B_T0]! >= mid) late.mergeFrom(a, o + B_MOM + 6 * f);
        else if (a[o + B_T1]! >= mid) {
          const samples = this.blockSamples(o, read);
          if (samples === null) {
            lateExact = false;
            late.mergeFrom(a, o + B_MOM + 6 * f);
            continue;
          }
          // The times, and the figure's column (blockSamples()): as long as each other.
          const times = samples[0]!;
          const values = samples[f + 1]!;
          for (let i = 0; i < times.length; i++) {
            if (times[i]! >= mid && !Number.isNaN(values[i])) late.add((times[i]! - this.base) / HOUR, values[i]!);
          }
        }
      }
      const lateFit = late.fit(x0);
      const mean = r.sum / r.n;
      out.push({
        key: def.key,
        label: def.label,
        column: def.column,
        n: r.n,
        first: r.first,
        last: r.last,
        min: r.min,
        peak: r.peak,
        peakTimeMs: r.peakAt,
        mean,
        fit,
        lateFit,
        steady: isSteady(fit, lateFit, mean, r.t1 - r.t0),
      });
    });
    return { figures: out, lateExact };
  }

  cpu(): CpuStats {
    return {
      mean: this.cpuN ? this.cpuSum / this.cpuN : null,
      peak: this.cpuPeak,
      peakTimeMs: this.cpuPeakAt,
      usedSeconds: Math.max(0, (this.last?.cpuSeconds ?? 0) - this.firstCpuSeconds),
      totalSeconds: this.last?.cpuSeconds ?? 0,
      maxThreads: this.maxThreads,
    };
  }

  /** The verdict alone (the list's badge). */
  verdict(read: ReadBlock): Verdict {
    const { figures } = this.figures(read);
    return verdictOf(figures, this.n, this.n ? this.lastMs - this.firstMs : 0);
  }

  /** plog report's Report of the log so far. */
  report(path: string, command: string, read: ReadBlock, extra: { badLineCount: number; partialTail: boolean; lacks: string[] }): Report {
    const { figures } = this.figures(read);
    const spanMs = this.n ? this.lastMs - this.firstMs : 0;
    return {
      path,
      command,
      samples: this.n,
      startMs: this.n ? this.firstMs : null,
      endMs: this.n ? this.lastMs : null,
      spanMs,
      intervalMs: this.intervalMs,
      lastState: this.last?.state ?? null,
      figures,
      cpu: this.cpu(),
      verdict: verdictOf(figures, this.n, spanMs),
      badLineCount: extra.badLineCount,
      partialTail: extra.partialTail,
      lacks: extra.lacks,
    };
  }

  /** Approximate bytes held (for the benchmark's budget). */
  get heldBytes(): number {
    return (
      this.blocks.byteLength +
      this.spark.byteLength +
      this.sparkTag.byteLength +
      this.fine.byteLength +
      this.fineTag.byteLength +
      (this.straddle ? this.straddle.cols.reduce((n, c) => n + c.byteLength, 0) : 0)
    );
  }
}
