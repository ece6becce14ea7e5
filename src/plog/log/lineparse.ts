// A text log's lines read back (plogsrvd(1), LOG FILES): which header a log
// has and which way round its dates are, and a line parsed into a
// LogRecord; plog 0.1.0's lines too (parseLogLine010). Pure, no I/O.
import { DATE_HEADER, PSS_STALE, SHARE_STATM } from './logline.js';

/**
 * Which way round a log's dates are. 'month-day' (`12-04` is 4 December) is
 * what plogsrvd writes and what plog 0.1.0 wrote; 'day-month' is what our
 * versions before wrote, under a header beginning `Date Time`.
 */
export type DateOrder = 'month-day' | 'day-month';

/** Which program wrote a text log: ours ('plog'), or the C plogsrvd 0.1.0. */
export type Dialect = 'plog' | 'plog-0.1.0';

/** A header line of either dialect: `Date`, `Time` and `State` first. */
export const HEADER_START = /^Date +Time +State\b/;
/** plog 0.1.0's header: `Date   Time State Prio  __Utime__ Threads ... MinorFaults MajFlts`. */
const HEADER_010 = /^Date +Time +State +Prio +__Utime__ /;

/**
 * What a header line says of the lines after it: the dialect and the order
 * of their dates; null when the line is not a header. plog 0.1.0 and this
 * version write month-day under `Date   Time` (three spaces: DATE_HEADER);
 * earlier versions of ours wrote day-month under `Date Time`.
 */
export function dateOrderOfHeader(line: string): { dialect: Dialect; order: DateOrder } | null {
  if (!HEADER_START.test(line)) return null;
  const dialect: Dialect = HEADER_010.test(line) ? 'plog-0.1.0' : 'plog';
  return { dialect, order: dialect === 'plog-0.1.0' || line.startsWith(DATE_HEADER) ? 'month-day' : 'day-month' };
}

/** A log line read back. Sizes in kB (approximate for the MB/GB forms). */
export interface LogRecord {
  /** The date as written: 'MM-DD' (or 'DD-MM' in a day-month log). */
  date: string;
  /** 'H:MM', 'H:MM:SS' or 'H:MM:SS.mmm' */
  time: string;
  day: number;
  month: number;
  hour: number;
  minute: number;
  /** null when the line has no seconds. */
  second: number | null;
  /** null when the line has no milliseconds. */
  millisecond: number | null;
  state: string;
  prio: number;
  /** Whole seconds: user + system time; user time only in a plog 0.1.0 log (its __Utime__). */
  cpuSeconds: number;
  /** null for '-' (first sample), and in a plog 0.1.0 log (no such column). */
  cpuPercent: number | null;
  threads: number;
  minFlt: number;
  majFlt: number;
  virtualKb: number;
  residentKb: number;
  /** null where the log has no number (plog 0.1.0's `-nan%` for a zombie). */
  sharePercent: number | null;
  /** Share from statm (marked SHARE_STATM: smaps_rollup unreadable), not from smaps. */
  shareFromStatm: boolean;
  /** null for '-' (smaps unreadable; plog 0.1.0's `n/a`). */
  pssKb: number | null;
  /** null for '-'; null in a plog 0.1.0 log (no such column). */
  swapKb: number | null;
  /** True when Proportion and Swap are carried from an earlier read (marked '*'). */
  pssStale: boolean;
  dataKb: number;
  /** null for '-' (maps unreadable); undefined when the column was left out (short read). */
  privWriteKb: number | null | undefined;
}

/** '12kB' -> 12, '1.50MB' -> 1536, '2.00GB' -> 2097152; NaN if not a size. */
export function parseSize(s: string): number {
  const m = /^(\d+)kB$|^(\d+\.\d\d)(MB|GB)$/.exec(s);
  if (!m) return NaN;
  if (m[1] !== undefined) return Number(m[1]);
  return Math.round(Number(m[2]) * (m[3] === 'MB' ? 1024 : 1024 * 1024));
}

/** '7s' -> 7, '1:05' -> 65, '2:00:01' -> 7201; NaN if not a CPU time. */
export function parseCpuTime(s: string): number {
  let m = /^(\d+)s$/.exec(s);
  if (m) return Number(m[1]);
  m = /^(\d+):([0-5]\d)$/.exec(s);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  m = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(s);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  return NaN;
}

