/** /proc/PID/statm (proc(5)): sizes in pages. */
import { ProcParseError } from './errors.js';
import { decimalAt } from './stat.js';

export interface Statm {
  /** Total program size (same as VmSize in status), pages. */
  size: number;
  /** Resident set size (VmRSS), pages. */
  resident: number;
  /** Resident shared pages (file-backed + shmem). */
  shared: number;
  /** Text (code), pages. */
  text: number;
  /** Data + stack, pages. */
  data: number;
}

const starts = new Int32Array(6);
const ends = new Int32Array(6);
const v = new Float64Array(6);

/**
 * Parse the bytes of /proc/PID/statm (buf[0, length)) without making a
 * string of them; with `into`, into that object (left as it was on a
 * throw). Throws ProcParseError on malformed text, as parseStatm().
 */
export function parseStatmBytes(buf: Uint8Array, length = buf.length, into?: Statm): Statm {
  let end = length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  // size resident shared text lib data dt; lib and dt are always 0 since 2.6.
  let n = 0;
  let fs = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || buf[i] === 0x20) {
      if (n < 6) {
        starts[n] = fs;
        ends[n] = i;
      }
      n++;
      fs = i + 1;
    }
  }
  if (n < 6) throw new ProcParseError('statm', `too few fields (${n}, need 6)`);
  for (let i = 0; i < 6; i++) {
    const x = buf[starts[i]!] === 0x2d /* - */ ? NaN : decimalAt(buf, starts[i]!, ends[i]!);
    if (Number.isNaN(x)) {
      const f = Buffer.from(buf.buffer, buf.byteOffset + starts[i]!, ends[i]! - starts[i]!).toString('latin1');
      throw new ProcParseError('statm', `field ${i + 1} is not a number: ${JSON.stringify(f)}`);
    }
    v[i] = x;
  }
  if (into) {
    into.size = v[0]!;
    into.resident = v[1]!;
    into.shared = v[2]!;
    into.text = v[3]!;
    into.data = v[5]!;
    return into;
  }
  return { size: v[0]!, resident: v[1]!, shared: v[2]!, text: v[3]!, data: v[5]! };
}

/** Parse the text of /proc/PID/statm. Throws ProcParseError on malformed text. */
export function parseStatm(text: string): Statm {
  return parseStatmBytes(Buffer.from(text, 'latin1'));
}
