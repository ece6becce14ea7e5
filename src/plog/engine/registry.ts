// plogsrvd's engine: the registrations (a process logged to one file at one
// interval), how they begin (asked by a client, or taken up from the state
// file by --resume), how they end, and their sampling schedule. No sockets:
// the socket front (src/plog/server/) decodes requests and hands them here,
// and sends back the reply texts these methods return. Never exits the
// process; observers (the state file, retention, metrics, selections:
// src/plog/ops/) follow the registrations through EngineHooks.
import { closeSync, fstatSync, lstatSync, unlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ProcessReader, type RawSample } from '../../proc/reader.js';
import { hiddenFrom, procOwner } from '../../proc/access.js';
import type { StatusIds } from '../../proc/status.js';
import { errorText } from '../../errno.js';
import { errCode, errnoWords } from '../../proc/errors.js';
import { CLK_TCK, pageSizeKb } from '../../proc/system.js';
import { formatCmdline } from '../../proc/cmdline.js';
import { TreeLoad, TreeSampler } from '../../proc/tree.js';
import { logBaseName } from '../log/logline.js';
import { createLogFile, type LineBatch, type LogFile } from '../log/logfile.js';
import { MachineLog, logSuffix } from '../log/machine-format.js';
import { formatInterval, intervalOk, MAX_INTERVAL_MS, MIN_INTERVAL_MS, timesWithSeconds, type LogFormatName, type Request } from '../protocol.js';
import { DEFAULT_PSS_BUDGET } from './pss-budget.js';
import { LIMITS, RateLimits } from './limits.js';
import { onGrid, Schedule, type Scheduled } from './schedule.js';
import { sampleTarget, writeFirst, type SampledTarget, type SampleEnd, type SampleOptions } from './sampler.js';

/** The mode of a log root asked for (Registry.register): root's alone. */
export const ROOT_LOG_MODE = 0o600;

export interface Reporter {
  /** A runtime error (to syslog/stderr as -e says). */
  error(message: string): void;
  /** A timestamped non-error message, shown with -v. */
  info(message: string): void;
}

/** One registration: a process logged to one file at one interval. */
export interface Target extends SampledTarget, Scheduled {
  id: number;
  intervalMs: number;
  /** Monotonic time (performance.now()) of the next sample. */
  due: number;
  /** uid of whoever registered it: who may stop it. */
  ownerUid: number;
}

/** Observers of the registrations (the state file, retention, metrics,
 * selections: src/plog/ops/); each is called synchronously and must not throw. */
export interface EngineHooks {
  /** A log began (a request) or was taken up (resume), its first sample written. */
  registered?(t: Target): void;
  /** A sample was appended to t's log; returning a SampleEnd ends its logging. */
  sampled?(t: Target): SampleEnd | void;
  /** Logging of t ended (for any reason, the server's stop included: then without why). */
  ended?(t: Target, why?: SampleEnd): void;
  /** A selection request (src/plog/ops/select.ts): the reply, or undefined for 'Unrecognized request.'. */
  request?(req: Extract<Request, { kind: 'select' | 'stopby' }>, uid: number, gid: number, pid: number): string | undefined;
}

/** A registration of an earlier run to take up (see Registry.resume). */
export interface Resumed {
  pid: number;
  starttime: number;
  intervalMs: number;
  uid: number;
  format: LogFormatName;
  /** A tree log (plog --tree). */
  tree?: boolean;
  /** The existing log, opened for appending and checked by the caller. */
  log: LogFile;
}

export interface RegistryOptions {
  /** The runtime directory the logs are made in: absolute, already checked. */
  dir: string;
  report: Reporter;
  /** The Safe PSS budget (src/plog/engine/pss-budget.ts): a fraction, or
   * null to read PSS at every sample. DEFAULT_PSS_BUDGET when left out. */
  pssBudget?: number | null;
}

/** What a registration is made of, however it began. */
interface Enrolment {
  pid: number;
  intervalMs: number;
  uid: number;
  format: LogFormatName;
  tree: boolean;
  reader: ProcessReader;
  first: RawSample;
  log: LogFile;
  /** The command line for a new log's head; undefined for a log taken up again. */
  command: string | undefined;
}

