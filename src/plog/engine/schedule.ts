// plogsrvd's sampling schedule as data: a binary min-heap of the logs by
// the time their next sample is due, so that one timer serves them all and
// every log due at the same moment is sampled in the same wakeup. Pure: no
// clock, no timers (src/plog/server/server.ts drives it).

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
