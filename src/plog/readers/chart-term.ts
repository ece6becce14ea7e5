/**
 * `plog show`: a log as bar charts in the terminal (RSS, PSS, Swap when
 * the process has any, CPU%), fitted to the terminal's width. Pure: a Log
 * and options in, text out.
 *
 * Each column is an equal slice of time (so a gap in the log shows as a
 * gap): the highest memory value in the slice (a peak is never averaged
 * away), the mean CPU% of the slice. A slice with no sample repeats the one
 * before unless the log has a gap there (more than 3 intervals without a
 * sample). Bars start from 0, so heights compare honestly.
 *
 * Styles: 'unicode' uses block elements (eight heights per row) and box
 * drawing, with ANSI colours when `color` is set; 'ascii' is plain 7-bit
 * text ('#' and '.'), for NO_COLOR, pipes and files.
 */
import { lacksText } from '../log/logread.js';
import type { Log, Sample } from '../log/sample.js';
import type { Report } from './report.js';
import { formatBytes, formatBytesSigned, formatClock, formatDay, formatDuration, medianInterval, niceTicks, sig3, sizeTicks, timeStep, timeTicks } from './chart-scale.js';
import { escapeText } from '../../escape.js';

export interface TermOptions {
  /** Total width in columns (the terminal's). */
  width: number;
  /** Rows of each chart. */
  height: number;
  unicode: boolean;
  /** ANSI colours (only with unicode). */
  color: boolean;
}

export interface ChartSpec {
  times: readonly number[];
  values: ReadonlyArray<number | null>;
  /** How a slice's samples make its value. */
  agg: 'max' | 'mean';
  /** Axis labels for values. */
  label: (v: number) => string;
  /** The axis' ticks from 0 (the last is the top). */
  ticks: readonly number[];
  /** ANSI colour code (e.g. 34). */
  colorCode: number;
  withSeconds: boolean;
}

const BLOCKS = ' ▁▂▃▄▅▆▇█';

/** The value of each column, null where there is nothing to show. */
export function columnValues(times: readonly number[], values: ReadonlyArray<number | null>, cols: number, agg: 'max' | 'mean'): Array<number | null> {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < times.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && Number.isFinite(v)) pts.push([times[i]!, v]);
  }
  const out: Array<number | null> = new Array<number | null>(cols).fill(null);
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (first === undefined || last === undefined || cols <= 0) return out;
  const t0 = first[0];
  const t1 = last[0];
  const span = t1 - t0;
  if (span <= 0) {
    const v = agg === 'max' ? pts.reduce((a, p) => Math.max(a, p[1]), -Infinity) : pts.reduce((a, p) => a + p[1], 0) / pts.length;
    return out.fill(v);
  }
  const sum = new Array<number>(cols).fill(0);
  const cnt = new Array<number>(cols).fill(0);
  const max = new Array<number>(cols).fill(-Infinity);
  // Below, j is a column (0 to cols - 1, the arrays' length) and k a point (0 to pts.length - 1).
  for (const [t, v] of pts) {
    const j = Math.min(cols - 1, Math.floor(((t - t0) / span) * cols));
    sum[j]! += v;
    cnt[j]!++;
    if (v > max[j]!) max[j] = v;
  }
  const gap = 3 * Math.max(medianInterval(pts.map((p) => p[0])), 1);
  let k = 0; // index of the last point at or before the column's start
  for (let j = 0; j < cols; j++) {
    if (cnt[j]! > 0) {
      out[j] = agg === 'max' ? max[j]! : sum[j]! / cnt[j]!;
      continue;
    }
    const start = t0 + (span * j) / cols;
    while (k + 1 < pts.length && pts[k + 1]![0] <= start) k++;
    const next = pts[k + 1];
    if (next && next[0] - pts[k]![0] <= gap) out[j] = pts[k]![1];
  }
  return out;
}

/** One cell of a bar: the share of this row that is filled. */
function cell(frac: number, unicode: boolean): string {
  if (frac <= 0) return ' ';
  if (unicode) {
    if (frac >= 1) return '█';
    const i = Math.max(1, Math.round(frac * 8));
    return BLOCKS[i]!; // 1 to 8
  }
  return frac >= 0.5 ? '#' : '.';
}