export class Registry {
  readonly dir: string;
  /** See EngineHooks. */
  hooks: EngineHooks = {};
  /** The per-uid request budgets (src/plog/engine/limits.ts). */
  readonly limits = new RateLimits();
  /** The processes tree logs sum, per uid: each counts as a log against LIMITS.logsPerUid. */
  readonly trees = new TreeLoad(
    (uid) => this.logsOf(uid),
    () => LIMITS.logsPerUid,
  );
  private readonly report: Reporter;
  private readonly targets = new Map<number, Target>();
  /** Every log's next sample, by due time: one timer for them all. */
  private readonly schedule = new Schedule<Target>(
    (t) => this.sample(t),
    () => this.flushBatches(),
  );
  /** The batches of shared logs (LineBatch) that lines went to in this turn. */
  private readonly batches = new Set<LineBatch>();
  private readonly sampling: SampleOptions;
  private nextId = 1;

  constructor(opts: RegistryOptions) {
    this.dir = opts.dir;
    this.report = opts.report;
    this.sampling = { pageKb: pageSizeKb(), pssBudget: opts.pssBudget === undefined ? DEFAULT_PSS_BUDGET : opts.pssBudget };
  }

  /** Names of the log files being written (what `plog -l` lists). */
  get logs(): string[] {
    // The host log (src/plog/ops/host.ts) is one file for many processes: listed once.
    return [...new Set([...this.targets.values()].map((t) => t.log.name))];
  }

  /** Logs being written. */
  get size(): number {
    return this.targets.size;
  }

  /** Logs on the sampling schedule (each one's next sample counts as a timer). */
  get scheduled(): number {
    return this.schedule.size;
  }

  /** The registrations being logged. */
  registrations(): IterableIterator<Target> {
    return this.targets.values();
  }

  /** Whether uid may have no more logs: the server holds its cap of logs in
   * all, and uid its own (its tree logs' processes counted). */
  full(uid: number): boolean {
    return this.targets.size - this.trees.trees + this.trees.total >= LIMITS.logsPerUid && this.trees.all(uid) >= LIMITS.logsPerUid;
  }

  /** Register pid for logging, as uid (of group gid) asks; returns the reply text. */
  register(pid: number, intervalMs: number, uid: number, gid: number, format: LogFormatName = 'text', tree = false): string {
    if (tree && format !== 'text') return 'A tree log is a text log: leave out the format.';
    if (!Number.isInteger(pid) || pid <= 0) return `No such process (${pid}).`;
    if (!intervalOk(intervalMs)) {
      return `Invalid interval (${intervalMs} ms): it must be from ${formatInterval(MIN_INTERVAL_MS)} to ${MAX_INTERVAL_MS} ms, or whole minutes.`;
    }
    try {
      lstatSync(`/proc/${pid}`);
    } catch (err) {
      return errCode(err) === 'ENOENT' ? `No such process (${pid}).` : `pid ${pid}: ${errorText(err)}`;
    }
    let reader: ProcessReader;
    try {
      reader = ProcessReader.open(pid);
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ESRCH') return `No such process (${pid}).`;
      return `Problem logging to ${pid} -- ${(err as Error).message}`;
    }
    let log: LogFile | null = null;
    try {
      // Who asks: root may log anything, anyone else only their own processes.
      const ids = reader.readStatus();
      if (uid !== 0 && uid !== ids.uid[0] && uid !== ids.uid[1]) {
        reader.close();
        return `pid ${pid}: ${errnoWords({ code: 'EPERM' })}`;
      }
      // ... and only as far as /proc would show them (no set-user-ID program).
      const hidden = hiddenFor(pid, ids, uid, gid);
      if (hidden) {
        reader.close();
        return `pid ${pid}: not logged for uid ${uid}: ${hidden}.`;
      }
      const first = reader.sample();
      const comm = first.stat.comm;
      const base = `${logBaseName(comm)}.${pid}`;
      // A root server hands the log to the requester, who can then stop it by
      // deleting it even in a sticky directory.
      const owner = process.getuid?.() === 0 && uid > 0 ? { uid, gid } : undefined;
      // A log root asks for is root's alone (ROOT_LOG_MODE): it may be of any
      // user's process, and its lines carry what /proc shows only to whoever
      // may ptrace that process (PSS, swap, writable mappings), in a
      // directory every user can read. Anyone else's log is of their own
      // process, theirs to share (mode 644, as they may chmod it).
      try {
        log = createLogFile(this.dir, base, owner, uid === 0 ? ROOT_LOG_MODE : undefined, logSuffix(format));
      } catch (err) {
        reader.close();
        return `Problem logging to ${base} -- ${(err as Error).message}`;
      }
      const command = formatCmdline(reader.readCmdline(), comm);
      this.enrol({ pid, intervalMs, uid, format, tree, reader, first, log, command });
      this.report.info(`now logging ${log.name} (pid ${pid}, every ${formatInterval(intervalMs)}${format === 'text' ? '' : `, ${format}`}, for uid ${uid})`);
      return `Log file: ${log.path}`;
    } catch (err) {
      reader.close();
      if (log) {
        closeQuietly(log.fd);
        // Remove the half-made log so that its name is free again.
        try {
          unlinkSync(log.path);
        } catch {
          /* leave it */
        }
      }
      return `Problem logging to ${log?.name ?? pid} -- ${(err as Error).message}`;
    }
  }

