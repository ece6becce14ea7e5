// plogsrvd's registrations kept across its runs (issue 7): DIR/plogsrvd.state,
// rewritten atomically (a temporary file created O_EXCL|O_NOFOLLOW, fsync,
// rename) whenever a log begins or ends (an empty list when nothing is); `plogsrvd --resume` takes up each
// registration whose process still runs with the same start time and whose
// log is still there, appending to the same file.
import { closeSync, constants as C, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoWords } from '../proc/errors.js';
import type { LogFormatName } from './protocol.js';
import type { PlogServer, Reporter, ServerHooks, Target } from './server.js';

export const STATE_FILE = 'plogsrvd.state';
const STATE_VERSION = 1;
const MAX_STATE_BYTES = 16 * 1024 * 1024;

export interface SavedRegistration {
  pid: number;
  /** stat's starttime (clock ticks since boot): the same process, not a reused pid. */
  starttime: number;
  intervalMs: number;
  /** Who registered it. */
  uid: number;
  format: LogFormatName;
  /** The log's base name in the directory. */
  log: string;
  /** A tree log (plog --tree); absent for a plain one. */
  tree?: boolean;
  /** The selection (plog -n/-r) that started it, by its key; absent for a plain one. */
  selection?: string;
}

/** A selection by name or regex (src/plog/select.ts), kept so that --resume takes it up too. */
export interface SavedSelection {
  pattern: string;
  regex: boolean;
  intervalMs: number;
  format: LogFormatName;
  uid: number;
  gid: number;
}

/** What the selections add to the state (src/plog/select.ts implements it). */
export interface StateExtension {
  /** The key of the selection that started t, if any. */
  tagOf(t: Target): string | undefined;
  savedSelections(): SavedSelection[];
  /** --resume: make the saved selections again (not scanning yet). */
  restore(sels: SavedSelection[]): void;
  /** --resume: take up a registration of a selection, as the selection's. */
  adopt(tag: string, pid: number, fn: () => string | null): string | null;
  /** --resume done: selections start looking for processes. */
  resumed(): void;
}

export function toSaved(t: Target): SavedRegistration {
  return {
    pid: t.pid,
    starttime: t.starttime,
    intervalMs: t.intervalMs,
    uid: t.ownerUid,
    format: t.machine?.format ?? 'text',
    log: t.log.name,
    ...(t.tree ? { tree: true } : {}),
  };
}

