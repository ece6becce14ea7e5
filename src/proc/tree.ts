// Process trees (`plog --tree`, plog(1)): a process and its descendants,
// summed as prmon does. Children come from /proc/PID/task/TID/children
// (CONFIG_PROC_CHILDREN, every kernel since 3.5 with it) or, where that file
// is missing, from a scan of every /proc/N/stat's ppid. Pure parts (the walk,
// the sums, the parsers) take their inputs as arguments, for tests on fixtures.
import { closeSync, constants as fsConstants, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { ProcessReader, type RawSample } from './reader.js';

/** The ppid of a /proc/PID/stat text: field 4, after the last ')' (a comm may hold ')' and spaces). */
export function parsePpid(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const f = stat.slice(close + 2).split(' ');
  const ppid = Number(f[1]);
  return Number.isInteger(ppid) && ppid >= 0 ? ppid : null;
}

/** The pids of a children file ("101 102 \n"). */
export function parseChildren(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((w) => /^\d+$/.test(w))
    .map(Number);
}

/** The descendants of root (not root itself), breadth first, each once even if the inputs loop. */
export function descendants(root: number, childrenOf: (pid: number) => readonly number[]): number[] {
  const seen = new Set<number>([root]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of childrenOf(p)) {
      if (seen.has(c)) continue;
      seen.add(c);
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** The children of pid from /proc/PID/task/TID/children (every thread's), or null when the kernel has no such file.
 * `self` is the process's pid when `pid` names its directory otherwise (a descriptor under /proc/self/fd). */
export function childrenFromTasks(pid: number, procRoot = '/proc', self = pid): number[] | null {
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${pid}/task/${tid}/children`, 'latin1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(self)) return null;
      continue; // the thread ended meanwhile
    }
    out.push(...parseChildren(text));
  }
  return out;
}

/** ppid -> children, from every /proc/N/stat. */
export function childrenByPpid(procRoot = '/proc'): Map<number, number[]> {
  const map = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return map;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    let ppid: number | null;
    try {
      ppid = parsePpid(readFileSync(`${procRoot}/${n}/stat`, 'latin1'));
    } catch {
      continue;
    }
    if (ppid === null) continue;
    const list = map.get(ppid);
    if (list) list.push(Number(n));
    else map.set(ppid, [Number(n)]);
  }
  return map;
}

/** Every descendant of root now: children files where the kernel has them, else a ppid scan. */
export function treeOf(root: number, procRoot = '/proc'): number[] {
  let byPpid: Map<number, number[]> | null = null;
  return descendants(root, (pid) => {
    if (!byPpid) {
      const c = childrenFromTasks(pid, procRoot);
      if (c !== null) return c;
      byPpid = childrenByPpid(procRoot);
    }
    return byPpid.get(pid) ?? [];
  });
}

/**
 * Add b's values to a (a process's to the tree's total): times, faults,
 * threads, sizes; PSS, swap and Priv&Write only while both are known (a
 * descendant whose smaps is unreadable makes the total's unknown too, rather
 * than wrong).
 */
export function addSample(a: RawSample, b: RawSample): void {
  const s = a.stat;
  const t = b.stat;
  s.utime += t.utime;
  s.stime += t.stime;
  s.cutime += t.cutime;
  s.cstime += t.cstime;
  s.minflt += t.minflt;
  s.majflt += t.majflt;
  s.cminflt += t.cminflt;
  s.cmajflt += t.cmajflt;
  s.numThreads += t.numThreads;
  s.vsize += t.vsize;
  s.rss += t.rss;
  const m = a.statm;
  const n = b.statm;
  m.size += n.size;
  m.resident += n.resident;
  m.shared += n.shared;
  m.text += n.text;
  m.data += n.data;
  if (a.smaps && b.smaps) {
    a.smaps.rss += b.smaps.rss;
    a.smaps.pss += b.smaps.pss;
    a.smaps.swap += b.smaps.swap;
    a.smaps.sharedClean += b.smaps.sharedClean;
    a.smaps.sharedDirty += b.smaps.sharedDirty;
    a.smaps.privateClean += b.smaps.privateClean;
    a.smaps.privateDirty += b.smaps.privateDirty;
  } else a.smaps = null;
  if (a.maps && b.maps) {
    a.maps.kb += b.maps.kb;
    a.maps.complete = a.maps.complete && b.maps.complete;
  } else a.maps = null;
}

/**
 * The processes the tree logs of a server sum, per uid, so that they count
 * against the uid's cap on logs (plogsrvd(1), REQUESTS, Limits): each
 * process a tree log sums (the logged process and every descendant) counts
 * as one log, since reading it at every sample costs what a log's sample
 * costs. The server counts its other logs (`others`).
 */
export class TreeLoad {
  /** Tree samplers open. */
  trees = 0;
  /** Processes they summed in their last samples (each tree's root included). */
  total = 0;
  private readonly byUid = new Map<number, number>();

  constructor(
    /** The uid's logs that are not tree logs. */
    private readonly others: (uid: number) => number,
    /** The cap on a uid's logs (LIMITS.logsPerUid). */
    readonly cap: () => number,
  ) {}

  /** Processes the tree logs of uid sum. */
  of(uid: number): number {
    return this.byUid.get(uid) ?? 0;
  }

  /** uid's logs as its cap counts them: its other logs and every process its tree logs sum. */
  all(uid: number): number {
    return this.others(uid) + this.of(uid);
  }

  /** How many processes a tree of uid that sums `mine` now may sum (its root included; at least 1). */
  room(uid: number, mine: number): number {
    return Math.max(1, this.cap() - this.others(uid) - (this.of(uid) - mine));
  }

  /** A tree of uid sums delta more processes (negative: fewer). */
  add(uid: number, delta: number): void {
    const n = this.of(uid) + delta;
    if (n > 0) this.byUid.set(uid, n);
    else this.byUid.delete(uid);
    this.total += delta;
  }
}

export interface TreeOptions {
  /** Whose log it is: unless root (0), only descendants whose /proc/PID
   * directory this uid owns are summed (and what is below them). */
  owner?: number;
  /** The server's accounting of tree processes per uid (none: no cap). */
  load?: TreeLoad;
  /** Said once when the cap starts (or stops) leaving processes out. */
  report?: (message: string) => void;
  procRoot?: string;
}

/** One descendant read once: its sample and its children (null when it is not to be summed). */
interface Read {
  sample: RawSample;
  children: number[] | null;
}

const O_DIRECTORY = fsConstants.O_DIRECTORY;

/**
 * The descendants of one logged process, summed into its samples. No
 * descriptor is kept for a descendant: at each sample the tree is walked
 * from the root, and each descendant's /proc/PID directory is opened,
 * checked (fstat: its owner, when the log's owner is not root), read through
 * that descriptor (/proc/self/fd/N/stat ...: the same process even if its
 * pid is reused meanwhile) with its children, and closed. So a tree holds
 * at most 6 descriptors during a sample, whatever its size. A descendant
 * whose parent is not the process it was found under (reparented, or a
 * reused pid) is left out, and so is one of another uid, with everything
 * below it; past the owner's room (TreeLoad) the rest of the tree is.
 */
export class TreeSampler {
  /** Processes summed into the last sample, the root included. */
  count = 1;
  /** Whether the last sample left processes out for the cap. */
  capped = false;
  private readonly owner: number;
  private readonly procRoot: string;
  private closed = false;

  constructor(
    readonly root: number,
    private readonly opts: TreeOptions = {},
  ) {
    this.owner = opts.owner ?? 0;
    this.procRoot = opts.procRoot ?? '/proc';
    opts.load?.add(this.owner, 1);
    if (opts.load) opts.load.trees++;
  }

  /** Add the descendants' values to the root's sample s (in place); returns how many processes it now holds. */
  addDescendants(s: RawSample): number {
    const room = this.opts.load ? this.opts.load.room(this.owner, this.count) : Infinity;
    let count = 1;
    let capped = false;
    let byPpid: Map<number, number[]> | null = null;
    const childrenOf = (pid: number, listed: number[] | null): number[] => {
      if (listed) return listed;
      byPpid ??= childrenByPpid(this.procRoot);
      return byPpid.get(pid) ?? [];
    };
    const seen = new Set<number>([this.root]);
    const queue: Array<[number, number[]]> = [[this.root, childrenOf(this.root, childrenFromTasks(this.root, this.procRoot))]];
    walk: for (let i = 0; i < queue.length; i++) {
      const [parent, kids] = queue[i]!;
      for (const pid of kids) {
        if (seen.has(pid)) continue;
        seen.add(pid);
        if (count >= room) {
          capped = true;
          break walk;
        }
        const d = this.readOnce(pid, parent);
        if (!d) continue;
        addSample(s, d.sample);
        count++;
        queue.push([pid, childrenOf(pid, d.children)]);
      }
    }
    this.opts.load?.add(this.owner, count - this.count);
    this.count = count;
    if (capped !== this.capped) {
      this.opts.report?.(
        capped ? `summing ${count} of its processes only: uid ${this.owner} is at its limit of ${this.opts.load?.cap()} logs and tree processes` : `summing all of its ${count} processes again`,
      );
    }
    this.capped = capped;
    return count;
  }

  /** Read pid, a child of parent, through a descriptor of its /proc/PID; null when it is gone, not the child of parent any more, or not the owner's. */
  private readOnce(pid: number, parent: number): Read | null {
    let dir: number;
    try {
      dir = openSync(`${this.procRoot}/${pid}`, fsConstants.O_RDONLY | O_DIRECTORY);
    } catch {
      return null; // ended already
    }
    try {
      // /proc/PID belongs to the process's euid (root when it is not
      // dumpable: a setuid program); fstat asks the kernel again each time.
      const mine = (): boolean => this.owner === 0 || fstatSync(dir).uid === this.owner;
      if (!mine()) return null;
      const at = `/proc/self/fd`;
      let reader: ProcessReader;
      try {
        reader = ProcessReader.open(dir, { procRoot: at });
      } catch {
        return null;
      }
      let sample: RawSample;
      try {
        sample = reader.sample();
      } catch {
        return null;
      } finally {
        reader.close();
      }
      if (sample.stat.ppid !== parent) return null;
      const children = childrenFromTasks(dir, at, pid);
      // Its uid may have changed while it was read (an exec of a setuid program).
      if (!mine()) return null;
      return { sample, children };
    } catch {
      return null;
    } finally {
      closeSync(dir);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.load?.add(this.owner, -this.count);
    if (this.opts.load) this.opts.load.trees--;
  }
}
