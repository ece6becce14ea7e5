// Reading a log file back: the whole file to its current end (readLog), or
// only what was appended since the last poll (LogFollower), through the
// parser of src/plog/log/logread.ts; the errors said as strerror(3) words;
// and whether a log plogsrvd takes up again (--resume) needs this version's
// header written again (headerBeforeResume).
//
// The file is read in chunks, up to its end at the time of reading (more
// than its size at open when it grows meanwhile), so a log larger than the
// longest JavaScript string still reads. LogFollower reads only what was
// appended since its last poll.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { errnoFromCode, strerror } from '../../errno.js';
import { errCode } from '../../proc/errors.js';
import { dateOrderOfHeader } from './lineparse.js';
import { LogParser } from './logread.js';
import type { Log, TimeOptions } from './sample.js';

/** Why a log could not be read. */
export class LogError extends Error {
  /** 'read': the file cannot be read (errno in the message); 'not-a-log': no sample and no header in it. */
  readonly kind: 'read' | 'not-a-log';
  readonly path: string;
  constructor(kind: 'read' | 'not-a-log', path: string, message: string) {
    super(message);
    this.name = 'LogError';
    this.kind = kind;
    this.path = path;
  }
}

const CHUNK = 1 << 20;

/** A system error in words, as strerror(3) says it ('No such file or
 * directory', src/errno.ts); an error with no errno code, its own message. */
export function errnoText(err: unknown): string {
  const code = errCode(err);
  return code !== undefined && errnoFromCode(code) !== undefined ? strerror(code) : (err as Error).message;
}

/**
 * Read a log file (or '-' for standard input) to its current end. Throws
 * LogError('read') when it cannot be read, LogError('not-a-log') when there
 * is nothing in it that a plog log would have (no header, no sample).
 * A log with a header but no sample yet (just created) is returned empty.
 */
export function readLog(path: string, opts: { year?: number } = {}): Log {
  let fd: number;
  let st: Stats;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (err) {
    throw new LogError('read', path, `${path}: ${errnoText(err)}`);
  }
  const parser = new LogParser();
  try {
    st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    const buf = Buffer.alloc(CHUNK);
    const dec = new StringDecoder('utf8');
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, CHUNK, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        if ((err as NodeJS.ErrnoException).code === 'EOF') break;
        throw err;
      }
      if (n === 0) break;
      parser.push(dec.write(buf.subarray(0, n)));
    }
    parser.push(dec.end());
  } catch (err) {
    throw new LogError('read', path, `${path}: ${errnoText(err)}`);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  if (!parser.looksLikeLog) throw new LogError('not-a-log', path, `${path}: not a plog log (no header and no sample line)`);
  const time: TimeOptions =
    opts.year !== undefined ? { year: opts.year } : path === '-' || !st.isFile() ? { anchorMs: Date.now(), anchorSource: 'now' } : { anchorMs: Math.max(st.mtimeMs, 0), anchorSource: 'mtime' };
  return parser.result(path, time);
}

/** How far headerBeforeResume() looks for the end of the command line (a log's owner may make it long). */
const RESUME_LOOK = 1 << 20;

/**
 * Whether a text log taken up again (plogsrvd --resume) needs this
 * version's header written again before its next line: when the header at
 * its top says day-month dates (a version before wrote them), so that the
 * readers read the lines after it month-day (a header says the order of the
 * lines after it, wherever it is). The log's descriptor is write-only
 * (O_APPEND): its beginning is read through /proc/self/fd/FD, the very file
 * open on it, never by name; at most RESUME_LOOK bytes to find line 2, and
 * a header's length of it. False when it cannot tell.
 */
export function headerBeforeResume(fd: number): boolean {
  let rfd: number;
  try {
    rfd = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    let start = -1;
    for (let pos = 0; pos < RESUME_LOOK && start < 0;) {
      const n = readSync(rfd, buf, 0, buf.length, pos);
      if (n === 0) return false;
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) start = pos + nl + 1;
      pos += n;
    }
    if (start < 0) return false;
    const n = readSync(rfd, buf, 0, 512, start);
    const line2 = buf.subarray(0, n).toString('latin1');
    const end = line2.indexOf('\n');
    return end >= 0 && dateOrderOfHeader(line2.slice(0, end))?.order === 'day-month';
  } catch {
    return false;
  } finally {
    closeSync(rfd);
  }
}

/**
 * Follows a log being written: each poll() reads what was appended since
 * the last one. A file that shrank or was replaced is read again from its
 * start. Dates are placed with now as the anchor (the log is live).
 */
export class LogFollower {
  private parser = new LogParser();
  private offset = 0;
  private ino = -1;
  private dec = new StringDecoder('utf8');
  private readonly year: number | undefined;

  constructor(
    readonly path: string,
    opts: { year?: number } = {},
  ) {
    this.year = opts.year;
  }

  /** Read what is new; returns the whole log so far, and whether anything changed. */
  poll(): { log: Log; changed: boolean } {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      throw new LogError('read', this.path, `${this.path}: ${errnoText(err)}`);
    }
    let changed = false;
    try {
      const st = fstatSync(fd);
      if (st.ino !== this.ino || st.size < this.offset) {
        this.parser = new LogParser();
        this.dec = new StringDecoder('utf8');
        this.offset = 0;
        this.ino = st.ino;
        changed = true;
      }
      const buf = Buffer.alloc(CHUNK);
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, this.offset);
        if (n === 0) break;
        this.offset += n;
        this.parser.push(this.dec.write(buf.subarray(0, n)));
        changed = true;
      }
    } catch (err) {
      throw new LogError('read', this.path, `${this.path}: ${errnoText(err)}`);
    } finally {
      closeSync(fd);
    }
    const time: TimeOptions = this.year !== undefined ? { year: this.year } : { anchorMs: Date.now(), anchorSource: 'now' };
    return { log: this.parser.result(this.path, time), changed };
  }
}