function timeLabel(ms: number, step: number, spanMs: number, withSeconds: boolean): string {
  if (spanMs >= 86_400_000 || formatDay(ms) !== formatDay(ms - spanMs)) {
    if (step >= 86_400_000) return formatDay(ms);
  }
  const clock = formatClock(ms, step < 60_000 && withSeconds);
  return spanMs >= 86_400_000 ? `${formatDay(ms)} ${clock}` : clock;
}

/** A bar chart's lines (axis labels, bars, time axis), `width` columns wide in all. */
export function barChart(spec: ChartSpec, width: number, height: number, unicode: boolean, color: boolean): string[] {
  const ticks = spec.ticks;
  const top = ticks[ticks.length - 1]!; // niceTicks() and sizeTicks() give one tick at least
  // A label names the value at the top edge of its row: the top row's, and
  // the row whose top edge is nearest half way (exactly half for even heights).
  const midRow = Math.floor(height / 2) - 1;
  const labelTop = spec.label(top);
  const labelMid = midRow >= 0 ? spec.label((top * (midRow + 1)) / height) : '';
  const labelW = Math.max(labelTop.length, labelMid.length, 1);
  const cols = Math.max(1, width - labelW - 2);
  const colv = columnValues(spec.times, spec.values, cols, spec.agg);
  const esc = (code: number | string, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const lines: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    let label = '';
    if (r === height - 1) label = labelTop;
    else if (r === midRow) label = labelMid;
    const axis = label ? (unicode ? '┤' : '+') : unicode ? '│' : '|';
    let bars = '';
    for (let j = 0; j < cols; j++) {
      const v = colv[j]!; // cols values
      bars += v === null ? ' ' : cell((v / top) * height - r, unicode);
    }
    bars = bars.trimEnd();
    lines.push(`${label.padStart(labelW)} ${esc(2, axis)}${bars ? esc(spec.colorCode, bars) : ''}`);
  }
  // The time axis: a rule with tick marks, then the labels.
  const times = spec.times;
  const t0 = times[0] ?? 0;
  const t1 = times[times.length - 1] ?? 0;
  const span = t1 - t0;
  const rule = (unicode ? '─' : '-').repeat(cols).split('');
  const labels = ' '.repeat(cols).split('');
  const sample = timeLabel(t1, 60_000, span, spec.withSeconds);
  if (span > 0) {
    const step = timeStep(span, Math.max(1, Math.floor(cols / (sample.length + 4))));
    let free = 0;
    for (const t of timeTicks(t0, t1, step)) {
      const x = Math.min(cols - 1, Math.round(((t - t0) / span) * cols));
      const text = timeLabel(t, step, span, spec.withSeconds);
      const at = Math.max(0, x - Math.floor(text.length / 2));
      if (at < free || at + text.length > cols) continue;
      rule[x] = unicode ? '┬' : '+';
      for (let i = 0; i < text.length; i++) labels[at + i] = text[i]!;
      free = at + text.length + 2;
    }
  } else if (times.length) {
    const text = timeLabel(t0, 60_000, 0, spec.withSeconds);
    for (let i = 0; i < text.length && i < cols; i++) labels[i] = text[i]!;
  }
  lines.push(`${' '.repeat(labelW)} ${esc(2, (unicode ? '└' : '+') + rule.join(''))}`);
  lines.push(`${' '.repeat(labelW)}  ${labels.join('').trimEnd()}`);
  return lines;
}

