// A whole host in one plogsrvd: root's `plog -r . -i X` (the regex `.`
// matches every command line) logs every process of the machine, those
// running and those that start later. Three things differ from any other
// selection, all for scale (plogsrvd(1), A WHOLE HOST; BENCHMARKS.md):
//
// - One log for the host, not one a process: host.NAME.csv in the runtime
//   directory, a CSV row a sample (HOST_FIELDS: the pid, then `plog
//   export`'s columns less the local time, which epoch_ms gives), and a
//   `# pid PID: COMMAND` line when a process is taken up. Appending a line
//   to one file costs a third of appending it to a file of its own (ext4:
//   2.7 against 8.8 µs a line with 10,000 files, bench/host.ts), and the
//   host holds one descriptor for it instead of one a process.
// - Four descriptors a process while the descriptor limit has room for
//   them; past that a lean reader (src/proc/reader.ts): one descriptor, of
//   the process's /proc/PID, through which its files are opened and read
//   at each sample (one call of the addon a file).
// - No per-uid cap of logs, and no regex asked of the matcher's thread:
//   every process is taken. Only root can have it: anyone else's `-r .` is
//   an ordinary selection, bounded as ever by the cap and by what /proc shows
//   them.
import { hostname } from 'node:os';
import { closeSync, readFileSync } from 'node:fs';
import { formatCmdline } from '../../proc/cmdline.js';
import { pidRangesSince, processStart, readPidCursor, type PidCursor } from '../../proc/newpids.js';
import { ProcessReader, type RawSample } from '../../proc/reader.js';
import { raiseNofile } from '../../native.js';
import { csvCell } from '../log/export.js';
import { sharedPercent } from '../log/logline.js';
import { appendLine, createLogFile, LineBatch, logStillThere, type LogFile } from '../log/logfile.js';
import { performance } from 'node:perf_hooks';
import { formatInterval } from '../protocol.js';
import { CLK_TCK, pageSizeKb } from '../../proc/system.js';
import { ROOT_LOG_MODE, type Registry, type Reporter } from '../engine/registry.js';
import { EXPORT_FIELDS } from '../log/fields.js';

/** The longest a whole-host scan takes processes before samples and requests get a turn, ms. */
const SLICE_MS = 20;
/** /proc is listed at every LIST_EVERY-th look for new processes (WholeHost.lookNew): ten intervals. */
const LIST_EVERY = 20;
/** A look goes through at least this many new pids before a listing of /proc is cheaper (more when more processes are logged). */
const PROBE_MIN = 4096;

/** The pattern that selects the whole host when root asks with -r. */
export const WHOLE_HOST = '.';

/** Descriptors a whole-host process holds: a reader's four (stat, statm, smaps_rollup, maps) ... */
export const FDS_KEPT = 4;
/** ... or a lean reader's one (its /proc/PID), once the limit has no room for four. */
export const FDS_LEAN = 1;
/** Descriptors left for everything else (clients, the metrics endpoint, logs of other requests). */
export const FDS_RESERVE = 1024;

/** Whether a selection is root's whole host. */
export function isWholeHost(sel: { uid: number; regex: unknown; pattern: string }): boolean {
  return sel.uid === 0 && sel.regex !== null && sel.regex !== false && sel.pattern === WHOLE_HOST;
}

/** The host log's columns: as `plog export`'s (sizes in bytes, CPU in seconds), the pid first, no local time. */
export const HOST_FIELDS = ['pid', ...EXPORT_FIELDS.slice(1)] as const;
export const HOST_HEADER = `${HOST_FIELDS.join(',')}\n`;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The descriptor limit in force (raiseDescriptorLimit), and how many host processes keep four. */
let fdLimit = 1024;
let keptReaders = 0;
let leanReaders = 0;

/** One host log (one file, shared by every process it logs). */
export class HostLog {
  readonly file: LogFile;
  private readonly pageKb = pageSizeKb();

