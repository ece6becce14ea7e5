// The lines strerr and strtrace write, and strerr's file names. Pure but for
// the local time zone (of the process, as in C: TZ).
//
//   strerr:   SEQ TIME TICKS FLAGS MID SID TEXT
//   strtrace: SEQ TIME TICKS LEVEL FLAGS MID SID TEXT   (LEVEL as %2d)
//
// SEQ zero-padded to 6 digits, TIME hh:mm:ss local, TICKS 8 hex digits,
// FLAGS three letters each its letter or '.': F N T for strerr (T: a tracer
// got it too), F N E for strtrace (E: the error logger got it too).
import { SL_ERROR, SL_FATAL, SL_NOTIFY, SL_TRACE } from './constants.js';
import { expand, oneLine } from './format.js';
import type { LogMessage } from './wire.js';

const two = (n: number): string => (n < 10 ? '0' : '') + n;

let lastT = NaN;
let lastHms = '';
let lastDay = '';

function local(ttime: number): void {
  if (ttime === lastT) return;
  const d = new Date(ttime * 1000);
  lastT = ttime;
  lastHms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  lastDay = `${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

/** hh:mm:ss in local time of a time in seconds since 1970. */
export function hms(ttime: number): string {
  local(ttime);
  return lastHms;
}

/** strerr's file for a message time: error.MM-DD, the message's local day. */
export function errorFileName(ttime: number): string {
  local(ttime);
  return `error.${lastDay}`;
}

export function seq6(seq: number): string {
  const s = String(seq);
  return s.length >= 6 ? s : '000000'.slice(s.length) + s;
}

export function ticks8(ltime: number): string {
  const s = (ltime >>> 0).toString(16);
  return s.length >= 8 ? s : '00000000'.slice(s.length) + s;
}

/** strerr's FLAGS: F (fatal), N (notify), T (a tracer got it too). */
export function errFlags(flags: number): string {
  return (flags & SL_FATAL ? 'F' : '.') + (flags & SL_NOTIFY ? 'N' : '.') + (flags & SL_TRACE ? 'T' : '.');
}

/** strtrace's FLAGS: F (fatal), N (notify), E (the error logger got it too). */
export function traceFlags(flags: number): string {
  return (flags & SL_FATAL ? 'F' : '.') + (flags & SL_NOTIFY ? 'N' : '.') + (flags & SL_ERROR ? 'E' : '.');
}

/** The message's text as it goes on a line (expanded, control characters shown). */
export function messageText(m: Pick<LogMessage, 'fmt' | 'args'>): string {
  return oneLine(expand(m.fmt, m.args));
}

/** One line of strerr's log, with its newline. */
export function errLine(m: LogMessage): string {
  return `${seq6(m.seq)} ${hms(m.ttime)} ${ticks8(m.ltime)} ${errFlags(m.flags)} ${m.mid} ${m.sid} ${messageText(m)}\n`;
}

/** One line of strtrace's output, with its newline: the level as %2d, as
 * SVR4's and illumos' strace print it. */
export function traceLine(m: LogMessage): string {
  const level = String(m.level).padStart(2);
  return `${seq6(m.seq)} ${hms(m.ttime)} ${ticks8(m.ltime)} ${level} ${traceFlags(m.flags)} ${m.mid} ${m.sid} ${messageText(m)}\n`;
}
