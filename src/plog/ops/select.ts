// Selection by name (plog(1), -n and -r): `plog -n NAME -i X` logs every process whose
// name (comm, as in /proc/PID/stat, at most 15 bytes) is NAME, and `plog -r
// REGEX -i X` every process whose command line (arguments joined by spaces,
// as a log's first line shows it) matches REGEX: those running now and those
// that start later, until `plog -x NAME|REGEX` stops the selection. While a
// selection exists the server looks for new processes in /proc once a
// second (only pids it has not seen yet are read). A requester who is not
// root gets only processes of its own uid.
//
// A regular expression is another user's code: it is compiled for V8's
// linear-time engine (src/plog/ops/linear-regex.ts: no backreferences, no
// lookaround), matched against at most the first MAX_MATCH_CHARS characters
// of a command line (selection.ts), and never on the server's thread: a worker thread
// answers (src/plog/ops/matcher.ts), the time it takes is charged to the
// selection's uid, and the process is logged once the answer comes. The
// time a scan spends on a uid's selections is charged to it too.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ProcessReader } from '../../proc/reader.js';
import { compileLinear } from './linear-regex.js';
import { isWholeHost, WholeHost, wholeHostReply } from './host.js';
import { RegexMatcher } from './matcher.js';
import { formatInterval, intervalOk, MAX_INTERVAL_MS, MIN_INTERVAL_MS, type Request } from '../protocol.js';
import { LIMITS } from '../engine/limits.js';
import type { EngineHooks, Registry, Reporter, Target } from '../engine/registry.js';
import { key, keyOf, matches, readCmdline, shown, type ProcInfo, type Selection } from './selection.js';
import type { SavedSelection, StateExtension } from './state.js';

/** Selections one uid may have (root included). */
export const MAX_SELECTIONS_PER_UID = 32;
/** How often /proc is scanned for new processes while selections exist. */
export const SCAN_MS = 1000;
/** In Selection.seen: logged, or not its requester's. Values below it: a question to the matcher is out. */
const DECIDED = -1;
const RECHECK = 3;

export class Selector implements StateExtension {
  /** Called when a selection begins or ends (the state file is saved). */
  onChange: () => void = () => {};
  readonly selections = new Map<string, Selection>();
  private timer: NodeJS.Timeout | null = null;
  private scans = 0;
  /** The selection whose scan is registering logs (registered() attributes them to it). */
  private current: Selection | null = null;
  private readonly owner = new Map<Target, Selection>();
  /** Answers the regular expressions, off the server's thread. */
  readonly matcher: RegexMatcher;
  /** The last question's token (see Selection.seen). */
  private asked = DECIDED;
  /** Root's whole-host selection's own part (its log, its queue: host.ts), made with it. */
  private readonly hosts = new Map<Selection, WholeHost>();

  constructor(
    private readonly engine: Registry,
    private readonly report: Reporter,
    private readonly procRoot = '/proc',
  ) {
    this.matcher = new RegexMatcher((uid, ms) => engine.limits.spend(uid, ms));
  }

  hooks(): EngineHooks {
    return {
      registered: (t) => {
        if (!this.current) return;
        this.current.targets.add(t);
        this.owner.set(t, this.current);
      },
      ended: (t) => {
        const s = this.owner.get(t);
        if (!s) return;
        s.targets.delete(t);
        this.owner.delete(t);
      },
      request: (req, uid, gid, pid) => (req.kind === 'select' ? this.select(req, uid, gid, pid) : this.stopBy(req.what, uid)),
    };
  }

