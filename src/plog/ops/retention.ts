// Retention of plogsrvd's logs (plogsrvd(1), --max-size): --max-size rotates a log that
// reached SIZE (NAME -> NAME.r1 -> NAME.r2 ..., newest .r1, at most --keep of
// them), the new NAME created O_EXCL|O_NOFOLLOW and headed by the command
// line and column names again; --max-total caps the directory by removing
// the oldest rotated files. ".rN" cannot collide with the names of logs
// (NAME.PID, NAME.PID.N, NAME.PID[.N].csv|.jsonl all end in digits or a
// format), and only files that are ours are ever renamed or removed.
import { closeSync, constants as C, fchownSync, fstatSync, lstatSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatCmdline } from '../../proc/cmdline.js';
import { errnoWords } from '../../proc/errors.js';
import { appendLine } from '../log/logfile.js';
import type { EngineHooks, Reporter, Target } from '../engine/registry.js';
import { headOf, type SampleEnd } from '../engine/sampler.js';

export interface RetentionOptions {
  /** Rotate a log once it has this many bytes (0: never). */
  maxSize: number;
  /** Rotated files kept per log. */
  keep: number;
  /** Cap on the bytes of the directory's files (0: none). */
  maxTotal: number;
}

export const DEFAULT_KEEP = 5;

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "10M", "512k", "1G", "4096", "2MiB", "1GB" (binary units) -> bytes; null if malformed. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const n = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!); // the pattern admits only UNITS' keys
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The name of rotated file k of a log. */
export function rotatedName(name: string, k: number): string {
  return `${name}.r${k}`;
}

/** Whether a name is that of a rotated log: NAME.PID[.N][.csv|.jsonl].rK. */
export function isRotatedName(name: string): boolean {
  return /^.+\.\d+(?:\.\d+)?(?:\.csv|\.jsonl)?\.r[1-9]\d*$/.test(name);
}

const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_APPEND | C.O_NONBLOCK;

export class Retention {
  opts: RetentionOptions;
  private readonly dir: string;
  private readonly report: Reporter;
  /** Inodes of the files this run rotated (ours even when owned by a user). */
  private readonly rotated = new Set<number>();
  /** Logs whose rotation is off after a problem (said once). */
  private readonly stuck = new WeakSet<Target>();
  private lastTotalCheck = -Infinity;
  private overSaid = false;

  constructor(dir: string, opts: RetentionOptions, report: Reporter) {
    this.dir = dir;
    this.opts = opts;
    this.report = report;
  }

  get active(): boolean {
    return this.opts.maxSize > 0 || this.opts.maxTotal > 0;
  }

  hooks(): EngineHooks {
    return { sampled: (t) => this.sampled(t) };
  }

  /** After each sample: rotate a log that reached maxSize; enforce maxTotal at most once a second. */
  sampled(t: Target): SampleEnd | void {
    let end: SampleEnd | void = undefined;
    // The host log (src/plog/host.ts) is many processes' one file: not rotated by one of them.
    if (this.opts.maxSize > 0 && !t.sharedLog && !this.stuck.has(t)) {
      let size = 0;
      try {
        size = fstatSync(t.log.fd).size;
      } catch {
        /* the next sample reports it */
      }
      if (size >= this.opts.maxSize) end = this.rotate(t);
    }
    if (this.opts.maxTotal > 0) {
      // A monotonic clock: a step of the wall clock must neither stop the
      // check for as long as it stepped back nor run it at every sample.
      const now = performance.now();
      if (now - this.lastTotalCheck >= 1000) {
        this.lastTotalCheck = now;
        this.enforceTotal();
      }
    }
    return end;
  }

  /** Whether the file at name may be renamed or removed by us. */
  private ours(name: string, ownerUid: number | null): boolean {
    if (!isRotatedName(name)) return false;
    let st;
    try {
      st = lstatSync(join(this.dir, name));
    } catch {
      return false;
    }
    if (!st.isFile() || st.nlink !== 1) return false;
    return this.rotated.has(st.ino) || st.uid === process.geteuid?.() || (ownerUid !== null && st.uid === ownerUid);
  }

  private exists(name: string): boolean {
    try {
      lstatSync(join(this.dir, name));
      return true;
    } catch {
      return false;
    }
  }

