/**
 * /proc/PID/smaps_rollup and /proc/PID/smaps (proc(5)).
 *
 * Both have the same "Key:   N kB" lines: smaps_rollup once (a single
 * pseudo-mapping), smaps once per mapping. Summing every matching line
 * therefore works for both. Full smaps can be tens of megabytes (20,000
 * mappings x ~26 lines), so this scans the bytes as read: no string, no
 * split, no regex per line.
 */
import { ProcParseError } from './errors.js';

/** Sums in kB. */
export interface SmapsSummary {
  rss: number;
  pss: number;
  swap: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
}

const C_P = 0x50; // 'P'
const C_R = 0x52; // 'R'
const C_S = 0x53; // 'S'
const C_SP = 0x20;
const C_0 = 0x30;
const C_9 = 0x39;
const C_NL = 0x0a;
const C_k = 0x6b;
const C_B = 0x42;

// The keys, as bytes, with their colon.
const K_RSS = Buffer.from('Rss:');
const K_PSS = Buffer.from('Pss:');
const K_PRIVATE_CLEAN = Buffer.from('Private_Clean:');
const K_PRIVATE_DIRTY = Buffer.from('Private_Dirty:');
const K_SWAP = Buffer.from('Swap:');
const K_SHARED_CLEAN = Buffer.from('Shared_Clean:');
const K_SHARED_DIRTY = Buffer.from('Shared_Dirty:');

/** Whether buf[pos, end) starts with key. */
function startsWith(buf: Uint8Array, pos: number, end: number, key: Uint8Array): boolean {
  const n = key.length;
  if (pos + n > end) return false;
  for (let i = 0; i < n; i++) if (buf[pos + i] !== key[i]) return false;
  return true;
}

/**
 * Parse the bytes of smaps_rollup or smaps (buf[0, length)) without making
 * a string of them. The keys are matched with their colon, so `Pss:` never
 * matches `Pss_Anon:`/`Pss_File:`/`Pss_Dirty:` and `Swap:` never matches
 * `SwapPss:`. Empty text (a kernel thread has no mappings) gives zeros.
 * Throws ProcParseError when a value is not "N kB" (garbage, or a short read
 * that cut a line), when non-empty text has no `Rss:` line at all, or when
 * it does not end with '\n' (truncated). With `into`, the sums are written
 * there (left as it was on a throw).
 */
export function parseSmapsBytes(buf: Uint8Array, length = buf.length, into?: SmapsSummary): SmapsSummary {
  let rss = 0;
  let pss = 0;
  let swap = 0;
  let sharedClean = 0;
  let sharedDirty = 0;
  let privateClean = 0;
  let privateDirty = 0;
  const len = length;
  let sawRss = false;
  let pos = 0;
  while (pos < len) {
    const c = buf[pos];
    // 0 none, 1 rss, 2 pss, 3 swap, 4 shared clean, 5 shared dirty, 6 private clean, 7 private dirty
    let key = 0;
    let klen = 0;
    // Mapping header lines start with a lower-case hex digit, so only lines
    // starting with these upper-case letters can be the keys we want.
    if (c === C_R) {
      if (startsWith(buf, pos, len, K_RSS)) {
        key = 1;
        klen = 4;
        sawRss = true;
      }
    } else if (c === C_P) {
      if (startsWith(buf, pos, len, K_PSS)) {
        key = 2;
        klen = 4;
      } else if (startsWith(buf, pos, len, K_PRIVATE_CLEAN)) {
        key = 6;
        klen = 14;
      } else if (startsWith(buf, pos, len, K_PRIVATE_DIRTY)) {
        key = 7;
        klen = 14;
      }
    } else if (c === C_S) {
      if (startsWith(buf, pos, len, K_SWAP)) {
        key = 3;
        klen = 5;
      } else if (startsWith(buf, pos, len, K_SHARED_CLEAN)) {
        key = 4;
        klen = 13;
      } else if (startsWith(buf, pos, len, K_SHARED_DIRTY)) {
        key = 5;
        klen = 13;
      }
    }
    if (key !== 0) {
      let p = pos + klen;
      while (p < len && buf[p] === C_SP) p++;
      const start = p;
      let v = 0;
      while (p < len) {
        const d = buf[p]!;
        if (d < C_0 || d > C_9) break;
        v = v * 10 + (d - C_0);
        p++;
      }
      // " kB", then the end of the line or of the text.
      if (p === start || p + 3 > len || buf[p] !== C_SP || buf[p + 1] !== C_k || buf[p + 2] !== C_B || (p + 3 < len && buf[p + 3] !== C_NL)) {
        let nl = buf.indexOf(C_NL, pos);
        if (nl < 0 || nl > len) nl = len;
        const line = Buffer.from(buf.buffer, buf.byteOffset + pos, nl - pos).toString('latin1');
        throw new ProcParseError('smaps', `bad line ${JSON.stringify(line)}`);
      }
      switch (key) {
        case 1:
          rss += v;
          break;
        case 2:
          pss += v;
          break;
        case 3:
          swap += v;
          break;
        case 4:
          sharedClean += v;
          break;
        case 5:
          sharedDirty += v;
          break;
        case 6:
          privateClean += v;
          break;
        default:
          privateDirty += v;
          break;
      }
      pos = p + 3;
      if (pos < len) pos++; // the '\n'
      continue;
    }
    const nl = buf.indexOf(C_NL, pos);
    if (nl < 0 || nl >= len) break;
    pos = nl + 1;
  }
  if (len > 0 && !sawRss) throw new ProcParseError('smaps', 'no Rss: line');
  if (len > 0 && buf[len - 1] !== C_NL) throw new ProcParseError('smaps', 'truncated (no final newline)');
  if (into) {
    into.rss = rss;
    into.pss = pss;
    into.swap = swap;
    into.sharedClean = sharedClean;
    into.sharedDirty = sharedDirty;
    into.privateClean = privateClean;
    into.privateDirty = privateDirty;
    return into;
  }
  return { rss, pss, swap, sharedClean, sharedDirty, privateClean, privateDirty };
}

/** Parse smaps_rollup or smaps text (latin1); see parseSmapsBytes(). */
export function parseSmaps(text: string): SmapsSummary {
  return parseSmapsBytes(Buffer.from(text, 'latin1'));
}
