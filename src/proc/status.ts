/** /proc/PID/status (proc(5)): the ids. */
import { ProcParseError } from './errors.js';

/** [real, effective, saved set, filesystem]. */
export type IdQuad = [number, number, number, number];

export interface StatusIds {
  uid: IdQuad;
  gid: IdQuad;
  /** Supplementary groups (the Groups: line; empty when none). */
  groups: number[];
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
 * Uid:, Gid: and Groups: lines of /proc/PID/status. plogsrvd uses uid[0]
 * (the real uid) to decide whether a non-root requester owns the process;
 * strlogd the groups to decide who belongs to its module group.
 */
export function parseStatusIds(text: string): StatusIds {
  return { uid: ids(text, 'Uid'), gid: ids(text, 'Gid'), groups: groups(text) };
}

function groups(text: string): number[] {
  // Every kernel since 2.6 writes it; without it there are none to report.
  const v = statusField(text, 'Groups');
  if (v === undefined) return [];
  const f = v.split(/\s+/).filter(Boolean);
  if (!f.every((s) => /^\d{1,10}$/.test(s))) throw new ProcParseError('status', `bad Groups: line ${JSON.stringify(v)}`);
  return f.map(Number);
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
