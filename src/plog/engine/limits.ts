// What one client may make plogsrvd hold or do: the caps (LIMITS, the
// figures of REQUESTS in plogsrvd(1)) and the per-uid token buckets that
// rate-limit requests and charge the server time a uid's requests and
// selections take. Pure accounting on the monotonic clock (performance.now()):
// the socket front (src/plog/server/) asks it whether a datagram is admitted
// and says the answer to the sender.
import { performance } from 'node:perf_hooks';

/**
 * What one client can make the server hold or do (see REQUESTS in
 * plogsrvd(1)). Every uid but root's has a token bucket of requests; root is
 * not limited (it can stop or trace the daemon anyway), except by the cap on
 * logs, which keeps a runaway root client from using up the descriptors.
 */
export const LIMITS = {
  /** Requests per second per uid (root excepted), sustained ... */
  ratePerSecond: 200,
  /** ... and in a burst. */
  burst: 1000,
  /** Logs being written for one requester uid (root included). */
  logsPerUid: 1024,
  /** Replies queued for the clients of one uid (root excepted); more are dropped. */
  queuedPerUid: 20_000,
  /** Replies queued for one client socket. */
  queuedPerClient: 10_000,
  /** Client sockets of one uid (root excepted) with replies waiting. */
  clientsPerUid: 64,
  /** How long replies wait for a client that reads none of them, ms. */
  patienceMs: 5000,
  /** Replies queued in all: over it the server stops reading requests until
   * half of them are gone (nothing dropped: senders wait). */
  queuedHigh: 100_000,
  /** Datagrams handled in one go before timers (samples) get their turn. */
  perDrain: 256,
  /** A request that keeps the server busy longer costs one more request per
   * this many milliseconds (so one uid gets at most about a fifth of the
   * server's time). */
  msPerRequest: 1,
};

/** Per-uid accounting of requests. */
interface UidState {
  tokens: number;
  /** performance.now() of the last refill. */
  refilled: number;
  /** Requests dropped by the rate limit since the last report. */
  limited: number;
  /** When the last "Rate limited" reply went to this uid (one per second). */
  noticeAt: number;
}

/** What admit() decided: handle the request, drop it, or drop it and tell the sender why. */
export type Admission = 'admit' | 'drop' | 'tell';

/** The token buckets of every uid but root's. */
export class RateLimits {
  private readonly uids = new Map<number, UidState>();
  /** Requests dropped by the rate limit, in all. */
  limited = 0;

  /** uids with a bucket. */
  get size(): number {
    return this.uids.size;
  }

  /** Whether a request of uid is handled. A dropped one is counted; 'tell'
   * when its sender may hear why (canHear: it has an address and a reply
   * would not be taken for something else), at most once a second. */
  admit(uid: number, canHear: () => boolean): Admission {
    if (uid === 0) return 'admit';
    const u = this.refilled(uid);
    const now = u.refilled;
    if (u.tokens >= 1) {
      u.tokens -= 1;
      return 'admit';
    }
    u.limited++;
    this.limited++;
    if (now - u.noticeAt >= 1000 && canHear()) {
      u.noticeAt = now;
      return 'tell';
    }
    return 'drop';
  }

  /** Server time spent for uid outside its requests (its selections' scans
   * and regular expressions, src/plog/ops/select.ts), charged as a request's
   * time is; whether uid has budget left (root always has). */
  spend(uid: number, ms: number): boolean {
    if (uid === 0) return true;
    this.charge(uid, ms / LIMITS.msPerRequest);
    return this.refilled(uid).tokens >= 1;
  }

  /** What a request of uid cost beyond the one token admit() took: the
   * milliseconds it kept the server busy, less one. */
  charged(uid: number, ms: number): void {
    if (uid !== 0) this.charge(uid, ms / LIMITS.msPerRequest - 1);
  }

  /** Once a second: report what the limits dropped, forget idle uids. */
  housekeeping(error: (message: string) => void): void {
    const now = performance.now();
    for (const [uid, u] of this.uids) {
      if (u.limited > 0) {
        error(`rate limited uid ${uid}: ${u.limited} requests dropped (over ${LIMITS.ratePerSecond}/s, burst ${LIMITS.burst})`);
        u.limited = 0;
      }
      const full = u.tokens + ((now - u.refilled) * LIMITS.ratePerSecond) / 1000 >= LIMITS.burst;
      if (full && now - u.noticeAt >= 1000) this.uids.delete(uid);
    }
  }

  private charge(uid: number, tokens: number): void {
    if (tokens <= 0) return;
    const u = this.uidState(uid);
    u.tokens = Math.max(-LIMITS.burst, u.tokens - tokens);
  }

  private uidState(uid: number): UidState {
    let u = this.uids.get(uid);
    if (!u) {
      u = { tokens: LIMITS.burst, refilled: performance.now(), limited: 0, noticeAt: -Infinity };
      this.uids.set(uid, u);
    }
    return u;
  }

  /** uid's bucket, filled for the time since it was last. */
  private refilled(uid: number): UidState {
    const u = this.uidState(uid);
    const now = performance.now();
    u.tokens = Math.min(LIMITS.burst, u.tokens + ((now - u.refilled) * LIMITS.ratePerSecond) / 1000);
    u.refilled = now;
    return u;
  }
}
