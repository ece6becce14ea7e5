// The wire format between strlog() callers, strlogd and the loggers: pure
// encoders and decoders, documented in strlogd(8) (WIRE FORMAT). Every
// integer is little-endian. Decoders never throw on bad input: they say what
// is wrong, and the driver drops (and counts) what it cannot decode.
//
// Submissions (senders -> DIR/submit, SOCK_DGRAM): a datagram holds one or
// more records back to back (a sender packs what it had to queue):
//
//   off size  record
//   0   u16   length of the whole record
//   2   u8    version (1)
//   3   u8    interface: 1 module (strlog()), 2 user (putmsg), 3 not a
//             message but a loss report: the sender dropped `token`
//             messages (their flags or-ed in flags) before they reached
//             the driver; empty data part
//   4   u16   flags (SL_*)
//   6   i16   mid
//   8   i16   sid
//   10  i8    level
//   11  u8    facility number, 0 for the default (kern or user)
//   12  u32   token: the acknowledgement's, for a record sent on a
//             connection (SUBMIT below); ignored in a datagram
//   16  ...   data part
//
//   data part: u16 format length, the format (UTF-8, no NUL), u8 argument
//   count, then per argument u8 type (1: i64 integer; 2: u16 length and
//   UTF-8 bytes of a string).
//
// Acknowledgement (driver -> the connection the record came on), 32 bytes:
//   u8 version, u8 type (2), u8 result (0, 1, or 2: dropped by a limit), u8 interface used, u32
//   token, u16 flags as delivered, u16 0, i32 mid, i32 sid, u32 error seq,
//   u32 trace seq, u32 console seq (0: not in that class).
//
// Frames on a logger's connection (DIR/logger, SOCK_STREAM), both ways:
//   u32 length of what follows, u8 type, body.
//   logger -> driver: 1 REGISTER (u8 role: 1 I_TRCLOG, 2 I_ERRLOG,
//     3 I_CONSLOG; for I_TRCLOG one or more trace_ids of i32 mid, i32 sid,
//     i32 level), 2 STATS (no body), 3 SUBMIT (one submission record, to
//     be acknowledged on this connection).
//   driver -> logger: 0x81 REPLY (i32 errno, 0 for success), 0x82 DELIVERY
//     (log_ctl below, then the data part as submitted), 0x83 STATS (JSON),
//     0x84 ACK (the acknowledgement of a SUBMIT).
//
//   log_ctl: u8 class (1 trace, 2 error, 3 console), u16 flags, i32 mid,
//   i32 sid, i8 level, u8 0, u16 pri, u32 seq_no, u32 ltime (ticks since boot),
//   u32 ttime low and u32 ttime high (seconds since 1970).

import { Buffer } from 'node:buffer';
import { MAX_REQUEST, MAX_TRACE_IDS, type LogClass } from './constants.js';
import { dataBound, decodeData, encodeData, type DataPart } from './wire-data.js';

export { dataBound, decodeData, encodeData, validData, type DataPart } from './wire-data.js';

export const VERSION = 1;
export const IFACE_MODULE = 1;
export const IFACE_USER = 2;
/** Not a message: the sender's report of messages it dropped before they
 * reached the driver (count in the token field, their flags or-ed). */
export const IFACE_LOSS = 3;

export const SUB_HEADER = 16;
export const ACK_SIZE = 32;
export const ACK_TYPE = 2;

export const F_REGISTER = 1;
export const F_STATS = 2;
export const F_SUBMIT = 3;
export const F_REPLY = 0x81;
export const F_DELIVERY = 0x82;
export const F_STATS_REPLY = 0x83;
export const F_ACK = 0x84;

/** Wire role byte of a registration (the low byte of I_TRCLOG & co). */
export const ROLE_TRACE = 1;
export const ROLE_ERROR = 2;
export const ROLE_CONSOLE = 3;

export const CLASS_BYTE: Record<LogClass, number> = { trace: ROLE_TRACE, error: ROLE_ERROR, console: ROLE_CONSOLE };
const CLASS_OF: Record<number, LogClass> = { [ROLE_TRACE]: 'trace', [ROLE_ERROR]: 'error', [ROLE_CONSOLE]: 'console' };

/** Bytes of the log_ctl part of a delivery (after the frame's length and type). */
export const CTL_SIZE = 31;
/** Bytes before the data part in a delivery frame. */
export const DELIVERY_HEADER = 5 + CTL_SIZE;

// ---------------------------------------------------------------------------
// Submissions.

export interface SubmissionHeader {
  iface: number;
  flags: number;
  mid: number;
  sid: number;
  level: number;
  facility: number;
  token: number;
}

/** One submission record: header and data part. */
export function encodeSubmission(h: SubmissionHeader, data: Buffer): Buffer {
  const len = SUB_HEADER + data.length;
  if (len > 0xffff) throw new RangeError(`strlog: message of ${len} bytes is too long`);
  const b = Buffer.allocUnsafe(len);
  b.writeUInt16LE(len, 0);
  b[2] = VERSION;
  b[3] = h.iface;
  b.writeUInt16LE(h.flags & 0xffff, 4);
  b.writeInt16LE(h.mid, 6);
  b.writeInt16LE(h.sid, 8);
  b.writeInt8(h.level, 10);
  b[11] = h.facility;
  b.writeUInt32LE(h.token >>> 0, 12);
  data.copy(b, SUB_HEADER);
  return b;
}