  constructor(dir: string) {
    // Root's file, made with O_EXCL and O_NOFOLLOW: nobody else's name to
    // follow. Mode 600: its rows carry every process's PSS, swap and
    // writable mappings, which /proc shows only to whoever may ptrace that
    // process (proc(5), smaps_rollup and maps: PTRACE_MODE_READ).
    this.file = createLogFile(dir, `host.${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}`, undefined, ROOT_LOG_MODE, '.csv');
    appendLine(this.file.fd, HOST_HEADER);
    // Its rows are written a sampling turn at a time (LineBatch).
    this.file.batch = new LineBatch(this.file.fd);
  }

  /** A process's row in HOST_FIELDS (the figures of machine-format.ts's machineSample, made straight into text). */
  row(pid: number, cur: RawSample, prev: RawSample | null): string {
    const { stat, statm, smaps, maps } = cur;
    const ticks = stat.utime + stat.stime;
    let cpu = '';
    if (prev !== null) {
      const wallS = (cur.timeMs - prev.timeMs) / 1000;
      const usedS = (ticks - (prev.stat.utime + prev.stat.stime)) / CLK_TCK;
      if (wallS > 0 && usedS >= 0) cpu = String(round2((usedS / wallS) * 100));
    }
    const page = this.pageKb * 1024;
    // A state is one letter from the kernel; anything else is escaped as any text.
    const state = /^[A-Za-z]$/.test(stat.state) ? stat.state : csvCell(stat.state);
    return (
      `${pid},${cur.timeMs},${state},${stat.priority},${round2(ticks / CLK_TCK)},${cpu},${stat.numThreads},` +
      `${stat.minflt + stat.cminflt},${stat.majflt + stat.cmajflt},${statm.size * page},${statm.resident * page},` +
      (smaps ? `${round2(sharedPercent(smaps))},${smaps.pss * 1024},${smaps.swap * 1024},` : ',,,') +
      `${statm.data * page},${maps === null || !maps.complete ? '' : maps.kb * 1024}\n`
    );
  }

  close(): void {
    this.file.batch?.flush();
    try {
      closeSync(this.file.fd);
    } catch {
      /* already closed */
    }
  }
}

/**
 * Take up pid in the host log: a lean reader, its command line and first
 * row, then the server's schedule (the log is shared: the server never
 * closes it). taken: the host's processes by pid, their start time (one
 * found twice, by a look at the new pids and by a listing, is taken once);
 * kept up to date here. Returns null, or why not.
 */
export function takeWholeHost(server: Registry, log: HostLog, pid: number, intervalMs: number, taken: Map<number, number>): string | null {
  let reader: ProcessReader;
  // Four descriptors while the host's take at most half of the room under
  // the limit, then one: the other half is left for that many more lean ones.
  const lean = keptReaders * FDS_KEPT + leanReaders * FDS_LEAN + FDS_KEPT > (fdLimit - FDS_RESERVE) / 2;
  try {
    reader = ProcessReader.open(pid, { lean });
  } catch (err) {
    return (err as Error).message;
  }
  try {
    const first = reader.sample();
    const start = first.stat.starttime;
    if (taken.get(pid) === start) {
      reader.close();
      return null;
    }
    let command: string;
    try {
      command = formatCmdline(reader.readCmdline(), first.stat.comm);
    } catch {
      command = formatCmdline(Buffer.alloc(0), first.stat.comm);
    }
    // formatCmdline escapes every byte outside printable ASCII: no newline gets in.
    // The rows gathered before it go first: the log stays in time order.
    log.file.batch?.flush();
    appendLine(log.file.fd, `# pid ${pid}: ${command}\n${log.row(pid, first, null)}`);
    const rows = {
      format: 'csv' as const,
      head: (): string => HOST_HEADER,
      line: (s: RawSample, prev: RawSample): string => log.row(pid, s, prev),
      close: (): void => {
        if (lean) leanReaders--;
        else keptReaders--;
        if (taken.get(pid) === start) taken.delete(pid);
      },
    };
    server.addTarget({
      pid,
      starttime: first.stat.starttime,
      reader,
      log: log.file,
      sharedLog: true,
      intervalMs,
      withSeconds: false,
      prev: first,
      machine: rows,
      ownerUid: 0,
    });
    if (lean) leanReaders++;
    else keptReaders++;
    taken.set(pid, start);
    return null;
  } catch (err) {
    reader.close();
    return (err as Error).message;
  }
}

