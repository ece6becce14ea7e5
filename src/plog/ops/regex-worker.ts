// The thread that matches the selections' regular expressions (plog -r)
// against command lines, so that plogsrvd's own thread, which answers every
// user and takes every sample, never runs an expression someone else wrote
// (src/plog/ops/matcher.ts). One question at a time: { id, pattern, text } in,
// { id, matched, ms } out (matched null and error set when the pattern does
// not compile here, which the server checked already).
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { compileLinear } from './linear-regex.js';

export interface MatchQuestion {
  id: number;
  pattern: string;
  text: string;
}

export interface MatchAnswer {
  id: number;
  matched: boolean | null;
  error?: string;
  /** How long compiling (when not cached) and matching took here. */
  ms: number;
}

/** Compiled patterns (a uid has at most 32 selections; a few uids at a time). */
const cache = new Map<string, RegExp | string>();
const CACHE_MAX = 256;

parentPort?.on('message', (q: MatchQuestion) => {
  const t0 = performance.now();
  let re = cache.get(q.pattern);
  if (re === undefined) {
    if (cache.size >= CACHE_MAX) cache.clear();
    re = compileLinear(q.pattern);
    cache.set(q.pattern, re);
  }
  const a: MatchAnswer = typeof re === 'string' ? { id: q.id, matched: null, error: re, ms: 0 } : { id: q.id, matched: re.test(q.text), ms: 0 };
  a.ms = performance.now() - t0;
  parentPort!.postMessage(a);
});
