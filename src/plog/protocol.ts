// The wire protocol of plogsrvd, compatible with plog 0.1.0 (plogsrvd(1), REQUESTS),
// as pure functions from bytes to typed values and back.
//
// A legacy request is exactly two signed 32-bit integers in host byte order.
// This project's extensions start with {0, opcode >= 16}, which plog 0.1.0
// answers with "Unrecognized request.", so that a new client can tell an old
// server apart and say what it cannot do.
import { endianness } from 'node:os';
import type { TimeForm } from './log/logline.js';

export const LE = endianness() === 'LE';
export const LEGACY_SIZE = 8;
export const MAX_REPLY = 1024;
/** Largest datagram the server reads; anything longer is malformed. */
export const MAX_REQUEST = 64;

export const Q_LIST = 1;
export const Q_PID = 2;
export const Q_DIR = 3;
/** Extension opcodes. */
export const OP_LOG_MS = 16; // {0, 16, pid, interval in ms (uint32)}
export const OP_STOP = 17; // {0, 17, pid}
export const OP_HELLO = 18; // {0, 18} -> "plogsrvd VERSION proto N"
export const OP_STATS = 19; // {0, 19} -> "plogsrvd stats pid=... logs=... ..."
// 20-23: selection by name and trees (plog -n, -r, --tree); 23 is free.
/** {0, 20, interval in ms (uint32), flags (uint32: SELECT_REGEX), format (1 byte), pattern (1-255 bytes UTF-8)}:
 * log every process whose name (or, with SELECT_REGEX, command line) matches, now and later. */
export const OP_SELECT = 20;
/** {0, 21, text (1-255 bytes UTF-8)}: stop a selection by its pattern, or a log by its path or name. */
export const OP_STOP_BY = 21;
export const SELECT_REGEX = 1;
/** {0, 22, pid, interval in ms (uint32)}: log pid and its descendants summed (a text log with a Procs column). */
export const OP_LOG_TREE = 22;
export const MAX_PATTERN = 255;
/** The longest extension request (OP_SELECT with the longest pattern): what the server reads. */
export const MAX_EXT_REQUEST = 17 + MAX_PATTERN;
/** {0, 24, pid, interval in ms (uint32), format (1 byte)}: 17 bytes. */
export const OP_LOG_FORMAT = 24;

/** The formats of a log, as OP_LOG_FORMAT's last byte carries them. */
export const LOG_FORMATS = ['text', 'csv', 'jsonl'] as const;
export type LogFormatName = (typeof LOG_FORMATS)[number];

export const LIST_END = '0000';
export const UNRECOGNIZED = 'Unrecognized request.';
/** Protocol revision of this project's extensions, answered to OP_HELLO
 * (1: log in ms, stop, hello; 2: stats). */
export const PROTO_EXT = 2;

/** The bounds this server accepts for an interval, in milliseconds. */
export const MIN_INTERVAL_MS = 10;
export const MAX_INTERVAL_MS = 0xffffffff;

export type Request =
  | { kind: 'log'; pid: number; intervalMs: number; legacy: boolean; format?: LogFormatName; tree?: boolean }
  | { kind: 'list' }
  | { kind: 'pid' }
  | { kind: 'dir' }
  | { kind: 'stop'; pid: number }
  | { kind: 'hello' }
  | { kind: 'stats' }
  | { kind: 'select'; intervalMs: number; regex: boolean; format: LogFormatName; pattern: string }
  | { kind: 'stopby'; what: string }
  | { kind: 'unrecognized' }
  /** Too short, too long or inconsistent: answered with a reason (or ignored). */
  | { kind: 'malformed'; reason: string };

function i32(buf: Buffer, off: number): number {
  return LE ? buf.readInt32LE(off) : buf.readInt32BE(off);
}
function u32(buf: Buffer, off: number): number {
  return LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}

/** Decode one request datagram. `size` is its real length (it may exceed
 * buf.length when it was cut at receive time). Never throws. */
