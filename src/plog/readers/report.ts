/**
 * `plog report`: peak, mean and growth of each memory figure of a log, CPU
 * use, and a plain verdict when memory grows steadily (a leak suspect).
 * Pure: a Log in, numbers and text out.
 *
 * Growth is the least-squares line through (time, value): its slope per
 * hour, and r² (the share of the variance the line explains: 1 for a
 * perfectly straight climb, near 0 for noise or a flat series).
 *
 * The leak rule (LEAK_RULE; the man page says the same). A figure among RSS,
 * PSS and Swap — memory the process holds, not address space it reserved —
 * "grows steadily" when all of:
 *   1. the fitted slope is positive and r² >= 0.8 (a straight climb, not
 *      noise and not a single step, which fits at r² 0.75 at best);
 *   2. the fitted growth over the log (slope x span) is at least 5 % of the
 *      figure's mean and at least 1 MiB (above the log's rounding, 10 KiB
 *      for the MB form, and above allocator noise);
 *   3. the slope is at least 1 % of the mean per hour (so that a very long
 *      log does not call a crawl a leak);
 *   4. it is still growing: the slope fitted over the later half of the log
 *      (by time) is at least half the whole slope (a warm-up that levels
 *      off is not a leak; a steady leak keeps its slope, noise aside).
 * The verdict is "leak suspect" when a figure grows steadily over at least
 * 10 samples and 10 minutes; with fewer, it says the memory grows steadily
 * but the log is too short to tell a leak from a warm-up.
 */
import { lacksText } from '../log/logread.js';
import type { Log, Sample } from '../log/sample.js';
import { isoLocal } from '../log/export.js';
import { formatBytes, formatBytesSigned, formatClock, formatDay, formatDuration, medianInterval, sig3 } from './chart-scale.js';
import { escapeText } from '../../escape.js';

export type FigureKey = 'rss' | 'pss' | 'swap' | 'virtual' | 'data' | 'privWrite';

export interface FigureDef {
  key: FigureKey;
  /** Short name, as in charts and reports. */
  label: string;
  /** The log's column. */
  column: string;
  /** Whether it counts for the leak verdict. */
  leak: boolean;
  get(s: Sample): number | null;
}

export const FIGURES: readonly FigureDef[] = [
  { key: 'rss', label: 'RSS', column: 'ResidentSz', leak: true, get: (s) => s.residentBytes },
  { key: 'pss', label: 'PSS', column: 'Proportion', leak: true, get: (s) => s.pssBytes },
  { key: 'swap', label: 'Swap', column: 'Swap', leak: true, get: (s) => s.swapBytes },
  { key: 'virtual', label: 'Virtual', column: 'VirtualSz', leak: false, get: (s) => s.virtualBytes },
  { key: 'data', label: 'Data+stack', column: 'Dat+Stck', leak: false, get: (s) => s.dataBytes },
  { key: 'privWrite', label: 'Priv&Write', column: 'Priv&Write', leak: false, get: (s) => s.privWriteBytes ?? null },
];

export const LEAK_RULE = {
  minSamples: 10,
  minSpanMs: 10 * 60_000,
  minR2: 0.8,
  /** Fitted growth over the log, as a share of the mean. */
  minGrowthOfMean: 0.05,
  minGrowthBytes: 1024 * 1024,
  /** Slope per hour, as a share of the mean. */
  minSlopeOfMeanPerHour: 0.01,
  /** Slope over the later half, as a share of the whole slope. */
  minLateSlopeRatio: 0.5,
} as const;

/** A least-squares line through (hours since t0, value). */
export interface Fit {
  /** Units per hour. */
  slopePerHour: number;
  /** The fitted value at t0. */
  intercept: number;
  /** Coefficient of determination; null when the values are all equal (nothing to explain). */
  r2: number | null;
  n: number;
}

