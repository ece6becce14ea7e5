/**
 * plog web's engine: the logs of a directory and of files named, followed
 * as they grow (tail.ts), each summed up in a bounded LogStats (stats.ts),
 * and what the pages show of them: a row of the list, a log's report, its
 * series for a chart, its downloads. No HTTP here (http.ts), no timers
 * (the caller calls scan(), service() and tick()); file system access is
 * through FileTail and scan()'s directory listing only.
 *
 * Whose files: the engine runs as the user who started plog web and opens
 * files with that user's rights, so it shows nobody more than their
 * permissions give them. A shared directory (plogsrvd's, mode 1777) holds
 * files of anybody: a name that is a symlink is not followed, a FIFO never
 * blocks the reader (O_NONBLOCK) and is skipped, a file that is not a log
 * is left out after its first lines, dot files are skipped, a name that is
 * not valid UTF-8 is skipped, and the number of logs followed is bounded.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { escapeText } from '../escape.js';
import { FIGURES, reportJson, type Verdict } from '../plog/readers/report.js';
import type { Log, Sample } from '../plog/log/sample.js';
import { FileTail } from './tail.js';
import type { Located } from './tailparse.js';
import { LogStats } from './stats.js';
import { parseLogName, passwdNames, procComm, rowOf, statusOf, type Row, type Shown, type Status } from './row.js';
import { logOf, seriesOf, type Series } from './series.js';

export { parseLogName, passwdNames, procComm, type Row, type Status } from './row.js';
export { RAW_LIMIT, type Series } from './series.js';

export interface EngineOptions {
  /** The runtime directory whose logs are shown (null: none). */
  dir: string | null;
  /** Log files named on the command line. */
  files: string[];
  /** Blocks kept per log (stats.ts). */
  blockCap?: number;
  /** At most this many logs followed. */
  maxLogs?: number;
  /** The command name of a live process (for "ended" or "pid reused"), null if none. */
  procComm?: (pid: number) => string | null;
  /** A user's name for a uid. */
  userName?: (uid: number) => string;
  /** Wall-clock now (ms). */
  now?: () => number;
  /** A monotonic clock (ms) for when verdicts are due (performance.now). */
  monotonic?: () => number;
}

export type EngineEvent =
  { type: 'added'; id: string } | { type: 'removed'; id: string } | { type: 'samples'; id: string; samples: Located[] } | { type: 'reset'; id: string } | { type: 'changed'; id: string };

export interface Entry {
  id: string;
  path: string;
  inDir: boolean;
  name: string;
  pid: number | null;
  tail: FileTail;
  stats: LogStats;
  stat: Stats | null;
  error: string | null;
  /** Unread bytes wait (a read stopped at its budget). */
  more: boolean;
  dirty: boolean;
  status: Status;
  verdict: Verdict | null;
  verdictAtN: number;
  verdictAtMs: number;
  /** Its texts as shown (escaped), kept: made again only when what they come from changes (row.ts, Shown). */
  shown: Shown | null;
}

/** Files of plogsrvd's directory that are never logs. */
const NOT_LOGS = new Set(['plogd_sock', 'plogsrvd.state', 'plogsrvd.pid', 'plogsrvd.lock']);

/** Samples of a live read parsed per service() call at most (the rest waits for the next). */
const READ_BUDGET = 1 << 20;
/**
 * A list's verdict is computed again at most every 30 s, when the log has
 * new samples: it moves slowly (it needs 10 minutes of log to say "leak"),
 * and each costs a pass over the blocks (and may read one back). Made again
 * at 5 % more samples, a young log at 1 s (100 samples) had one every 5 s:
 * a tenth of plog web's time with 500 of them; every 10 s, the first
 * minutes of 500 new logs still cost a twentieth. A log's own page gets
 * its report at each update.
 */
const VERDICT_EVERY = 30_000;
/** First verdicts made ahead of a page per tick() (see there). */
const VERDICTS_A_TICK = 100;

const validUtf8 = (b: Buffer): string | null => {
  const s = b.toString('utf8');
  return Buffer.from(s, 'utf8').equals(b) ? s : null;
};

export class Engine {
  readonly dir: string | null;
  private readonly entries = new Map<string, Entry>();
  private readonly files: string[];
  private readonly blockCap: number;
  private readonly maxLogs: number;
  private readonly procComm: (pid: number) => string | null;
  private readonly userName: (uid: number) => string;
  private readonly now: () => number;
  private readonly monotonic: () => number;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  /** Why the directory cannot be listed, if it cannot. */
  dirError: string | null = null;
  /** Logs left out because maxLogs was reached. */
  overflow = 0;
  /** Logs marked changed (touch) or with a backlog, to read at the next service(). */
  private readonly due = new Set<Entry>();
  /** Files that are not logs, by path: their inode and size when judged (judged again when they change). */
  private readonly notLogs = new Map<string, { ino: number; size: number }>();

