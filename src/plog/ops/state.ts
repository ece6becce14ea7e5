// plogsrvd's registrations kept across its runs (plogsrvd(1), STATE FILE): DIR/plogsrvd.state,
// rewritten atomically whenever a log begins or ends (an empty list when
// nothing is); `plogsrvd --resume` takes up each registration whose process
// still runs with the same start time and whose log is still there,
// appending to the same file. The directory is shared (sticky 1777): the
// state is written through a temporary file of an unguessable name and
// renamed over whatever is at its name (a directory planted there is moved
// aside), and read only when it is our own regular file
// (src/daemon/ownfile.ts).
import { closeSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { NotOurFileError, openOwnFile, readOwnFile, replaceOwnFile } from '../../daemon/ownfile.js';
import { errnoWords } from '../../proc/errors.js';
import type { LogFormatName } from '../protocol.js';
import type { EngineHooks, Registry, Reporter, Target } from '../engine/registry.js';

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

/** A selection by name or regex (src/plog/ops/select.ts), kept so that --resume takes it up too. */
export interface SavedSelection {
  pattern: string;
  regex: boolean;
  intervalMs: number;
  format: LogFormatName;
  uid: number;
  gid: number;
}

/** What the selections add to the state (src/plog/ops/select.ts implements it). */
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
    registrations.push({
      pid: r.pid as number,
      starttime: r.starttime as number,
      intervalMs: r.intervalMs as number,
      uid: r.uid as number,
      format: r.format as LogFormatName,
      log: r.log as string,
      ...(r.tree ? { tree: true } : {}),
      ...(typeof r.selection === 'string' ? { selection: r.selection } : {}),
    });
  }
  return { registrations, selections, problems };
}

/** Read our own state file: a regular file of our euid with one link, not
 * through a symlink (src/daemon/ownfile.ts); null when there is none. */
export function readStateFile(path: string): string | null {
  return readOwnFile(path, MAX_STATE_BYTES)?.toString('utf8') ?? null;
}

/**
 * Open an existing log to append to it again: by name in dir, O_APPEND and
 * O_NOFOLLOW, and only a regular file with one link owned by `owner`.
 */
export function openExistingLog(dir: string, name: string, owner: number): { fd: number; name: string; path: string } {
  const path = join(dir, name);
  return { fd: openOwnFile(path, C.O_WRONLY | C.O_APPEND, { owner }), name, path };
}

/** Why a file was not used: what is there instead of our own file, or the system error's words. */
function whyNot(err: unknown): string {
  return err instanceof NotOurFileError ? `it is ${err.what}, not our own file` : errnoWords(err);
}

export class StateKeeper {
  readonly path: string;
  private readonly engine: Registry;
  private readonly report: Reporter;
  private pending = false;
  private frozen = false;
  private saved = false;

  constructor(
    engine: Registry,
    report: Reporter,
    private readonly ext?: StateExtension,
  ) {
    this.engine = engine;
    this.report = report;
    this.path = join(engine.dir, STATE_FILE);
  }

  hooks(): EngineHooks {
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
      // The host log's processes are not saved: the whole-host selection takes them up again.
      const regs = [...this.engine.registrations()]
        .filter((t) => !t.sharedLog)
        .map((t) => {
          const r = toSaved(t);
          const tag = this.ext?.tagOf(t);
          return tag === undefined ? r : { ...r, selection: tag };
        });
      const displaced = replaceOwnFile(this.path, serializeState(regs, this.ext?.savedSelections() ?? []), { mode: 0o600 });
      if (displaced) {
        this.report.error(`${this.path} was ${displaced.what}, not our own file: ${displaced.aside ? `moved aside to ${displaced.aside}` : 'replaced'}`);
      }
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
      this.report.error(`--resume: not using ${this.path}: ${whyNot(err)}`);
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
        log = openExistingLog(this.engine.dir, r.log, owner);
      } catch (err) {
        this.report.info(`--resume: not resuming ${r.log} (pid ${r.pid}): ${whyNot(err)}`);
        continue;
      }
      const take = (): string | null => this.engine.resume({ pid: r.pid, starttime: r.starttime, intervalMs: r.intervalMs, uid: r.uid, format: r.format, tree: r.tree, log });
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
