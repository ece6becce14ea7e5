// strerr(8)'s log files, error.MM-DD in its log directory.
import { closeSync, constants as fsc } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { writeFully } from '../daemon/io.js';
import { NotOurFileError, openOwnFile, refusedWords } from '../daemon/ownfile.js';
import type { Reporter } from '../daemon/report.js';

/**
 * The log files: one open at a time, chosen by each message's day. Files
 * are opened O_APPEND|O_CREAT|O_NOFOLLOW and must be our own plain file with
 * one link (the directory may be shared): nothing planted at a log's name
 * is ever written to. When the day's file is not usable so (a second link,
 * another owner, a symbolic link), the day's messages go to the first of
 * error.MM-DD.1, .2 ... that is, and strerr says so: a message is written
 * or reported lost, never silently dropped.
 */
export class ErrorLog {
  private fd = -1;
  /** The day's name (error.MM-DD) and the file it is written to. */
  private name = '';
  private path = '';
  private complained = new Set<string>();
  private writeFailing = false;
  /** Lines not written since the last report. */
  private lost = 0;
  private lostReportAt = -Infinity;
  constructor(
    private readonly dir: string,
    private readonly report: Reporter,
  ) {}

  /** Append `count` lines to the file of the day `name`; false when they could not be written. */
  append(name: string, text: string, count: number): boolean {
    if (name !== this.name) {
      this.close();
      if (!this.open(name)) return this.lose(count);
    }
    try {
      writeFully(this.fd, text);
      if (this.writeFailing) this.recovered();
      return true;
    } catch (err) {
      if (!this.writeFailing) this.report.error(`cannot write to ${this.path}: ${(err as Error).message}; messages are lost (their number is reported)`);
      this.writeFailing = true;
      return this.lose(count);
    }
  }

  /** Open the day's file, or the first usable alternative name; false when none. */
  private open(name: string): boolean {
    const base = join(this.dir, name);
    let why = '';
    for (let n = 0; n < 100; n++) {
      const path = n === 0 ? base : `${base}.${n}`;
      const r = this.openOne(path);
      if (typeof r === 'number') {
        this.fd = r;
        this.name = name;
        this.path = path;
        if (n > 0 && !this.complained.has(name)) this.report.error(`cannot use ${base}: ${why}; this day's messages go to ${path}`);
        this.complained.add(name);
        return true;
      }
      if (n === 0) why = r.why;
      if (!r.other) break; // not a file planted at the name: another name would fail the same way
    }
    if (!this.complained.has(name)) this.report.error(`cannot open ${base}: ${why}; its messages are lost (their number is reported)`);
    this.complained.add(name);
    return false;
  }

  /** A descriptor of our own file at path, or why not (other: the name is taken by someone else's file). */
  private openOne(path: string): number | { why: string; other: boolean } {
    try {
      return openOwnFile(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, { mode: 0o644 });
    } catch (err) {
      if (err instanceof NotOurFileError) return { why: refusedWords(err), other: true };
      const code = (err as NodeJS.ErrnoException).code;
      // A FIFO without reader (ENXIO), a directory.
      const other = code === 'ENXIO' || code === 'EISDIR' || code === 'ETXTBSY';
      return { why: (err as Error).message, other };
    }
  }

  private lose(count: number): false {
    this.lost += count;
    // Said at once the first time, then at most every 10 s while it lasts.
    const now = performance.now();
    if (now - this.lostReportAt >= 10_000) {
      this.lostReportAt = now;
      this.reportLost();
    }
    return false;
  }

  /** The file the lines of the day `name` go to. */
  where(name: string): string {
    return name === this.name ? this.path : join(this.dir, name);
  }

  private recovered(): void {
    this.writeFailing = false;
    this.reportLost();
  }

  /** Say how many lines were lost since the last time. */
  reportLost(): void {
    if (this.lost === 0) return;
    this.report.error(`${this.lost} messages could not be written (${this.path || join(this.dir, this.name || 'error.*')})`);
    this.lost = 0;
  }

  close(): void {
    this.reportLost();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.name = '';
    this.path = '';
  }
}