/** What a whole host of n processes asks of the descriptor limit for four descriptors each (they take at most half the room). */
export function descriptorsFor(n: number): number {
  return 2 * n * FDS_KEPT + FDS_RESERVE;
}

/**
 * Raise the descriptor limit for a whole host (root only; plogsrvd(1),
 * LIMITS): to what the largest host this kernel allows needs (pid_max
 * processes), at most fs.nr_open; where the hard limit cannot move (no
 * CAP_SYS_RESOURCE, or a LimitNOFILE= of the service) the soft one rises
 * to it. Returns [soft, hard], or null when not root or without the addon.
 */
export function raiseDescriptorLimit(report: Reporter): [number, number] | null {
  if (process.getuid?.() !== 0) return null;
  const num = (path: string, dflt: number): number => {
    try {
      const n = Number(readFileSync(path, 'latin1').trim());
      return Number.isFinite(n) && n > 0 ? n : dflt;
    } catch {
      return dflt;
    }
  };
  const want = Math.min(num('/proc/sys/fs/nr_open', 1 << 20), descriptorsFor(num('/proc/sys/kernel/pid_max', 32768)));
  try {
    const got = raiseNofile(want);
    fdLimit = got[0];
    if (got[0] < want) {
      const room = Math.max(0, got[0] - FDS_RESERVE);
      const four = Math.floor(room / 2 / FDS_KEPT);
      report.info(
        `descriptor limit ${got[0]} (hard ${got[1]}): a whole host (plog -r .) keeps four descriptors for ${four} processes, one for the others, up to about ${four + Math.floor(room / 2)} processes`,
      );
    }
    return got;
  } catch (err) {
    report.error(`could not raise the descriptor limit: ${(err as Error).message}`);
    return null;
  }
}

/** The whole-host selection's reply. */
export function wholeHostReply(intervalMs: number, file: string): string {
  return `Selecting the whole host every ${formatInterval(intervalMs)}: logging every running process, and those that start later, to ${file}.`;
}

/** What the whole host asks of the selection it belongs to. */
export interface WholeHostOwner {
  /** Whether the selection still exists (not stopped meanwhile). */
  live(): boolean;
  /** A pid not taken after all: looked at again at the next scan. */
  forget(pid: number): void;
  /** A pid found by a look at the new pids: not for the next listing of /proc. */
  seen(pid: number): void;
  /** Run fn with the logs it registers counted as the selection's. */
  attribute(fn: () => void): void;
  /** The host log was removed: the selection ends (as deleting a log ends its logging). */
  gone(why: string): void;
  /** A line for the daemon's log about the selection. */
  info(text: string): void;
  error(text: string): void;
}

/**
 * Root's whole-host selection's own part: its one log, its scan twice an
 * interval, and the processes found and not taken yet, taken in slices of
 * SLICE_MS (thousands at a time at the first scan or in a build: samples
 * and requests get their turns between).
 */
export class WholeHost {
  private log: HostLog | null;
  private timer: NodeJS.Timeout | null = null;
  private readonly queue: number[] = [];
  private draining = false;
  /** The processes logged, by pid: their start time (see takeWholeHost). */
  private readonly taken = new Map<number, number>();
  /** The kernel's pid cursor at the last look (null: none yet, or unreadable). */
  private cursor: PidCursor | null = null;
  private looks = 0;
  /** Pids not taken after all (forget): looked at again at the next look. */
  private retry: number[] = [];

  /** Throws when the host log cannot be made (the request is answered so). */
  constructor(
    private readonly engine: Registry,
    private readonly intervalMs: number,
    private readonly owner: WholeHostOwner,
  ) {
    this.log = new HostLog(engine.dir);
  }

  get path(): string {
    return this.log?.file.path ?? '';
  }