const NO_DATA = encodeData('', []);

/** The record that tells the driver of `count` messages dropped in the sender, with these flags. */
export function encodeLossReport(count: number, flags: number): Buffer {
  return encodeSubmission({ iface: IFACE_LOSS, flags, mid: 0, sid: 0, level: 0, facility: 0, token: Math.min(count, 0xffffffff) }, NO_DATA);
}

/** A record as the driver found it in a datagram. */
export interface Submission extends SubmissionHeader {
  /** The data part, within the datagram (forwarded to loggers as it is). */
  data: Buffer;
  /** The most bytes its text can expand to (dataBound()). */
  bound: number;
}

/** Result of taking one record off a datagram. */
export type RecordResult =
  | { ok: true; sub: Submission; next: number }
  /** A bad record; next is where the following one starts, or -1 when the
   * rest of the datagram cannot be split into records any more. */
  | { ok: false; next: number };

/** Decode the record at `off` of a submission datagram. */
export function decodeRecord(buf: Buffer, off: number): RecordResult {
  if (buf.length - off < 2) return { ok: false, next: -1 };
  const len = buf.readUInt16LE(off);
  if (len < SUB_HEADER + 3 || off + len > buf.length) return { ok: false, next: -1 };
  const next = off + len;
  if (buf[off + 2] !== VERSION) return { ok: false, next };
  const iface = buf[off + 3]!;
  if (iface !== IFACE_MODULE && iface !== IFACE_USER && iface !== IFACE_LOSS) return { ok: false, next };
  const bound = dataBound(buf, off + SUB_HEADER, next);
  if (bound < 0) return { ok: false, next };
  return {
    ok: true,
    next,
    sub: {
      bound,
      iface,
      flags: buf.readUInt16LE(off + 4),
      mid: buf.readInt16LE(off + 6),
      sid: buf.readInt16LE(off + 8),
      level: buf.readInt8(off + 10),
      facility: buf[off + 11]!,
      token: buf.readUInt32LE(off + 12),
      data: buf.subarray(off + SUB_HEADER, next),
    },
  };
}

// ---------------------------------------------------------------------------
// Acknowledgements.

export interface Ack {
  token: number;
  /** 1: every class left in flags got it; 0: nothing was logged; 2: a limit of strlogd dropped it. */
  result: 0 | 1 | 2;
  iface: number;
  flags: number;
  mid: number;
  sid: number;
  seq: { error: number; trace: number; console: number };
}

export function encodeAck(a: Ack): Buffer {
  const b = Buffer.alloc(ACK_SIZE);
  b[0] = VERSION;
  b[1] = ACK_TYPE;
  b[2] = a.result;
  b[3] = a.iface;
  b.writeUInt32LE(a.token >>> 0, 4);
  b.writeUInt16LE(a.flags, 8);
  b.writeInt32LE(a.mid, 12);
  b.writeInt32LE(a.sid, 16);
  b.writeUInt32LE(a.seq.error >>> 0, 20);
  b.writeUInt32LE(a.seq.trace >>> 0, 24);
  b.writeUInt32LE(a.seq.console >>> 0, 28);
  return b;
}

export function decodeAck(b: Buffer): Ack | null {
  if (b.length !== ACK_SIZE || b[0] !== VERSION || b[1] !== ACK_TYPE || b[2]! > 2) return null;
  return {
    result: b[2] as 0 | 1 | 2,
    iface: b[3]!,
    token: b.readUInt32LE(4),
    flags: b.readUInt16LE(8),
    mid: b.readInt32LE(12),
    sid: b.readInt32LE(16),
    seq: { error: b.readUInt32LE(20), trace: b.readUInt32LE(24), console: b.readUInt32LE(28) },
  };
}

// ---------------------------------------------------------------------------
// Frames on a logger's connection.

/** A frame: its type and body (a view into the received bytes). */
export interface Frame {
  type: number;
  body: Buffer;
}

/** Frame a body: u32 length, u8 type, body. */
export function frame(type: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.allocUnsafe(5 + body.length);
  b.writeUInt32LE(1 + body.length, 0);
  b[4] = type;
  body.copy(b, 5);
  return b;
}

/**
 * Splits a byte stream into frames. push() returns the complete frames so
 * far; a length of 0 or over `max` makes the stream bad (error set, nothing
 * more returned): the peer is not speaking this protocol.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  error: string | null = null;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): Frame[] {
    if (this.error) return [];
    const b = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    let o = 0;
    while (b.length - o >= 4) {
      const len = b.readUInt32LE(o);
      if (len < 1 || len > this.max) {
        this.error = `bad frame length ${len}`;
        this.buf = Buffer.alloc(0);
        return out;
      }
      if (b.length - o - 4 < len) break;
      out.push({ type: b[o + 4]!, body: b.subarray(o + 5, o + 4 + len) });
      o += 4 + len;
    }
    // Keep the partial frame in a buffer of its own (not a view pinning a
    // large chunk).
    this.buf = o === b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(o));
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buf.length;
  }
}

/** One trace_ids: -1 in a field matches any value. */
export interface TraceId {
  mid: number;
  sid: number;
  level: number;
}

