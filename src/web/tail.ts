/**
 * plog web's following of one log file: FileTail reads only the bytes
 * appended since its last read (TailParser, tailparse.ts, turns them into
 * samples), keeps a bounded set of descriptors open between reads, and
 * starts again from the file's start when the file at the name was
 * replaced or cut.
 */
import { closeSync, constants as C, fstatSync, lstatSync, openSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { errnoText } from '../plog/log/readlog.js';
import { TailParser, type Located } from './tailparse.js';

/** Open flags: never block on a FIFO planted at a log's name; no symlink in a shared directory. */
export function openFlags(followLinks: boolean): number {
  return C.O_RDONLY | C.O_NONBLOCK | (followLinks ? 0 : C.O_NOFOLLOW);
}

export interface ReadResult {
  samples: Located[];
  /** The file was replaced or cut: everything before is void, and samples start again. */
  reset: boolean;
  /** Bytes remain to be read beyond the budget. */
  more: boolean;
  stat: Stats | null;
  error: string | null;
}

const READ_CHUNK = 256 * 1024;
/** One read buffer for every reader: reads are synchronous, one at a time. */
let shared: Buffer | null = null;
const readBuffer = (): Buffer => (shared ??= Buffer.allocUnsafe(READ_CHUNK));

/**
 * Descriptors kept open between reads, at most KEPT (the most recently
 * read): the logs being written are read every interval, and an open and a
 * close per read were a third of the cost. With 500 logs at 1 s and 256
 * kept, every read still opened and closed (the least recent is the next
 * one due): up to 4096 are kept, less 256 for connections and the rest
 * under the process's limit of descriptors (Node raises its soft limit to
 * the hard one at start; read in /proc/self/limits). Out of descriptors
 * all the same (EMFILE), half of the kept ones are closed and the open
 * tried again. A log followed no more is closed at once (the engine calls
 * close()); one deleted is closed when its name is checked, within
 * NAME_CHECK_MS, so its space is not held.
 */
const KEPT = ((): number => {
  let limit = 1024;
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (m) limit = Number(m[1]);
  } catch {
    /* no /proc: the common default */
  }
  return Math.max(64, Math.min(4096, limit - 256));
})();
/** A little over the directory's listing period (watch.ts, 5 s), which checks the names of its logs (nameSeen()): the files named outside it check their own. */
const NAME_CHECK_MS = 6000;
const kept = new Set<FileTail>();

const noatime = typeof C.O_NOATIME === 'number';

/**
 * Open a log without updating its access time where open(2) allows it
 * (O_NOATIME: the file's owner, or root): a log being written is read after
 * every line, and with relatime each of those reads would write its inode
 * again. Refused (EPERM: another user's file), it is opened without.
 */
