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

/** Value of a lower/upper-case hex digit, or -1. */
function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Sum private writable mappings of /proc/PID/maps text. Never throws. */
export function privateWritableKb(text: string): MapsSummary {
  const len = text.length;
  // Empty is a complete read: kernel threads and zombies have no mappings.
  let complete = len === 0 || text.charCodeAt(len - 1) === 0x0a;
  let bytes = 0;
  let pos = 0;
  while (pos < len) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = len; // a cut last line: complete is already false
    // start
    let p = pos;
    let hi = 0;
    let lo = 0;
    let n = 0;
    let d: number;
    const s0 = p;
    while (p < nl && (d = hexVal(text.charCodeAt(p))) >= 0) p++;
    n = p - s0;
    if (n === 0 || n > 16 || text.charCodeAt(p) !== 0x2d /* - */) {
      complete = false;
      pos = nl + 1;
      continue;
    }
    const split = Math.max(s0, p - 8);
    for (let i = s0; i < split; i++) hi = hi * 16 + hexVal(text.charCodeAt(i));
    for (let i = split; i < p; i++) lo = lo * 16 + hexVal(text.charCodeAt(i));
    const startHi = hi;
    const startLo = lo;
    // end
    p++;
    const e0 = p;
    while (p < nl && hexVal(text.charCodeAt(p)) >= 0) p++;
    n = p - e0;
    // then ' ' and 4 perm characters
    if (n === 0 || n > 16 || p + 5 > nl || text.charCodeAt(p) !== 0x20) {
      complete = false;
      pos = nl + 1;
      continue;
    }
    hi = 0;
    lo = 0;
    const esplit = Math.max(e0, p - 8);
    for (let i = e0; i < esplit; i++) hi = hi * 16 + hexVal(text.charCodeAt(i));
    for (let i = esplit; i < p; i++) lo = lo * 16 + hexVal(text.charCodeAt(i));
    if (text.charCodeAt(p + 2) === 0x77 /* w */ && text.charCodeAt(p + 4) === 0x70 /* p */) {
      const size = (hi - startHi) * TWO32 + (lo - startLo);
      if (size < 0) {
        complete = false;
      } else {
        bytes += size;
      }
    }
    pos = nl + 1;
  }
  return { kb: Math.floor(bytes / 1024), complete };
}
