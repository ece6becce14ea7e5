// trace_ids matching (strlog(7)): a tracer gets a message when one of its
// filters matches: mid and sid equal to the message's or -1, and the
// message's level at most the filter's, or the filter's level -1. Pure.
import type { TraceId } from './wire.js';

export type { TraceId };

/** Whether one filter takes a message. */
export function matchOne(t: TraceId, mid: number, sid: number, level: number): boolean {
  return (t.mid === -1 || t.mid === mid) && (t.sid === -1 || t.sid === sid) && (t.level === -1 || level <= t.level);
}

/** Whether any of the filters takes a message. */
export function matches(ids: readonly TraceId[], mid: number, sid: number, level: number): boolean {
  for (const t of ids) if (matchOne(t, mid, sid, level)) return true;
  return false;
}

/**
 * Parse strtrace's arguments: triples `mid sid level`, each a decimal
 * integer or `all` (-1); none means `all all all`. Returns the filters or
 * what is wrong.
 */
export function parseTriples(words: readonly string[]): { ok: true; ids: TraceId[] } | { ok: false; error: string } {
  if (words.length === 0) return { ok: true, ids: [{ mid: -1, sid: -1, level: -1 }] };
  if (words.length % 3 !== 0) return { ok: false, error: `arguments come in triples (mid sid level), got ${words.length} word${words.length === 1 ? '' : 's'}` };
  const ids: TraceId[] = [];
  const limits = { mid: [-1, 32767], sid: [-1, 0x7fffffff], level: [-1, 127] } as const;
  for (let i = 0; i < words.length; i += 3) {
    const t: Record<'mid' | 'sid' | 'level', number> = { mid: 0, sid: 0, level: 0 };
    for (const [j, field] of (['mid', 'sid', 'level'] as const).entries()) {
      const w = words[i + j]!;
      if (w === 'all') {
        t[field] = -1;
        continue;
      }
      if (!/^-?\d{1,10}$/.test(w)) return { ok: false, error: `bad ${field} '${w}' (a number or 'all')` };
      const v = Number(w);
      const [lo, hi] = limits[field];
      if (v < lo || v > hi) return { ok: false, error: `${field} ${w} out of range (${lo}..${hi}, or 'all')` };
      t[field] = v;
    }
    ids.push(t);
  }
  return { ok: true, ids };
}
