/**
 * /proc/PID/maps (proc(5)): private writable address space.
 *
 * A line is `start-end perms offset dev inode [path]` with start and end in
 * lower-case hex. The path is last and the kernel escapes '\n' in it, so
 * each mapping is exactly one line. Up to ~20,000 lines are parsed per
 * sample: hex is parsed by hand, no regex per line.
 *
 * Numbers: addresses are parsed as two halves (the hex digits above and the
 * last 8 hex digits below bit 32), so the difference end-start is exact for
 * any 64-bit address (including the vsyscall page at 0xffffffffff600000 and
 * 5-level-paging user space above 2^47) as long as a single mapping is
 * smaller than 2^53 bytes, which every real mapping is.
 */

export interface MapsSummary {
  /** Sum of (end - start) of mappings with perms 'w' at [1] and 'p' at [3], in kB. */
  kb: number;
  /**
   * False when the text does not end with '\n' (a short read) or a line could
   * not be parsed: the caller then leaves Priv&Write out for this sample.
   */
  complete: boolean;
}

const TWO32 = 4294967296;

/** Value of each byte as a lower/upper-case hex digit, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x61 + i] = HEX[0x41 + i] = 10 + i;

/** The value of the hex digits buf[a, b) as two halves: hi (digits above
 * the last 8) and lo (the last 8), so that differences stay exact. */
function hexHalves(buf: Uint8Array, a: number, b: number, out: Float64Array, at: number): void {
  const split = Math.max(a, b - 8);
  let hi = 0;
  let lo = 0;
  for (let i = a; i < split; i++) hi = hi * 16 + HEX[buf[i]!]!;
  for (let i = split; i < b; i++) lo = lo * 16 + HEX[buf[i]!]!;
  out[at] = hi;
  out[at + 1] = lo;
}
const halves = new Float64Array(4);

/**
 * Sum the private writable mappings of /proc/PID/maps from its bytes
 * (buf[0, length)), without making a string of them: per line, the two hex
 * addresses and the permission bytes 'w' and 'p'; the rest of the line is
 * skipped with a byte search. Addresses of up to 13 hex digits (52 bits:
 * all of user space with 4-level paging) are summed as they are read, in
 * one pass; longer ones (the vsyscall page, 5-level paging) in two halves.
 * With `into`, the result is written there. Never throws.
 */
export function privateWritableKbBytes(buf: Uint8Array, length = buf.length, into?: MapsSummary): MapsSummary {
  const len = length;
  // Empty is a complete read: kernel threads and zombies have no mappings.
  let complete = len === 0 || buf[len - 1] === 0x0a;
  let bytes = 0;
  let pos = 0;
  while (pos < len) {
    // start: hex digits, '-'
    let p = pos;
    let start = 0;
    let d: number;
    while (p < len && (d = HEX[buf[p]!]!) >= 0) {
      start = start * 16 + d;
      p++;
    }
    const s1 = p;
    if (s1 === pos || s1 - pos > 16 || p >= len || buf[p] !== 0x2d /* - */) {
      complete = false;
      pos = nextLine(buf, pos, len);
      continue;
    }
    // end: hex digits, then ' ' and 4 permission bytes on the same line
    p++;
    const e0 = p;
    let end = 0;
    while (p < len && (d = HEX[buf[p]!]!) >= 0) {
      end = end * 16 + d;
      p++;
    }
    const n = p - e0;
    if (n === 0 || n > 16 || p + 5 > len || buf[p] !== 0x20 || !sameLine(buf, p + 1, p + 5)) {
      complete = false;
      pos = nextLine(buf, pos, len);
      continue;
    }
    if (buf[p + 2] === 0x77 /* w */ && buf[p + 4] === 0x70 /* p */) {
      let size: number;
      if (s1 - pos <= 13 && n <= 13) {
        size = end - start;
      } else {
        hexHalves(buf, pos, s1, halves, 0);
        hexHalves(buf, e0, p, halves, 2);
        size = (halves[2]! - halves[0]!) * TWO32 + (halves[3]! - halves[1]!);
      }
      if (size < 0) {
        complete = false;
      } else {
        bytes += size;
      }
    }
    pos = nextLine(buf, p + 5, len);
  }
  if (into) {
    into.kb = Math.floor(bytes / 1024);
    into.complete = complete;
    return into;
  }
  return { kb: Math.floor(bytes / 1024), complete };
}

/** No '\n' in buf[a, b). */
function sameLine(buf: Uint8Array, a: number, b: number): boolean {
  for (let i = a; i < b; i++) if (buf[i] === 0x0a) return false;
  return true;
}

/** The position after the next '\n' at or after pos (len when there is none). */
function nextLine(buf: Uint8Array, pos: number, len: number): number {
  const nl = buf.indexOf(0x0a, pos);
  return nl < 0 || nl >= len ? len : nl + 1;
}

/** Sum private writable mappings of /proc/PID/maps text (latin1). Never throws. */
export function privateWritableKb(text: string): MapsSummary {
  return privateWritableKbBytes(Buffer.from(text, 'latin1'));
}
