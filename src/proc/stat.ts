/**
 * /proc/PID/stat (proc(5)).
 *
 * The sampler parses the bytes as read (parseStatBytes); parseStat() takes
 * text decoded as latin1 (one character per byte, see decodeProc() in
 * reader.ts). Either way `comm` keeps the exact bytes of the process name
 * even when they are not valid UTF-8; the log name and the `[comm]` cmdline
 * line escape or replace them byte by byte.
 */
import { ProcParseError } from './errors.js';

export interface ProcStat {
  pid: number;
  /** The name between the first '(' and the last ')'; may contain spaces, parens, newlines. */
  comm: string;
  /** One letter: R S D Z T t X I ... */
  state: string;
  ppid: number;
  minflt: number;
  cminflt: number;
  majflt: number;
  cmajflt: number;
  /** Clock ticks (CLK_TCK). */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Field 18: the kernel's priority (20 + nice for normal tasks, negative for real-time). */
  priority: number;
  nice: number;
  numThreads: number;
  /** Field 22: start time after boot, in clock ticks. */
  starttime: number;
  /** Bytes. */
  vsize: number;
  /** Pages. */
  rss: number;
}

/** Index, in the fields after the comm's ')', of stat field N (field 3 = state is index 0). */
const F = (n: number): number => n - 3;

// The numeric fields read, in the order of the result (field number, name).
const NUMS: ReadonlyArray<readonly [number, string]> = [
  [4, 'ppid'],
  [10, 'minflt'],
  [11, 'cminflt'],
  [12, 'majflt'],
  [13, 'cmajflt'],
  [14, 'utime'],
  [15, 'stime'],
  [16, 'cutime'],
  [17, 'cstime'],
  [18, 'priority'],
  [19, 'nice'],
  [20, 'num_threads'],
  [22, 'starttime'],
  [23, 'vsize'],
  [24, 'rss'],
];
const LAST = F(24);

const SP = 0x20;
const NL = 0x0a;
const MINUS = 0x2d;
const D0 = 0x30;
const D9 = 0x39;

