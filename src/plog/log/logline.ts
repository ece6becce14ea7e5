/**
 * The log file's lines (spec section 5): pure formatting and parsing, no I/O.
 *
 * A log file is: the command line (see formatCmdline in ../proc/cmdline.ts),
 * the header from formatHeader(), then one formatLine() per sample.
 *
 * Columns are left-aligned in fixed widths and separated by at least one
 * space; a value longer than its width pushes the rest of the line to the
 * right by what it overflows (one space still separates it). No value
 * contains a space, except Date Time which is two space-separated fields
 * (`12-04  5:06`: month-day and a space-padded hour, as plog 0.1.0 writes
 * them), so a line splits on runs of spaces into 16 fields (15 when
 * Priv&Write is left out after a short read of maps). Lines have no
 * trailing spaces. plog 0.1.0's own logs are read by parseLogLine010().
 */
import type { RawSample } from '../../proc/reader.js';
import type { SmapsSummary } from '../../proc/smaps.js';
import type { Statm } from '../../proc/statm.js';

/**
 * The log name for a process name (stat's comm): every '/' and '*', and every
 * byte outside printable ASCII 0x21..0x7e, replaced by '_'. That includes the
 * space (0x20): a name without spaces is kinder to shells and to `plog -l`
 * output read line by line. Expects comm as the reader gives it (latin1: one
 * char per byte); any other character above 0x7e becomes one '_' as well.
 * An empty name gives '_'. The caller appends '.PID' (and '.N' if taken).
 */
export function logBaseName(comm: string): string {
  let out = '';
  for (let i = 0; i < comm.length; i++) {
    const c = comm.charCodeAt(i);
    out += c < 0x21 || c > 0x7e || c === 0x2f /* / */ || c === 0x2a /* * */ ? '_' : comm[i];
  }
  return out === '' ? '_' : out;
}

/**
 * A size given in kB: `NkB` below 4096 kB, `N.NNMB` below 4096 MB, `N.NNGB`
 * above (1 MB = 1024 kB), the decimals rounded down. The input is rounded
 * down to an integer kB.
 */
export function formatSize(kb: number): string {
  const k = Math.max(0, Math.floor(kb));
  if (k < 4096) return `${k}kB`;
  // Hundredths rounded down, so a value never shows as the next unit's
  // threshold (4194303 kB is 4095.99MB, not 4096.00MB).
  if (k < 4096 * 1024) return `${hundredths(k, 1024)}MB`;
  return `${hundredths(k, 1024 * 1024)}GB`;
}

function hundredths(k: number, unit: number): string {
  const h = Math.floor((k * 100) / unit);
  return `${Math.floor(h / 100)}.${String(h % 100).padStart(2, '0')}`;
}

/**
 * CPU time, rounded down to the second: `Ns` under a minute, `M:SS` under an
 * hour, `H:MM:SS` above (hours unbounded).
 */
export function formatCpuTime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const ss = String(s % 60).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}:${ss}`;
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${mm}:${ss}`;
}

const p2 = (n: number): string => String(n).padStart(2, '0');
/** '00' to '59'. */
const TWO = Array.from({ length: 60 }, (_, i) => p2(i));
/** ' 0' to '23': the hour, space-padded as plog 0.1.0 writes it. */
const HOUR = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, ' '));

/**
 * How precise a log's times are: false for whole minutes (`H:MM`), true for
 * seconds (`H:MM:SS`), 'ms' for milliseconds (`H:MM:SS.mmm`). The interval
 * decides (timesWithSeconds() in protocol.ts): a whole number of minutes,
 * of seconds, or neither.
 */
export type TimeForm = boolean | 'ms';

/** The seconds (and milliseconds) after `H:MM`, as form says. */
function secondsPart(form: TimeForm, second: number, ms: number): string {
  if (form === false) return '';
  return form === 'ms' ? `:${TWO[second]}.${String(ms).padStart(3, '0')}` : `:${TWO[second]}`;
}

/**
 * `MM-DD HH:MM` in local time, month before day and the hour padded with a
 * space, as plog 0.1.0 writes it (its plog(1): "month-day hour:minute";
 * `12-04  5:06` is 4 December); `MM-DD HH:MM:SS` with seconds,
 * `MM-DD HH:MM:SS.mmm` with milliseconds. Always one value of a fixed width
 * (11, 14 or 18 characters) with one or two spaces inside.
 */
