// The data part of a strlog message on the wire (strlogd(8), WIRE FORMAT):
// u16 format length, the format (UTF-8, no NUL), u8 argument count, then
// per argument u8 type (1: i64 integer; 2: u16 length and UTF-8 bytes of a
// string). Pure; decoders never throw on bad input.
import { Buffer } from 'node:buffer';
import { MAX_ARGS, MAX_FORMAT, MAX_STRING } from './constants.js';
import { expandedBound, formatOk, type StrlogArg } from './format.js';

const ARG_INT = 1;
const ARG_STRING = 2;

/**
 * Encode the data part: the format and its arguments. Throws TypeError or
 * RangeError for what the sender must not send (an argument that is not an
 * integer or a string, sizes over the limits); the format is not checked
 * here (see checkFormat).
 */
export function encodeData(fmt: string, args: readonly unknown[]): Buffer {
  if (args.length > MAX_ARGS) throw new RangeError(`strlog: at most ${MAX_ARGS} arguments, not ${args.length}`);
  const f = Buffer.from(fmt, 'utf8');
  if (f.length > MAX_FORMAT) throw new RangeError(`strlog: the format is ${f.length} bytes, more than ${MAX_FORMAT}`);
  let size = 3 + f.length;
  const parts: (Buffer | bigint)[] = [];
  for (const a of args) {
    if (typeof a === 'string') {
      const s = Buffer.from(a, 'utf8');
      if (s.length > MAX_STRING) throw new RangeError(`strlog: a string argument is ${s.length} bytes, more than ${MAX_STRING}`);
      parts.push(s);
      size += 3 + s.length;
    } else if (typeof a === 'bigint' || (typeof a === 'number' && Number.isInteger(a))) {
      const v = BigInt(a);
      if (v < -(1n << 63n) || v >= 1n << 64n) throw new RangeError(`strlog: integer argument ${v} does not fit in 64 bits`);
      parts.push(BigInt.asIntN(64, v));
      size += 9;
    } else {
      throw new TypeError(`strlog: arguments are integers or strings, not ${typeof a === 'number' ? String(a) : typeof a}`);
    }
  }
  const b = Buffer.allocUnsafe(size);
  b.writeUInt16LE(f.length, 0);
  f.copy(b, 2);
  let o = 2 + f.length;
  b[o++] = args.length;
  for (const p of parts) {
    if (typeof p === 'bigint') {
      b[o++] = ARG_INT;
      b.writeBigInt64LE(p, o);
      o += 8;
    } else {
      b[o++] = ARG_STRING;
      b.writeUInt16LE(p.length, o);
      p.copy(b, o + 2);
      o += 2 + p.length;
    }
  }
  return b;
}

/** What the decoder found in a data part. */
export interface DataPart {
  fmt: string;
  args: StrlogArg[];
}

/**
 * Decode a data part that must fill buf[start, end) exactly. Returns null
 * when it is malformed (sizes, types, trailing bytes, or a format that is
 * not a strlog format).
 */
export function decodeData(buf: Buffer, start = 0, end = buf.length): DataPart | null {
  if (end - start < 3) return null;
  const flen = buf.readUInt16LE(start);
  if (flen > MAX_FORMAT) return null;
  let o = start + 2 + flen;
  if (o + 1 > end) return null;
  const fmt = buf.toString('utf8', start + 2, o);
  const n = buf[o++]!;
  if (n > MAX_ARGS) return null;
  const args = new Array<StrlogArg>(n);
  for (let i = 0; i < n; i++) {
    if (o >= end) return null;
    const t = buf[o++];
    if (t === ARG_INT) {
      if (o + 8 > end) return null;
      const lo = buf.readUInt32LE(o);
      const hi = buf.readInt32LE(o + 4);
      // Safe integers without a BigInt; the rest exactly as bigint.
      args[i] = hi >= -0x200000 && hi < 0x200000 ? hi * 0x100000000 + lo : buf.readBigInt64LE(o);
      o += 8;
    } else if (t === ARG_STRING) {
      if (o + 2 > end) return null;
      const slen = buf.readUInt16LE(o);
      if (slen > MAX_STRING || o + 2 + slen > end) return null;
      args[i] = buf.toString('utf8', o + 2, o + 2 + slen);
      o += 2 + slen;
    } else {
      return null;
    }
  }
  if (o !== end) return null;
  if (!formatOk(fmt)) return null;
  return { fmt, args };
}

/**
 * Whether buf[start, end) is a well-formed data part, as decodeData would
 * find it, without building the arguments (the driver forwards the bytes
 * as they are and only needs to know they are good): -1 when it is not,
 * else the most bytes its text can expand to (expandedBound()).
 */
export function dataBound(buf: Buffer, start: number, end: number): number {
  if (end - start < 3) return -1;
  const flen = buf.readUInt16LE(start);
  if (flen > MAX_FORMAT) return -1;
  let o = start + 2 + flen;
  if (o + 1 > end) return -1;
  const n = buf[o++]!;
  if (n > MAX_ARGS) return -1;
  const shapes = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    if (o >= end) return -1;
    const t = buf[o++];
    if (t === ARG_INT) {
      o += 8;
      shapes[i] = -1;
    } else if (t === ARG_STRING) {
      if (o + 2 > end) return -1;
      const slen = buf.readUInt16LE(o);
      if (slen > MAX_STRING) return -1;
      o += 2 + slen;
      shapes[i] = slen;
    } else return -1;
    if (o > end) return -1;
  }
  if (o !== end) return -1;
  return expandedBound(buf.toString('utf8', start + 2, start + 2 + flen), flen, shapes);
}

/** dataBound() >= 0. */
export function validData(buf: Buffer, start: number, end: number): boolean {
  return dataBound(buf, start, end) >= 0;
}
