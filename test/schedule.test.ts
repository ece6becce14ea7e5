// plogsrvd's sampling schedule (src/plog/engine/schedule.ts): the heap of logs by
// due time behind its one timer, and the grid that lets logs share wakeups.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DueHeap, onGrid, Schedule, SLOT_MS, type Scheduled } from '../src/plog/engine/schedule.js';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineBatch } from '../src/plog/log/logfile.js';
import { tempDir } from './helpers/plog.js';

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

describe('Schedule', () => {
  test('a turn samples every log that is due, then calls afterTurn once; a log that ended is not sampled again', async () => {
    const events: string[] = [];
    let turns = 0;
    let finished = (): void => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    const s = new Schedule<Scheduled & { intervalMs: number }>(
      (t) => {
        events.push(`sample ${t.id}`);
        return t.id !== 2; // 2's logging ends at its first sample
      },
      () => {
        events.push('after');
        if (++turns === 2) finished();
      },
    );
    const now = performance.now();
    for (const id of [1, 2, 3]) s.add({ id, due: now, heapIndex: -1, intervalMs: 30 });
    await done;
    s.stop();
    assert.deepEqual(events.slice(0, 4), ['sample 1', 'sample 2', 'sample 3', 'after']);
    assert.deepEqual(events.slice(4), ['sample 1', 'sample 3', 'after']);
    assert.equal(s.size, 2);
  });
});

describe('LineBatch', () => {
  test('lines are written when flushed, whole and in order; nothing before', () => {
    const path = join(tempDir(), 'host.csv');
    const fd = openSync(path, 'a');
    const b = new LineBatch(fd);
    b.add('1,a\n');
    b.add('2,b\n');
    assert.equal(readFileSync(path, 'latin1'), '');
    b.flush();
    b.flush(); // nothing more to write
    assert.equal(readFileSync(path, 'latin1'), '1,a\n2,b\n');
    assert.equal(b.error, null);
    closeSync(fd);
  });

  test('a batch is written when it grows past 256 kB, without waiting for the turn to end', () => {
    const path = join(tempDir(), 'host.csv');
    const fd = openSync(path, 'a');
    const b = new LineBatch(fd);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 255; i++) b.add(line);
    assert.equal(readFileSync(path).length, 0);
    b.add(line);
    assert.equal(readFileSync(path).length, 256 * 1024);
    closeSync(fd);
  });

  test('a failed write is kept in error (in words), not thrown, and the first one is kept', () => {
    const path = join(tempDir(), 'host.csv');
    const fd = openSync(path, 'w');
    closeSync(fd);
    const ro = openSync(path, 'r');
    const b = new LineBatch(ro);
    b.add('1,a\n');
    assert.doesNotThrow(() => b.flush());
    assert.equal(b.error, "Can't append logfile: Bad file descriptor");
    b.add('2,b\n');
    b.flush();
    assert.equal(b.error, "Can't append logfile: Bad file descriptor");
    closeSync(ro);
  });
});