  /** NAME -> NAME.r1 (shifting older ones, dropping past keep), a fresh NAME with its head. */
  rotate(t: Target): SampleEnd | void {
    const name = t.log.name;
    let st;
    try {
      st = fstatSync(t.log.fd);
      const at = lstatSync(t.log.path);
      if (at.ino !== st.ino || at.dev !== st.dev) throw new Error('another file is at its name');
    } catch (err) {
      return this.giveUp(t, `${t.log.path}: ${(err as Error).message}`);
    }
    const keep = this.opts.keep;
    try {
      // The slots from the oldest down: each must be free or ours.
      for (let k = Math.max(keep, 1); k >= 1; k--) {
        const from = rotatedName(name, k);
        if (!this.exists(from)) continue;
        if (!this.ours(from, st.uid)) return this.giveUp(t, `${join(this.dir, from)} is not a rotated log of ours`);
        if (k >= keep) unlinkSync(join(this.dir, from));
        else {
          const to = rotatedName(name, k + 1);
          if (this.exists(to)) return this.giveUp(t, `${join(this.dir, to)} is in the way`);
          renameSync(join(this.dir, from), join(this.dir, to));
        }
      }
      const r1 = join(this.dir, rotatedName(name, 1));
      if (this.exists(rotatedName(name, 1))) return this.giveUp(t, `${r1} is in the way`);
      renameSync(t.log.path, r1);
      this.rotated.add(st.ino);
      if (keep === 0) unlinkSync(r1);
    } catch (err) {
      return this.giveUp(t, `${t.log.path}: ${errnoWords(err)}`);
    }
    const end = this.fresh(t, st);
    if (end) return end;
    this.report.info(`rotated ${name} (${st.size} bytes) to ${rotatedName(name, 1)}`);
  }

  /**
   * SIGHUP: a log whose name no longer leads to the file being written (moved
   * away by an outside rotation such as logrotate's) starts afresh at its
   * name, headed again; the moved file is left as it is.
   */
  reopen(t: Target): void {
    let st;
    try {
      st = fstatSync(t.log.fd);
    } catch {
      return; // the next sample reports it
    }
    try {
      const at = lstatSync(t.log.path);
      if (at.ino === st.ino && at.dev === st.dev) return;
      this.report.error(`not reopening ${t.log.path}: another file is at its name; still writing to the moved one`);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return;
    }
    const end = this.fresh(t, st);
    if (end) this.report.error(`${end.why}; still writing to the moved file`);
    else this.report.info(`reopened ${t.log.name} (the file was moved away)`);
  }

  /** A new file at t's log path (O_EXCL|O_NOFOLLOW, the old one's mode and owner) with the head, in place of the old. */
  private fresh(t: Target, st: { mode: number; uid: number; gid: number }): SampleEnd | void {
    let fd: number;
    try {
      fd = openSync(t.log.path, CREATE_FLAGS, st.mode & 0o777);
      if (st.uid !== process.geteuid?.()) fchownSync(fd, st.uid, st.gid);
    } catch (err) {
      return { why: `Can't create logfile: ${errnoWords(err)} (${t.log.path}, rotating it)`, isError: true };
    }
    try {
      const command = formatCmdline(t.reader.readCmdline(), t.prev.stat.comm);
      appendLine(fd, headOf(t, command));
    } catch (err) {
      closeSync(fd);
      return { why: `${(err as Error).message} (${t.log.path}, rotating it)`, isError: true };
    }
    closeSync(t.log.fd);
    t.log.fd = fd;
  }

  private giveUp(t: Target, why: string): void {
    this.stuck.add(t);
    this.report.error(`not rotating ${t.log.name} any more: ${why}`);
  }

  /** Remove the oldest rotated files of ours while the directory's files take more than maxTotal. */
  enforceTotal(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      this.report.error(`--max-total: cannot read ${this.dir}: ${errnoWords(err)}`);
      return;
    }
    let total = 0;
    const old: Array<{ name: string; mtime: number; size: number }> = [];
    for (const name of names) {
      let st;
      try {
        st = lstatSync(join(this.dir, name));
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      total += st.size;
      if (this.ours(name, null)) old.push({ name, mtime: st.mtimeMs, size: st.size });
    }
    if (total <= this.opts.maxTotal) {
      this.overSaid = false;
      return;
    }
    old.sort((a, b) => a.mtime - b.mtime || b.name.localeCompare(a.name));
    for (const f of old) {
      if (total <= this.opts.maxTotal) break;
      try {
        unlinkSync(join(this.dir, f.name));
        total -= f.size;
        this.report.info(`removed ${f.name} (${f.size} bytes): the directory is over --max-total`);
      } catch (err) {
        this.report.error(`--max-total: cannot remove ${f.name}: ${errnoWords(err)}`);
      }
    }
    if (total > this.opts.maxTotal && !this.overSaid) {
      this.overSaid = true;
      this.report.error(`${this.dir} holds ${total} bytes, over --max-total ${this.opts.maxTotal}, and has no rotated log left to remove`);
    }
  }
}
