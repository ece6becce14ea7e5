// Which tasks were created since a previous look, without listing /proc.
//
// The kernel hands out pids in increasing order from a cursor that wraps
// at pid_max (alloc_pid()'s idr_alloc_cyclic: the next free number at or
// after the cursor); /proc/loadavg's last field is the last pid it handed
// out in the reader's pid namespace, and /proc/stat's "processes" counts
// every task (process or thread) created since boot (proc(5)). So the tasks
// created between two looks have pids in (last then, last now], wrapped at
// pid_max; unless more tasks were created than that range holds: the cursor
// went all the way round, or tasks of another pid namespace were counted.
// Then only a listing of /proc can tell.
//
// Listing /proc costs the kernel about 2.7 µs a process (proc_pid_readdir
// fills a dentry for each); looking at the pids handed out costs nothing
// when none were, and a read of each new task's stat when some were.
import { readlinkSync } from 'node:fs';
import { readPath } from './reader.js';
import { parseStatBytes } from './stat.js';

/** Where the kernel's pid cursor was at a look, and how many tasks had been created. */
export interface PidCursor {
  /** The last pid handed out (/proc/loadavg's fifth field). */
  lastPid: number;
  /** Tasks created since boot (/proc/stat's "processes"). */
  forks: number;
  /** kernel.pid_max then: pids are below it. */
  pidMax: number;
}

/** The last pid handed out, from /proc/loadavg's text ("0.10 0.20 0.30 2/345 6789"); null when malformed. */
export function parseLastPid(loadavg: string): number | null {
  const m = /^\S+ \S+ \S+ \d+\/\d+ (\d+)\s*$/.exec(loadavg);
  return m ? Number(m[1]) : null;
}

/** Tasks created since boot, from /proc/stat's text (its "processes N" line); null when missing. */
export function parseForks(stat: string): number | null {
  const m = /^processes (\d+)$/m.exec(stat);
  return m ? Number(m[1]) : null;
}

/** A stat text's field 38, exit_signal: -1 for a thread that is not its group's leader (copy_process(), CLONE_THREAD); null when malformed. */
export function statExitSignal(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  const x = fields[38 - 3];
  return x !== undefined && /^-?\d+$/.test(x.trim()) ? Number(x) : null;
}

/**
 * The pids handed out between two looks, as inclusive ranges [from, to] in
 * the order they were handed out, or null when only a listing can tell:
 * more tasks were created than the ranges hold, or more than maxCount pids
 * would have to be looked at (a listing is cheaper then).
 */
export function pidRangesSince(prev: PidCursor, now: PidCursor, maxCount: number): Array<[number, number]> | null {
  const created = now.forks - prev.forks;
  if (created < 0) return null;
  if (now.lastPid === prev.lastPid) return created === 0 ? [] : null;
  let ranges: Array<[number, number]>;
  if (now.lastPid > prev.lastPid) ranges = [[prev.lastPid + 1, now.lastPid]];
  else {
    // Wrapped: up to pid_max, then from the bottom (1, or 300 once the
    // cursor has passed it: the kernel's RESERVED_PIDS; from 1 is safe).
    const top = Math.max(prev.pidMax, now.pidMax) - 1;
    ranges = [
      [prev.lastPid + 1, top],
      [1, now.lastPid],
    ];
    ranges = ranges.filter(([a, b]) => a <= b);
  }
  const count = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  if (created > count || count > maxCount) return null;
  return ranges;
}

/** A /proc file's text (latin1: numbers only here); null when it cannot be read. */
function readText(path: string): string | null {
  try {
    return readPath(path, path).toString('latin1');
  } catch {
    return null;
  }
}

/**
 * The kernel's pid cursor now, read in this order: /proc/stat's count of
 * tasks, then /proc/loadavg's last pid (a task created between the two
 * reads is in the range and not yet in the count: the next look's range
 * accounts for it). Null when any of the three cannot be read, or when
 * /proc is another pid namespace's than this process's.
 */
export function readPidCursor(procRoot = '/proc'): PidCursor | null {
  // loadavg's pid is of this process's pid namespace; the pids looked at
  // are /proc's: the same only when /proc/self is this process.
  try {
    if (readlinkSync(`${procRoot}/self`) !== String(process.pid)) return null;
  } catch {
    return null;
  }
  const stat = readText(`${procRoot}/stat`);
  const forks = stat === null ? null : parseForks(stat);
  const loadavg = readText(`${procRoot}/loadavg`);
  const lastPid = loadavg === null ? null : parseLastPid(loadavg);
  const max = readText(`${procRoot}/sys/kernel/pid_max`);
  const pidMax = max === null ? NaN : Number(max.trim());
  if (forks === null || lastPid === null || !Number.isInteger(pidMax) || pidMax <= 0) return null;
  return { lastPid, forks, pidMax };
}

/**
 * A pid handed out since a look: the start time (stat's field 22) of the
 * process that has it now; null when it is gone, was never handed out, or
 * is a thread of a process (its exit_signal is -1).
 */
export function processStart(pid: number, procRoot = '/proc'): number | null {
  let buf: Buffer;
  try {
    buf = readPath(`${procRoot}/${pid}/stat`, 'stat');
  } catch {
    return null;
  }
  if (statExitSignal(buf.toString('latin1')) === -1) return null;
  try {
    return parseStatBytes(buf).starttime;
  } catch {
    return null;
  }
}
