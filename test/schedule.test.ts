// plogsrvd's sampling schedule (src/plog/engine/schedule.ts): the heap of logs by
// due time behind its one timer, and the grid that lets logs share wakeups.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DueHeap, onGrid, SLOT_MS, type Scheduled } from '../src/plog/engine/schedule.js';

const entry = (id: number, due: number): Scheduled => ({ id, due, heapIndex: -1 });

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

describe('DueHeap', () => {
  test('pops by due time, then by id (registration order)', () => {
    const h = new DueHeap<Scheduled>();
    const xs = [entry(3, 50), entry(1, 50), entry(2, 10), entry(4, 70), entry(5, 10)];
    for (const x of xs) h.push(x);
    assert.equal(h.size, 5);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => h.pop()!.id),
      [2, 5, 1, 3, 4],
    );
    assert.equal(h.pop(), undefined);
    assert.equal(h.peek(), undefined);
    assert.ok(xs.every((x) => x.heapIndex === -1));
  });

  test('random pushes, removals and re-pushes keep the order (against a sort)', () => {
    const r = rng(7);
    const h = new DueHeap<Scheduled>();
    const live = new Set<Scheduled>();
    let id = 0;
    for (let step = 0; step < 5000; step++) {
      const k = r();
      if (k < 0.5 || live.size === 0) {
        const x = entry(id++, Math.floor(r() * 1000));
        h.push(x);
        live.add(x);
      } else if (k < 0.75) {
        const x = [...live][Math.floor(r() * live.size)]!;
        h.remove(x);
        live.delete(x);
        assert.equal(x.heapIndex, -1);
        h.remove(x); // twice: nothing
      } else {
        const x = h.pop()!;
        const want = [...live].sort((a, b) => a.due - b.due || a.id - b.id)[0]!;
        assert.equal(x, want);
        live.delete(x);
        // as the server does: the next sample of the same log goes back in
        x.due += 1 + Math.floor(r() * 100);
        h.push(x);
        live.add(x);
      }
      assert.equal(h.size, live.size);
    }
    const order = [...live].sort((a, b) => a.due - b.due || a.id - b.id);
    for (const want of order) assert.equal(h.pop(), want);
  });

  test('an entry cannot be in twice; removing the last one empties it', () => {
    const h = new DueHeap<Scheduled>();
    const x = entry(1, 5);
    h.push(x);
    assert.throws(() => h.push(x), /already scheduled/);
    h.remove(x);
    assert.equal(h.size, 0);
    h.push(x);
    assert.equal(h.peek(), x);
  });
});

describe('onGrid', () => {
  test('the first grid point at or after t', () => {
    assert.equal(SLOT_MS, 10);
    assert.equal(onGrid(0), 0);
    assert.equal(onGrid(1), 10);
    assert.equal(onGrid(10), 10);
    assert.equal(onGrid(1234.5), 1240);
    assert.equal(onGrid(7, 5), 10);
  });
  test('logs registered at different times with the same interval share grid points', () => {
    const a = onGrid(1003.2 + 1000);
    const b = onGrid(1008.9 + 1000);
    assert.equal(a, b);
    assert.equal((a + 5 * 1000) % SLOT_MS, 0);
  });
});