const INT = /^-?\d+$/;
const UINT = /^\d+$/;
const DEC1 = /^\d+\.\d$/;
const DATE = /^(\d\d)-(\d\d)$/;
const TIME = /^(\d{1,2}):([0-5]\d)(?::([0-5]\d)(?:\.(\d{3}))?)?$/;

/** Options of parseLogLine(). */
export interface ParseOptions {
  /** The order of the dates (default 'month-day', what plogsrvd writes). */
  order?: DateOrder;
  /** true: only lines with seconds; false: only lines without; default either. */
  withSeconds?: boolean;
}

/** The date and time fields of a line, or null when they are not a valid date and time. */
function parseWhen(dateField: string, timeField: string, order: DateOrder): Pick<LogRecord, 'date' | 'time' | 'day' | 'month' | 'hour' | 'minute' | 'second' | 'millisecond'> | null {
  const dm = DATE.exec(dateField);
  const tm = TIME.exec(timeField);
  if (!dm || !tm) return null;
  const a = Number(dm[1]);
  const b = Number(dm[2]);
  const [month, day] = order === 'month-day' ? [a, b] : [b, a];
  const hour = Number(tm[1]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) return null;
  return {
    date: dateField,
    time: timeField,
    day,
    month,
    hour,
    minute: Number(tm[2]),
    second: tm[3] === undefined ? null : Number(tm[3]),
    millisecond: tm[4] === undefined ? null : Number(tm[4]),
  };
}

/** The fields both dialects have, as text; sizes as written. */
interface CommonFields {
  state: string;
  prio: string;
  cpuTime: string;
  threads: string;
  minFlt: string;
  majFlt: string;
  virt: string;
  res: string;
  data: string;
}

/** The parts of a LogRecord from the fields both dialects have; null when one is not valid. */
function commonRecord(f: CommonFields): Pick<LogRecord, 'state' | 'prio' | 'cpuSeconds' | 'threads' | 'minFlt' | 'majFlt' | 'virtualKb' | 'residentKb' | 'dataKb'> | null {
  if (f.state.length !== 1) return null;
  if (!INT.test(f.prio) || !UINT.test(f.threads) || !UINT.test(f.minFlt) || !UINT.test(f.majFlt)) return null;
  const r = {
    state: f.state,
    prio: Number(f.prio),
    cpuSeconds: parseCpuTime(f.cpuTime),
    threads: Number(f.threads),
    minFlt: Number(f.minFlt),
    majFlt: Number(f.majFlt),
    virtualKb: parseSize(f.virt),
    residentKb: parseSize(f.res),
    dataKb: parseSize(f.data),
  };
  return Number.isNaN(r.cpuSeconds) || Number.isNaN(r.virtualKb) || Number.isNaN(r.residentKb) || Number.isNaN(r.dataKb) ? null : r;
}

/** A size or null for one of the words that mean none ('-', 'n/a'); NaN if neither. */
function sizeOrNone(s: string, none: string): number | null {
  return s === none ? null : parseSize(s);
}

/** The fields of a sample line: Priv&Write since 0.2, Procs in a tree log. */
type LineFields = [...Fields15, priv?: string, procs?: string];
type Fields15 = [string, string, string, string, string, string, string, string, string, string, string, string, string, string, string];

/** The fields of a line of a plog 0.1.0 log. */
type Fields14 = [string, string, string, string, string, string, string, string, string, string, string, string, string, string];

/**
 * Parse a sample line of a log file of ours (with or without its '\n').
 * Returns null for anything that is not a complete sample line: the command
 * line, the header, blank lines, and a truncated last line.
 */
