/**
 * `plog plot`: a chart of one or more logs as SVG, or as an HTML page with
 * the SVG and a summary table: the picture to put in a bug report.
 *
 * Two panels over a shared time axis: memory (RSS, PSS, and Swap when any
 * log uses swap) and CPU%. The title is the command line; the subtitle the
 * time span, sample count and interval; the footer the time zone the
 * times are in. One log: a colour per figure. Several logs (runs to
 * compare): a colour per log and a line style per figure (RSS solid, PSS
 * dashed, Swap dotted), and by default the time axis is the time since each
 * log's first sample, so that runs started at different times line up.
 *
 * Lines break where a value is missing ('-') and across gaps in the log
 * (more than 3 intervals with no sample). Long logs are thinned to a
 * minimum and maximum per pixel column, so no peak is lost. Pure: logs in,
 * text out; text widths are estimated (no font metrics), generously.
 */
import type { Log, Sample } from '../log/sample.js';
import { buildReport, type Report } from './report.js';
import { formatBytes, formatBytesSigned, formatClock, formatDay, formatDuration, formatStamp, medianInterval, niceTicks, sig3, sizeTicks, timeStep, timeTicks } from './chart-scale.js';
import { version } from '../../version.js';
import { escapeText } from '../../escape.js';

export interface PlotOptions {
  /** Pixels (default 1200 x 800). */
  width?: number;
  height?: number;
  /** Time axis: clock time, or time since each log's first sample. Default: clock for one log, elapsed for several. */
  time?: 'clock' | 'elapsed';
  /** Title instead of the command line. */
  title?: string;
}

const FONT = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";
/** Average advance of a character, as a share of the font size (DejaVu Sans is wide). */
const CHAR_W = 0.62;
const textWidth = (s: string, size: number): number => s.length * size * CHAR_W;

const FIGURE_COLORS = { rss: '#1f60c4', pss: '#e8790c', swap: '#c4162a', cpu: '#2a9d3a' };
const RUN_COLORS = ['#1f60c4', '#c4162a', '#2a9d3a', '#8e44ad', '#e8790c', '#6d4c41', '#d6338a', '#128a9a'];
const DASH = { rss: '', pss: '7 4', swap: '2 3' };

/**
 * Text for an SVG or HTML page: escapeText() first (a control character is
 * not even allowed in XML, and a page may be shown with cat), then XML's
 * own five. Every text of a page goes through here, ours and anybody's
 * (command lines, file names, --title) alike.
 */