  constructor(opts: EngineOptions) {
    this.dir = opts.dir;
    this.files = opts.files.map((f) => resolve(f));
    this.blockCap = opts.blockCap ?? 32;
    this.maxLogs = opts.maxLogs ?? 10_000;
    this.procComm = opts.procComm ?? procComm;
    this.userName = opts.userName ?? passwdNames();
    this.now = opts.now ?? Date.now;
    this.monotonic = opts.monotonic ?? (() => performance.now());
  }

  subscribe(fn: (e: EngineEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: EngineEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  private newEntry(id: string, path: string, inDir: boolean): Entry {
    const { name, pid } = parseLogName(basename(path));
    const e: Entry = {
      id,
      path,
      inDir,
      name,
      pid,
      tail: new FileTail(path, !inDir),
      stats: new LogStats(this.blockCap),
      stat: null,
      error: null,
      more: true,
      dirty: true,
      status: 'waiting',
      verdict: null,
      verdictAtN: -1,
      verdictAtMs: -Infinity,
      shown: null,
    };
    this.due.add(e);
    return e;
  }

  /**
   * List the directory (and find the files named): new logs are added,
   * logs gone are removed, a log renamed (rotated: NAME -> NAME.r1) keeps
   * what was read of it under its new name. Returns whether anything changed.
   */
  scan(): boolean {
    let changed = false;
    const seen = new Set<string>();
    if (this.dir !== null) {
      let names: Buffer[] = [];
      try {
        names = readdirSync(this.dir, { encoding: 'buffer' });
        this.dirError = null;
      } catch (err) {
        this.dirError = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : String((err as Error).message);
      }
      // Inodes of the directory's logs, to follow a rename.
      const byIno = new Map<number, Entry>();
      for (const e of this.entries.values()) if (e.inDir && e.stat) byIno.set(e.stat.ino, e);
      for (const raw of names) {
        const base = validUtf8(raw);
        if (base === null || base.startsWith('.') || NOT_LOGS.has(base) || base.includes('.tmp.')) continue;
        let st: Stats;
        try {
          st = lstatSync(join(this.dir, base));
        } catch {
          continue;
        }
        if (!st.isFile()) continue;
        const nl = this.notLogs.get(join(this.dir, base));
        if (nl && nl.ino === st.ino && nl.size === st.size) continue;
        if (nl) this.notLogs.delete(join(this.dir, base));
        seen.add(base);
        const cur = this.entries.get(base);
        if (cur && cur.inDir && cur.stat && cur.stat.ino === st.ino) {
          cur.tail.nameSeen(st); // its reader need not check the name itself
          continue;
        }
        if (cur && cur.inDir && !cur.stat) continue; // not read yet
        const moved = byIno.get(st.ino);
        if (moved && moved.id !== base && (!this.entries.has(moved.id) || moved.stat?.ino === st.ino)) {
          // Renamed: the old name's entry goes on under the new one.
          this.entries.delete(moved.id);
          this.emit({ type: 'removed', id: moved.id });
          if (cur) {
            cur.tail.close();
            this.entries.delete(base);
            this.emit({ type: 'removed', id: base });
          }
          const e = moved;
          e.id = base;
          e.path = join(this.dir, base);
          Object.assign(e, parseLogName(base));
          e.tail.path = e.path;
          this.entries.set(base, e);
          byIno.delete(st.ino);
          this.emit({ type: 'added', id: base });
          changed = true;
          continue;
        }
        if (cur) {
          // Replaced in place: read the new file from its start.
          cur.tail.close();
          cur.dirty = true;
          this.due.add(cur);
          continue;
        }
        if (this.entries.size >= this.maxLogs) {
          this.overflow++;
          continue;
        }
        this.entries.set(base, this.newEntry(base, join(this.dir, base), true));
        this.emit({ type: 'added', id: base });
        changed = true;
      }
      for (const e of [...this.entries.values()]) {
        if (e.inDir && !seen.has(e.id)) {
          e.tail.close();
          this.entries.delete(e.id);
          this.emit({ type: 'removed', id: e.id });
          changed = true;
        }
      }
    }
    for (const path of this.files) {
      if (this.notLogs.has(path) || this.hasPath(path)) continue;
      if (this.dir !== null && resolve(this.dir, basename(path)) === path) continue; // the directory's own
      let id = basename(path);
      for (let k = 2; this.entries.has(id); k++) id = `${basename(path)}~${k}`;
      this.entries.set(id, this.newEntry(id, path, false));
      this.emit({ type: 'added', id });
      changed = true;
    }
    return changed;
  }

  /** Whether a file is followed (by its absolute path). */
  hasPath(path: string): boolean {
    for (const e of this.entries.values()) if (e.path === path) return true;
    return false;
  }

  /** Whether a file was found not to be a log (by its absolute path). */
  isNotALog(path: string): boolean {
    return this.notLogs.has(path);
  }

  /** Mark a log (by its name in the directory, or any id) as changed on disk. */
  touch(name: string): void {
    const e = this.entries.get(name);
    if (e) {
      e.dirty = true;
      this.due.add(e);
    }
  }

  /** Mark every log as possibly changed (a poll when no watch is there). */
  touchAll(): void {
    for (const e of this.entries.values()) {
      e.dirty = true;
      this.due.add(e);
    }
  }

  /** Whether some log has bytes waiting beyond a read's budget. */
  get backlog(): boolean {
    for (const e of this.due) if (e.more) return true;
    return false;
  }

  /**
   * Read what is new in the changed logs, then in those with a backlog, up
   * to `budget` bytes in all (a log read for the first time, however long,
   * does not hold up the others). Returns the bytes read.
   */
  service(budget = 8 << 20): number {
    let used = 0;
    // Changed logs first, then those with a backlog.
    const order = [...this.due].sort((a, b) => Number(b.dirty) - Number(a.dirty));
    for (const e of order) {
      if (used >= budget) break;
      if (this.entries.get(e.id) !== e) {
        this.due.delete(e);
        continue;
      }
      e.dirty = false;
      const before = e.tail.bytesRead;
      const r = e.tail.read(Math.min(READ_BUDGET, budget - used));
      used += e.tail.bytesRead - before;
      e.more = r.more;
      if (!e.more) this.due.delete(e);
      const err = r.error;
      if (err !== e.error) {
        e.error = err;
        this.emit({ type: 'changed', id: e.id });
      }
      if (r.stat) e.stat = r.stat;
      if (e.tail.parser.notALog) {
        e.tail.close();
        this.notLogs.set(e.path, { ino: e.stat?.ino ?? -1, size: e.stat?.size ?? -1 });
        this.entries.delete(e.id);
        this.emit({ type: 'removed', id: e.id });
        continue;
      }
      if (r.reset) {
        e.stats = new LogStats(this.blockCap);
        e.verdict = null;
        e.verdictAtN = -1;
        this.emit({ type: 'reset', id: e.id });
      }
      if (r.samples.length) {
        for (const l of r.samples) e.stats.add(l.sample, l.start, l.end);
        this.emit({ type: 'samples', id: e.id, samples: r.samples });
      }
    }
    return used;
  }

  /**
   * Recompute each log's status (time passes: a log stops getting samples);
   * emits 'changed' for those that moved. And the first verdict of up to
   * VERDICTS_A_TICK logs that have none: otherwise the first page to open
   * waits for every log's (with 500 logs, a second or more).
   */
  tick(): void {
    let verdicts = VERDICTS_A_TICK;
    for (const e of this.entries.values()) {
      const s = this.statusOf(e).status;
      if (s !== e.status) {
        e.status = s;
        this.emit({ type: 'changed', id: e.id });
      }
      if (e.verdict === null && e.stats.n > 0 && verdicts-- > 0) this.verdictOf(e);
    }
  }

  /** The samples of a log between two byte offsets, read again. */
  private reader(e: Entry) {
    return (start: number, end: number, line: number): Sample[] | null => e.tail.readRange(start, end, line)?.map((l) => l.sample) ?? null;
  }

  verdictOf(e: Entry): Verdict {
    const n = e.stats.n;
    const t = this.monotonic();
    const since = t - e.verdictAtMs;
    if (e.verdict === null || (n !== e.verdictAtN && since >= VERDICT_EVERY)) {
      e.verdict = e.stats.verdict(this.reader(e));
      e.verdictAtN = n;
      e.verdictAtMs = t;
    }
    return e.verdict;
  }

  /** Running or ended, and why (from the last sample, and whether its process is still there). */
  statusOf(e: Entry): { status: Status; why: string } {
    return statusOf(e, this.now(), this.procComm);
  }

  /** A log's row; its sparkline left out when its version is sparkHad. */
  row(e: Entry, sparkHad = -1): Row {
    return rowOf(e, this.statusOf(e), () => this.verdictOf(e), this.userName, sparkHad);
  }

  rows(): Row[] {
    return [...this.entries.values()].filter((e) => e.tail.parser.info !== null || e.error !== null).map((e) => this.row(e));
  }

  /** plog report's figures of a log (reportJson), its texts escaped. */
  report(e: Entry): unknown {
    const r = e.stats.report(e.path, e.tail.parser.info?.command ?? '', this.reader(e), {
      badLineCount: e.tail.parser.badLineCount,
      partialTail: e.tail.parser.partialTail,
      lacks: e.tail.parser.info?.lacks ?? [],
    });
    const j = reportJson(r) as Record<string, unknown>;
    j.path = escapeText(String(j.path));
    j.command = escapeText(String(j.command));
    if (typeof j.last_state === 'string') j.last_state = escapeText(j.last_state);
    const verdict = j.verdict as { text: string };
    verdict.text = escapeText(verdict.text);
    j.labels = Object.fromEntries(FIGURES.map((f) => [f.key, f.label]));
    return j;
  }

  /**
   * A log's chart series between two times (series.ts): its samples, or
   * its blocks' lowest and highest; no peak is lost either way.
   */
  series(e: Entry, from = -Infinity, to = Infinity, maxPoints = 4000): Series {
    return seriesOf(e, from, to, maxPoints);
  }

  /** The log as a Log (for plot's SVG). */
  asLog(e: Entry): Log | null {
    return logOf(e);
  }
}