export function parseLogLine(line: string, opts: ParseOptions = {}): LogRecord | null {
  const t = line.endsWith('\n') ? line.slice(0, -1) : line;
  // The hour is space-padded: a line of a month-day log begins `12-04  5:06`,
  // which splits as `12-04 5:06` does.
  const f = t.split(/ +/);
  // 16 with Priv&Write, 17 in a tree log (plog --tree: Procs after it, src/plog/log/treelog.ts).
  if (f.length < 15 || f.length > 17) return null;
  const [date, time, state, prio, cpuTime, cpuP, threads, minFlt, majFlt, virt, res, share, pss, swap, data, priv] = f as LineFields; // 15 to 17, as just checked
  const when = parseWhen(date, time, opts.order ?? 'month-day');
  if (!when) return null;
  if (opts.withSeconds === true && when.second === null) return null;
  if (opts.withSeconds === false && when.second !== null) return null;
  const common = commonRecord({ state, prio, cpuTime, threads, minFlt, majFlt, virt, res, data });
  if (!common) return null;
  if (cpuP !== '-' && !DEC1.test(cpuP)) return null;
  // Share, marked '*' when carried with PSS, '~' when from statm; unmarked
  // in the logs of earlier versions, which took it from statm.
  const shareMark = share.endsWith(PSS_STALE) || share.endsWith(SHARE_STATM) ? share.slice(-1) : '';
  const shareValue = shareMark ? share.slice(0, -1) : share;
  if (!DEC1.test(shareValue)) return null;
  // A '*' after both: PSS not read again for this line (the last values).
  const pssStale = pss.endsWith(PSS_STALE) && swap.endsWith(PSS_STALE);
  const pssKb = sizeOrNone(pssStale ? pss.slice(0, -1) : pss, '-');
  const swapKb = sizeOrNone(pssStale ? swap.slice(0, -1) : swap, '-');
  const privWriteKb = priv === undefined ? undefined : sizeOrNone(priv, '-');
  if (Number.isNaN(pssKb) || Number.isNaN(swapKb) || Number.isNaN(privWriteKb)) return null;
  return {
    ...when,
    ...common,
    cpuPercent: cpuP === '-' ? null : Number(cpuP),
    sharePercent: Number(shareValue),
    shareFromStatm: shareMark === SHARE_STATM,
    pssKb,
    swapKb,
    pssStale,
    privWriteKb,
  };
}

/** The columns a plog 0.1.0 log does not have, in the readers' words. */
export const LACKS_010 = ['CPU% (computed from __Utime__ between lines)', 'system time (CPU time is user time only, its __Utime__)', 'Swap'] as const;

/**
 * Parse a sample line of a plog 0.1.0 log (the C plogsrvd): 14 right-aligned
 * fields, `Date Time State Prio __Utime__ Threads VirtualSz ResidentSz Share
 * Proportion Data+Stack Priv&Write MinorFaults MajFlts`, dates month-day.
 * Share ends in '%' (`-nan%` for a zombie: no number), Proportion is `n/a`
 * where smaps could not be read. The line may begin with the '\n' that
 * 0.1.0 writes before each line. Returns null for anything else, such as the
 * lines 0.1.0 garbled when a process's name has a space and a parenthesis
 * (its fields shift).
 */
export function parseLogLine010(line: string): LogRecord | null {
  const f = line.trim().split(/ +/);
  if (f.length !== 14) return null;
  const [date, time, state, prio, cpuTime, threads, virt, res, share, pss, data, priv, minFlt, majFlt] = f as Fields14; // as just checked
  const when = parseWhen(date, time, 'month-day');
  if (!when) return null;
  // A state letter of proc(5): a line shifted by a garbled name has some other letter there.
  if (!/^[RSDZTtWXxKPI]$/.test(state)) return null;
  const common = commonRecord({ state, prio, cpuTime, threads, minFlt, majFlt, virt, res, data });
  if (!common) return null;
  const sm = /^(\d+\.\d+)%$|^-?(nan|inf)%$/.exec(share);
  if (!sm) return null;
  const pssKb = sizeOrNone(pss, 'n/a');
  const privWriteKb = sizeOrNone(priv, 'n/a');
  if (Number.isNaN(pssKb) || Number.isNaN(privWriteKb)) return null;
  return {
    ...when,
    ...common,
    cpuPercent: null,
    sharePercent: sm[1] === undefined ? null : Number(sm[1]),
    shareFromStatm: false,
    pssKb,
    swapKb: null,
    pssStale: false,
    privWriteKb,
  };
}

// ---- parseLogLine without its split and regular expressions ----
//
// A follower of many logs (plog web: 500 logs at 1 s are 500 lines a second)
// spends most of its time on parseLogLine's arrays and match objects, and
// on collecting them. parseLogLineQuick reads the plain form plogsrvd
// writes by scanning the characters, making one record; anything it is
// not sure of, it leaves to parseLogLine (undefined), so that what it
// returns is always what parseLogLine returns (test/lineparse-quick.test.ts
// compares them on random and damaged lines).

