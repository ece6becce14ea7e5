// Process trees (issue 7): src/proc/tree.ts on a fixture /proc (children
// files, and the ppid scan where they are missing), the sums, and on real
// process trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addSample, childrenByPpid, childrenFromTasks, descendants, parseChildren, parsePpid, treeOf, TreeSampler } from '../src/proc/tree.js';
import { ProcessReader, type RawSample } from '../src/proc/reader.js';
import { sleep, spawnChild, tempDir, waitFor } from './helpers/plog.js';

const stat = (pid: number, comm: string, ppid: number): string =>
  `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194304 10 0 0 0 5 3 0 0 20 0 1 0 100 1000000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;

/** A fixture /proc: 1 -> 10 -> (11 -> 13, 12); 1 -> 20; optionally without children files. */
function fixture(withChildren: boolean): string {
  const root = tempDir();
  const procs: Array<[number, string, number, number[]]> = [
    [1, 'init', 0, [10, 20]],
    [10, 'sh', 1, [11, 12]],
    [11, 'a (b) c', 10, [13]],
    [12, 'x', 10, []],
    [13, 'y', 11, []],
    [20, 'z', 1, []],
  ];
  for (const [pid, comm, ppid, kids] of procs) {
    mkdirSync(join(root, String(pid), 'task', String(pid)), { recursive: true });
    writeFileSync(join(root, String(pid), 'stat'), stat(pid, comm, ppid));
    if (withChildren) writeFileSync(join(root, String(pid), 'task', String(pid), 'children'), kids.map((k) => `${k} `).join(''));
  }
  // A second thread of 10 that started 12 (children are per thread).
  if (withChildren) {
    writeFileSync(join(root, '10', 'task', '10', 'children'), '11 ');
    mkdirSync(join(root, '10', 'task', '15'));
    writeFileSync(join(root, '10', 'task', '15', 'children'), '12 ');
  }
  mkdirSync(join(root, 'self'));
  return root;
}

test('parsers: ppid after the last parenthesis; children lists', () => {
  assert.equal(parsePpid(stat(11, 'a (b) c', 10)), 10);
  assert.equal(parsePpid(stat(5, ') S 99 (', 4)), 4);
  assert.equal(parsePpid('garbage'), null);
  assert.deepEqual(parseChildren('101 102 \n'), [101, 102]);
  assert.deepEqual(parseChildren(''), []);
});

test('descendants: breadth first, each once, loops and the root left out', () => {
  const kids: Record<number, number[]> = { 1: [2, 3], 2: [4], 3: [4, 1], 4: [2] };
  assert.deepEqual(descendants(1, (p) => kids[p] ?? []), [2, 3, 4]);
  assert.deepEqual(descendants(9, () => []), []);
});

test('a fixture /proc: children files (every thread\'s) and, without them, the ppid scan give the same tree', () => {
  const a = fixture(true);
  assert.deepEqual(childrenFromTasks(10, a)?.sort(), [11, 12]);
  assert.deepEqual(treeOf(10, a).sort(), [11, 12, 13]);
  assert.deepEqual(treeOf(1, a).sort((x, y) => x - y), [10, 11, 12, 13, 20]);
  const b = fixture(false);
  assert.equal(childrenFromTasks(10, b), null);
  assert.deepEqual([...childrenByPpid(b).get(10)!].sort(), [11, 12]);
  assert.deepEqual(treeOf(10, b).sort(), [11, 12, 13]);
  assert.deepEqual(treeOf(13, b), []);
});

function sample(v: number, smaps = true): RawSample {
  return {
    timeMs: 0,
    stat: { pid: 1, comm: 'x', state: 'S', ppid: 0, minflt: v, cminflt: v, majflt: v, cmajflt: v, utime: v, stime: v, cutime: v, cstime: v, priority: 20, nice: 0, numThreads: v, starttime: 5, vsize: v, rss: v },
    statm: { size: v, resident: v, shared: v, text: v, data: v },
    smaps: smaps ? { rss: v, pss: v, swap: v, sharedClean: v, sharedDirty: v, privateClean: v, privateDirty: v } : null,
    maps: { kb: v, complete: true },
  };
}

test('addSample: times, faults, threads and sizes add up; PSS unknown when a part is', () => {
  const a = sample(1);
  addSample(a, sample(2));
  addSample(a, sample(4));
  assert.equal(a.stat.utime + a.stat.stime, 14);
  assert.deepEqual([a.stat.numThreads, a.stat.vsize, a.statm.resident, a.smaps!.pss, a.maps!.kb, a.stat.minflt], [7, 7, 7, 7, 7, 7]);
  assert.equal(a.stat.state, 'S');
  addSample(a, sample(1, false));
  assert.equal(a.smaps, null);
});

test('TreeSampler on a real tree: sh with three sleeps; the count follows as they end', async () => {
  const sh = spawnChild('sh', ['-c', 'sleep 300 & sleep 300 & sleep 1 & wait']);
  await waitFor('three children', () => treeOf(sh.pid!).length === 3);
  const reader = ProcessReader.open(sh.pid!);
  const t = new TreeSampler(sh.pid!);
  try {
    const alone = reader.sample();
    const s = reader.sample();
    assert.equal(t.addDescendants(s), 4);
    assert.equal(t.count, 4);
    assert.ok(s.statm.resident > alone.statm.resident * 2, `${s.statm.resident} vs ${alone.statm.resident}`);
    assert.equal(s.stat.numThreads, 4);
    await sleep(1500);
    assert.equal(t.addDescendants(reader.sample()), 3);
  } finally {
    t.close();
    reader.close();
  }
});