export function escapeXml(s: string): string {
  return escapeText(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Fit text into a width: cut with an ellipsis. The text is measured as it
 * will be shown, escaped (see escapeXml). */
function fit(text: string, width: number, size: number): string {
  const s = escapeText(text);
  const max = Math.floor(width / (size * CHAR_W));
  return s.length <= max ? s : s.slice(0, Math.max(1, max - 1)) + '…';
}

const p2 = (n: number): string => String(n).padStart(2, '0');

/** An elapsed time on the axis: 'm:ss', or 'h:mm' ('h:mm:ss' with sub-minute ticks) for long spans. */
export function elapsedLabel(ms: number, long: boolean, seconds: boolean): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  if (!long) return `${Math.floor(s / 60)}:${p2(s % 60)}`;
  return seconds ? `${h}:${p2(m)}:${p2(s % 60)}` : `${h}:${p2(m)}`;
}

interface Pt {
  x: number;
  y: number;
}

/**
 * Thin a run of points to at most two per pixel column (its lowest and
 * highest, in time order), keeping the first and last.
 */
export function thin(pts: Pt[]): Pt[] {
  if (pts.length <= 4) return pts;
  const out: Pt[] = [];
  let i = 0;
  for (let first = pts[0]; first !== undefined; first = pts[i]) {
    const col = Math.floor(first.x);
    let lo = first;
    let hi = first;
    let last = first;
    let j = i;
    for (let p = pts[j]; p !== undefined && Math.floor(p.x) === col; p = pts[++j]) {
      if (p.y < lo.y) lo = p;
      if (p.y > hi.y) hi = p;
      last = p;
    }
    if (j - i <= 2) {
      out.push(...pts.slice(i, j));
    } else {
      const keep = [first, lo, hi, last].filter((p, k, a) => a.indexOf(p) === k).sort((a, b) => a.x - b.x);
      out.push(...keep);
    }
    i = j;
  }
  return out;
}

/** SVG path data for a series: a new subpath after each gap or missing value. */
function pathData(times: readonly number[], values: ReadonlyArray<number | null | undefined>, sx: (t: number) => number, sy: (v: number) => number, gapMs: number): string {
  const runs: Pt[][] = [];
  let cur: Pt[] = [];
  let lastT = -Infinity;
  times.forEach((t, i) => {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      if (cur.length) runs.push(cur);
      cur = [];
      return;
    }
    if (cur.length && t - lastT > gapMs) {
      runs.push(cur);
      cur = [];
    }
    cur.push({ x: sx(t), y: sy(v) });
    lastT = t;
  });
  if (cur.length) runs.push(cur);
  const parts: string[] = [];
  for (const run of runs) {
    const pts = thin(run);
    const [p] = pts;
    if (pts.length === 1 && p !== undefined) {
      // A lone point: a short tick so that it shows.
      parts.push(`M${(p.x - 1.5).toFixed(1)} ${p.y.toFixed(1)}h3`);
      continue;
    }
    parts.push('M' + pts.map((p) => `${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join('L'));
  }
  return parts.join('');
}

interface Run {
  log: Log;
  report: Report;
  times: number[];
  color: string;
  gapMs: number;
}

function utcOffset(ms: number): string {
  const off = -new Date(ms).getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

const hasValue = (log: Log, get: (s: Sample) => number | null | undefined): boolean => log.samples.some((s) => (get(s) ?? 0) > 0);

/** The chart as a standalone SVG document. */
export function renderSvg(logs: readonly Log[], opts: PlotOptions = {}): string {
  const W = Math.max(400, opts.width ?? 1200);
  const H = Math.max(300, opts.height ?? 800);
  const [log0] = logs;
  if (log0 === undefined) throw new RangeError('renderSvg: no log to draw');
  const multi = logs.length > 1;
  const mode = opts.time ?? (multi ? 'elapsed' : 'clock');
  const runs: Run[] = logs.map((log, i) => {
    const t0 = log.samples[0]?.timeMs ?? 0;
    return {
      log,
      report: buildReport(log),
      times: log.samples.map((s) => (mode === 'elapsed' ? s.timeMs - t0 : s.timeMs)),
      color: RUN_COLORS[i % RUN_COLORS.length]!,
      gapMs: 3 * Math.max(1000, medianInterval(log.samples.map((s) => s.timeMs))),
    };
  });
  const run0 = runs[0]!; // one run a log
  const withSeconds = logs.some((l) => l.withSeconds || l.format !== 'text');
  const showSwap = logs.some((l) => hasValue(l, (s) => s.swapBytes));
  const showPss = logs.some((l) => l.samples.some((s) => s.pssBytes !== null));

  const el: string[] = [];
  const text = (x: number, y: number, s: string, attrs = ''): void => {
    el.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs ? ' ' + attrs : ''}>${escapeXml(s)}</text>`);
  };

  // --- Title, subtitle, legend.
  const M = { left: 84, right: 28 };
  const plotW = W - M.left - M.right;
  const titleText = opts.title ?? (multi ? `${logs.length} runs compared` : log0.command || log0.name);
  let y = 30;
  el.push(`<text x="${M.left}" y="${y}" font-size="18" font-weight="bold" fill="#111">${escapeXml(fit(titleText, W - M.left - M.right, 18))}<title>${escapeXml(titleText)}</title></text>`);
  y += 22;
  // Logs are in time order: the first and last samples bound each.
  let startMs = Infinity;
  let endMs = -Infinity;
  for (const r of runs) {
    const ss = r.log.samples;
    const first = ss[0];
    const last = ss[ss.length - 1];
    if (first === undefined || last === undefined) continue;
    startMs = Math.min(startMs, first.timeMs);
    endMs = Math.max(endMs, last.timeMs);
  }
  if (!Number.isFinite(startMs)) startMs = endMs = Date.now();
  if (!multi) {
    const r = run0.report;
    const sameDay = formatDay(startMs) === formatDay(endMs);
    const parts = [
      log0.name,
      `${formatStamp(startMs, withSeconds)} to ${sameDay ? formatClock(endMs, withSeconds) : formatStamp(endMs, withSeconds)} (${formatDuration(endMs - startMs)})`,
      `${r.samples} samples${r.intervalMs ? `, every ${formatDuration(r.intervalMs)}` : ''}`,
    ];
    if (!showSwap) parts.push('no swap used');
    text(M.left, y, fit(parts.join('  ·  '), plotW, 13), 'font-size="13" fill="#555"');
    y += 10;
  }

  // Legend.
  const legendY = y + 14;
  const swatch = (x: number, yy: number, color: string, dash: string, width = 2.5): void => {
    el.push(`<line x1="${x}" y1="${yy - 4}" x2="${x + 26}" y2="${yy - 4}" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
  };
  let legendRows = 1;
  if (!multi) {
    let x = M.left;
    const items: Array<[string, string]> = [['RSS (resident)', FIGURE_COLORS.rss]];
    if (showPss) items.push(['PSS (proportional)', FIGURE_COLORS.pss]);
    if (showSwap) items.push(['Swap', FIGURE_COLORS.swap]);
    items.push(['CPU %', FIGURE_COLORS.cpu]);
    for (const [name, color] of items) {
      swatch(x, legendY, color, '');
      text(x + 32, legendY, name, 'font-size="13" fill="#222"');
      x += 32 + textWidth(name, 13) + 24;
    }
  } else {
    // Line styles, then one row per run.
    let x = M.left;
    const styles: Array<[string, string]> = [['RSS', DASH.rss]];
    if (showPss) styles.push(['PSS', DASH.pss]);
    if (showSwap) styles.push(['Swap', DASH.swap]);
    for (const [name, dash] of styles) {
      swatch(x, legendY, '#444', dash);
      text(x + 32, legendY, name, 'font-size="13" fill="#222"');
      x += 32 + textWidth(name, 13) + 24;
    }
    text(x, legendY, '(memory)', 'font-size="13" fill="#777"');
    runs.forEach((run, i) => {
      const yy = legendY + 18 * (i + 1);
      swatch(M.left, yy, run.color, '', 4);
      const l = run.log;
      const start = l.samples[0] ? formatStamp(l.samples[0].timeMs, false) : 'no samples';
      const label = `${l.name} (${start}, ${formatDuration(run.report.spanMs)}): ${l.command || ''}`;
      el.push(`<text x="${M.left + 32}" y="${yy}" font-size="13" fill="#222">${escapeXml(fit(label, plotW - 32, 13))}<title>${escapeXml(l.path + ': ' + l.command)}</title></text>`);
    });
    legendRows = 1 + runs.length;
  }
  const top = legendY + 18 * (legendRows - 1) + 22;

  // --- Panels.
  const bottomPad = mode === 'clock' ? 62 : 48; // time labels (and dates), axis title, footer
  const gap = 58; // between the panels: the memory panel's time labels
  const avail = H - top - bottomPad - gap;
  const memH = Math.round(avail * 0.6);
  const cpuH = avail - memH;
  const memTop = top;
  const cpuTop = memTop + memH + gap;

  const tMin = mode === 'elapsed' ? 0 : startMs;
  const tMax = mode === 'elapsed' ? Math.max(...runs.map((r) => r.times[r.times.length - 1] ?? 0)) : endMs;
  const span = Math.max(tMax - tMin, 1);
  const sx = (t: number): number => M.left + ((t - tMin) / span) * plotW;

  // Time ticks: one label at least every ~110 px.
  const sampleLabel = mode === 'elapsed' ? '0:00:00' : '00:00:00';
  const step = timeStep(span, Math.max(2, Math.floor(plotW / Math.max(90, textWidth(sampleLabel, 12) + 30))));
  const tTicks = timeTicks(tMin, tMax, step, mode === 'elapsed');
  const tickSec = step < 60_000;
  // Elapsed: m:ss under an hour, else h:mm (h:mm:ss with sub-minute ticks), the same form on every tick.
  const long = span >= 3_600_000;
  const tLabel = (t: number): string => (mode === 'elapsed' ? elapsedLabel(t, long, tickSec) : formatClock(t, tickSec));

  const panel = (yTop: number, h: number, yTicks: readonly number[], yLabel: (v: number) => string, axisTitle: string): ((v: number) => number) => {
    const yMax = yTicks[yTicks.length - 1]!; // niceTicks() gives one tick at least
    const sy = (v: number): number => yTop + h - (v / yMax) * h;
    el.push(`<rect x="${M.left}" y="${yTop}" width="${plotW}" height="${h}" fill="#fbfbfd" stroke="none"/>`);
    for (const v of yTicks) {
      const yy = sy(v);
      el.push(`<line x1="${M.left}" y1="${yy.toFixed(1)}" x2="${M.left + plotW}" y2="${yy.toFixed(1)}" stroke="${v === 0 ? '#888' : '#e2e2e8'}" stroke-width="1"/>`);
      text(M.left - 8, yy + 4, yLabel(v), 'font-size="12" fill="#333" text-anchor="end"');
    }
    for (const t of tTicks) {
      const xx = sx(t);
      el.push(`<line x1="${xx.toFixed(1)}" y1="${yTop}" x2="${xx.toFixed(1)}" y2="${yTop + h}" stroke="#e2e2e8" stroke-width="1"/>`);
      el.push(`<line x1="${xx.toFixed(1)}" y1="${yTop + h}" x2="${xx.toFixed(1)}" y2="${yTop + h + 5}" stroke="#888" stroke-width="1"/>`);
    }
    // Time labels; with clock time, the date under the first and wherever the day changes.
    let prevDay = '';
    let free = -Infinity;
    for (const t of tTicks) {
      const xx = sx(t);
      const lab = tLabel(t);
      const w = textWidth(lab, 12);
      if (xx - w / 2 < free) continue;
      text(xx, yTop + h + 18, lab, 'font-size="12" fill="#333" text-anchor="middle"');
      free = xx + w / 2 + 8;
      if (mode === 'clock') {
        const day = formatDay(t);
        if (day !== prevDay) text(xx, yTop + h + 32, day, 'font-size="11" fill="#777" text-anchor="middle"');
        prevDay = day;
      }
    }
    el.push(`<line x1="${M.left}" y1="${yTop}" x2="${M.left}" y2="${yTop + h}" stroke="#888" stroke-width="1"/>`);
    const cy = yTop + h / 2;
    el.push(`<text x="18" y="${cy.toFixed(1)}" font-size="13" fill="#222" text-anchor="middle" transform="rotate(-90 18 ${cy.toFixed(1)})">${escapeXml(axisTitle)}</text>`);
    return sy;
  };

  // Memory panel.
  let memMax = 0;
  for (const r of runs) {
    for (const s of r.log.samples) {
      memMax = Math.max(memMax, s.residentBytes, s.pssBytes ?? 0, showSwap ? (s.swapBytes ?? 0) : 0);
    }
  }
  const { ticks: memTicks, unit } = sizeTicks(memMax, Math.max(3, Math.floor(memH / 55)));
  const syMem = panel(memTop, memH, memTicks, (v) => sig3(v / unit.div), `Memory (${unit.name})`);
  const series: Array<[keyof typeof DASH, (s: Sample) => number | null]> = [['rss', (s) => s.residentBytes]];
  if (showPss) series.push(['pss', (s) => s.pssBytes]);
  if (showSwap) series.push(['swap', (s) => s.swapBytes]);
  for (const r of runs) {
    for (const [key, get] of series) {
      const d = pathData(r.times, r.log.samples.map(get), sx, syMem, r.gapMs);
      if (!d) continue;
      const color = multi ? r.color : FIGURE_COLORS[key];
      const dash = multi && DASH[key] ? ` stroke-dasharray="${DASH[key]}"` : '';
      el.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${key === 'rss' ? 2.2 : 1.8}" stroke-linejoin="round"${dash}/>`);
    }
  }

  // CPU panel.
  const cpuPeak = Math.max(10, ...runs.map((r) => r.report.cpu.peak ?? 0));
  const cpuTicks = niceTicks(0, cpuPeak, Math.max(2, Math.floor(cpuH / 45)));
  const syCpu = panel(cpuTop, cpuH, cpuTicks, (v) => sig3(v), 'CPU (%)');
  for (const r of runs) {
    const d = pathData(
      r.times,
      r.log.samples.map((s) => s.cpuPercent),
      sx,
      syCpu,
      r.gapMs,
    );
    if (d) el.push(`<path d="${d}" fill="none" stroke="${multi ? r.color : FIGURE_COLORS.cpu}" stroke-width="1.6" stroke-linejoin="round"/>`);
  }

  // Axis title and footer.
  // The zone's offset; both when daylight saving time began or ended during the logs.
  const tz = utcOffset(startMs) === utcOffset(endMs) ? utcOffset(startMs) : `${utcOffset(startMs)}, then ${utcOffset(endMs)}`;
  const axisTitle = mode === 'elapsed' ? `time since the first sample (${long ? (tickSec ? 'h:mm:ss' : 'h:mm') : 'm:ss'})` : `local time (${tz})`;
  text(M.left + plotW / 2, H - 12, axisTitle, 'font-size="13" fill="#222" text-anchor="middle"');
  text(W - M.right, H - 12, `plog ${version()}`, 'font-size="11" fill="#999" text-anchor="end"');

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`,
    `<title>${escapeXml(titleText)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    ...el,
    '</svg>',
    '',
  ].join('\n');
}

