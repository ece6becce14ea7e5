/**
 * /proc/PID/smaps_rollup and /proc/PID/smaps (proc(5)).
 *
 * Both have the same "Key:   N kB" lines: smaps_rollup once (a single
 * pseudo-mapping), smaps once per mapping. Summing every matching line
 * therefore works for both. Full smaps can be tens of megabytes (20,000
 * mappings x ~26 lines), so this scans with indexOf and charCodeAt: no split
 * of the whole text, no regex per line.
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

/**
 * Parse smaps_rollup or smaps text. The keys are matched with their colon,
 * so `Pss:` never matches `Pss_Anon:`/`Pss_File:`/`Pss_Dirty:` and `Swap:` never
 * matches `SwapPss:`. Empty text (a kernel thread has no mappings) gives zeros.
 * Throws ProcParseError when a value is not "N kB" (garbage, or a short read
 * that cut a line), when non-empty text has no `Rss:` line at all, or when
 * it does not end with '\n' (truncated).
 */
export function parseSmaps(text: string): SmapsSummary {
  const r: SmapsSummary = {
    rss: 0, pss: 0, swap: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0,
  };
  const len = text.length;
  let sawRss = false;
  let pos = 0;
  while (pos < len) {
    const c = text.charCodeAt(pos);
    let key: keyof SmapsSummary | null = null;
    let klen = 0;
    // Mapping header lines start with a lower-case hex digit, so only lines
    // starting with these upper-case letters can be the keys we want.
    if (c === C_R) {
      if (text.startsWith('Rss:', pos)) { key = 'rss'; klen = 4; sawRss = true; }
    } else if (c === C_P) {
      if (text.startsWith('Pss:', pos)) { key = 'pss'; klen = 4; }
      else if (text.startsWith('Private_Clean:', pos)) { key = 'privateClean'; klen = 14; }
      else if (text.startsWith('Private_Dirty:', pos)) { key = 'privateDirty'; klen = 14; }
    } else if (c === C_S) {
      if (text.startsWith('Swap:', pos)) { key = 'swap'; klen = 5; }
      else if (text.startsWith('Shared_Clean:', pos)) { key = 'sharedClean'; klen = 13; }
      else if (text.startsWith('Shared_Dirty:', pos)) { key = 'sharedDirty'; klen = 13; }
    }
    if (key !== null) {
      let p = pos + klen;
      while (p < len && text.charCodeAt(p) === C_SP) p++;
      const start = p;
      let v = 0;
      while (p < len) {
        const d = text.charCodeAt(p);
        if (d < C_0 || d > C_9) break;
        v = v * 10 + (d - C_0);
        p++;
      }
      if (p === start || !text.startsWith(' kB', p) ||
          (p + 3 < len && text.charCodeAt(p + 3) !== C_NL)) {
        const nl = text.indexOf('\n', pos);
        throw new ProcParseError('smaps', `bad line ${JSON.stringify(text.slice(pos, nl < 0 ? len : nl))}`);
      }
      r[key] += v;
      pos = p + 3;
      if (pos < len) pos++; // the '\n'
      continue;
    }
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    pos = nl + 1;
  }
  if (len > 0 && !sawRss) throw new ProcParseError('smaps', 'no Rss: line');
  if (len > 0 && text.charCodeAt(len - 1) !== C_NL) throw new ProcParseError('smaps', 'truncated (no final newline)');
  return r;
}
