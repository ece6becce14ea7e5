/**
 * Scales, ticks and the wording of numbers shared by the readers (report,
 * terminal and SVG charts). Pure.
 *
 * Sizes are shown in binary units with their IEC names (KiB, MiB, GiB):
 * the log's kB/MB/GB are the same 1024-based units, but a chart in a bug
 * report is read by people who take "MB" for 10^6 bytes.
 */

/** A unit for sizes: the divisor and its name. */
export interface SizeUnit {
  div: number;
  name: string;
}

const UNITS: readonly [SizeUnit, ...SizeUnit[]] = [
  { div: 1, name: 'B' },
  { div: 1024, name: 'KiB' },
  { div: 1024 ** 2, name: 'MiB' },
  { div: 1024 ** 3, name: 'GiB' },
  { div: 1024 ** 4, name: 'TiB' },
];

/** The unit in which `bytes` is at least 1 (the largest such, up to TiB). */
export function sizeUnit(bytes: number): SizeUnit {
  const b = Math.abs(bytes);
  let u = UNITS[0];
  for (const x of UNITS) if (b >= x.div) u = x;
  return u;
}

/** A number with 3 significant digits at most (12.3, 123, 1.25), no trailing zeros after the point. */
export function sig3(x: number): string {
  const a = Math.abs(x);
  if (a === 0) return '0';
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  let s = x.toFixed(digits);
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

/** '512 KiB', '12.3 MiB', '1.25 GiB'; '0 B'. */
export function formatBytes(bytes: number, unit?: SizeUnit): string {
  const u = unit ?? sizeUnit(bytes);
  return `${sig3(bytes / u.div)} ${u.name}`;
}

/** A signed size: '+1.2 MiB', '-512 KiB', '0 B'. */
export function formatBytesSigned(bytes: number): string {
  if (bytes === 0) return '0 B';
  return (bytes > 0 ? '+' : '-') + formatBytes(Math.abs(bytes));
}

/** A duration for people: '45 s', '12 min 5 s', '3 h 20 min', '2 d 4 h'; under a second in ms. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0 s';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

const p2 = (n: number): string => String(n).padStart(2, '0');

/** Local 'H:MM' or 'H:MM:SS' (as the log writes times). */
export function formatClock(ms: number, seconds: boolean): string {
  const d = new Date(ms);
  const hm = `${d.getHours()}:${p2(d.getMinutes())}`;
  return seconds ? `${hm}:${p2(d.getSeconds())}` : hm;
}

/** Local 'MM-DD' (as the log writes dates: month first, as plog 0.1.0). */
export function formatDay(ms: number): string {
  const d = new Date(ms);
  return `${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
}

/** Local 'YYYY-MM-DD H:MM[:SS]'. */
export function formatStamp(ms: number, seconds: boolean): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${formatClock(ms, seconds)}`;
}

/**
 * 'Nice' axis ticks from 0 (or lo) to at least hi: steps of 1, 2, 2.5 or 5
 * times a power of ten, about `count` of them. Returns the ticks, the first
 * at or below lo and the last at or above hi.
 */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  const raw = (hi - lo) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  let step = pow;
  for (const m of [1, 2, 2.5, 5, 10]) {
    step = m * pow;
    if (step >= raw) break;
  }
  let t = Number((Math.floor(lo / step + 1e-9) * step).toPrecision(12));
  const ticks = [t];
  while (t < hi - 1e-9 * step) ticks.push((t = Number((t + step).toPrecision(12))));
  return ticks;
}

/** Ticks for sizes in bytes: nice numbers in the unit of the largest (MiB steps of 1, 2, 2.5, 5 x 10^n). */
export function sizeTicks(maxBytes: number, count: number): { ticks: number[]; unit: SizeUnit } {
  const unit = sizeUnit(Math.max(maxBytes, 1));
  const t = niceTicks(0, Math.max(maxBytes, 1) / unit.div, count);
  return { ticks: t.map((v) => v * unit.div), unit };
}

/** Steps for time axes, in ms. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

/** A step for a time axis spanning `spanMs` with at most `maxTicks` ticks. */
export function timeStep(spanMs: number, maxTicks: number): number {
  for (const s of TIME_STEPS) if (spanMs / s <= Math.max(1, maxTicks)) return s;
  let s = TIME_STEPS[TIME_STEPS.length - 1]!; // a constant list, not empty
  while (spanMs / s > maxTicks) s *= 2;
  return s;
}

/**
 * Tick times within [t0, t1] at multiples of `step` in local time (a 1 h
 * step falls on the hour; a day step at local midnight). With `elapsed`,
 * multiples of step after t0 instead.
 */
export function timeTicks(t0: number, t1: number, step: number, elapsed = false): number[] {
  const out: number[] = [];
  if (elapsed) {
    for (let t = t0; t <= t1 + 1e-6; t += step) out.push(t);
    return out;
  }
  // Local time: offset by the zone so that multiples fall on local boundaries.
  const off = (ms: number): number => -new Date(ms).getTimezoneOffset() * 60_000;
  let t = Math.ceil((t0 + off(t0)) / step) * step - off(t0);
  if (step >= 86_400_000) {
    // Whole days: local midnights.
    const d = new Date(t0);
    d.setHours(0, 0, 0, 0);
    if (d.getTime() < t0) d.setDate(d.getDate() + 1);
    const days = step / 86_400_000;
    for (; d.getTime() <= t1; d.setDate(d.getDate() + days)) out.push(d.getTime());
    return out;
  }
  for (; t <= t1; t += step) {
    // Keep local-boundary alignment across a change of offset (DST).
    const fix = off(t0) - off(t);
    out.push(t + fix >= t0 && fix !== 0 && step >= 3_600_000 ? t + fix : t);
  }
  return out;
}

/** The median of the gaps between consecutive times (0 with fewer than 2). */
export function medianInterval(times: readonly number[]): number {
  if (times.length < 2) return 0;
  const d: number[] = [];
  for (let i = 1; i < times.length; i++) d.push(times[i]! - times[i - 1]!);
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)]!; // d has times.length - 1 >= 1 gaps
}