/** Fit a line to points; null with fewer than 2 points or no time span. */
export function fitLine(times: readonly number[], values: readonly number[], t0 = times[0] ?? 0): Fit | null {
  const n = times.length;
  if (n < 2) return null;
  // Below, i < n: times[i], and values[i] (as many values as times).
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += (times[i]! - t0) / 3_600_000;
    my += values[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (times[i]! - t0) / 3_600_000 - mx;
    const dy = values[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return { slopePerHour: slope, intercept: my - slope * mx, r2: syy === 0 ? null : (sxy * sxy) / (sxx * syy), n };
}

export interface FigureStats {
  key: FigureKey;
  label: string;
  column: string;
  /** Samples with a value ('-' and left-out columns do not count). */
  n: number;
  first: number;
  last: number;
  min: number;
  peak: number;
  peakTimeMs: number;
  mean: number;
  fit: Fit | null;
  /** Fit over the later half of the log (by time). */
  lateFit: Fit | null;
  /** Whether it meets the leak rule's conditions 1-4 (span and sample count aside). */
  steady: boolean;
}

export interface CpuStats {
  /** Mean of the CPU% values (each an average over its interval). */
  mean: number | null;
  peak: number | null;
  peakTimeMs: number | null;
  /** CPU time used during the log (last - first CPU_time), seconds. */
  usedSeconds: number;
  /** CPU_time at the last sample. */
  totalSeconds: number;
  maxThreads: number;
}

export type VerdictKind = 'leak-suspect' | 'grows-short' | 'steady' | 'empty';

export interface Verdict {
  kind: VerdictKind;
  /** Figures that grow steadily. */
  figures: FigureKey[];
  text: string;
}

export interface Report {
  path: string;
  command: string;
  samples: number;
  startMs: number | null;
  endMs: number | null;
  spanMs: number;
  intervalMs: number;
  lastState: string | null;
  figures: FigureStats[];
  cpu: CpuStats;
  verdict: Verdict;
  badLineCount: number;
  partialTail: boolean;
  /** The columns the log does not have (a plog 0.1.0 log's), in words. */
  lacks: string[];
}

/**
 * Conditions 1-4 of LEAK_RULE for one figure: its fit over the whole log,
 * the fit over the later half, its mean and the time its values span.
 * (plog web computes the fits from running sums, then asks here.)
 */
export function isSteady(fit: Fit | null, lateFit: Fit | null, mean: number, spanMs: number): boolean {
  if (!fit || !(fit.slopePerHour > 0) || fit.r2 === null || !(mean > 0)) return false;
  const growth = (fit.slopePerHour * spanMs) / 3_600_000;
  return (
    fit.r2 >= LEAK_RULE.minR2 &&
    growth >= LEAK_RULE.minGrowthOfMean * mean &&
    growth >= LEAK_RULE.minGrowthBytes &&
    fit.slopePerHour >= LEAK_RULE.minSlopeOfMeanPerHour * mean &&
    lateFit !== null &&
    lateFit.slopePerHour >= LEAK_RULE.minLateSlopeRatio * fit.slopePerHour
  );
}

function figureStats(def: FigureDef, samples: readonly Sample[]): FigureStats | null {
  const t: number[] = [];
  const v: number[] = [];
  for (const s of samples) {
    const x = def.get(s);
    if (x === null) continue;
    t.push(s.timeMs);
    v.push(x);
  }
  const first = v[0];
  const t0 = t[0];
  if (first === undefined || t0 === undefined) return null;
  // t and v were pushed together: t[i] is there for each v[i], the last ones too.
  const last = v[v.length - 1]!;
  const tLast = t[t.length - 1]!;
  let min = first;
  let peak = first;
  let peakAt = t0;
  let sum = 0;
  v.forEach((x, i) => {
    sum += x;
    if (x < min) min = x;
    if (x > peak) {
      peak = x;
      peakAt = t[i]!;
    }
  });
  const mean = sum / v.length;
  const fit = fitLine(t, v);
  const mid = (t0 + tLast) / 2;
  const lateIdx = t.findIndex((x) => x >= mid);
  const lateFit = lateIdx >= 0 ? fitLine(t.slice(lateIdx), v.slice(lateIdx), t0) : null;
  const steady = isSteady(fit, lateFit, mean, tLast - t0);
  return {
    key: def.key,
    label: def.label,
    column: def.column,
    n: v.length,
    first,
    last,
    min,
    peak,
    peakTimeMs: peakAt,
    mean,
    fit,
    lateFit,
    steady,
  };
}

function cpuStats(samples: readonly Sample[]): CpuStats {
  let sum = 0;
  let n = 0;
  let peak: number | null = null;
  let peakAt: number | null = null;
  let maxThreads = 0;
  for (const s of samples) {
    if (s.threads > maxThreads) maxThreads = s.threads;
    if (s.cpuPercent === null) continue;
    sum += s.cpuPercent;
    n++;
    if (peak === null || s.cpuPercent > peak) {
      peak = s.cpuPercent;
      peakAt = s.timeMs;
    }
  }
  const first = samples[0]?.cpuSeconds ?? 0;
  const last = samples[samples.length - 1]?.cpuSeconds ?? 0;
  return { mean: n ? sum / n : null, peak, peakTimeMs: peakAt, usedSeconds: Math.max(0, last - first), totalSeconds: last, maxThreads };
}

function describeGrowth(f: FigureStats): string {
  const fit = f.fit!;
  return `${f.label} grows by ${formatBytes(fit.slopePerHour)}/h (r² ${fit.r2!.toFixed(2)}, ${sig3((fit.slopePerHour / f.mean) * 100)}% of its mean an hour), from ${formatBytes(f.first)} to ${formatBytes(f.last)}`;
}

/** The verdict over a log's figures, its sample count and its span. */
export function verdictOf(figs: FigureStats[], n: number, spanMs: number): Verdict {
  if (n === 0) return { kind: 'empty', figures: [], text: 'no samples: nothing to judge.' };
  const steady = figs.filter((f) => f.steady && FIGURES.find((d) => d.key === f.key)!.leak);
  if (steady.length === 0) {
    return { kind: 'steady', figures: [], text: 'no steady memory growth (RSS, PSS and Swap do not climb in a straight line).' };
  }
  const what = steady.map(describeGrowth).join('; ');
  const keys = steady.map((f) => f.key);
  if (n < LEAK_RULE.minSamples || spanMs < LEAK_RULE.minSpanMs) {
    return {
      kind: 'grows-short',
      figures: keys,
      text: `memory grows steadily (${what}), but ${n} samples over ${formatDuration(spanMs)} are too few to tell a leak from a warm-up: log at least ${LEAK_RULE.minSamples} samples over ${formatDuration(LEAK_RULE.minSpanMs)}.`,
    };
  }
  return {
    kind: 'leak-suspect',
    figures: keys,
    text: `LEAK SUSPECT: ${what}, steadily over ${formatDuration(spanMs)} and still growing at the end.`,
  };
}

/** The report of a log. */
export function buildReport(log: Log): Report {
  const s = log.samples;
  const figures: FigureStats[] = [];
  for (const def of FIGURES) {
    const f = figureStats(def, s);
    if (f) figures.push(f);
  }
  const firstSample = s[0];
  const lastSample = s[s.length - 1];
  const startMs = firstSample ? firstSample.timeMs : null;
  const endMs = lastSample ? lastSample.timeMs : null;
  const spanMs = startMs !== null && endMs !== null ? endMs - startMs : 0;
  return {
    path: log.path,
    command: log.command,
    samples: s.length,
    startMs,
    endMs,
    spanMs,
    intervalMs: medianInterval(s.map((x) => x.timeMs)),
    lastState: lastSample ? lastSample.state : null,
    figures,
    cpu: cpuStats(s),
    verdict: verdictOf(figures, s.length, spanMs),
    badLineCount: log.badLineCount,
    partialTail: log.partialTail !== null,
    lacks: log.lacks,
  };
}

function when(ms: number, startMs: number, seconds: boolean): string {
  // The day only when it differs from the first sample's.
  return formatDay(ms) === formatDay(startMs) ? formatClock(ms, seconds) : `${formatDay(ms)} ${formatClock(ms, seconds)}`;
}

function table(rows: string[][], right: boolean[]): string[] {
  // The width of each column: its longest cell (a short row has none there).
  const w: number[] = [];
  for (const r of rows) r.forEach((cell, c) => (w[c] = Math.max(w[c] ?? 0, cell.length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (right[c] ? cell.padStart(w[c]!) : cell.padEnd(w[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The report as text for a terminal or a file (plain ASCII but for 'r²' unless ascii is set). */
export function formatReport(r: Report, log: Log, opts: { ascii?: boolean } = {}): string {
  const sq = opts.ascii ? 'r2' : 'r²';
  const out: string[] = [];
  // The path, the command line and the state come from the log and its
  // name, anybody's text: shown escaped.
  out.push(`log:       ${escapeText(r.path)}`);
  if (r.command) out.push(`command:   ${escapeText(r.command)}`);
  if (r.samples === 0 || r.startMs === null || r.endMs === null) {
    out.push('samples:   none yet');
    return out.join('\n') + '\n';
  }
  const sec = log.withSeconds || log.format !== 'text';
  const yearNote = log.yearSource === 'mtime' ? " (year from the file's time)" : log.yearSource === 'now' ? ' (year: the current one)' : '';
  out.push(
    `samples:   ${r.samples}, from ${formatDay(r.startMs)} ${formatClock(r.startMs, sec)} to ${when(r.endMs, r.startMs, sec)} (${formatDuration(r.spanMs)})${r.intervalMs ? `, every ${formatDuration(r.intervalMs)}` : ''}${yearNote}`,
  );
  if (r.lastState) out.push(`state:     ${escapeText(r.lastState)} at the last sample${r.lastState === 'Z' ? ' (the process had ended)' : ''}`);
  const notes: string[] = [];
  if (r.badLineCount) notes.push(`${r.badLineCount} line${r.badLineCount > 1 ? 's' : ''} not understood${log.badLines[0] ? ` (first: line ${log.badLines[0].line})` : ''}`);
  if (r.partialTail) notes.push('the last line is unfinished (being written?) and left out');
  if (log.lacks.length) notes.push(lacksText(log));
  if (notes.length) out.push(`note:      ${notes.join('; ')}`);
  const c = r.cpu;
  const cpuParts = [
    c.mean === null ? 'CPU% not known yet' : `mean ${c.mean.toFixed(1)}%, peak ${c.peak!.toFixed(1)}% at ${when(c.peakTimeMs!, r.startMs, sec)}`,
    `CPU time ${formatDuration(c.usedSeconds * 1000)} during the log (${formatDuration(c.totalSeconds * 1000)} since the start)`,
    `threads up to ${c.maxThreads}`,
  ];
  out.push(`CPU:       ${cpuParts.join('; ')}`);
  out.push('');
  const rows: string[][] = [['memory', 'first', 'last', 'min', 'peak', 'peak at', 'mean', 'growth/h', sq, 'steady']];
  for (const f of r.figures) {
    rows.push([
      f.label,
      formatBytes(f.first),
      formatBytes(f.last),
      formatBytes(f.min),
      formatBytes(f.peak),
      when(f.peakTimeMs, r.startMs, sec),
      formatBytes(f.mean),
      f.fit ? formatBytesSigned(f.fit.slopePerHour) : '-',
      f.fit && f.fit.r2 !== null ? f.fit.r2.toFixed(2) : '-',
      f.steady ? 'yes' : '',
    ]);
  }
  out.push(...table(rows, [false, true, true, true, true, true, true, true, true, false]));
  out.push('');
  out.push(`verdict:   ${r.verdict.text}`);
  const text = out.join('\n') + '\n';
  return opts.ascii ? text.replace(/²/g, '2') : text;
}

/** The report as a JSON-able object (sizes in bytes, times in epoch ms and ISO 8601). */
export function reportJson(r: Report): unknown {
  return {
    path: r.path,
    command: r.command,
    samples: r.samples,
    start: r.startMs === null ? null : isoLocal(r.startMs),
    end: r.endMs === null ? null : isoLocal(r.endMs),
    start_ms: r.startMs,
    end_ms: r.endMs,
    span_ms: r.spanMs,
    interval_ms: r.intervalMs,
    last_state: r.lastState,
    bad_lines: r.badLineCount,
    partial_tail: r.partialTail,
    lacks: r.lacks,
    cpu: {
      mean_percent: r.cpu.mean === null ? null : Math.round(r.cpu.mean * 100) / 100,
      peak_percent: r.cpu.peak,
      peak_ms: r.cpu.peakTimeMs,
      used_seconds: r.cpu.usedSeconds,
      total_seconds: r.cpu.totalSeconds,
      max_threads: r.cpu.maxThreads,
    },
    memory: Object.fromEntries(
      r.figures.map((f) => [
        f.key,
        {
          column: f.column,
          samples: f.n,
          first_bytes: f.first,
          last_bytes: f.last,
          min_bytes: f.min,
          peak_bytes: f.peak,
          peak_ms: f.peakTimeMs,
          mean_bytes: Math.round(f.mean),
          slope_bytes_per_hour: f.fit ? Math.round(f.fit.slopePerHour) : null,
          r2: f.fit && f.fit.r2 !== null ? Math.round(f.fit.r2 * 10000) / 10000 : null,
          late_slope_bytes_per_hour: f.lateFit ? Math.round(f.lateFit.slopePerHour) : null,
          steady: f.steady,
        },
      ]),
    ),
    verdict: { kind: r.verdict.kind, figures: r.verdict.figures, text: r.verdict.text },
  };
}
