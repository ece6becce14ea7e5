// Shared by the stress runs (test/stress/) and the hardening tests: what a
// daemon holds, read from /proc the way an operator would (VmRSS, the
// descriptors in /proc/PID/fd), a seeded random generator for reproducible
// runs, and plogsrvd's stats request. Imports nothing from node:test, so
// that the tools here also run as plain scripts.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../../src/native.js';
import { decodeReply, encodeStats, parseStats } from '../../src/plog/protocol.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** VmRSS of a process in kB, or null when it is gone. */
export function vmRssKb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** How many descriptors a process has open (ls /proc/PID/fd | wc -l), or null. */
export function fdCount(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Whether pid runs and is not a zombie. */
export function running(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const st = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return st !== 'Z' && st !== 'X';
  } catch {
    return false;
  }
}

/** Samples a process's VmRSS every `everyMs` until stopped. */
export class RssSampler {
  readonly samples: number[] = [];
  private timer: NodeJS.Timeout;
  constructor(
    readonly pid: number,
    everyMs = 100,
  ) {
    this.take();
    this.timer = setInterval(() => this.take(), everyMs);
  }
  private take(): void {
    const v = vmRssKb(this.pid);
    if (v !== null) this.samples.push(v);
  }
  stop(): { first: number; min: number; max: number; last: number; n: number } {
    clearInterval(this.timer);
    this.take();
    const s = this.samples;
    return { first: s[0] ?? 0, min: Math.min(...s), max: Math.max(...s), last: s[s.length - 1] ?? 0, n: s.length };
  }
}

/** xorshift128 on 32-bit words: a fast seeded generator (Math.random cannot be seeded). */
export class Rng {
  private x: number;
  private y: number;
  private z: number;
  private w: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
    this.y = 362436069;
    this.z = 521288629;
    this.w = 88675123 ^ (seed >>> 0);
    for (let i = 0; i < 16; i++) this.u32();
  }
  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.w;
  }
  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 0x100000000;
  }
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new RangeError('pick from an empty list');
    return a[this.int(a.length)]!;
  }
  /** A signed 32-bit integer. */
  i32(): number {
    return this.u32() | 0;
  }
}

/** The counters of plogsrvd's {0,19} stats reply, as statsText() in
 * src/plog/server/server.ts gives them. */
const STATS = ['pid', 'logs', 'timers', 'outboxes', 'queued', 'uids', 'requests', 'rate_limited', 'replies_dropped', 'unanswerable', 'logs_refused', 'pauses', 'paused', 'fds', 'rss_kb'] as const;
export type Stats = Record<(typeof STATS)[number], number>;

/** A stats reply's counters, or null when it is not a stats reply; throws
 * when one of the counters is not in it. */
export function statsOf(reply: string): Stats | null {
  const st = parseStats(reply);
  if (!st) return null;
  const lacking = STATS.filter((k) => st[k] === undefined);
  if (lacking.length) throw new Error(`a stats reply without ${lacking.join(', ')}: ${reply}`);
  return st as Stats;
}

let statsSeq = 0;

/** plogsrvd's {0,19} stats as numbers (from a socket bound in sockDir). */
export async function plogStats(dir: string, sockDir: string, timeoutMs = 5000): Promise<Stats> {
  const path = join(sockDir, `st${process.pid}-${++statsSeq}`);
  const s = new UnixSocket();
  try {
    s.bind(path);
    const end = Date.now() + timeoutMs;
    while (s.trySend(encodeStats(), join(dir, 'plogd_sock')) < 0) {
      if (Date.now() > end) throw new Error(`stats: ${dir}/plogd_sock stays full`);
      await sleep(2);
    }
    for (;;) {
      const d = s.recv(2048);
      if (d) {
        const st = statsOf(decodeReply(d.data));
        if (st) return st;
        continue;
      }
      if (Date.now() > end) throw new Error(`stats: no answer from ${dir}/plogd_sock in ${timeoutMs} ms`);
      await sleep(2);
    }
  } finally {
    s.close();
    rmSync(path, { force: true });
  }
}

/** Format a number with thousands separators. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
