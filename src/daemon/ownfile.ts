// A daemon's own files in a directory others may write to (a sticky 1777
// runtime directory): whatever another user planted at a name (a symlink, a
// FIFO, a hard link, a file or a directory of theirs) is never opened,
// followed or written through, and never keeps the daemon from using the name.
//
// - openOwnFile(): open(2) with O_NOFOLLOW (a symlink fails with ELOOP) and
//   O_NONBLOCK (a FIFO does not hang the open), then fstat(2) the descriptor,
//   not the name: only a regular file of ours with one link is kept.
// - replaceOwnFile(): a new file under a name nobody can guess (created
//   O_EXCL|O_NOFOLLOW: nothing planted is opened), fsync(2), rename(2) over
//   the name: the rename replaces whatever was there, in one step; what it
//   cannot replace (a directory) is first renamed aside.
import { randomBytes } from 'node:crypto';
import { closeSync, constants as C, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';

/** Why a file is not a regular file of `owner` with one link, or null when it is. */
export function whyNotOurs(st: Stats, owner: number): string | null {
  const kind = st.isFile() ? 'a regular file' : st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symlink' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
  if (!st.isFile()) return `${kind} of uid ${st.uid}`;
  if (st.uid !== owner) return `${kind} of uid ${st.uid}`;
  if (st.nlink !== 1) return `${kind} with ${st.nlink} links`;
  return null;
}

const euid = (): number => process.geteuid?.() ?? 0;

/** The error openOwnFile and readOwnFile throw for a file that is not ours. */
export class NotOurFileError extends Error {
  readonly code = 'EUNSAFE';
  constructor(
    readonly path: string,
    /** What is there instead, e.g. 'a FIFO of uid 65534'. */
    readonly what: string,
    /** Its status (lstat(2) of a symlink), when known. */
    readonly stat: Stats | null = null,
  ) {
    super(`${path} is ${what}, not our own file (a regular file of uid ${euid()} with one link)`);
  }
}

/**
 * Open path with flags (O_NOFOLLOW and O_NONBLOCK added) and keep the
 * descriptor only if it is a regular file of owner (default: our euid) with
 * one link; else close it and throw NotOurFileError (a symlink too: the
 * open's ELOOP). With O_CREAT a new file is made only where nothing is.
 * Other errors of open(2) are thrown as they are (ENOENT, ...).
 */
export function openOwnFile(path: string, flags: number, opts: { owner?: number; mode?: number } = {}): number {
  let fd: number;
  try {
    fd = openSync(path, flags | C.O_NOFOLLOW | C.O_NONBLOCK, opts.mode ?? 0o600);
  } catch (err) {
    // O_NOFOLLOW's answer for a symlink at the name (whose owner is looked up for the message only).
    if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
    let what = 'a symlink';
    let st: Stats | null = null;
    try {
      st = lstatSync(path);
      what = whyNotOurs(st, opts.owner ?? euid()) ?? what;
    } catch {
      /* gone meanwhile */
    }
    throw new NotOurFileError(path, what, st);
  }
  let why: string | null;
  let st: Stats;
  try {
    st = fstatSync(fd);
    why = whyNotOurs(st, opts.owner ?? euid());
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (why !== null) {
    closeSync(fd);
    throw new NotOurFileError(path, why, st);
  }
  return fd;
}

/** Why openOwnFile refused a file, in the words of a log file's or lock
 * file's messages: 'a symbolic link (not followed)', 'not a regular file',
 * 'it has other links', 'owned by uid N'. */
export function refusedWords(err: NotOurFileError): string {
  const st = err.stat;
  if (!st) return err.what;
  if (st.isSymbolicLink()) return 'a symbolic link (not followed)';
  if (!st.isFile()) return 'not a regular file';
  if (st.nlink !== 1) return 'it has other links';
  return `owned by uid ${st.uid}`;
}

/** The whole content of our own file at path (openOwnFile), or null when
 * nothing is there. More than maxBytes throws (EFBIG). */
export function readOwnFile(path: string, maxBytes: number): Buffer | null {
  let fd: number;
  try {
    fd = openOwnFile(path, C.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw Object.assign(new Error(`${path}: ${size} bytes, over ${maxBytes}`), { code: 'EFBIG' });
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** What replaceOwnFile found at the name that was not our own file. */
export interface Displaced {
  /** What it was, e.g. 'a directory of uid 65534'. */
  what: string;
  /** Where it was moved (a directory, which rename cannot replace), or null: replaced. */
  aside: string | null;
}

/** A name beside path that nobody can guess (48 random bits), so nothing can be planted there in advance. */
function besides(path: string, tag: string): string {
  return `${path}.${tag}.${randomBytes(6).toString('hex')}`;
}

/** How often a name that turns into a directory again under us is moved aside before giving up. */
const ATTEMPTS = 3;

/**
 * Replace the file at path with data, atomically (readers see the old
 * content or the new one, never a part): written to a new file beside it
 * under an unguessable name (O_CREAT|O_EXCL|O_NOFOLLOW, mode as given),
 * fsync'd, renamed over path. Something at path that is not our own regular
 * file is reported in the result: a directory is renamed aside first (to
 * PATH.unsafe.RANDOM: rename(2) cannot replace it, and it is not ours to
 * empty), anything else is replaced by the rename. Throws the system error
 * when it cannot be done (the temporary file is removed then).
 */
export function replaceOwnFile(path: string, data: string | Buffer, opts: { mode?: number } = {}): Displaced | null {
  const flags = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK;
  let tmp = besides(path, 'tmp');
  let fd: number;
  try {
    fd = openSync(tmp, flags, opts.mode ?? 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    tmp = besides(path, 'tmp'); // 1 in 2^48; never the planted one
    fd = openSync(tmp, flags, opts.mode ?? 0o600);
  }
  const drop = (): void => {
    try {
      unlinkSync(tmp);
    } catch {
      /* leave it (a directory made unwritable meanwhile) */
    }
  };
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    drop();
    throw err;
  }
  closeSync(fd);
  let displaced: Displaced | null = null;
  for (let attempt = 1; ; attempt++) {
    try {
      let st: Stats | null = null;
      try {
        st = lstatSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const what = st ? whyNotOurs(st, euid()) : null;
      if (st && what !== null) {
        displaced = { what, aside: null };
        if (st.isDirectory()) {
          const aside = besides(path, 'unsafe');
          renameSync(path, aside);
          displaced.aside = aside;
        }
      }
      renameSync(tmp, path);
      return displaced;
    } catch (err) {
      // A directory put back between the look and the rename: again, a few times.
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt < ATTEMPTS && (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT')) continue;
      drop();
      throw err;
    }
  }
}