/** Whitespace as String.prototype.trim() sees it in latin1 text. */
function isSpace(c: number): boolean {
  return c === SP || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/**
 * The number in buf[start, end): digits with an optional leading '-'
 * (priority, cutime... are signed), at most 20 digits, exactly as
 * Number() of the text gives it; NaN when it is not such a number.
 */
export function decimalAt(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  const neg = p < end && buf[p] === MINUS;
  if (neg) p++;
  const digits = end - p;
  if (digits < 1 || digits > 20) return NaN;
  let v = 0;
  for (let i = p; i < end; i++) {
    const c = buf[i]!;
    if (c < D0 || c > D9) return NaN;
    v = v * 10 + (c - D0);
  }
  // Past 15 digits the running sum may round differently from Number().
  if (digits > 15) v = Number(Buffer.from(buf.buffer, buf.byteOffset + p, digits).toString('latin1'));
  return neg ? -v : v;
}

const latin1 = (buf: Uint8Array, start: number, end: number): string => Buffer.from(buf.buffer, buf.byteOffset + start, Math.max(0, end - start)).toString('latin1');

/** Whether str is exactly the latin1 characters of buf[a, b). */
function sameLatin1(str: string, buf: Uint8Array, a: number, b: number): boolean {
  if (str.length !== b - a) return false;
  for (let i = 0; i < str.length; i++) if (str.charCodeAt(i) !== buf[a + i]) return false;
  return true;
}

/**
 * Parse the bytes of /proc/PID/stat (buf[0, length)), without making a
 * string of them: only comm becomes one (latin1, one character per byte).
 * With `into`, the result is written there (and its comm string kept when
 * the name has not changed) instead of into a new object; on a throw, into
 * is left as it was. Throws ProcParseError on malformed text, as parseStat()
 * does.
 */
export function parseStatBytes(buf: Uint8Array, length = buf.length, into?: ProcStat): ProcStat {
  const open = length > 0 ? buf.indexOf(0x28 /* ( */) : -1;
  const close = length > 0 ? buf.lastIndexOf(0x29 /* ) */, length - 1) : -1;
  if (open < 0 || open >= length || close < open) throw new ProcParseError('stat', 'no (comm)');
  let a = 0;
  let b = open;
  while (a < b && isSpace(buf[a]!)) a++;
  while (b > a && isSpace(buf[b - 1]!)) b--;
  const pid = b - a <= 10 && buf[a] !== MINUS ? decimalAt(buf, a, b) : NaN;
  if (Number.isNaN(pid)) throw new ProcParseError('stat', `bad pid ${JSON.stringify(latin1(buf, a, b))}`);
  let end = length;
  if (end > close + 1 && buf[end - 1] === NL) end--;
  if (close + 1 >= end || buf[close + 1] !== SP) throw new ProcParseError('stat', 'no fields after (comm)');
  // Field boundaries after "(comm) ", split on every single space.
  const starts = fieldStarts;
  const ends = fieldEnds;
  let n = 0;
  let fs = close + 2;
  for (let i = fs; i <= end; i++) {
    if (i === end || buf[i] === SP) {
      if (n <= LAST) {
        starts[n] = fs;
        ends[n] = i;
      }
      n++;
      fs = i + 1;
    }
  }
  if (n < LAST + 1) throw new ProcParseError('stat', `too few fields (${n + 2}, need 24)`);
  if (ends[0]! - starts[0]! !== 1) throw new ProcParseError('stat', `bad state ${JSON.stringify(latin1(buf, starts[0]!, ends[0]!))}`);
  const state = STATES[buf[starts[0]!]!]!;
  const v = values;
  for (let k = 0; k < NUMS.length; k++) {
    const [field, name] = NUMS[k]!;
    const i = F(field);
    const x = decimalAt(buf, starts[i]!, ends[i]!);
    if (Number.isNaN(x)) {
      throw new ProcParseError('stat', `field ${field} (${name}) is not a number: ${JSON.stringify(latin1(buf, starts[i]!, ends[i]!))}`);
    }
    v[k] = x;
  }
  if (into) {
    if (!sameLatin1(into.comm, buf, open + 1, close)) into.comm = latin1(buf, open + 1, close);
    into.pid = pid;
    into.state = state;
    into.ppid = v[0]!;
    into.minflt = v[1]!;
    into.cminflt = v[2]!;
    into.majflt = v[3]!;
    into.cmajflt = v[4]!;
    into.utime = v[5]!;
    into.stime = v[6]!;
    into.cutime = v[7]!;
    into.cstime = v[8]!;
    into.priority = v[9]!;
    into.nice = v[10]!;
    into.numThreads = v[11]!;
    into.starttime = v[12]!;
    into.vsize = v[13]!;
    into.rss = v[14]!;
    return into;
  }
  const comm = latin1(buf, open + 1, close);
  return {
    pid,
    comm,
    state,
    ppid: v[0]!,
    minflt: v[1]!,
    cminflt: v[2]!,
    majflt: v[3]!,
    cmajflt: v[4]!,
    utime: v[5]!,
    stime: v[6]!,
    cutime: v[7]!,
    cstime: v[8]!,
    priority: v[9]!,
    nice: v[10]!,
    numThreads: v[11]!,
    starttime: v[12]!,
    vsize: v[13]!,
    rss: v[14]!,
  };
}

/** One-character strings by byte, made once. */
const STATES = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c));
const fieldStarts = new Int32Array(LAST + 1);
const fieldEnds = new Int32Array(LAST + 1);
const values = new Float64Array(NUMS.length);

/** Parse the text of /proc/PID/stat (latin1, see decodeProc()). Throws ProcParseError on malformed text. */
export function parseStat(text: string): ProcStat {
  return parseStatBytes(Buffer.from(text, 'latin1'));
}