/** Start and end of each field of the line being read (at most 17). */
const FS = new Int32Array(17);
const FE = new Int32Array(17);
/** What quick() reads gave: NaN when a field is not in the plain form. */
const BAD = NaN;

/** Digits from i to e (at most 15: exact), as a number; NaN when there are none or another character. */
function digits(t: string, i: number, e: number): number {
  if (e <= i || e - i > 15) return BAD;
  let v = 0;
  for (; i < e; i++) {
    const c = t.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return BAD;
    v = v * 10 + c;
  }
  return v;
}

/** Two digits at i, the first 0 to 5 (minutes, seconds); NaN otherwise. */
function sixty(t: string, i: number): number {
  const a = t.charCodeAt(i) - 48;
  const b = t.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 5 && b >= 0 && b <= 9 ? a * 10 + b : BAD;
}

/** `N.D` (DEC1) from i to e as Number() reads it (a whole number over 10 is rounded as the decimal is); NaN otherwise. */
function dec1(t: string, i: number, e: number): number {
  // At most 14 digits before the point: w * 10 + d is exact, and so its division by 10 rounds as Number() does.
  if (e - i < 3 || e - i > 16 || t.charCodeAt(e - 2) !== 46) return BAD;
  const w = digits(t, i, e - 2);
  const d = digits(t, e - 1, e);
  return (w * 10 + d) / 10;
}

/** parseSize() of the text from i to e: `NkB`, `N.NNMB`, `N.NNGB`; NaN otherwise. */
function size(t: string, i: number, e: number): number {
  if (e - i < 3) return BAD;
  const u = t.charCodeAt(e - 2);
  if (t.charCodeAt(e - 1) !== 66 /* B */) return BAD;
  if (u === 107 /* k */) return digits(t, i, e - 2);
  // `N.NNMB`: at most 13 digits before the point, so that h is exact and h / 100 rounds as Number() does.
  if ((u !== 77 /* M */ && u !== 71) /* G */ || e - i < 6 || e - i > 18 || t.charCodeAt(e - 5) !== 46) return BAD;
  const h = digits(t, i, e - 5) * 100 + digits(t, e - 4, e - 2);
  return Math.round((h / 100) * (u === 77 ? 1024 : 1024 * 1024));
}

/** parseCpuTime() of the text from i to e: `Ns`, `M:SS`, `H:MM:SS`; NaN otherwise. */
function cpuTime(t: string, i: number, e: number): number {
  if (e - i >= 2 && t.charCodeAt(e - 1) === 115 /* s */) return digits(t, i, e - 1);
  if (e - i < 4 || t.charCodeAt(e - 3) !== 58) return BAD;
  const ss = sixty(t, e - 2);
  if (e - i >= 7 && t.charCodeAt(e - 6) === 58) return digits(t, i, e - 6) * 3600 + sixty(t, e - 5) * 60 + ss;
  return digits(t, i, e - 3) * 60 + ss;
}

/**
 * parseLogLine(line, { order }) for a sample line in the plain form
 * (fields separated by spaces, no '\n'); undefined where parseLogLine must
 * decide (any other line: it may be a sample all the same, or not one).
 */