export function formatDate(date: Date, form: TimeForm): string {
  const base = `${p2(date.getMonth() + 1)}-${p2(date.getDate())} ${HOUR[date.getHours()]}:${p2(date.getMinutes())}`;
  return base + secondsPart(form, date.getSeconds(), date.getMilliseconds());
}

// formatLine's date: "MM-DD HH:MM" is the same for a whole minute, so it is
// made once a minute (a UTC minute: time zone offsets change on minute
// boundaries) and only the seconds are added per line. Not cached when the
// offset has seconds in it (local seconds differ from UTC seconds).
let cachedMinute = NaN;
let cachedBase = '';

/** formatDate(new Date(timeMs), form), made once a minute. */
export function formatTime(timeMs: number, form: TimeForm): string {
  const minute = Math.floor(timeMs / 60000);
  const second = Math.floor(timeMs / 1000) - minute * 60;
  const ms = timeMs - Math.floor(timeMs / 1000) * 1000;
  if (minute !== cachedMinute) {
    const date = new Date(timeMs);
    const base = `${p2(date.getMonth() + 1)}-${p2(date.getDate())} ${HOUR[date.getHours()]}:${p2(date.getMinutes())}`;
    if (date.getSeconds() !== second) {
      cachedMinute = NaN;
      return base + secondsPart(form, date.getSeconds(), date.getMilliseconds());
    }
    cachedMinute = minute;
    cachedBase = base;
  }
  return cachedBase + secondsPart(form, second, ms);
}

/**
 * The date column's name. Three spaces, as plog 0.1.0's header has them
 * (`Date` over `MM-DD`, `Time` over ` H:MM`): the mark of a log whose dates
 * are month-day. Our versions before wrote day-month dates under `Date Time`
 * (one space); the readers tell the two apart by it (dateOrderOfHeader()).
 * Nothing else changes for a reader that splits on runs of spaces.
 */
export const DATE_HEADER = 'Date   Time';

/** Column names, in order. */
export const HEADER_COLUMNS = [
  DATE_HEADER, 'State', 'Prio', 'CPU_time', 'CPU%', 'Threads', 'MinFlt', 'MajFlt',
  'VirtualSz', 'ResidentSz', 'Share', 'Proportion', 'Swap', 'Dat+Stck', 'Priv&Write',
] as const;

/** Field widths (the column's own width; one more space separates columns). */
const WIDTHS = [0, 5, 4, 8, 6, 7, 9, 7, 9, 10, 5, 10, 9, 9, 10];
/** The width of the date: `MM-DD HH:MM`, then `:SS`, then `.mmm`. */
const dateWidth = (form: TimeForm): number => (form === 'ms' ? 18 : form ? 14 : 11);

function join(values: readonly string[], form: TimeForm): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out += v;
    if (i < values.length - 1) {
      const w = i === 0 ? dateWidth(form) : WIDTHS[i];
      out += ' '.repeat(Math.max(1, w - v.length + 1));
    }
  }
  return out;
}

/** Spaces after a value v in a column of width w: at least one. */
const SPACES = Array.from({ length: 32 }, (_, i) => ' '.repeat(i));
function cell(v: string, w: number): string {
  const n = w - v.length + 1;
  return v + (n <= 1 ? ' ' : n < SPACES.length ? SPACES[n]! : ' '.repeat(n));
}

/** The header line (with its '\n'), aligned with formatLine(…, { withSeconds: form }). */
export function formatHeader(form: TimeForm): string {
  return join(HEADER_COLUMNS, form) + '\n';
}

export interface LineOptions {
  /** Times with seconds (an interval that is not whole minutes), or milliseconds (not whole seconds). */
  withSeconds: TimeForm;
  /** Page size in kB (pageSizeKb()). */
  pageKb: number;
  /** Clock ticks per second (CLK_TCK). */
  clkTck: number;
}

/**
 * One log line (ending in '\n') for a sample. CPU% is the CPU time used
 * between prev and cur over the wall time between them (can exceed 100 with
 * several threads); '-' without prev or when no time passed.
 */
