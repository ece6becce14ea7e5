/** /proc/PID/statm (proc(5)): sizes in pages. */
import { ProcParseError } from './errors.js';

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

/** Parse the text of /proc/PID/statm. Throws ProcParseError on malformed text. */
export function parseStatm(text: string): Statm {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  const f = t.split(' ');
  // size resident shared text lib data dt; lib and dt are always 0 since 2.6.
  if (f.length < 6) throw new ProcParseError('statm', `too few fields (${f.length}, need 6)`);
  const v: number[] = [];
  for (let i = 0; i < 6; i++) {
    if (!/^\d{1,20}$/.test(f[i])) {
      throw new ProcParseError('statm', `field ${i + 1} is not a number: ${JSON.stringify(f[i])}`);
    }
    v.push(Number(f[i]));
  }
  return { size: v[0], resident: v[1], shared: v[2], text: v[3], data: v[5] };
}
