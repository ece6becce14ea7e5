/** /proc/PID/status (proc(5)): the ids. */
import { ProcParseError } from './errors.js';

/** [real, effective, saved set, filesystem]. */
export type IdQuad = [number, number, number, number];

export interface StatusIds {
  uid: IdQuad;
  gid: IdQuad;
}

function ids(text: string, key: 'Uid' | 'Gid'): IdQuad {
  const v = statusField(text, key);
  if (v === undefined) throw new ProcParseError('status', `no ${key}: line`);
  const f = v.split(/\s+/);
  if (f.length < 4 || !f.slice(0, 4).every((s) => /^\d{1,10}$/.test(s))) {
    throw new ProcParseError('status', `bad ${key}: line ${JSON.stringify(v)}`);
  }
  return [Number(f[0]), Number(f[1]), Number(f[2]), Number(f[3])];
}

/**
 * Uid: and Gid: lines of /proc/PID/status. The server uses uid[0] (the real
 * uid) to decide whether a non-root requester owns the process.
 */
export function parseStatusIds(text: string): StatusIds {
  return { uid: ids(text, 'Uid'), gid: ids(text, 'Gid') };
}

/**
 * The value of one `Key:\tvalue` line of status (e.g. 'VmSize' -> '1234 kB'),
 * or undefined when absent.
 */
export function statusField(text: string, key: string): string | undefined {
  const tag = key + ':';
  let at: number;
  if (text.startsWith(tag)) at = 0;
  else {
    at = text.indexOf('\n' + tag);
    if (at < 0) return undefined;
    at += 1;
  }
  let nl = text.indexOf('\n', at);
  if (nl < 0) nl = text.length;
  return text.slice(at + tag.length, nl).trim();
}