export function parseLogLineQuick(t: string, order: DateOrder): LogRecord | undefined {
  // The fields: runs of non-spaces between runs of spaces, none empty.
  const len = t.length;
  let n = 0;
  let i = 0;
  while (i < len) {
    if (n === 17) return undefined;
    FS[n] = i;
    while (i < len && t.charCodeAt(i) !== 32) i++;
    if (i === FS[n]!) return undefined;
    FE[n++] = i;
    while (i < len && t.charCodeAt(i) === 32) i++;
  }
  if (n < 15 || t.charCodeAt(len - 1) === 32 || t.charCodeAt(len - 1) === 10) return undefined;
  // FS[k]! and FE[k]!: k < n, the fields found (15 at least): they cannot miss.
  // Date `DD-DD`, time `H:MM`, `HH:MM`, then `:SS`, then `.mmm`.
  if (FE[0]! - FS[0]! !== 5 || t.charCodeAt(FS[0]! + 2) !== 45) return undefined;
  const a = digits(t, FS[0]!, FS[0]! + 2);
  const b = digits(t, FS[0]! + 3, FS[0]! + 5);
  const month = order === 'month-day' ? a : b;
  const day = order === 'month-day' ? b : a;
  const ts = FS[1]!;
  const te = FE[1]!;
  const colon = t.charCodeAt(ts + 1) === 58 ? ts + 1 : ts + 2;
  const hour = digits(t, ts, colon);
  if (t.charCodeAt(colon) !== 58 || te - colon < 3) return undefined;
  const minute = sixty(t, colon + 1);
  let second: number | null = null;
  let millisecond: number | null = null;
  const rest = te - colon - 3;
  if (rest === 3 || rest === 7) {
    if (t.charCodeAt(colon + 3) !== 58) return undefined;
    second = sixty(t, colon + 4);
    if (rest === 7) {
      if (t.charCodeAt(colon + 6) !== 46) return undefined;
      millisecond = digits(t, colon + 7, colon + 10);
      if (Number.isNaN(millisecond)) return undefined;
    }
    if (Number.isNaN(second)) return undefined;
  } else if (rest !== 0) return undefined;
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23) || Number.isNaN(minute)) return undefined;
  // State, Prio, CPU_time, CPU%, Threads, MinFlt, MajFlt, VirtualSz, ResidentSz.
  if (FE[2]! - FS[2]! !== 1) return undefined;
  const negative = t.charCodeAt(FS[3]!) === 45;
  const prioAbs = digits(t, FS[3]! + (negative ? 1 : 0), FE[3]!);
  const cpuSeconds = cpuTime(t, FS[4]!, FE[4]!);
  const cpuPercent = FE[5]! - FS[5]! === 1 && t.charCodeAt(FS[5]!) === 45 ? null : dec1(t, FS[5]!, FE[5]!);
  const threads = digits(t, FS[6]!, FE[6]!);
  const minFlt = digits(t, FS[7]!, FE[7]!);
  const majFlt = digits(t, FS[8]!, FE[8]!);
  const virtualKb = size(t, FS[9]!, FE[9]!);
  const residentKb = size(t, FS[10]!, FE[10]!);
  // Share, marked '*' (carried with PSS) or '~' (from statm).
  const sm = t.charCodeAt(FE[11]! - 1);
  const shareMark = sm === 42 || sm === 126 ? 1 : 0;
  const sharePercent = dec1(t, FS[11]!, FE[11]! - shareMark);
  // Proportion and Swap: '-', or sizes, both marked '*' or neither.
  const pssStar = t.charCodeAt(FE[12]! - 1) === 42;
  const swapStar = t.charCodeAt(FE[13]! - 1) === 42;
  if (pssStar !== swapStar) return undefined;
  const stale = pssStar ? 1 : 0;
  const pssKb = FE[12]! - stale - FS[12]! === 1 && t.charCodeAt(FS[12]!) === 45 ? null : size(t, FS[12]!, FE[12]! - stale);
  const swapKb = FE[13]! - stale - FS[13]! === 1 && t.charCodeAt(FS[13]!) === 45 ? null : size(t, FS[13]!, FE[13]! - stale);
  const dataKb = size(t, FS[14]!, FE[14]!);
  const privWriteKb = n === 15 ? undefined : FE[15]! - FS[15]! === 1 && t.charCodeAt(FS[15]!) === 45 ? null : size(t, FS[15]!, FE[15]!);
  if (
    Number.isNaN(prioAbs) ||
    Number.isNaN(cpuSeconds) ||
    Number.isNaN(cpuPercent) ||
    Number.isNaN(threads) ||
    Number.isNaN(minFlt) ||
    Number.isNaN(majFlt) ||
    Number.isNaN(virtualKb) ||
    Number.isNaN(residentKb) ||
    Number.isNaN(sharePercent) ||
    Number.isNaN(pssKb) ||
    Number.isNaN(swapKb) ||
    Number.isNaN(dataKb) ||
    Number.isNaN(privWriteKb)
  )
    return undefined;
  return {
    date: t.slice(FS[0], FE[0]),
    time: t.slice(ts, te),
    day,
    month,
    hour,
    minute,
    second,
    millisecond,
    state: t.charAt(FS[2]!),
    prio: negative ? -prioAbs : prioAbs,
    cpuSeconds,
    threads,
    minFlt,
    majFlt,
    virtualKb,
    residentKb,
    dataKb,
    cpuPercent,
    sharePercent,
    shareFromStatm: shareMark === 1 && sm === 126,
    pssKb,
    swapKb,
    pssStale: pssStar,
    privWriteKb,
  };
}