/** The chart in an HTML page, with a summary of each log under it. */
export function renderHtml(logs: readonly Log[], opts: PlotOptions = {}): string {
  const svg = renderSvg(logs, opts); // throws without a log
  const title = opts.title ?? (logs.length > 1 ? `${logs.length} runs compared` : logs[0]!.command || logs[0]!.name);
  const sections: string[] = [];
  logs.forEach((log, i) => {
    const r = buildReport(log);
    const withSeconds = log.withSeconds || log.format !== 'text';
    const rows: string[] = [];
    for (const f of r.figures.filter((x) => x.key === 'rss' || x.key === 'pss' || x.key === 'swap')) {
      const g = f.fit ? `${formatBytesSigned(f.fit.slopePerHour)}/h` : '-';
      const r2 = f.fit && f.fit.r2 !== null ? f.fit.r2.toFixed(2) : '-';
      rows.push(
        `<tr><td>${f.label}</td><td>${formatBytes(f.first)}</td><td>${formatBytes(f.last)}</td><td>${formatBytes(f.peak)}</td>` +
          `<td>${escapeXml(formatStamp(f.peakTimeMs, withSeconds))}</td><td>${formatBytes(f.mean)}</td><td>${escapeXml(g)}</td><td>${r2}</td></tr>`,
      );
    }
    const c = r.cpu;
    if (c.mean !== null) {
      rows.push(`<tr><td>CPU %</td><td></td><td></td><td>${c.peak!.toFixed(1)}</td><td>${escapeXml(formatStamp(c.peakTimeMs!, withSeconds))}</td><td>${c.mean.toFixed(1)}</td><td></td><td></td></tr>`);
    }
    const swatch = logs.length > 1 ? `<span class="swatch" style="background:${RUN_COLORS[i % RUN_COLORS.length]}"></span>` : '';
    const span =
      r.startMs === null ? 'no samples' : `${formatStamp(r.startMs, withSeconds)}, ${formatDuration(r.spanMs)}, ${r.samples} samples${r.intervalMs ? ` every ${formatDuration(r.intervalMs)}` : ''}`;
    sections.push(`<section>
<h2>${swatch}${escapeXml(log.name)} <small>${escapeXml(span)}</small></h2>
<p><code>${escapeXml(log.command)}</code></p>
<table>
<thead><tr><th></th><th>first</th><th>last</th><th>peak</th><th>peak at</th><th>mean</th><th>growth</th><th>r²</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
<p class="verdict${r.verdict.kind === 'leak-suspect' ? ' leak' : ''}">${escapeXml(r.verdict.text)}</p>
</section>`);
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(title)}</title>
<style>
body { font-family: ${FONT}; margin: 0; padding: 0 0 24px; color: #222; background: #fff; }
.chart svg { display: block; max-width: 100%; height: auto; }
section { margin: 12px 24px 20px 84px; max-width: 1000px; }
h2 { font-size: 15px; margin: 0 0 4px; }
h2 small { font-weight: normal; color: #555; margin-left: 8px; }
.swatch { display: inline-block; width: 26px; height: 4px; vertical-align: middle; margin-right: 8px; }
code { font-size: 12px; word-break: break-all; color: #333; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 12px; text-align: right; border-bottom: 1px solid #e2e2e8; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; padding-left: 0; }
.verdict { font-size: 13px; color: #333; }
.verdict.leak { color: #b00020; font-weight: bold; }
</style>
</head>
<body>
<div class="chart">
${svg}</div>
${sections.join('\n')}
</body>
</html>
`;
}
