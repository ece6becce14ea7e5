/**
 * The text log's lines as plogsrvd writes them (plogsrvd(1), LOG FILES):
 * pure formatting, no I/O; src/plog/log/lineparse.ts reads them back.
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
 * trailing spaces.
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
  DATE_HEADER,
  'State',
  'Prio',
  'CPU_time',
  'CPU%',
  'Threads',
  'MinFlt',
  'MajFlt',
  'VirtualSz',
  'ResidentSz',
  'Share',
  'Proportion',
  'Swap',
  'Dat+Stck',
  'Priv&Write',
] as const;

/** Field widths (the column's own width; one more space separates columns). */
const WIDTHS = [0, 5, 4, 8, 6, 7, 9, 7, 9, 10, 5, 10, 9, 9, 10];
/** The width of the date: `MM-DD HH:MM`, then `:SS`, then `.mmm`. */
const dateWidth = (form: TimeForm): number => (form === 'ms' ? 18 : form ? 14 : 11);

function join(values: readonly string[], form: TimeForm): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out += v;
    if (i < values.length - 1) {
      const w = i === 0 ? dateWidth(form) : (WIDTHS[i] ?? 0); // a column past the widths: one space
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
  // Short read of maps: Priv&Write is left out of this line, not guessed (plogsrvd(1), LOG FILES).
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
