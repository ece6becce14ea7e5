// What one local user can make strlogd and its loggers do (LIMITS in
// strlogd(8)). Every uid but root's has a token bucket of submissions on a
// monotonic clock; a message costs one token per started KiB its text can
// expand to, so that a uid's share is bounded in messages and in the bytes
// strerr writes for it. What the limits drop never got a sequence number,
// so it can be no gap: it is counted here per uid and said once a second in
// a message of the driver itself (Engine.notice()), to the loggers that
// would have had it.
import { performance } from 'node:perf_hooks';
import { MAX_TEXT, SL_CLASSES } from './constants.js';
import type { LoggerSlot, Reach } from './driver.js';

export const LIMITS = {
  /** Tokens a second per uid (root excepted), sustained ... */
  ratePerSecond: 200,
  /** ... and in a burst. */
  burst: 1000,
  /** A message costs one token per this many bytes of its expanded text (at least one). */
  tokenBytes: 1024,
  /** Longest expanded text of a message, bytes (root included). */
  maxText: MAX_TEXT,
  /** Connections to DIR/logger per uid (root excepted). */
  connectionsPerUid: 16,
};

/** The tokens a message costs. */
export function cost(bound: number): number {
  return Math.max(1, Math.ceil(bound / LIMITS.tokenBytes));
}

interface UidState {
  tokens: number;
  /** performance.now() of the last refill. */
  refilled: number;
  /** Dropped since the last report: over the rate, too long. */
  rate: number;
  long: number;
  /** Messages the uid's senders said they dropped, whose report was over the rate. */
  sender: number;
  /** The flags of what was dropped (its classes), and the tracers it would have reached. */
  flags: number;
  tracers: Set<LoggerSlot>;
  lastPid: number;
}

/** What was dropped for one uid since the last report. */
export interface Dropped {
  uid: number;
  rate: number;
  long: number;
  sender: number;
  flags: number;
  tracers: LoggerSlot[];
  lastPid: number;
}

export class Limiter {
  private readonly uids = new Map<number, UidState>();
  /** In all, since the start. */
  rateDropped = 0;
  longDropped = 0;

  private state(uid: number, now: number): UidState {
    let u = this.uids.get(uid);
    if (!u) {
      u = { tokens: LIMITS.burst, refilled: now, rate: 0, long: 0, sender: 0, flags: 0, tracers: new Set(), lastPid: 0 };
      this.uids.set(uid, u);
    }
    return u;
  }

  /** Whether a message of `uid` costing `tokens` may go in; takes them if so. */
  admit(uid: number, tokens: number, now = performance.now()): boolean {
    if (uid === 0) return true;
    const u = this.state(uid, now);
    u.tokens = Math.min(LIMITS.burst, u.tokens + ((now - u.refilled) * LIMITS.ratePerSecond) / 1000);
    u.refilled = now;
    if (u.tokens < tokens) return false;
    u.tokens -= tokens;
    return true;
  }

  /** Count a message dropped by a limit, and where it would have gone. */
  drop(uid: number, pid: number, why: 'rate' | 'long', r: Reach): void {
    const u = this.state(uid, performance.now());
    if (why === 'rate') {
      u.rate++;
      this.rateDropped++;
    } else {
      u.long++;
      this.longDropped++;
    }
    u.flags |= r.flags & SL_CLASSES;
    for (const t of r.tracers) u.tracers.add(t);
    u.lastPid = pid;
  }

  /** A sender's report of its own losses that the rate limit kept from being said at once. */
  senderLost(uid: number, pid: number, n: number, flags: number, tracers: readonly LoggerSlot[]): void {
    const u = this.state(uid, performance.now());
    u.sender += n;
    u.flags |= flags & SL_CLASSES;
    for (const t of tracers) u.tracers.add(t);
    u.lastPid = pid;
  }

  /** What was dropped since the last call; forgets the uids whose bucket is full again. */
  take(now = performance.now()): Dropped[] {
    const out: Dropped[] = [];
    for (const [uid, u] of this.uids) {
      if (u.rate + u.long + u.sender > 0) {
        out.push({ uid, rate: u.rate, long: u.long, sender: u.sender, flags: u.flags, tracers: [...u.tracers], lastPid: u.lastPid });
        u.rate = u.long = u.sender = u.flags = 0;
        u.tracers.clear();
      } else if (u.tokens + ((now - u.refilled) * LIMITS.ratePerSecond) / 1000 >= LIMITS.burst) {
        this.uids.delete(uid);
      }
    }
    return out;
  }
}