function openLog(path: string, followLinks: boolean): number {
  if (noatime) {
    try {
      return openSync(path, openFlags(followLinks) | C.O_NOATIME);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return openSync(path, openFlags(followLinks));
}

/** Open a log; out of descriptors (EMFILE), close the older half of the kept ones and try again. */
function openKept(path: string, followLinks: boolean): number {
  try {
    return openLog(path, followLinks);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EMFILE' || kept.size === 0) throw err;
    let n = Math.ceil(kept.size / 2);
    for (const t of kept) {
      if (n-- <= 0) break;
      t.close();
    }
    return openLog(path, followLinks);
  }
}

/**
 * One log file being followed. read() reads from where it stopped up to a
 * budget of bytes, through a descriptor kept open (see KEPT).
 */
export class FileTail {
  parser: TailParser;
  private ino = -1;
  private dev = -1;
  /** Bytes read from the file since it was opened first (for the tests: growth is read, not the whole). */
  bytesRead = 0;

  constructor(
    /** Changes when the log is renamed (rotated) under the reader. */
    public path: string,
    private readonly followLinks = false,
  ) {
    this.parser = new TailParser(path);
  }

  /** The descriptor kept open between reads (see KEPT), or -1. */
  private fd = -1;
  /** When the name was last checked to still be this file (performance.now()). */
  private checkedAt = 0;
  /** The file's modification time at its last fstat (the anchor of a text log's dates). */
  private mtimeMs = 0;
  /** Whether the next read asks fstat first: after an open or a check of the name (see read()). */
  private statDue = true;

  /** Close the kept descriptor (the log is no longer followed, or its name points elsewhere now). */
  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      kept.delete(this);
    }
  }

  /**
   * The name was found to lead to this file still (the engine's listing of
   * the directory, st from lstat): no need to check it again for a while,
   * and the modification time is fresh.
   */
  nameSeen(st: Stats): void {
    if (this.fd < 0 || st.ino !== this.ino || st.dev !== this.dev) return;
    this.checkedAt = performance.now();
    if (st.mtimeMs > this.mtimeMs) this.mtimeMs = st.mtimeMs;
  }

  /**
   * The descriptor to read: the kept one, while the name still leads to
   * its file (checked every NAME_CHECK_MS: a log replaced at its name is
   * then read from the new file's start), else the file opened again.
   */
  private descriptor(): number {
    if (this.fd >= 0 && performance.now() - this.checkedAt > NAME_CHECK_MS) {
      this.checkedAt = performance.now();
      let same = false;
      try {
        const st = (this.followLinks ? statSync : lstatSync)(this.path);
        same = st.ino === this.ino && st.dev === this.dev;
      } catch {
        /* gone: read what the descriptor still has, then the error */
      }
      if (!same) this.close();
      this.statDue = true;
    }
    if (this.fd < 0) {
      this.fd = openKept(this.path, this.followLinks);
      this.checkedAt = performance.now();
      this.statDue = true;
    }
    // Most recently read last; beyond KEPT descriptors, the least recent is closed.
    kept.delete(this);
    kept.add(this);
    if (kept.size > KEPT) kept.values().next().value?.close();
    return this.fd;
  }

  /**
   * Read what was appended, up to budget bytes. Through a descriptor just
   * opened, or at a check of its name, fstat first (is it a regular file,
   * the same one, cut shorter?); through the kept one otherwise, straight
   * from where the last read stopped up to a short read: a log of 500 read
   * every second spent a third of its reading time in fstat. A read that
   * finds nothing new there asks fstat (the file may have been cut).
   */
  read(budget: number): ReadResult {
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (err) {
      return { samples: [], reset: false, more: false, stat: null, error: errnoText(err) };
    }
    try {
      let st: Stats | null = null;
      let reset = false;
      const stat = (): Stats | string => {
        const s = fstatSync(fd);
        this.statDue = false;
        if (!s.isFile()) return 'not a regular file';
        this.mtimeMs = s.mtimeMs;
        if (s.ino !== this.ino || s.dev !== this.dev || s.size < this.parser.pos) {
          reset = reset || this.ino !== -1;
          this.ino = s.ino;
          this.dev = s.dev;
          this.parser = new TailParser(this.path);
        }
        return s;
      };
      if (this.statDue) {
        const s = stat();
        if (typeof s === 'string') {
          this.close();
          return { samples: [], reset: false, more: false, stat: null, error: s };
        }
        st = s;
      }
      const samples: Located[] = [];
      const buf = readBuffer();
      let left = budget;
      for (;;) {
        const end = st ? st.size : Infinity;
        if (left <= 0 || this.parser.pos >= end) break;
        const want = Math.min(READ_CHUNK, left, end - this.parser.pos);
        const n = readSync(fd, buf, 0, want, this.parser.pos);
        if (n <= 0) {
          if (st || samples.length || this.parser.pos === 0) break;
          // Nothing new through the kept descriptor: cut, or replaced in place?
          const s = stat();
          if (typeof s === 'string') {
            this.close();
            return { samples: [], reset: false, more: false, stat: null, error: s };
          }
          st = s;
          continue;
        }
        this.bytesRead += n;
        left -= n;
        for (const x of this.parser.push(buf.subarray(0, n), this.mtimeMs)) samples.push(x);
        if (this.parser.notALog) break;
        if (!st && n < want) break; // a short read: the end, for now
      }
      if (this.parser.notALog) this.close();
      const more = !this.parser.notALog && (st ? this.parser.pos < st.size : left <= 0);
      return { samples, reset, more, stat: st, error: null };
    } catch (err) {
      this.close();
      return { samples: [], reset: false, more: false, stat: null, error: errnoText(err) };
    }
  }

  /** The samples between two byte offsets (a line's start, a line's end), read again; null when the file changed. */
  readRange(start: number, end: number, lineNo = 0): Located[] | null {
    // The kept descriptor when there is one (the verdicts read a block again often), else one of its own.
    const own = this.fd < 0;
    let fd = this.fd;
    if (own) {
      try {
        fd = openKept(this.path, this.followLinks);
      } catch {
        return null;
      }
    }
    try {
      const st = fstatSync(fd);
      if (st.ino !== this.ino || st.dev !== this.dev || st.size < end) return null;
      // Up to and including the '\n' after the last line.
      const len = Math.min(end + 1, st.size) - start;
      const buf = Buffer.allocUnsafe(Math.max(0, len));
      let got = 0;
      while (got < len) {
        const n = readSync(fd, buf, got, len - got, start + got);
        if (n <= 0) break;
        got += n;
        this.bytesRead += n;
      }
      const b = buf.subarray(0, got);
      // A last line without its '\n' (being written) ends the range all the same.
      const whole = b.length && b[b.length - 1] !== 10 ? Buffer.concat([b, Buffer.from('\n')]) : b;
      return this.parser.parseRange(whole, start, st.mtimeMs, lineNo);
    } catch {
      return null;
    } finally {
      if (own) closeSync(fd);
    }
  }
}