  /** A new selection; `requester` (the asking plog, whose command line holds the pattern) is never taken. */
  select(req: Extract<Request, { kind: 'select' }>, uid: number, gid: number, requester = 0): string {
    const what = shown(req);
    if (!intervalOk(req.intervalMs) || req.intervalMs > MAX_INTERVAL_MS) {
      return `Invalid interval (${req.intervalMs} ms): it must be from ${formatInterval(MIN_INTERVAL_MS)} to ${MAX_INTERVAL_MS} ms.`;
    }
    let regex: RegExp | null = null;
    if (req.regex) {
      const r = compileLinear(req.pattern);
      if (typeof r === 'string') return `Bad regular expression ${what}: ${r}`;
      regex = r;
    }
    const k = key(uid, req.regex, req.pattern);
    const had = this.selections.get(k);
    if (had) return `Already selecting ${what} every ${formatInterval(had.intervalMs)} (logging ${had.targets.size}); stop it first (plog -x).`;
    let mine = 0;
    for (const s of this.selections.values()) if (s.uid === uid) mine++;
    if (mine >= MAX_SELECTIONS_PER_UID) return `Too many selections for uid ${uid} (${MAX_SELECTIONS_PER_UID}): stop some first.`;
    const sel: Selection = { pattern: req.pattern, regex, intervalMs: req.intervalMs, format: req.format, uid, gid, seen: new Map(), targets: new Set() };
    if (requester > 0) sel.seen.set(requester, DECIDED);
    if (isWholeHost(sel)) {
      // Its log now (for the reply); its processes in slices from the next turn on.
      let host: WholeHost;
      try {
        host = this.wholeHost(sel);
      } catch (err) {
        return `Problem logging the whole host -- ${(err as Error).message}`;
      }
      this.selections.set(k, sel);
      setImmediate(() => this.scan([sel]));
      this.arm();
      this.onChange();
      this.report.info(`selecting the whole host every ${formatInterval(req.intervalMs)} to ${host.path}`);
      return wholeHostReply(req.intervalMs, host.path);
    }
    this.selections.set(k, sel);
    // In the request: its time is charged to uid as the request's.
    const asked = this.scan([sel], true);
    this.arm();
    this.onChange();
    const every = `every ${formatInterval(req.intervalMs)}`;
    const procs = (n: number): string => `${n} running process${n === 1 ? '' : 'es'}`;
    if (regex) {
      this.report.info(`selecting ${what} ${every} for uid ${uid}: matching ${asked} running`);
      return `Selecting ${what} ${every}: matching the command lines of ${procs(asked)}; those that match are logged, and those that start later.`;
    }
    this.report.info(`selecting ${what} ${every} for uid ${uid}: ${sel.targets.size} running`);
    return `Selecting ${what} ${every}: logging ${procs(sel.targets.size)}, and those that start later.`;
  }

  /** -x TEXT: a log by path or name, else a selection by its pattern. */
  stopBy(what: string, uid: number): string {
    const logs = [...this.engine.registrations()].filter((t) => t.log.path === what || (!what.includes('/') && t.log.name === what));
    if (logs.length > 0 || what.includes('/')) {
      if (logs.length === 0) return `Not logging to ${what}.`;
      const allowed = logs.filter((t) => uid === 0 || t.ownerUid === uid);
      if (allowed.length === 0) return `${what}: Operation not permitted`;
      for (const t of allowed) this.engine.endLog(t, `stopped logging ${t.log.name} on request of uid ${uid}`);
      return allowed.map((t) => `Stopped logging to ${t.log.path}`).join('\n');
    }
    const sels = [...this.selections.entries()].filter(([, s]) => s.pattern === what && (uid === 0 || s.uid === uid));
    if (sels.length === 0) {
      const others = [...this.selections.values()].some((s) => s.pattern === what);
      return others ? `${what}: Operation not permitted` : `No selection or log named ${what}.`;
    }
    let n = 0;
    for (const [k, s] of sels) {
      this.selections.delete(k);
      for (const t of [...s.targets]) {
        n++;
        this.engine.endLog(t, `stopped logging ${t.log.name}: selection ${shown(s)} stopped by uid ${uid}`);
      }
      this.hosts.get(s)?.close();
      this.hosts.delete(s);
    }
    this.arm();
    this.onChange();
    return `Stopped selecting ${what} and logging to ${n} file${n === 1 ? '' : 's'}.`;
  }