  /**
   * Take up a registration of an earlier run (plogsrvd --resume,
   * src/plog/ops/state.ts): the process must still have the same start time; a
   * sample is appended to the existing log at once. Returns null, or why not
   * (the log is then left to the caller to close).
   */
  resume(r: Resumed): string | null {
    let reader: ProcessReader;
    try {
      reader = ProcessReader.open(r.pid);
    } catch (err) {
      return errorText(err);
    }
    try {
      if (r.uid !== 0) {
        // The log was made for the requester (src/plog/log/logfile.ts): its group is theirs.
        const hidden = hiddenFor(r.pid, reader.readStatus(), r.uid, fstatSync(r.log.fd).gid);
        if (hidden) {
          reader.close();
          return `not readable by uid ${r.uid} now: ${hidden}`;
        }
      }
      const first = reader.sample();
      if (first.stat.starttime !== r.starttime) {
        reader.close();
        return `pid ${r.pid} is another process now`;
      }
      this.enrol({ pid: r.pid, intervalMs: r.intervalMs, uid: r.uid, format: r.format, tree: r.tree === true, reader, first, log: r.log, command: undefined });
      this.report.info(`resumed logging ${r.log.name} (pid ${r.pid}, every ${formatInterval(r.intervalMs)}, for uid ${r.uid})`);
      return null;
    } catch (err) {
      reader.close();
      return (err as Error).message;
    }
  }

  /**
   * The one way a registration begins, asked for or taken up: its first
   * lines written (src/plog/engine/sampler.ts), then it is scheduled and the
   * hooks hear of it. Throws when the first lines cannot be written (the
   * caller closes the reader and the log).
   */
  private enrol(e: Enrolment): Target {
    const machine = e.format !== 'text' ? new MachineLog(e.pid, e.format, { pageKb: this.sampling.pageKb, clkTck: CLK_TCK }) : undefined;
    const name = e.log.name;
    const tree = e.tree ? new TreeSampler(e.pid, { owner: e.uid, load: this.trees, report: (m) => this.report.info(`${name}: ${m}`) }) : undefined;
    const t: Target = {
      id: this.nextId,
      pid: e.pid,
      starttime: e.first.stat.starttime,
      reader: e.reader,
      log: e.log,
      intervalMs: e.intervalMs,
      withSeconds: timesWithSeconds(e.intervalMs),
      prev: e.first,
      machine,
      tree,
      due: 0,
      heapIndex: -1,
      ownerUid: e.uid,
    };
    try {
      writeFirst(t, e.first, e.command, this.sampling.pageKb);
    } catch (err) {
      machine?.close();
      tree?.close();
      throw err;
    }
    this.nextId++;
    t.due = onGrid(performance.now() + e.intervalMs);
    this.targets.set(t.id, t);
    this.schedule.add(t);
    this.hooks.registered?.(t);
    return t;
  }

