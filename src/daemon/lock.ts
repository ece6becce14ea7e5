// Single-instance daemons (APUE 13.5, already_running()): a whole-file write
// lock on a pid file.
import { closeSync, constants as fsConstants, ftruncateSync, readSync, writeSync } from 'node:fs';
import { lockFile } from '../native.js';
import { sleepSync } from './io.js';
import { NotOurFileError, openOwnFile, refusedWords } from './ownfile.js';

/** A held lock file (the pid file of the running instance). */
export interface PidLock {
  /** The lock file's path as given. */
  readonly path: string;
  /** The open descriptor that holds the lock (close-on-exec). */
  readonly fd: number;
  /**
   * Empty the file and drop the lock (at shutdown). The file itself is not
   * removed: unlinking a lock file lets two instances lock two different
   * files. Exiting drops the lock as well.
   */
  release(): void;
}

/** What {@link acquireLock} found. */
export type LockResult =
  | { acquired: true; lock: PidLock }
  | {
      acquired: false;
      /** The pid written by the instance that holds the lock (null if unreadable). */
      pid: number | null;
      path: string;
    };

/**
 * Take the single-instance lock: open `path` (created O_RDWR|O_CREAT with
 * `mode`, default 0644, subject to the umask; O_NOFOLLOW, and it must be a
 * regular file of ours with one link, else an error with code 'EUNSAFE'), take a write lock on the whole
 * file without waiting (fcntl F_SETLK), and write our pid in it (truncating
 * what was there). If another process holds the lock, return its pid as read
 * from the file instead. Throws a system error if the file cannot be opened
 * or locked for another reason.
 *
 * Record locks belong to the process and are lost when ANY descriptor of the
 * file is closed by it: do not open the lock file elsewhere in the daemon.
 * Take the lock in the daemon, after `detach`, not in the launcher.
 */
export function acquireLock(path: string, opts: { mode?: number } = {}): LockResult {
  // Runtime directories are often world-writable (1777): never follow a link
  // planted at the name, and never write into a file that is not our own
  // plain file (a FIFO, a device, a hard link to something else).
  let fd: number;
  try {
    fd = openOwnFile(path, fsConstants.O_RDWR | fsConstants.O_CREAT, { mode: opts.mode ?? 0o644 });
  } catch (err) {
    if (err instanceof NotOurFileError) throw Object.assign(new Error(`unsafe lock file ${path}: ${refusedWords(err)}`), { code: 'EUNSAFE' });
    throw err;
  }
  return finish(fd, path);
}

function finish(fd: number, path: string): LockResult {
  let locked: boolean;
  try {
    // false when another process holds it (EAGAIN or EACCES, fcntl(2)).
    locked = lockFile(fd, { exclusive: true, wait: false });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (!locked) {
    const pid = readPid(fd);
    closeSync(fd);
    return { acquired: false, pid, path };
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  const lock: PidLock = {
    path,
    fd,
    release() {
      if (!held) return;
      held = false;
      try {
        ftruncateSync(fd, 0);
      } catch {
        // read-only file system or the like: the lock still goes
      }
      closeSync(fd);
    },
  };
  return { acquired: true, lock };
}

/** The holder may have locked the file and not yet written its pid: retry briefly. */
function readPid(fd: number): number | null {
  const buf = Buffer.alloc(32);
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = readSync(fd, buf, 0, buf.length, 0);
    const m = /^\s*(\d+)/.exec(buf.toString('latin1', 0, n));
    if (m) return Number(m[1]);
    sleepSync(10);
  }
  return null;
}