  private arm(): void {
    // The matcher's thread is not kept without a regex to match.
    if (![...this.selections.values()].some((s) => s.regex)) this.matcher.stop();
    if (this.selections.size > 0 && !this.timer) {
      this.timer = setInterval(() => this.scan([...this.selections.values()].filter((s) => !this.hosts.has(s))), SCAN_MS); // a whole host scans on its own (host.ts)
      this.timer.unref();
    } else if (this.selections.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /**
   * Look at every process the given selections have not seen yet: a name is
   * compared at once, a regex question goes to the matcher. Outside a
   * request (inRequest false) the time spent on a selection is charged to
   * its uid, and a uid whose budget is spent is left for a later scan.
   * Returns how many questions were asked.
   */
  scan(sels: Selection[], inRequest = false): number {
    // A whole host first looks at the pids handed out since its last look
    // (host.ts, lookNew): /proc is listed for it only when that asks.
    sels = sels.filter((sel) => this.hosts.get(sel)?.lookNew() ?? true);
    if (sels.length === 0) return 0;
    this.scans++;
    let names: string[];
    try {
      names = readdirSync(this.procRoot);
    } catch (err) {
      this.report.error(`selection: cannot read ${this.procRoot}: ${(err as Error).message}`);
      return 0;
    }
    const pids = new Set<number>();
    for (const n of names) {
      const c = n.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.add(Number(n));
    }
    pids.delete(process.pid);
    const info = new Map<number, ProcInfo | null>();
    let asked = 0;
    for (const sel of sels) {
      // Forget pids that are gone: a pid seen again is another process.
      for (const pid of sel.seen.keys()) if (!pids.has(pid)) sel.seen.delete(pid);
      if (!inRequest && !this.engine.limits.spend(sel.uid, 0)) continue;
      const t0 = performance.now();
      const host = this.hostOf(sel);
      if (!host && isWholeHost(sel)) continue; // its log could not be made (said): tried again at the next scan
      for (const pid of pids) {
        const first = sel.seen.get(pid);
        // Decided, a question out, or looked at often enough.
        if (first !== undefined && (first <= DECIDED || this.scans - first > RECHECK)) continue;
        if (host) {
          // Every process: nothing to read or match first; queued, and
          // taken in slices.
          sel.seen.set(pid, DECIDED);
          host.found(pid);
          continue;
        }
        let p = info.get(pid);
        if (p === undefined) {
          p = this.read(pid);
          info.set(pid, p);
        }
        if (!p) continue; // gone, or unreadable: tried again next time
        if (sel.uid !== 0 && p.uid !== sel.uid) {
          sel.seen.set(pid, DECIDED);
          continue;
        }
        if (sel.regex) {
          if (this.ask(sel, p, first ?? this.scans)) asked++;
          continue;
        }
        if (!matches(sel, p)) {
          if (first === undefined) sel.seen.set(pid, this.scans);
          continue;
        }
        sel.seen.set(pid, DECIDED);
        this.take(sel, pid);
      }
      if (!inRequest) this.engine.limits.spend(sel.uid, performance.now() - t0);
      host?.drain();
    }
    return asked;
  }

  /** Ask the matcher whether p's command line matches sel; false when it has too many questions of sel's uid waiting (p is looked at again at a later scan). */
  private ask(sel: Selection, p: ProcInfo, first: number): boolean {
    let starttime: number;
    try {
      starttime = ProcessReader.readStartTime(p.pid, { procRoot: this.procRoot });
    } catch {
      return false; // gone
    }
    const token = --this.asked;
    sel.seen.set(p.pid, token);
    const queued = this.matcher.match({
      uid: sel.uid,
      pattern: sel.pattern,
      text: p.cmdline(),
      wanted: () => this.selections.get(keyOf(sel)) === sel && sel.seen.get(p.pid) === token,
      done: (matched, why) => {
        if (this.selections.get(keyOf(sel)) !== sel || sel.seen.get(p.pid) !== token) return; // stopped, or the pid went away
        if (matched === false) {
          sel.seen.set(p.pid, first);
          return;
        }
        sel.seen.set(p.pid, DECIDED);
        if (matched === null) {
          this.report.error(`selection ${shown(sel)} of uid ${sel.uid}: pid ${p.pid}: ${why ?? 'no answer'}; not logged`);
          return;
        }
        // Still the process whose command line matched (not a reused pid)?
        try {
          if (ProcessReader.readStartTime(p.pid, { procRoot: this.procRoot }) !== starttime) return;
        } catch {
          return; // ended meanwhile
        }
        this.take(sel, p.pid);
      },
    });
    if (!queued) sel.seen.delete(p.pid);
    return queued;
  }

  /** The whole-host part of sel (made for a selection restored by --resume at its first scan); undefined for any other selection. */
  private hostOf(sel: Selection): WholeHost | undefined {
    if (!isWholeHost(sel)) return undefined;
    const had = this.hosts.get(sel);
    if (had) return had;
    try {
      return this.wholeHost(sel);
    } catch (err) {
      this.report.error(`selection ${shown(sel)}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Make sel's whole-host part (throws when its log cannot be made). */
  private wholeHost(sel: Selection): WholeHost {
    const host = new WholeHost(this.engine, sel.intervalMs, {
      live: () => this.selections.get(keyOf(sel)) === sel,
      forget: (pid) => sel.seen.delete(pid),
      seen: (pid) => sel.seen.set(pid, DECIDED),
      attribute: (fn) => {
        this.current = sel;
        try {
          fn();
        } finally {
          this.current = null;
        }
      },
      gone: (why) => this.end(sel, why),
      info: (text) => this.report.info(`selection ${shown(sel)}: ${text}`),
      error: (text) => this.report.error(`selection ${shown(sel)}: ${text}`),
    });
    this.hosts.set(sel, host);
    host.start(() => this.scan([sel]));
    return host;
  }

  /** End sel for a reason of its own (its host log removed): said once, its logs ended. */
  private end(sel: Selection, why: string): void {
    if (this.selections.get(keyOf(sel)) !== sel) return;
    this.selections.delete(keyOf(sel));
    this.report.error(`${why}: stopped selection ${shown(sel)} of uid ${sel.uid}`);
    for (const t of [...sel.targets]) this.engine.endLog(t, why);
    this.hosts.get(sel)?.close();
    this.hosts.delete(sel);
    this.arm();
    this.onChange();
  }

  /** Log pid for sel (its uid's room permitting). */
  private take(sel: Selection, pid: number): void {
    if (this.engine.trees.all(sel.uid) >= LIMITS.logsPerUid) {
      sel.seen.delete(pid); // tried again once logs end
      return;
    }
    this.current = sel;
    let reply: string;
    try {
      reply = this.engine.register(pid, sel.intervalMs, sel.uid, sel.gid, sel.format);
    } finally {
      this.current = null;
    }
    if (!reply.startsWith('Log file: ')) this.report.info(`selection ${shown(sel)}: pid ${pid}: ${reply}`);
  }

  private read(pid: number): ProcInfo | null {
    const dir = join(this.procRoot, String(pid));
    try {
      const uid = lstatSync(dir).uid;
      const comm = readFileSync(join(dir, 'comm'), 'utf8').replace(/\n$/, '');
      let cmd: string | null = null;
      return {
        pid,
        uid,
        comm,
        cmdline: () => (cmd ??= readCmdline(join(dir, 'cmdline'), comm)),
      };
    } catch {
      return null;
    }
  }

  tagOf(t: Target): string | undefined {
    const s = this.owner.get(t);
    return s ? key(s.uid, s.regex !== null, s.pattern) : undefined;
  }

  savedSelections(): SavedSelection[] {
    return [...this.selections.values()].map((s) => ({ pattern: s.pattern, regex: s.regex !== null, intervalMs: s.intervalMs, format: s.format, uid: s.uid, gid: s.gid }));
  }

  restore(sels: SavedSelection[]): void {
    for (const s of sels) {
      let regex: RegExp | null = null;
      if (s.regex) {
        const r = compileLinear(s.pattern);
        if (typeof r === 'string') {
          this.report.error(`--resume: not selecting ${shown(s)} for uid ${s.uid} again: ${r}`);
          continue;
        }
        regex = r;
      }
      this.selections.set(key(s.uid, s.regex, s.pattern), { ...s, regex, seen: new Map(), targets: new Set() });
      this.report.info(`--resume: selecting ${shown(s)} every ${formatInterval(s.intervalMs)} for uid ${s.uid} again`);
    }
  }

  adopt(tag: string, pid: number, fn: () => string | null): string | null {
    const sel = this.selections.get(tag);
    if (!sel) return fn();
    // Taken up or not, this process is not for the selection's first scan.
    sel.seen.set(pid, DECIDED);
    this.current = sel;
    try {
      return fn();
    } finally {
      this.current = null;
    }
  }

  resumed(): void {
    this.scan([...this.selections.values()]);
    this.arm();
  }

  /** The selections as `plog -l` could show them (not sent yet). */
  describe(): string[] {
    return [...this.selections.values()].map((s) => `${s.regex ? `/${s.pattern}/` : s.pattern} ${formatInterval(s.intervalMs)} uid ${s.uid} logging ${s.targets.size}`);
  }

  stop(): void {
    this.selections.clear();
    for (const host of this.hosts.values()) host.close();
    this.hosts.clear();
    this.arm();
    this.matcher.stop();
  }
}