export type Role = 'error' | 'trace' | 'console';

export function encodeRegister(role: Role, ids: readonly TraceId[] = []): Buffer {
  const body = Buffer.alloc(1 + 12 * ids.length);
  body[0] = CLASS_BYTE[role];
  ids.forEach((t, i) => {
    body.writeInt32LE(t.mid, 1 + 12 * i);
    body.writeInt32LE(t.sid, 5 + 12 * i);
    body.writeInt32LE(t.level, 9 + 12 * i);
  });
  return frame(F_REGISTER, body);
}

/** A registration as decoded, or the errno name it is refused with. */
export type Registration = { ok: true; role: Role; ids: TraceId[] } | { ok: false; errno: 'EINVAL' };

/**
 * Decode a REGISTER body. I_TRCLOG needs one or more whole trace_ids (no
 * partial one); I_ERRLOG and I_CONSLOG take no data; anything else is EINVAL
 * (an ioctl that cannot be recognized).
 */
export function decodeRegister(body: Buffer): Registration {
  if (body.length < 1) return { ok: false, errno: 'EINVAL' };
  const role = CLASS_OF[body[0]!];
  if (!role) return { ok: false, errno: 'EINVAL' };
  const rest = body.length - 1;
  if (role !== 'trace') return rest === 0 ? { ok: true, role, ids: [] } : { ok: false, errno: 'EINVAL' };
  if (rest === 0 || rest % 12 !== 0 || rest / 12 > MAX_TRACE_IDS) return { ok: false, errno: 'EINVAL' };
  const ids: TraceId[] = [];
  for (let o = 1; o < body.length; o += 12) ids.push({ mid: body.readInt32LE(o), sid: body.readInt32LE(o + 4), level: body.readInt32LE(o + 8) });
  return { ok: true, role, ids };
}

export function encodeReply(errno: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(errno, 0);
  return frame(F_REPLY, b);
}

export function decodeReply(body: Buffer): number | null {
  return body.length === 4 ? body.readInt32LE(0) : null;
}

/** The log_ctl of a delivered message. */
export interface LogCtl {
  cls: LogClass;
  flags: number;
  mid: number;
  sid: number;
  level: number;
  pri: number;
  seq: number;
  /** Ticks (1/100 s) since boot, monotonic (SVR4's lbolt). */
  ltime: number;
  /** Seconds since 1970. */
  ttime: number;
}

/** A delivery frame: header, then the data part as it was submitted. */
export function encodeDelivery(c: LogCtl, data: Buffer): Buffer {
  const b = Buffer.allocUnsafe(DELIVERY_HEADER + data.length);
  b.writeUInt32LE(1 + CTL_SIZE + data.length, 0);
  b[4] = F_DELIVERY;
  b[5] = CLASS_BYTE[c.cls];
  b.writeUInt16LE(c.flags, 6);
  b.writeInt32LE(c.mid, 8);
  b.writeInt32LE(c.sid, 12);
  b.writeInt8(c.level, 16);
  b[17] = 0;
  b.writeUInt16LE(c.pri, 18);
  b.writeUInt32LE(c.seq >>> 0, 20);
  b.writeUInt32LE(c.ltime >>> 0, 24);
  b.writeUInt32LE(c.ttime % 0x100000000, 28);
  b.writeUInt32LE(Math.floor(c.ttime / 0x100000000), 32);
  data.copy(b, DELIVERY_HEADER);
  return b;
}

/** Set the seq_no of a delivery frame made by encodeDelivery() (a tracer's own number). */
export function setDeliverySeq(frame: Buffer, seq: number): void {
  frame.writeUInt32LE(seq >>> 0, 20);
}

/** A delivered message: log_ctl and the decoded data part. */
export interface LogMessage extends LogCtl, DataPart {}

/** Decode a DELIVERY body (the frame without its length and type). */
export function decodeDelivery(body: Buffer): LogMessage | null {
  if (body.length < CTL_SIZE + 3) return null;
  const cls = CLASS_OF[body[0]!];
  if (!cls) return null;
  const data = decodeData(body, CTL_SIZE, body.length);
  if (!data) return null;
  return {
    cls,
    flags: body.readUInt16LE(1),
    mid: body.readInt32LE(3),
    sid: body.readInt32LE(7),
    level: body.readInt8(11),
    pri: body.readUInt16LE(13),
    seq: body.readUInt32LE(15),
    ltime: body.readUInt32LE(19),
    ttime: body.readUInt32LE(23) + body.readUInt32LE(27) * 0x100000000,
    fmt: data.fmt,
    args: data.args,
  };
}

/** Largest frame a logger accepts from the driver. */
export const MAX_DELIVERY = 1 + CTL_SIZE + 0x10000;
export { MAX_REQUEST };