  /**
   * Start the periodic scan (scan: the selection's look for new processes,
   * lookNew, and a listing of /proc when it asks for one): twice an
   * interval, so that a process is found within one interval of its start
   * (a scan that has just passed it, then the next, then its first row);
   * at least every 250 ms apart. Listing a /proc of 13,000 processes costs
   * about 35 ms: done at each scan, some 6% of what sampling them every 10 s
   * costs; looking at the pids handed out costs nothing when none were. The
   * first scan is the caller's.
   */
  start(scan: () => void): void {
    this.timer ??= setInterval(
      () => {
        if (!this.ended()) scan();
      },
      Math.max(250, this.intervalMs / 2),
    );
    this.timer.unref();
  }

  /**
   * Whether the host log can no longer be written (removed, or a write of
   * its rows failed: a full disk); then the selection ends, saying why. Its
   * processes end with the same words at their next sample.
   */
  private ended(): boolean {
    if (!this.log) return false;
    const { path, fd, batch } = this.log.file;
    const why = logStillThere(fd) === 'gone' ? `Can't find log ${path}` : batch?.error ? `${batch.error} (${path})` : null;
    if (why === null) return false;
    this.owner.gone(why);
    return true;
  }

  /** A process found: taken at the next slice. */
  found(pid: number): void {
    this.queue.push(pid);
  }

  /**
   * Look at the processes started since the last look: the pids the kernel
   * handed out meanwhile (src/proc/newpids.ts), each one's stat read; those
   * that are processes, not threads, and not taken yet are queued. Returns
   * true when /proc must be listed as well: at the first look, when the
   * kernel's counts cannot tell which pids were handed out (its pid cursor
   * went all the way round, tasks of another pid namespace), and at every
   * LIST_EVERY-th look (the selection then forgets the pids that are gone).
   * The cursor is read before that listing: a process started during it is
   * in the next look's range.
   */
  lookNew(): boolean {
    const now = readPidCursor();
    const prev = this.cursor;
    this.cursor = now;
    const retry = this.retry;
    this.retry = [];
    for (const pid of retry) this.probe(pid);
    let list = true;
    const ranges = now && prev ? pidRangesSince(prev, now, Math.max(PROBE_MIN, this.taken.size)) : null;
    if (ranges) {
      for (const [from, to] of ranges) for (let pid = from; pid <= to; pid++) this.probe(pid);
      list = ++this.looks % LIST_EVERY === 0;
    }
    this.drain();
    return list;
  }

  /** A pid handed out since the last look: queued when it is a process not taken yet. */
  private probe(pid: number): void {
    if (pid === process.pid) return;
    // Gone already, never handed out (a range's bottom after a wrap), or a thread.
    const start = processStart(pid);
    if (start === null) return;
    if (this.taken.get(pid) === start) return; // taken by a listing already
    this.owner.seen(pid);
    this.found(pid);
  }

  /** A pid not taken after all (the host log could not be made): looked at again at the next look. */
  forget(pid: number): void {
    this.owner.forget(pid);
    this.retry.push(pid);
  }

  /** Take queued processes for at most SLICE_MS, the rest at the next turn of the event loop. */
  drain(): void {
    if (this.draining) return;
    const slice = (): void => {
      this.draining = false;
      if (!this.owner.live()) {
        this.queue.length = 0;
        return;
      }
      if (this.ended()) return;
      const t0 = performance.now();
      while (this.queue.length > 0 && performance.now() - t0 < SLICE_MS) this.take(this.queue.pop()!);
      if (this.queue.length === 0) return;
      this.draining = true;
      setImmediate(slice);
    };
    slice();
  }

  private take(pid: number): void {
    if (!this.log) {
      try {
        this.log = new HostLog(this.engine.dir);
      } catch (err) {
        this.forget(pid);
        this.owner.error((err as Error).message);
        return;
      }
    }
    const log = this.log;
    this.owner.attribute(() => {
      const why = takeWholeHost(this.engine, log, pid, this.intervalMs, this.taken);
      if (why) this.owner.info(`pid ${pid}: ${why}`);
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.log?.close();
    this.log = null;
    this.queue.length = 0;
  }
}
