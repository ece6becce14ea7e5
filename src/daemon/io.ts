// Small synchronous I/O helpers shared by the daemon kit. Everything here is
// synchronous on purpose: it runs just before process.exit(), or in places
// (readiness words, signal reports) where an asynchronous write could be lost.
import { writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleep the whole thread for ms milliseconds (used only for short retries). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Write all of text to fd: short writes are continued, EINTR retried, and
 * EAGAIN (a non-blocking pipe or file that is momentarily full) waited out
 * for at most `patienceMs` (default about a second: a daemon's words must
 * not hang it). Throws the system error of a write that failed (EPIPE,
 * EBADF, EAGAIN after that time, ...).
 */
export function writeFully(fd: number, text: string | Buffer, patienceMs = 1000): void {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  let off = 0;
  let waited = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' && waited < patienceMs) {
        sleepSync(5);
        waited += 5;
        continue;
      }
      if (code === 'EINTR') continue;
      throw err;
    }
  }
}

/** writeFully() that never throws: false when the write failed. */
export function writeAllSync(fd: number, text: string | Buffer): boolean {
  try {
    writeFully(fd, text);
    return true;
  } catch {
    return false;
  }
}

/** The number of a signal name (e.g. 'SIGKILL' -> 9), or 0 when unknown. */
export function signalNumber(name: string): number {
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
}
