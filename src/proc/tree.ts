// Process trees (issue 7, `plog --tree`): a process and its descendants,
// summed as prmon does. Children come from /proc/PID/task/TID/children
// (CONFIG_PROC_CHILDREN, every kernel since 3.5 with it) or, where that file
// is missing, from a scan of every /proc/N/stat's ppid. Pure parts (the walk,
// the sums, the parsers) take their inputs as arguments, for tests on fixtures.
import { readdirSync, readFileSync } from 'node:fs';
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

/** The children of pid from /proc/PID/task/TID/children (every thread's), or null when the kernel has no such file. */
export function childrenFromTasks(pid: number, procRoot = '/proc'): number[] | null {
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
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(pid)) return null;
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
 * The descendants of one logged process, their readers kept open between
 * samples (a descendant is recognised by pid and start time: a reused pid is
 * another process).
 */
export class TreeSampler {
  private readonly readers = new Map<number, { reader: ProcessReader; starttime: number | null }>();
  /** Processes summed into the last sample, the root included. */
  count = 1;

  constructor(
    readonly root: number,
    private readonly procRoot = '/proc',
  ) {}

  /** Add the descendants' values to the root's sample s (in place); returns how many processes it now holds. */
  addDescendants(s: RawSample): number {
    const pids = treeOf(this.root, this.procRoot);
    const now = new Set(pids);
    for (const [pid, r] of this.readers) {
      if (!now.has(pid)) {
        r.reader.close();
        this.readers.delete(pid);
      }
    }
    let count = 1;
    for (const pid of pids) {
      let r = this.readers.get(pid);
      if (!r) {
        try {
          r = { reader: ProcessReader.open(pid, { procRoot: this.procRoot }), starttime: null };
        } catch {
          continue; // ended already
        }
        this.readers.set(pid, r);
      }
      let d: RawSample;
      try {
        d = r.reader.sample();
      } catch {
        r.reader.close();
        this.readers.delete(pid);
        continue;
      }
      if (r.starttime === null) r.starttime = d.stat.starttime;
      else if (r.starttime !== d.stat.starttime) {
        // The pid was reused between the walk and the read: a new process, taken next time.
        r.reader.close();
        this.readers.delete(pid);
        continue;
      }
      addSample(s, d);
      count++;
    }
    this.count = count;
    return count;
  }

  close(): void {
    for (const r of this.readers.values()) r.reader.close();
    this.readers.clear();
  }
}
