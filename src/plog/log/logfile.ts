// The log file of one logged process (plogsrvd(1), LOG FILES): named NAME.PID, then
// NAME.PID.2 ... NAME.PID.999 when taken (a machine-format log adds its
// suffix after that: NAME.PID.csv, NAME.PID.2.csv, ...); created with O_EXCL|O_NOFOLLOW so
// that nothing already at the name (a planted symlink, a FIFO, a hard link to
// /etc/shadow) is ever opened; appended to with one write(2) per line.
import { closeSync, constants as C, fchownSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoWords as errWords } from '../../proc/errors.js';

export const MAX_SUFFIX = 999;

export class LogFileError extends Error {
  /** The words of plogsrvd(1), ERRORS (as plog 0.1.0 said them): "Too many files!" or "Can't create logfile: ..." */
  constructor(message: string) {
    super(message);
    this.name = 'LogFileError';
  }
}

export interface LogFile {
  fd: number;
  /** The base name in the runtime directory, e.g. bash.123 or bash.123.2. */
  name: string;
  path: string;
  /** A log written by many processes gathers their lines here (LineBatch). */
  batch?: LineBatch;
}

const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_APPEND | C.O_NONBLOCK;
// (libuv opens every file close-on-exec already: no O_CLOEXEC in Node's constants.)

/**
 * Create a new log file for `base` (e.g. "bash.123") in dir. EEXIST (any
 * kind of file at the name, including a dangling symlink) moves on to the
 * next suffix; any other error fails with plog 0.1.0's words (plogsrvd(1), ERRORS). When owner is
 * given (a root server acting for a user), the file is handed to that user so
 * that the user can stop the log by deleting it in a sticky directory.
 * suffix ('.csv', '.jsonl') goes after the number: NAME.PID.2.csv.
 */
export function createLogFile(dir: string, base: string, owner?: { uid: number; gid: number }, mode = 0o644, suffix = ''): LogFile {
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const name = (n === 1 ? base : `${base}.${n}`) + suffix;
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, CREATE_FLAGS, mode);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') continue;
      throw new LogFileError(`Can't create logfile: ${errWords(e)}`);
    }
    if (owner) {
      try {
        fchownSync(fd, owner.uid, owner.gid);
      } catch (err) {
        closeSync(fd);
        throw new LogFileError(`Can't create logfile: ${errWords(err)}`);
      }
    }
    return { fd, name, path };
  }
  throw new LogFileError('Too many files!');
}

/**
 * Append one line with a single write(2): O_APPEND makes it atomic against
 * other writers and a reader never sees half a line. If the kernel took only
 * part of it (a full disk), the part is cut off again so that no torn line
 * stays in the log, and the error is thrown.
 */
export function appendLine(fd: number, line: Buffer | string): void {
  let written: number;
  try {
    // A string goes as UTF-8 bytes, as Buffer.from(line) would make them,
    // without making that Buffer.
    written = typeof line === 'string' ? writeSync(fd, line) : writeSync(fd, line);
  } catch (err) {
    throw new LogFileError(`Can't append logfile: ${errWords(err)}`);
  }
  const length = typeof line === 'string' ? Buffer.byteLength(line) : line.length;
  if (written === length) return;
  try {
    const { size } = fstatSync(fd);
    ftruncateSync(fd, Math.max(0, size - written));
  } catch {
    /* the short write is reported below either way */
  }
  throw new LogFileError(`Can't append logfile: short write (${written} of ${length} bytes; No space left on device?)`);
}

/** A batch is written once it holds this many characters, whatever the turn. */
const BATCH_MAX = 256 * 1024;

/**
 * The lines of one sampling turn to a log that many processes write (the
 * whole host's, src/plog/ops/host.ts), written together with one write(2)
 * when the turn ends (flush): thousands of rows a second cost one system
 * call a turn instead of one each. A reader still never sees half a line:
 * the batch is whole lines, appended as appendLine appends one. A failed
 * write loses that turn's lines and is kept in `error`: the log's processes
 * stop logging at their next sample, saying why.
 */
export class LineBatch {
  private parts: string[] = [];
  private chars = 0;
  /** Why the last write failed (appendLine's words), or null. */
  error: string | null = null;

  constructor(readonly fd: number) {}

  add(line: string): void {
    this.parts.push(line);
    this.chars += line.length;
    if (this.chars >= BATCH_MAX) this.flush();
  }

  /** Write what was gathered; a failure is kept in error, not thrown. */
  flush(): void {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.chars = 0;
    try {
      appendLine(this.fd, text);
    } catch (err) {
      this.error ??= (err as Error).message;
    }
  }
}

/** Whether the log is still linked in its directory (deleting it stops logging). */
export function logStillThere(fd: number): 'yes' | 'gone' | { error: string } {
  try {
    return fstatSync(fd).nlink > 0 ? 'yes' : 'gone';
  } catch (err) {
    return { error: errWords(err) };
  }
}
