// Process trees (plog --tree): src/proc/tree.ts on a fixture /proc (children
// files, and the ppid scan where they are missing), the sums, and on real
// process trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addSample, childrenByPpid, childrenFromTasks, descendants, parseChildren, parsePpid, treeOf, TreeLoad, TreeSampler } from '../src/proc/tree.js';
import { ProcessReader, type RawSample } from '../src/proc/reader.js';
import { ints, lines, plog, raw, run, Server, spawnChild, spawnSleep, tempDir, waitFor } from './helpers/plog.js';
import { statsOf } from './stress/lib.js';
import { LIMITS } from '../src/plog/engine/limits.js';

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
  assert.deepEqual(
    descendants(1, (p) => kids[p] ?? []),
    [2, 3, 4],
  );
  assert.deepEqual(
    descendants(9, () => []),
    [],
  );
});

test("a fixture /proc: children files (every thread's) and, without them, the ppid scan give the same tree", () => {
  const a = fixture(true);
  assert.deepEqual(childrenFromTasks(10, a)?.sort(), [11, 12]);
  assert.deepEqual(treeOf(10, a).sort(), [11, 12, 13]);
  assert.deepEqual(
    treeOf(1, a).sort((x, y) => x - y),
    [10, 11, 12, 13, 20],
  );
  const b = fixture(false);
  assert.equal(childrenFromTasks(10, b), null);
  assert.deepEqual([...childrenByPpid(b).get(10)!].sort(), [11, 12]);
  assert.deepEqual(treeOf(10, b).sort(), [11, 12, 13]);
  assert.deepEqual(treeOf(13, b), []);
});

