// Selection by name (issue 7): `plog -n NAME -i X` logs every process whose
// name (comm, as in /proc/PID/stat, at most 15 bytes) is NAME, and `plog -r
// REGEX -i X` every process whose command line (arguments joined by spaces,
// as a log's first line shows it) matches REGEX: those running now and those
// that start later, until `plog -x NAME|REGEX` stops the selection. While a
// selection exists the server looks for new processes in /proc once a
// second (only pids it has not seen yet are read). A requester who is not
// root gets only processes of its own uid.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatCmdline } from '../proc/cmdline.js';
import { formatInterval, intervalOk, MAX_INTERVAL_MS, MIN_INTERVAL_MS, type LogFormatName, type Request } from './protocol.js';
import { LIMITS, type PlogServer, type Reporter, type ServerHooks, type Target } from './server.js';
import type { SavedSelection, StateExtension } from './state.js';

/** Selections one uid may have (root included). */
export const MAX_SELECTIONS_PER_UID = 32;
/** How often /proc is scanned for new processes while selections exist. */
export const SCAN_MS = 1000;
/** Longest comm the kernel keeps (TASK_COMM_LEN - 1). */
export const COMM_MAX = 15;
const DECIDED = -1;
const RECHECK = 3;

export interface Selection {
  pattern: string;
  regex: RegExp | null;
  intervalMs: number;
  format: LogFormatName;
  uid: number;
  gid: number;
  /** pid -> the scan that first saw it, or DECIDED once it is logged or not
   * its requester's; a process that did not match is looked at again in the
   * next RECHECK scans (it may exec another program right after its fork). */
  seen: Map<number, number>;
  /** The logs this selection started that are still written. */
  targets: Set<Target>;
}

/** What a process looks like to a selection. */
export interface ProcInfo {
  pid: number;
  uid: number;
  comm: string;
  /** The command line as a log's first line shows it (read only for regexes). */
  cmdline: () => string;
}

/** Whether a process matches a selection (pure). A NAME longer than 15
 * bytes matches the comm that is its first 15 bytes. */
export function matches(sel: Pick<Selection, 'pattern' | 'regex'>, p: Pick<ProcInfo, 'comm' | 'cmdline'>): boolean {
  if (sel.regex) return sel.regex.test(p.cmdline());
  const name = Buffer.from(sel.pattern, 'utf8');
  return p.comm === (name.length > COMM_MAX ? name.subarray(0, COMM_MAX).toString('utf8') : sel.pattern);
}

/** Compile a -r pattern; an error message instead when it is not a valid regular expression. */
export function compilePattern(pattern: string): RegExp | string {
  try {
    return new RegExp(pattern);
  } catch (err) {
    return (err as Error).message.replace(/^Invalid regular expression: /, '');
  }
}

function key(uid: number, regex: boolean, pattern: string): string {
  return `${uid}\0${regex ? 'r' : 'n'}\0${pattern}`;
}

export class Selector implements StateExtension {
  /** Called when a selection begins or ends (the state file is saved). */
  onChange: () => void = () => {};
  readonly selections = new Map<string, Selection>();
  private timer: NodeJS.Timeout | null = null;
  private scans = 0;
  /** The selection whose scan is registering logs (registered() attributes them to it). */
  private current: Selection | null = null;
  private readonly owner = new Map<Target, Selection>();

  constructor(
    private readonly server: PlogServer,
    private readonly report: Reporter,
    private readonly procRoot = '/proc',
  ) {}

