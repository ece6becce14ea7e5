/**
 * /proc/PID/stat (proc(5)).
 *
 * The text is expected decoded as latin1 (one character per byte, see
 * decodeProc() in reader.ts) so that `comm` keeps the exact bytes of the
 * process name even when they are not valid UTF-8; the log name and the
 * `[comm]` cmdline line escape or replace them byte by byte.
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

function num(fields: string[], n: number, name: string): number {
  const s = fields[F(n)];
  // Digits with an optional leading '-' (priority, cutime... are signed).
  if (s === undefined || !/^-?\d{1,20}$/.test(s)) {
    throw new ProcParseError('stat', `field ${n} (${name}) is not a number: ${JSON.stringify(s)}`);
  }
  return Number(s);
}

/** Parse the text of /proc/PID/stat. Throws ProcParseError on malformed text. */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ProcParseError('stat', 'no (comm)');
  const pidText = text.slice(0, open).trim();
  if (!/^\d{1,10}$/.test(pidText)) throw new ProcParseError('stat', `bad pid ${JSON.stringify(pidText)}`);
  const comm = text.slice(open + 1, close);
  let rest = text.slice(close + 1);
  if (rest.endsWith('\n')) rest = rest.slice(0, -1);
  if (rest[0] !== ' ') throw new ProcParseError('stat', 'no fields after (comm)');
  const fields = rest.slice(1).split(' ');
  if (fields.length < F(24) + 1) {
    throw new ProcParseError('stat', `too few fields (${fields.length + 2}, need 24)`);
  }
  const state = fields[0];
  if (state.length !== 1) throw new ProcParseError('stat', `bad state ${JSON.stringify(state)}`);
  return {
    pid: Number(pidText),
    comm,
    state,
    ppid: num(fields, 4, 'ppid'),
    minflt: num(fields, 10, 'minflt'),
    cminflt: num(fields, 11, 'cminflt'),
    majflt: num(fields, 12, 'majflt'),
    cmajflt: num(fields, 13, 'cmajflt'),
    utime: num(fields, 14, 'utime'),
    stime: num(fields, 15, 'stime'),
    cutime: num(fields, 16, 'cutime'),
    cstime: num(fields, 17, 'cstime'),
    priority: num(fields, 18, 'priority'),
    nice: num(fields, 19, 'nice'),
    numThreads: num(fields, 20, 'num_threads'),
    starttime: num(fields, 22, 'starttime'),
    vsize: num(fields, 23, 'vsize'),
    rss: num(fields, 24, 'rss'),
  };
}