/** Words wrapped to width; lines after the first start with indent. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (cur !== '' && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = indent + word;
    } else cur = cur === '' ? word : `${cur} ${word}`;
  }
  if (cur !== '') lines.push(cur);
  return lines;
}

function truncate(s: string, width: number, unicode: boolean): string {
  if (s.length <= width) return s;
  const ell = unicode ? '…' : '...';
  return s.slice(0, Math.max(0, width - ell.length)) + ell;
}

/** The whole of `plog show` for one log. */
export function renderShow(log: Log, report: Report, opts: TermOptions): string {
  const { unicode } = opts;
  const color = opts.color && unicode;
  const width = Math.max(30, opts.width);
  const height = Math.max(2, opts.height);
  const bold = (s: string): string => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const out: string[] = [];
  const s = log.samples;
  const sec = log.withSeconds || log.format !== 'text';
  // The command line, the file's name and path are anybody's text (the log
  // belongs to whoever asked for it): shown escaped, never acted on.
  const path = escapeText(log.path);
  out.push(bold(truncate(escapeText(log.command || log.name), width, unicode)));
  const first = s[0];
  const last = s[s.length - 1];
  if (first === undefined || last === undefined) {
    out.push(`${path}: no samples yet`);
    return out.join('\n') + '\n';
  }
  const t0 = first.timeMs;
  const t1 = last.timeMs;
  const arrow = unicode ? '→' : 'to';
  const sameDay = formatDay(t0) === formatDay(t1);
  const range = `${formatDay(t0)} ${formatClock(t0, sec)} ${arrow} ${sameDay ? '' : formatDay(t1) + ' '}${formatClock(t1, sec)}`;
  out.push(
    truncate(`${path}: ${s.length} sample${s.length > 1 ? 's' : ''}, ${range} (${formatDuration(t1 - t0)})${report.intervalMs ? `, every ${formatDuration(report.intervalMs)}` : ''}`, width, unicode),
  );
  if (log.badLineCount) out.push(truncate(`note: ${log.badLineCount} line(s) not understood${log.badLines[0] ? ` (first: line ${log.badLines[0].line})` : ''}`, width, unicode));
  if (log.partialTail !== null) out.push('note: the last line is unfinished (being written?) and left out');
  if (log.lacks.length) out.push(...wrap(`note: ${lacksText(log)}`, width, '      '));

  const times = s.map((x) => x.timeMs);
  const r2 = unicode ? 'r²' : 'r2';
  const memChart = (key: 'rss' | 'pss' | 'swap', name: string, colorCode: number, get: (x: Sample) => number | null): void => {
    const f = report.figures.find((x) => x.key === key);
    if (!f) return;
    const values = s.map(get);
    const growth = f.fit ? `, ${formatBytesSigned(f.fit.slopePerHour)}/h${f.fit.r2 !== null ? ` (${r2} ${f.fit.r2.toFixed(2)})` : ''}` : '';
    const stamp = formatDay(f.peakTimeMs) === formatDay(t0) ? formatClock(f.peakTimeMs, sec) : `${formatDay(f.peakTimeMs)} ${formatClock(f.peakTimeMs, sec)}`;
    out.push('');
    const head = truncate(`${name}  peak ${formatBytes(f.peak)} at ${stamp}, last ${formatBytes(f.last)}${growth}`, width, unicode);
    out.push(bold(name) + head.slice(name.length));
    const { ticks, unit } = sizeTicks(f.peak, 2);
    const label = (v: number): string => (v === 0 ? '0' : formatBytes(v, unit));
    out.push(...barChart({ times, values, agg: 'max', label, ticks, colorCode, withSeconds: sec }, width, height, unicode, color));
  };
  memChart('rss', 'RSS', 34, (x) => x.residentBytes);
  memChart('pss', 'PSS', 36, (x) => x.pssBytes);
  const swap = report.figures.find((x) => x.key === 'swap');
  if (swap && swap.peak > 0) memChart('swap', 'Swap', 31, (x) => x.swapBytes);

  out.push('');
  const c = report.cpu;
  const cpuHead = c.mean === null ? 'not known yet (one sample)' : `mean ${c.mean.toFixed(1)}%, peak ${c.peak!.toFixed(1)}%, threads up to ${c.maxThreads}`;
  out.push(bold('CPU%') + truncate(`CPU%  ${cpuHead}`, width, unicode).slice(4));
  // From 0 to the peak (at least 10 %, so that idling does not look busy).
  const cpuTicks = niceTicks(0, Math.max(10, c.peak ?? 0), 2);
  out.push(
    ...barChart(
      {
        times,
        values: s.map((x) => x.cpuPercent),
        agg: 'mean',
        label: (v) => `${sig3(v)}%`,
        ticks: cpuTicks,
        colorCode: 32,
        withSeconds: sec,
      },
      width,
      height,
      unicode,
      color,
    ),
  );
  out.push('');
  const v = report.verdict;
  const vt = wrap(`verdict: ${v.text}`, width, '         ');
  out.push(...(v.kind === 'leak-suspect' && color ? vt.map((l) => `\x1b[1;31m${l}\x1b[0m`) : vt));
  const text = out.join('\n') + '\n';
  return unicode ? text : text.replace(/²/g, '2');
}