function sample(v: number, smaps = true): RawSample {
  return {
    timeMs: 0,
    stat: {
      pid: 1,
      comm: 'x',
      state: 'S',
      ppid: 0,
      minflt: v,
      cminflt: v,
      majflt: v,
      cmajflt: v,
      utime: v,
      stime: v,
      cutime: v,
      cstime: v,
      priority: 20,
      nice: 0,
      numThreads: v,
      starttime: 5,
      vsize: v,
      rss: v,
    },
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

test("TreeSampler on a fixture /proc: each descendant read once through its directory; another uid's left out with what is below it; a child that is not its parent's any more left out; the cap", () => {
  for (const withChildren of [true, false]) {
    const root = fixture(withChildren);
    for (const pid of [1, 10, 11, 12, 13, 20]) writeFileSync(join(root, String(pid), 'statm'), '100 50 10 5 0 20 0\n');
    const sum = (opts: ConstructorParameters<typeof TreeSampler>[1]): number => {
      const t = new TreeSampler(10, { procRoot: root, ...opts });
      try {
        return t.addDescendants(sample(1));
      } finally {
        t.close();
      }
    };
    assert.equal(sum({}), 4, `10, 11, 12, 13 (children files: ${withChildren})`);
    // 11 belongs to another uid than the log's owner: 11 and 13 (below it) are left out.
    for (const pid of [10, 12, 13]) chownSync(join(root, String(pid)), 65534, 65534);
    assert.equal(sum({ owner: 65534 }), 2);
    assert.equal(sum({ owner: 0 }), 4, "root's log sums every descendant");
    // A cap of 3 processes for the uid (its one other log counted): the root and one descendant.
    const load = new TreeLoad(
      () => 1,
      () => 3,
    );
    const t = new TreeSampler(10, { procRoot: root, load });
    assert.equal(load.of(0), 1);
    assert.equal(t.addDescendants(sample(1)), 2);
    assert.deepEqual([load.of(0), load.total, load.trees, t.capped], [2, 2, 1, true]);
    t.close();
    assert.deepEqual([load.of(0), load.total, load.trees], [0, 0, 0]);
    // 12 listed as 10's child but its stat says another parent (reparented, or a reused pid).
    if (withChildren) {
      writeFileSync(join(root, '12', 'stat'), stat(12, 'x', 1));
      assert.equal(sum({}), 3);
    }
  }
});

/** Until pid's three children are sleeps, asleep: a child caught between
 * fork and exec, or still loading its libraries, would not have its own
 * pages yet. */
async function threeSleepsAsleep(pid: number): Promise<void> {
  const asleep = (child: number): boolean => {
    try {
      return readFileSync(`/proc/${child}/stat`, 'latin1').includes('(sleep) S ');
    } catch {
      return false;
    }
  };
  await waitFor('three sleeping children', () => {
    const kids = treeOf(pid);
    return kids.length === 3 && kids.every(asleep);
  });
}

test('TreeSampler on a real tree: sh with three sleeps; the count follows as they end', async () => {
  const sh = spawnChild('sh', ['-c', 'sleep 300 & sleep 300 & sleep 2 & wait']);
  await threeSleepsAsleep(sh.pid!);
  const reader = ProcessReader.open(sh.pid!);
  const t = new TreeSampler(sh.pid!);
  try {
    const alone = reader.sample();
    const s = reader.sample();
    assert.equal(t.addDescendants(s), 4);
    assert.equal(t.count, 4);
    assert.ok(s.statm.resident > alone.statm.resident * 2, `${s.statm.resident} vs ${alone.statm.resident}`);
    assert.equal(s.stat.numThreads, 4);
    await waitFor('the short sleep gone', () => t.addDescendants(reader.sample()) === 3, { timeout: 6000 });
    assert.equal(t.count, 3);
  } finally {
    t.close();
    reader.close();
  }
});

test('plog --tree: the process and its descendants summed, a Procs column that follows them; the readers read it', async () => {
  const { plog, Server, lines } = await import('./helpers/plog.js');
  const { parseLogLine } = await import('../src/plog/log/lineparse.js');
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v'] });
  const sh = spawnChild('sh', ['-c', 'sleep 300 & sleep 300 & sleep 1.5 & wait']);
  await threeSleepsAsleep(sh.pid!);
  const r = await plog(['-d', srv.dir, '-p', String(sh.pid), '-i', '100ms', '--tree']);
  assert.equal(r.code, 0, r.stderr);
  const log = r.stdout.trim().replace(/^Log file: /, '');
  const [, header, sample] = lines(log);
  assert.ok(header !== undefined && sample !== undefined, `a header and a sample in ${log}`);
  assert.match(header, /^Date {3}Time +State .* Priv&Write Procs$/);
  const procsOf = (l: string) => Number(l.split(/ +/).pop());
  assert.equal(procsOf(sample), 4);
  const rec = parseLogLine(sample);
  assert.ok(rec, sample);
  assert.equal(rec.threads, 4);
  // The column lines up under its header.
  assert.equal(sample.lastIndexOf(' ') + 1, header.indexOf('Procs'));
  await waitFor('the short sleep gone from the sums', () => procsOf(lines(log).at(-1)!) === 3, { timeout: 5000 });
  assert.equal(parseLogLine(lines(log).at(-1)!)!.threads, 3);
  const rep = await plog(['report', log]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /samples: +\d+/);
  await srv.kill();
});

test('plog --tree: usage, an old server (exit 14), the request on the wire', async () => {
  const { fakeServer, plog, tempDir: td } = await import('./helpers/plog.js');
  const { decodeRequest, encodeLogTree } = await import('../src/plog/protocol.js');
  assert.deepEqual(decodeRequest(encodeLogTree(42, 1500)), { kind: 'log', pid: 42, intervalMs: 1500, legacy: false, tree: true });
  for (const args of [
    ['-p', '1', '-i', '1', '--tree', '--format', 'csv'],
    ['--tree', '-l'],
    ['-n', 'x', '-i', '1', '--tree'],
  ]) {
    const r = await plog(args);
    assert.equal(r.code, 11, `${args.join(' ')}: ${r.stderr}`);
  }
  const dir = td();
  const sock = fakeServer(dir, () => 'Unrecognized request.');
  try {
    const r = await plog(['-d', dir, '-p', '1', '-i', '1', '--tree']);
    assert.deepEqual([r.code, r.stderr], [14, `plog: the plogsrvd on ${dir} is too old to log a process tree: it cannot do --tree. Log each process with -p PID.\n`]);
  } finally {
    sock.close();
  }
});

/** The Procs column of a tree log's last line (NaN before the first sample). */
const lastProcs = (log: string): number => Number(lines(log).at(-1)!.split(/ +/).pop());

async function fds(dir: string): Promise<number> {
  const st = statsOf(await raw().ask(dir, ints(0, 19)));
  assert.ok(st, 'a stats reply');
  return st.fds;
}

test("attack: nobody's tree logs over hundreds of children hold no descriptor per descendant; the descendants count against nobody's logs; root is still served", async (t) => {
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world', '-v'] });
  // The soft limit a service gets by default (systemd's LimitNOFILE=1024).
  const lim = await run('prlimit', ['--pid', String(srv.pid), '--nofile=1024:1024']);
  assert.equal(lim.code, 0, lim.stderr);
  const before = await fds(srv.dir);
  const N = 300;
  const sh = spawnChild('sh', ['-c', `i=0; while [ $i -lt ${N} ]; do sleep 300 & i=$((i+1)); done; wait`], { asNobody: true });
  await waitFor(`${N} children`, () => treeOf(sh.pid!).length === N, { timeout: 60_000, interval: 200 });
  // Four tree logs of them: 4 x 301 processes, over nobody's 1024.
  const logs: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await plog(['-d', srv.dir, '-p', String(sh.pid), '-i', '200ms', '--tree'], { asNobody: true });
    assert.equal(r.code, 0, r.stderr);
    logs.push(r.stdout.trim().replace(/^Log file: /, ''));
  }
  for (const log of logs) await waitFor(`samples in ${log}`, () => lines(log).length >= 4, { timeout: 30_000 });
  // No descriptor kept per descendant: the daemon holds what it held, and 5 or so a log.
  const now = await fds(srv.dir);
  assert.ok(now <= before + 6 * logs.length, `${now} descriptors open (${before} before the 4 tree logs)`);
  // The descendants count: the four logs sum at most nobody's 1024 processes; the first ones have all theirs.
  await waitFor('the sums settled', () => logs.reduce((n, l) => n + lastProcs(l), 0) === LIMITS.logsPerUid, { timeout: 30_000 });
  assert.equal(lastProcs(logs[0]!), N + 1);
  t.diagnostic(`descriptors: ${before} before, ${now} with the 4 tree logs; Procs: ${logs.map(lastProcs).join(' ')}`);
  // nobody has no room left for another log ...
  const more = spawnSleep({ asNobody: true });
  let r = await plog(['-d', srv.dir, '-p', String(more.pid), '-i', '1m'], { asNobody: true });
  assert.equal(r.code, 15, r.stdout);
  assert.match(r.stderr, /Too many logs for uid 65534 \(1024\)/);
  // ... and root is served, its log saved in the state.
  const mine = spawnSleep();
  r = await plog(['-d', srv.dir, '-p', String(mine.pid), '-i', '1m']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor("root's log in the state", () => readFileSync(join(srv.dir, 'plogsrvd.state'), 'utf8').includes(`"pid":${mine.pid},`));
  await srv.kill();
});

test("attack: a setuid-root child in nobody's tree is not summed into nobody's log (root's tree log of the same process has it)", async (t) => {
  const d = tempDir(0o755);
  const exe = join(d, 'suidsleep');
  copyFileSync('/bin/sleep', exe);
  chmodSync(exe, 0o4755);
  const sh = spawnChild('sh', ['-c', `sleep 300 & ${exe} 300 & wait`], { asNobody: true });
  let suid = 0;
  await waitFor('two children, one of them setuid root', () => {
    const kids = treeOf(sh.pid!);
    suid = kids.find((k) => readFileSync(`/proc/${k}/cmdline`, 'latin1').startsWith(exe)) ?? 0;
    return kids.length === 2 && suid > 0 && readFileSync(`/proc/${suid}/stat`, 'latin1').includes('(suidsleep) S ');
  });
  if (statSync(`/proc/${suid}`).uid !== 0) return t.skip(`${d} is on a nosuid file system`);
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world', '-v'] });
  let r = await plog(['-d', srv.dir, '-p', String(sh.pid), '-i', '100ms', '--tree'], { asNobody: true });
  assert.equal(r.code, 0, r.stderr);
  const theirs = r.stdout.trim().replace(/^Log file: /, '');
  r = await plog(['-d', srv.dir, '-p', String(sh.pid), '-i', '100ms', '--tree']);
  assert.equal(r.code, 0, r.stderr);
  const roots = r.stdout.trim().replace(/^Log file: /, '');
  await waitFor('samples', () => lines(theirs).length >= 5 && lines(roots).length >= 5);
  assert.deepEqual(
    lines(theirs)
      .slice(2)
      .map((l) => Number(l.split(/ +/).pop())),
    lines(theirs)
      .slice(2)
      .map(() => 2),
    lines(theirs).join('\n'),
  );
  assert.equal(lastProcs(roots), 3);
  await srv.kill();
});