export function decodeRequest(buf: Buffer, size = buf.length): Request {
  if (size < LEGACY_SIZE || buf.length < LEGACY_SIZE) {
    return { kind: 'malformed', reason: `short request (${size} bytes)` };
  }
  const a = i32(buf, 0);
  const b = i32(buf, 4);
  if (a !== 0) {
    // plog 0.1.0 read the first 8 bytes of whatever came; a longer datagram
    // with a pid in front is still a log request, as it was for the original.
    if (size > MAX_REQUEST) return { kind: 'malformed', reason: `long request (${size} bytes)` };
    // interval in minutes; the server checks the range.
    return { kind: 'log', pid: a, intervalMs: b * 60_000, legacy: true };
  }
  switch (b) {
    case Q_LIST:
      return { kind: 'list' };
    case Q_PID:
      return { kind: 'pid' };
    case Q_DIR:
      return { kind: 'dir' };
    case OP_LOG_MS:
      if (size !== 16 || buf.length < 16) return { kind: 'malformed', reason: `bad size ${size} for a log request` };
      return { kind: 'log', pid: i32(buf, 8), intervalMs: u32(buf, 12), legacy: false };
    case OP_STOP:
      if (size !== 12 || buf.length < 12) return { kind: 'malformed', reason: `bad size ${size} for a stop request` };
      return { kind: 'stop', pid: i32(buf, 8) };
    case OP_LOG_FORMAT: {
      if (size !== 17 || buf.length < 17) return { kind: 'malformed', reason: `bad size ${size} for a log request with a format` };
      const format = LOG_FORMATS[buf[16]!]; // buf.length checked above
      if (format === undefined) return { kind: 'malformed', reason: `unknown log format ${buf[16]}` };
      return { kind: 'log', pid: i32(buf, 8), intervalMs: u32(buf, 12), legacy: false, format };
    }
    case OP_SELECT: {
      if (size < 18 || size > MAX_EXT_REQUEST || buf.length < size) return { kind: 'malformed', reason: `bad size ${size} for a select request` };
      const flags = u32(buf, 12);
      if (flags & ~SELECT_REGEX) return { kind: 'malformed', reason: `unknown select flags ${flags}` };
      const format = LOG_FORMATS[buf[16]!]; // buf.length checked above
      if (format === undefined) return { kind: 'malformed', reason: `unknown log format ${buf[16]}` };
      const pattern = utf8Text(buf.subarray(17, size));
      if (pattern === null) return { kind: 'malformed', reason: 'a pattern that is not UTF-8 text' };
      return { kind: 'select', intervalMs: u32(buf, 8), regex: !!(flags & SELECT_REGEX), format, pattern };
    }
    case OP_LOG_TREE:
      if (size !== 16 || buf.length < 16) return { kind: 'malformed', reason: `bad size ${size} for a tree log request` };
      return { kind: 'log', pid: i32(buf, 8), intervalMs: u32(buf, 12), legacy: false, tree: true };
    case OP_STOP_BY: {
      if (size < 9 || size > 8 + MAX_PATTERN || buf.length < size) return { kind: 'malformed', reason: `bad size ${size} for a stop request` };
      const what = utf8Text(buf.subarray(8, size));
      if (what === null) return { kind: 'malformed', reason: 'a name that is not UTF-8 text' };
      return { kind: 'stopby', what };
    }
    case OP_HELLO:
      return { kind: 'hello' };
    case OP_STATS:
      return { kind: 'stats' };
    default:
      return { kind: 'unrecognized' };
  }
}

/** Bytes as UTF-8 text without NUL, or null. */
function utf8Text(b: Buffer): string | null {
  const t = b.toString('utf8');
  return t.includes('\0') || !Buffer.from(t, 'utf8').equals(b) ? null : t;
}

/** Log every process that matches: by name (comm), or by a regular expression on the command line. */
export function encodeSelect(pattern: string, regex: boolean, intervalMs: number, format: LogFormatName = 'text'): Buffer {
  return Buffer.concat([ints(0, OP_SELECT, intervalMs, regex ? SELECT_REGEX : 0), Buffer.from([LOG_FORMATS.indexOf(format)]), Buffer.from(pattern, 'utf8')]);
}
/** Log pid and its descendants, summed, every intervalMs. */
export function encodeLogTree(pid: number, intervalMs: number): Buffer {
  return ints(0, OP_LOG_TREE, pid, intervalMs);
}
/** Stop a selection by its pattern, or a log by its path or name. */
export function encodeStopBy(what: string): Buffer {
  return Buffer.concat([ints(0, OP_STOP_BY), Buffer.from(what, 'utf8')]);
}

/** Pack 32-bit integers in host byte order; a number above INT32_MAX is
 * written unsigned (the extension's interval in ms is a uint32). */