export function formatLine(cur: RawSample, prev: RawSample | null, opts: LineOptions): string {
  const { stat, statm } = cur;
  const ticks = stat.utime + stat.stime;
  let cpuPct = '-';
  if (prev !== null) {
    const wallS = (cur.timeMs - prev.timeMs) / 1000;
    const usedS = (ticks - (prev.stat.utime + prev.stat.stime)) / opts.clkTck;
    if (wallS > 0 && usedS >= 0) cpuPct = ((usedS / wallS) * 100).toFixed(1);
  }
  const smaps = cur.smaps;
  // PSS not read for this sample (the Safe PSS budget): the last values, marked.
  const stale = cur.smapsStale ? PSS_STALE : '';
  // Share: the part of the resident set shared with other processes, from
  // the read of smaps that gives PSS (carried and marked with it); statm's
  // shared field, every file-backed page shared or not, only without one.
  const share = smaps ? formatShare(sharedPercent(smaps)) + stale : formatShare(statmSharePercent(statm)) + SHARE_STATM;
  // As join() lays out the header: each value but the last padded to its
  // column's width (WIDTHS), at least one space.
  let out =
    cell(formatTime(cur.timeMs, opts.withSeconds), dateWidth(opts.withSeconds)) +
    cell(stat.state, WIDTHS[1]!) +
    cell(String(stat.priority), WIDTHS[2]!) +
    cell(formatCpuTime(ticks / opts.clkTck), WIDTHS[3]!) +
    cell(cpuPct, WIDTHS[4]!) +
    cell(String(stat.numThreads), WIDTHS[5]!) +
    cell(String(stat.minflt + stat.cminflt), WIDTHS[6]!) +
    cell(String(stat.majflt + stat.cmajflt), WIDTHS[7]!) +
    cell(formatSize(statm.size * opts.pageKb), WIDTHS[8]!) +
    cell(formatSize(statm.resident * opts.pageKb), WIDTHS[9]!) +
    cell(share, WIDTHS[10]!) +
    cell(smaps ? formatSize(smaps.pss) + stale : '-', WIDTHS[11]!) +
    cell(smaps ? formatSize(smaps.swap) + stale : '-', WIDTHS[12]!);
  const data = formatSize(statm.data * opts.pageKb);
  // Short read of maps: Priv&Write is left out of this line (the seed's rule).
  if (cur.maps === null) out += cell(data, WIDTHS[13]!) + '-';
  else if (cur.maps.complete) out += cell(data, WIDTHS[13]!) + formatSize(cur.maps.kb);
  else out += data;
  return out + '\n';
}

/**
 * Share as plog 0.1.0 reports it: the part of the resident set that other
 * processes map too, (Shared_Clean + Shared_Dirty) / Rss of smaps, in
 * percent; 0 with nothing resident (a zombie).
 */
export function sharedPercent(smaps: SmapsSummary): number {
  return smaps.rss > 0 ? ((smaps.sharedClean + smaps.sharedDirty) / smaps.rss) * 100 : 0;
}

/** statm's shared pages (file-backed and shmem, shared or not) over its resident ones, in percent. */
function statmSharePercent(statm: Statm): number {
  return statm.resident > 0 ? (statm.shared / statm.resident) * 100 : 0;
}

const formatShare = (p: number): string => p.toFixed(1);

/**
 * The mark after Share where it was taken from statm because smaps_rollup
 * could not be read (another user's process for a server that is not
 * root): `87.5~`. statm counts every file-backed resident page as shared,
 * mapped by this process alone or not, so it reads far higher.
 */
export const SHARE_STATM = '~';

/**
 * The mark after Proportion and Swap on a line where PSS was not read again
 * (plogsrvd's Safe PSS budget, src/plog/engine/pss-budget.ts): the values are those
 * of the last read, e.g. `1.21GB*`.
 */
export const PSS_STALE = '*';

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
function parseWhen(dateField: string, timeField: string, order: DateOrder):
  Pick<LogRecord, 'date' | 'time' | 'day' | 'month' | 'hour' | 'minute' | 'second' | 'millisecond'> | null {
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
  const when = parseWhen(f[0], f[1], opts.order ?? 'month-day');
  if (!when) return null;
  if (opts.withSeconds === true && when.second === null) return null;
  if (opts.withSeconds === false && when.second !== null) return null;
  const [, , state, prio, cpuTime, cpuP, threads, minFlt, majFlt, virt, res, share, pss, swap, data, priv] = f;
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
export const LACKS_010 = [
  'CPU% (computed from __Utime__ between lines)',
  'system time (CPU time is user time only, its __Utime__)',
  'Swap',
] as const;

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
  const when = parseWhen(f[0], f[1], 'month-day');
  if (!when) return null;
  const [, , state, prio, cpuTime, threads, virt, res, share, pss, data, priv, minFlt, majFlt] = f;
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