  hooks(): ServerHooks {
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
    const what = req.regex ? `/${req.pattern}/` : `'${req.pattern}'`;
    if (!intervalOk(req.intervalMs) || req.intervalMs > MAX_INTERVAL_MS) {
      return `Invalid interval (${req.intervalMs} ms): it must be from ${formatInterval(MIN_INTERVAL_MS)} to ${MAX_INTERVAL_MS} ms.`;
    }
    let regex: RegExp | null = null;
    if (req.regex) {
      const r = compilePattern(req.pattern);
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
    this.selections.set(k, sel);
    this.scan([sel]);
    this.arm();
    this.onChange();
    this.report.info(`selecting ${what} every ${formatInterval(req.intervalMs)} for uid ${uid}: ${sel.targets.size} running`);
    return `Selecting ${what} every ${formatInterval(req.intervalMs)}: logging ${sel.targets.size} running process${sel.targets.size === 1 ? '' : 'es'}, and those that start later.`;
  }

  /** -x TEXT: a log by path or name, else a selection by its pattern. */
  stopBy(what: string, uid: number): string {
    const logs = [...this.server.registrations()].filter((t) => t.log.path === what || (!what.includes('/') && t.log.name === what));
    if (logs.length > 0 || what.includes('/')) {
      if (logs.length === 0) return `Not logging to ${what}.`;
      const allowed = logs.filter((t) => uid === 0 || t.ownerUid === uid);
      if (allowed.length === 0) return `${what}: Operation not permitted`;
      for (const t of allowed) this.server.endLog(t, `stopped logging ${t.log.name} on request of uid ${uid}`);
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
        this.server.endLog(t, `stopped logging ${t.log.name}: selection ${s.regex ? `/${s.pattern}/` : `'${s.pattern}'`} stopped by uid ${uid}`);
      }
    }
    this.arm();
    this.onChange();
    return `Stopped selecting ${what} and logging to ${n} file${n === 1 ? '' : 's'}.`;
  }

  private arm(): void {
    if (this.selections.size > 0 && !this.timer) {
      this.timer = setInterval(() => this.scan([...this.selections.values()]), SCAN_MS);
      this.timer.unref();
    } else if (this.selections.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Look at every process the given selections have not seen yet. */
  scan(sels: Selection[]): void {
    if (sels.length === 0) return;
    this.scans++;
    let names: string[];
    try {
      names = readdirSync(this.procRoot);
    } catch (err) {
      this.report.error(`selection: cannot read ${this.procRoot}: ${(err as Error).message}`);
      return;
    }
    const pids = new Set<number>();
    for (const n of names) {
      const c = n.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.add(Number(n));
    }
    pids.delete(process.pid);
    const info = new Map<number, ProcInfo | null>();
    const logsOf = new Map<number, number>();
    // Each process a tree log sums counts as a log (server.trees).
    for (const t of this.server.registrations()) if (!t.tree) logsOf.set(t.ownerUid, (logsOf.get(t.ownerUid) ?? 0) + 1);
    const logsOfUid = (uid: number): number => (logsOf.get(uid) ?? 0) + this.server.trees.of(uid);
    for (const sel of sels) {
      // Forget pids that are gone: a pid seen again is another process.
      for (const pid of sel.seen.keys()) if (!pids.has(pid)) sel.seen.delete(pid);
      for (const pid of pids) {
        const first = sel.seen.get(pid);
        if (first !== undefined && (first === DECIDED || this.scans - first > RECHECK)) continue;
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
        if (!matches(sel, p)) {
          if (first === undefined) sel.seen.set(pid, this.scans);
          continue;
        }
        sel.seen.set(pid, DECIDED);
        if (logsOfUid(sel.uid) >= LIMITS.logsPerUid) {
          sel.seen.delete(pid); // tried again once logs end
          continue;
        }
        this.current = sel;
        let reply: string;
        try {
          reply = this.server.register(pid, sel.intervalMs, sel.uid, sel.gid, sel.format);
        } finally {
          this.current = null;
        }
        if (reply.startsWith('Log file: ')) logsOf.set(sel.uid, (logsOf.get(sel.uid) ?? 0) + 1);
        else this.report.info(`selection ${sel.regex ? `/${sel.pattern}/` : `'${sel.pattern}'`}: pid ${pid}: ${reply}`);
      }
    }
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
        cmdline: () => {
          if (cmd === null) {
            try {
              cmd = formatCmdline(readFileSync(join(dir, 'cmdline')), comm);
            } catch {
              cmd = `[${comm}]`;
            }
          }
          return cmd;
        },
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
        const r = compilePattern(s.pattern);
        if (typeof r === 'string') continue;
        regex = r;
      }
      this.selections.set(key(s.uid, s.regex, s.pattern), { ...s, regex, seen: new Map(), targets: new Set() });
      this.report.info(`--resume: selecting ${s.regex ? `/${s.pattern}/` : `'${s.pattern}'`} every ${formatInterval(s.intervalMs)} for uid ${s.uid} again`);
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
    this.arm();
  }
}