  /** Schedule a registration made elsewhere (the whole host's, src/plog/ops/host.ts), its first sample written. */
  addTarget(t: Omit<Target, 'id' | 'due' | 'heapIndex'>): Target {
    // Built as the registrations here are (the same properties in the same
    // order), so that the schedule's and the sampler's property loads see
    // one shape more, not a shape a copy makes.
    const full: Target = {
      id: this.nextId++,
      pid: t.pid,
      starttime: t.starttime,
      reader: t.reader,
      log: t.log,
      intervalMs: t.intervalMs,
      withSeconds: t.withSeconds,
      prev: t.prev,
      machine: t.machine,
      tree: undefined,
      due: onGrid(performance.now() + t.intervalMs),
      heapIndex: -1,
      ownerUid: t.ownerUid,
      sharedLog: t.sharedLog,
    };
    this.targets.set(full.id, full);
    this.schedule.add(full);
    this.hooks.registered?.(full);
    return full;
  }

  /** Stop the logs of pid that uid may stop (root: all); returns the reply text. */
  stopPid(pid: number, uid: number): string {
    const mine = [...this.targets.values()].filter((t) => t.pid === pid);
    if (mine.length === 0) return `Not logging ${pid}.`;
    const allowed = mine.filter((t) => uid === 0 || t.ownerUid === uid);
    if (allowed.length === 0) return `pid ${pid}: ${errnoWords({ code: 'EPERM' })}`;
    for (const t of allowed) this.finish(t, `stopped logging ${t.log.name} on request of uid ${uid}`, false);
    return allowed.map((t) => `Stopped logging to ${t.log.path}`).join('\n');
  }

  /** End the logging of t (a stop by name or log, src/plog/ops/select.ts), said with -v. */
  endLog(t: Target, why: string): void {
    if (this.targets.get(t.id) === t) this.finish(t, why, false);
  }

  /** No more samples: every registration ends (the hooks hear it without a why). */
  stop(): void {
    this.schedule.stop();
    this.flushBatches();
    for (const t of this.targets.values()) this.end(t);
  }

  private flushBatches(): void {
    for (const b of this.batches) b.flush();
    this.batches.clear();
  }

  private logsOf(uid: number): number {
    let n = 0;
    for (const t of this.targets.values()) if (t.ownerUid === uid && !t.tree && !t.sharedLog) n++; // tree logs: this.trees
    return n;
  }

  /** The schedule's turn for t: false when its logging ended. */
  private sample(t: Target): boolean {
    if (t.log.batch) this.batches.add(t.log.batch);
    const end = sampleTarget(t, this.sampling) ?? this.hooks.sampled?.(t);
    if (end) {
      this.finish(t, end.why, end.isError);
      return false;
    }
    return true;
  }

  /** The last end of a target of a shared log, and when. */
  private lastShared = { why: '', at: -Infinity };

  private finish(t: Target, why: string, isError: boolean): void {
    // The thousands of targets of a shared log (the whole host's) end
    // together for a reason of the log's ("Can't find log"): said once.
    const now = performance.now();
    const again = t.sharedLog === true && why === this.lastShared.why && now - this.lastShared.at < 5000;
    if (t.sharedLog) this.lastShared = { why, at: now };
    if (again) {
      /* said already */
    } else if (isError) this.report.error(why);
    else this.report.info(why);
    this.end(t, { why, isError });
  }

  private end(t: Target, why: SampleEnd = null): void {
    this.schedule.remove(t);
    this.targets.delete(t.id);
    this.hooks.ended?.(t, why);
    t.reader.close();
    t.machine?.close();
    t.tree?.close();
    if (!t.sharedLog) closeQuietly(t.log.fd);
  }
}

/** Why /proc would not show pid (of the given ids) to uid of group gid, or null. */
function hiddenFor(pid: number, ids: StatusIds, uid: number, gid: number): string | null {
  return hiddenFrom(ids, procOwner(pid) ?? { uid: -1, gid: -1 }, { uid, gid });
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
