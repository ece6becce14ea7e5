// plogsrvd's sampling schedule: a binary min-heap of the logs by the time
// their next sample is due (DueHeap, pure: no clock, no timers), and the
// Schedule that drives it with one timer for them all, so that every log due
// at the same moment is sampled in the same wakeup.
import { performance } from 'node:perf_hooks';

export interface Scheduled {
  /** When the next sample is due (performance.now() milliseconds). */
  due: number;
  /** Order among equal due times: registration order. */
  id: number;
  /** Where this entry is in the heap's array, -1 when not in it (kept by the heap). */
  heapIndex: number;
}

/**
 * Sample times sit on a grid of this many milliseconds: a new log's first
 * sample is put on the next grid point after registration + interval, so
 * that logs whose interval is a multiple of it (10 ms, 1 s, 1 min...) share
 * wakeups instead of each having its own. The schedule stays drift-free:
 * the Nth sample is due at that first time + (N - 1) x interval.
 */
export const SLOT_MS = 10;

/** The first grid point at or after t. */
export function onGrid(t: number, slot = SLOT_MS): number {
  return Math.ceil(t / slot) * slot;
}

const before = (a: Scheduled, b: Scheduled): boolean => a.due < b.due || (a.due === b.due && a.id < b.id);

export class DueHeap<T extends Scheduled> {
  private readonly a: T[] = [];

  get size(): number {
    return this.a.length;
  }

  /** The entry due first, or undefined. */
  peek(): T | undefined {
    return this.a[0];
  }

  push(x: T): void {
    if (x.heapIndex >= 0) throw new Error('already scheduled');
    x.heapIndex = this.a.length;
    this.a.push(x);
    this.up(x.heapIndex);
  }

  /** Take the entry due first out of the heap. */
  pop(): T | undefined {
    const a = this.a;
    const top = a[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return top;
  }

  /** Take x out of the heap (nothing when it is not in it). */
  remove(x: T): void {
    const i = x.heapIndex;
    if (i < 0 || this.a[i] !== x) return;
    this.removeAt(i);
  }

  private removeAt(i: number): void {
    const a = this.a;
    const x = a[i]!;
    const last = a.pop()!;
    x.heapIndex = -1;
    if (last === x) return;
    a[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  private up(i: number): void {
    const a = this.a;
    const x = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = a[p]!;
      if (!before(x, y)) break;
      a[i] = y;
      y.heapIndex = i;
      i = p;
    }
    a[i] = x;
    x.heapIndex = i;
  }

  private down(i: number): void {
    const a = this.a;
    const n = a.length;
    const x = a[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && before(a[c + 1]!, a[c]!)) c++;
      const y = a[c]!;
      if (!before(y, x)) break;
      a[i] = y;
      y.heapIndex = i;
      i = c;
    }
    a[i] = x;
    x.heapIndex = i;
  }
}

/** setTimeout's limit; longer waits are chained. */
const MAX_TIMER_MS = 0x7fffffff;
/** One sampling turn lasts at most this long before requests get a turn. */
const TURN_MS = 20;

/** The one sampling timer over a DueHeap of logs sampled every intervalMs. */
export class Schedule<T extends Scheduled & { intervalMs: number }> {
  private readonly heap = new DueHeap<T>();
  private timer: NodeJS.Timeout | null = null;
  /** The due time the timer was set for. */
  private timerAt = Infinity;
  /** In turn(): it sets the timer itself when done. */
  private turning = false;
  private stopped = false;

  /**
   * sample(t): take t's sample now; false when t's logging ended (then t is
   * not rescheduled). afterTurn: called when a turn that sampled ends (lines gathered
   * through it are written then).
   */
  constructor(
    private readonly sample: (t: T) => boolean,
    private readonly afterTurn: () => void = () => {},
  ) {}

  /** Logs scheduled (each one's next sample counts as its timer). */
  get size(): number {
    return this.heap.size;
  }

  add(t: T): void {
    this.heap.push(t);
    this.arm();
  }

  remove(t: T): void {
    this.heap.remove(t);
    if (!this.turning) this.arm();
  }

  /** No more samples; the timer is cleared. */
  stop(): void {
    this.stopped = true;
    this.arm();
  }

  /** Set the one sampling timer for the sample due first (if not set for it already). */
  private arm(): void {
    const next = this.heap.peek();
    const at = next ? next.due : Infinity;
    if (this.timer && at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (!next || this.stopped) return;
    const wait = Math.max(0, at - performance.now());
    this.timer = setTimeout(() => this.turn(), Math.min(wait, MAX_TIMER_MS));
  }

  /**
   * Sample every log that is due, in due order. Drift-free: the Nth sample
   * is due at start + N x interval, whatever the time each sample took; a
   * sample more than an interval late is skipped. A turn that runs longer
   * than TURN_MS leaves the rest to the next one, right after pending I/O.
   */
  private turn(): void {
    this.timer = null;
    this.timerAt = Infinity;
    this.turning = true;
    let sampled = 0;
    try {
      const start = performance.now();
      for (;;) {
        const t = this.heap.peek();
        if (!t || this.stopped) break;
        const now = performance.now();
        // Timers may fire up to a millisecond before their time.
        if (now < t.due - 1) break; // not yet, or a chained long wait
        if (now - start > TURN_MS) break;
        this.heap.pop();
        sampled++;
        if (!this.sample(t)) continue;
        t.due += t.intervalMs;
        const after = performance.now();
        if (after > t.due) t.due += Math.ceil((after - t.due) / t.intervalMs) * t.intervalMs;
        this.heap.push(t);
      }
    } finally {
      this.turning = false;
      // A timer may fire before its time by as long as the event loop's
      // clock was stale when it was set (libuv caches it at each turn of
      // the loop): such a turn samples nothing and is only re-armed.
      if (sampled > 0) this.afterTurn();
      this.arm();
    }
  }
}