function ints(...vals: number[]): Buffer {
  const buf = Buffer.alloc(vals.length * 4);
  vals.forEach((v, i) => {
    if (v > 0x7fffffff) {
      if (LE) buf.writeUInt32LE(v, i * 4);
      else buf.writeUInt32BE(v, i * 4);
    } else if (LE) buf.writeInt32LE(v, i * 4);
    else buf.writeInt32BE(v, i * 4);
  });
  return buf;
}

/** {pid, minutes}: the request plog 0.1.0 sends. */
export function encodeLegacyLog(pid: number, minutes: number): Buffer {
  return ints(pid, minutes);
}
export function encodeQuery(q: typeof Q_LIST | typeof Q_PID | typeof Q_DIR): Buffer {
  return ints(0, q);
}
export function encodeLogMs(pid: number, intervalMs: number): Buffer {
  return ints(0, OP_LOG_MS, pid, intervalMs);
}
/** Log pid every intervalMs in a format (text, csv, jsonl): 17 bytes. */
export function encodeLogFormat(pid: number, intervalMs: number, format: LogFormatName): Buffer {
  return Buffer.concat([ints(0, OP_LOG_FORMAT, pid, intervalMs), Buffer.from([LOG_FORMATS.indexOf(format)])]);
}
export function encodeStop(pid: number): Buffer {
  return ints(0, OP_STOP, pid);
}
export function encodeHello(): Buffer {
  return ints(0, OP_HELLO);
}
export function encodeStats(): Buffer {
  return ints(0, OP_STATS);
}

/** The numbers of a stats reply ("plogsrvd stats k=v k=v ..."), or null. */
export function parseStats(text: string): Record<string, number> | null {
  if (!text.startsWith('plogsrvd stats ')) return null;
  const out: Record<string, number> = {};
  for (const kv of text.slice('plogsrvd stats '.length).split(' ')) {
    const m = /^([a-z_]+)=(-?\d+)$/.exec(kv);
    if (!m) return null;
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/**
 * The request a client sends to log pid every intervalMs: the legacy one
 * whenever the interval is whole minutes (so that plog 0.1.0 servers
 * understand it), the extension otherwise.
 */
export function encodeLog(pid: number, intervalMs: number): Buffer {
  if (intervalMs % 60_000 === 0 && intervalMs / 60_000 <= 0x7fffffff) return encodeLegacyLog(pid, intervalMs / 60_000);
  return encodeLogMs(pid, intervalMs);
}

/** A reply: NUL-terminated text of at most MAX_REPLY bytes in all. */
export function encodeReply(text: string): Buffer {
  const buf = Buffer.from(`${text}\0`, 'utf8');
  if (buf.length <= MAX_REPLY) return buf;
  buf[MAX_REPLY - 1] = 0;
  return buf.subarray(0, MAX_REPLY);
}

/** The text of a reply: up to the first NUL (a reply without one is taken whole). */
export function decodeReply(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul < 0 ? buf.length : nul).toString('utf8');
}

/** Parse an interval as plog's -i takes it: a bare number is minutes (as in
 * plog 0.1.0); suffixes ms, s, m, h. Returns milliseconds, or null. */
export function parseInterval(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 'm';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  const ms = Math.round(n * factor);
  return intervalOk(ms) ? ms : null;
}

/** Whole minutes up to INT32_MAX travel as plog 0.1.0's request; any other
 * interval as the extension's uint32 milliseconds. */
export function intervalOk(ms: number): boolean {
  if (!Number.isFinite(ms) || ms < MIN_INTERVAL_MS) return false;
  if (ms <= MAX_INTERVAL_MS) return true;
  return ms % 60_000 === 0 && ms / 60_000 <= 0x7fffffff;
}

/** Whether log lines carry seconds: whenever the interval is not whole
 * minutes (any sub-minute interval, and 90 s, whose times would
 * otherwise read 0:00, 0:01, 0:03); and milliseconds ('ms') whenever it is
 * not whole seconds (500 ms: two samples a second, which whole seconds
 * would give the same time). */
export function timesWithSeconds(intervalMs: number): TimeForm {
  if (intervalMs % 1000 !== 0) return 'ms';
  return intervalMs % 60_000 !== 0;
}

/** An interval in the words a person would use: 500ms, 10s, 2m, 1h, 90s. */
export function formatInterval(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