export function serializeState(regs: Iterable<SavedRegistration>, selections: SavedSelection[] = []): string {
  return JSON.stringify({ version: STATE_VERSION, registrations: [...regs], ...(selections.length ? { selections } : {}) }) + '\n';
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** Parse a state file's text: the valid entries, and what was wrong with the others. */
export function parseState(text: string): { registrations: SavedRegistration[]; selections: SavedSelection[]; problems: string[] } {
  const problems: string[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { registrations: [], selections: [], problems: [`not JSON: ${(err as Error).message}`] };
  }
  const d = doc as { version?: unknown; registrations?: unknown; selections?: unknown };
  if (!d || typeof d !== 'object' || d.version !== STATE_VERSION || !Array.isArray(d.registrations)) {
    return { registrations: [], selections: [], problems: ['not a plogsrvd state of version 1'] };
  }
  const selections: SavedSelection[] = [];
  for (const [i, r] of (Array.isArray(d.selections) ? (d.selections as Array<Record<string, unknown>>) : []).entries()) {
    const ok =
      r &&
      typeof r === 'object' &&
      typeof r.pattern === 'string' &&
      r.pattern !== '' &&
      typeof r.regex === 'boolean' &&
      posInt(r.intervalMs) &&
      (r.format === 'text' || r.format === 'csv' || r.format === 'jsonl') &&
      typeof r.uid === 'number' &&
      Number.isSafeInteger(r.uid) &&
      r.uid >= 0 &&
      typeof r.gid === 'number' &&
      Number.isSafeInteger(r.gid) &&
      r.gid >= 0;
    if (!ok) {
      problems.push(`selection ${i + 1} is malformed`);
      continue;
    }
    selections.push({ pattern: r.pattern as string, regex: r.regex as boolean, intervalMs: r.intervalMs as number, format: r.format as LogFormatName, uid: r.uid as number, gid: r.gid as number });
  }
  const registrations: SavedRegistration[] = [];
  for (const [i, r] of (d.registrations as Array<Record<string, unknown>>).entries()) {
    const ok =
      r &&
      typeof r === 'object' &&
      posInt(r.pid) &&
      typeof r.starttime === 'number' &&
      Number.isSafeInteger(r.starttime) &&
      r.starttime >= 0 &&
      posInt(r.intervalMs) &&
      typeof r.uid === 'number' &&
      Number.isSafeInteger(r.uid) &&
      r.uid >= 0 &&
      (r.format === 'text' || r.format === 'csv' || r.format === 'jsonl') &&
      typeof r.log === 'string' &&
      r.log !== '' &&
      r.log !== '.' &&
      r.log !== '..' &&
      !r.log.includes('/') &&
      !r.log.includes('\0') &&
      (r.tree === undefined || typeof r.tree === 'boolean') &&
      (r.selection === undefined || typeof r.selection === 'string');
    if (!ok) {
      problems.push(`entry ${i + 1} is malformed`);
      continue;
    }
    registrations.push({ pid: r.pid as number, starttime: r.starttime as number, intervalMs: r.intervalMs as number, uid: r.uid as number, format: r.format as LogFormatName, log: r.log as string, ...(r.tree ? { tree: true } : {}), ...(typeof r.selection === 'string' ? { selection: r.selection } : {}) });
  }
  return { registrations, selections, problems };
}

/** Write path atomically: a new temporary file beside it (O_EXCL|O_NOFOLLOW), fsync, rename. */
export function writeAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp.${process.pid}`;
  const flags = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(tmp, flags, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    unlinkSync(tmp); // a leftover (or something planted): removed, never opened
    fd = openSync(tmp, flags, mode);
  }
  try {
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* leave it */
    }
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* leave it (a directory made unwritable meanwhile) */
    }
    throw err;
  }
}

/** Read our own state file: a regular file of our euid with one link, not through a symlink. */
export function readStateFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1 || st.uid !== process.geteuid?.()) throw new Error('not a file of ours (a regular file of our uid with one link)');
    if (st.size > MAX_STATE_BYTES) throw new Error('too large');
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Open an existing log to append to it again: by name in dir, O_APPEND and
 * O_NOFOLLOW, and only a regular file with one link owned by `owner`.
 */
export function openExistingLog(dir: string, name: string, owner: number): { fd: number; name: string; path: string } {
  const path = join(dir, name);
  const fd = openSync(path, C.O_WRONLY | C.O_APPEND | C.O_NOFOLLOW | C.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.nlink !== 1) throw new Error(`${st.nlink} links`);
    if (st.uid !== owner) throw new Error(`owned by uid ${st.uid}, not ${owner}`);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { fd, name, path };
}

export class StateKeeper {
  readonly path: string;
  private readonly server: PlogServer;
  private readonly report: Reporter;
  private pending = false;
  private frozen = false;
  private saved = false;

  constructor(server: PlogServer, report: Reporter, private readonly ext?: StateExtension) {
    this.server = server;
    this.report = report;
    this.path = join(server.dir, STATE_FILE);
  }

  hooks(): ServerHooks {
    return { registered: () => this.changed(), ended: () => this.changed() };
  }

  /** Save once the current turn of the event loop is done (changes come in bursts). */
  changed(): void {
    if (this.frozen || this.pending || !this.saved) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      if (!this.frozen) this.save();
    });
  }

  save(): void {
    this.saved = true;
    try {
      const regs = [...this.server.registrations()].map((t) => {
        const r = toSaved(t);
        const tag = this.ext?.tagOf(t);
        return tag === undefined ? r : { ...r, selection: tag };
      });
      writeAtomic(this.path, serializeState(regs, this.ext?.savedSelections() ?? []));
    } catch (err) {
      this.report.error(`Could not save ${this.path}: ${errnoWords(err)}`);
    }
  }

  /** At a clean stop: save what is logged now and write no more, so that the
   * registrations stay for --resume while the server ends them. */
  freeze(): void {
    if (this.frozen) return;
    // Not before the first save: a start that failed leaves the file as it was.
    if (this.saved) this.save();
    this.frozen = true;
  }

  /** --resume: take up the registrations of the previous run. Returns how many. */
  resume(): number {
    let text: string | null;
    try {
      text = readStateFile(this.path);
    } catch (err) {
      this.report.error(`--resume: not using ${this.path}: ${(err as Error).message}`);
      return 0;
    }
    if (text === null) return 0;
    const { registrations, selections, problems } = parseState(text);
    for (const p of problems) this.report.error(`--resume: ${this.path}: ${p}`);
    this.ext?.restore(selections);
    const euid = process.geteuid?.() ?? 0;
    let n = 0;
    for (const r of registrations) {
      const owner = euid === 0 && r.uid > 0 ? r.uid : euid;
      let log;
      try {
        log = openExistingLog(this.server.dir, r.log, owner);
      } catch (err) {
        this.report.info(`--resume: not resuming ${r.log} (pid ${r.pid}): ${errnoWords(err)}`);
        continue;
      }
      const take = (): string | null => this.server.resume({ pid: r.pid, starttime: r.starttime, intervalMs: r.intervalMs, uid: r.uid, format: r.format, tree: r.tree, log });
      const why = r.selection !== undefined && this.ext ? this.ext.adopt(r.selection, r.pid, take) : take();
      if (why !== null) {
        closeSync(log.fd);
        this.report.info(`--resume: not resuming ${r.log} (pid ${r.pid}): ${why}`);
        continue;
      }
      n++;
    }
    this.ext?.resumed();
    return n;
  }
}
