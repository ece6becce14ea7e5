/**
 * The log file's lines (spec section 5): pure formatting and parsing, no I/O.
 *
 * A log file is: the command line (see formatCmdline in ../proc/cmdline.ts),
 * the header from formatHeader(), then one formatLine() per sample.
 *
 * Columns are left-aligned in fixed widths and separated by at least one
 * space; a value longer than its width pushes the rest of the line to the
 * right by what it overflows (one space still separates it). No value
 * contains a space, except Date Time which is two space-separated fields,
 * so a line splits on runs of spaces into 16 fields (15 when Priv&Write is
 * left out after a short read of maps). Lines have no trailing spaces.
 */
import type { RawSample } from '../proc/reader.js';

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

/** `DD-MM H:MM` in local time, hour not zero-padded; `DD-MM H:MM:SS` with seconds. */
export function formatDate(date: Date, withSeconds: boolean): string {
  const base = `${p2(date.getDate())}-${p2(date.getMonth() + 1)} ${date.getHours()}:${p2(date.getMinutes())}`;
  return withSeconds ? `${base}:${p2(date.getSeconds())}` : base;
}

// formatLine's date: "DD-MM H:MM" is the same for a whole minute, so it is
// made once a minute (a UTC minute: time zone offsets change on minute
// boundaries) and only the seconds are added per line. Not cached when the
// offset has seconds in it (local seconds differ from UTC seconds).
let cachedMinute = NaN;
let cachedBase = '';

/** formatDate(new Date(timeMs), withSeconds), made once a minute. */
export function formatTime(timeMs: number, withSeconds: boolean): string {
  const minute = Math.floor(timeMs / 60000);
  const second = Math.floor(timeMs / 1000) - minute * 60;
  if (minute !== cachedMinute) {
    const date = new Date(timeMs);
    const base = `${p2(date.getDate())}-${p2(date.getMonth() + 1)} ${date.getHours()}:${p2(date.getMinutes())}`;
    if (date.getSeconds() !== second) {
      cachedMinute = NaN;
      return withSeconds ? `${base}:${p2(date.getSeconds())}` : base;
    }
    cachedMinute = minute;
    cachedBase = base;
  }
  return withSeconds ? `${cachedBase}:${TWO[second]}` : cachedBase;
}

/** Column names, in order. */
export const HEADER_COLUMNS = [
  'Date Time', 'State', 'Prio', 'CPU_time', 'CPU%', 'Threads', 'MinFlt', 'MajFlt',
  'VirtualSz', 'ResidentSz', 'Share', 'Proportion', 'Swap', 'Dat+Stck', 'Priv&Write',
] as const;

/** Field widths (the column's own width; one more space separates columns). */
const WIDTHS = [0, 5, 4, 8, 6, 7, 9, 7, 9, 10, 5, 10, 9, 9, 10];
const dateWidth = (withSeconds: boolean): number => (withSeconds ? 14 : 11);

function join(values: readonly string[], withSeconds: boolean): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out += v;
    if (i < values.length - 1) {
      const w = i === 0 ? dateWidth(withSeconds) : WIDTHS[i];
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

/** The header line (with its '\n'), aligned with formatLine(…, { withSeconds }). */
export function formatHeader(withSeconds: boolean): string {
  return join(HEADER_COLUMNS, withSeconds) + '\n';
}

export interface LineOptions {
  /** Sub-minute interval: times with seconds. */
  withSeconds: boolean;
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
  const share = statm.resident > 0 ? ((statm.shared / statm.resident) * 100).toFixed(1) : '0.0';
  const smaps = cur.smaps;
  // PSS not read for this sample (the Safe PSS budget): the last values, marked.
  const stale = cur.smapsStale ? PSS_STALE : '';
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
 * The mark after Proportion and Swap on a line where PSS was not read again
 * (plogsrvd's Safe PSS budget, src/plog/pss-budget.ts): the values are those
 * of the last read, e.g. `1.21GB*`.
 */
export const PSS_STALE = '*';

/** A log line read back. Sizes in kB (approximate for the MB/GB forms). */
export interface LogRecord {
  /** 'DD-MM' */
  date: string;
  /** 'H:MM' or 'H:MM:SS' */
  time: string;
  day: number;
  month: number;
  hour: number;
  minute: number;
  /** null when the line has no seconds. */
  second: number | null;
  state: string;
  prio: number;
  /** Whole seconds. */
  cpuSeconds: number;
  /** null for '-' (first sample). */
  cpuPercent: number | null;
  threads: number;
  minFlt: number;
  majFlt: number;
  virtualKb: number;
  residentKb: number;
  sharePercent: number;
  /** null for '-' (smaps unreadable). */
  pssKb: number | null;
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
const DEC1 = /^\d+\.\d$/;

/**
 * Parse a sample line of a log file (with or without its '\n'). Returns null
 * for anything that is not a complete sample line: the command line, the
 * header, blank lines, and a truncated last line. `withSeconds` forces the
 * time form; by default either is accepted.
 */
export function parseLogLine(line: string, withSeconds?: boolean): LogRecord | null {
  const t = line.endsWith('\n') ? line.slice(0, -1) : line;
  const f = t.split(/ +/);
  // 16 with Priv&Write, 17 in a tree log (plog --tree: Procs after it, src/plog/treelog.ts).
  if (f.length < 15 || f.length > 17) return null;
  const dm = /^(\d\d)-(\d\d)$/.exec(f[0]);
  const tm = /^(\d{1,2}):(\d\d)(?::(\d\d))?$/.exec(f[1]);
  if (!dm || !tm) return null;
  if (withSeconds === true && tm[3] === undefined) return null;
  if (withSeconds === false && tm[3] !== undefined) return null;
  const [, , state, prio, cpuT, cpuP, thr, minF, majF, virt, res, share, pss, swap, data, priv] = f;
  if (state.length !== 1) return null;
  if (!INT.test(prio) || !/^\d+$/.test(thr) || !/^\d+$/.test(minF) || !/^\d+$/.test(majF)) return null;
  if (cpuP !== '-' && !DEC1.test(cpuP)) return null;
  if (!DEC1.test(share)) return null;
  const cpuSeconds = parseCpuTime(cpuT);
  const virtualKb = parseSize(virt);
  const residentKb = parseSize(res);
  const dataKb = parseSize(data);
  // A '*' after both: PSS not read again for this line (the last values).
  const pssStale = pss.endsWith(PSS_STALE) && swap.endsWith(PSS_STALE);
  const pssKb = pss === '-' ? null : parseSize(pssStale ? pss.slice(0, -1) : pss);
  const swapKb = swap === '-' ? null : parseSize(pssStale ? swap.slice(0, -1) : swap);
  const privWriteKb = priv === undefined ? undefined : priv === '-' ? null : parseSize(priv);
  for (const v of [cpuSeconds, virtualKb, residentKb, dataKb, pssKb, swapKb, privWriteKb]) {
    if (typeof v === 'number' && Number.isNaN(v)) return null;
  }
  return {
    date: f[0],
    time: f[1],
    day: Number(dm[1]),
    month: Number(dm[2]),
    hour: Number(tm[1]),
    minute: Number(tm[2]),
    second: tm[3] === undefined ? null : Number(tm[3]),
    state,
    prio: Number(prio),
    cpuSeconds,
    cpuPercent: cpuP === '-' ? null : Number(cpuP),
    threads: Number(thr),
    minFlt: Number(minF),
    majFlt: Number(majF),
    virtualKb,
    residentKb,
    sharePercent: Number(share),
    pssKb,
    swapKb,
    pssStale,
    dataKb,
    privWriteKb,
  };
}
