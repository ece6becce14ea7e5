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
 * Write all of text to fd, retrying on EAGAIN (a non-blocking pipe that is
 * momentarily full) for at most about a second. Returns false when the write
 * failed (EPIPE, EBADF, ...); never throws.
 */
export function writeAllSync(fd: number, text: string | Buffer): boolean {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  let off = 0;
  let waited = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' && waited < 1000) {
        sleepSync(5);
        waited += 5;
        continue;
      }
      if (code === 'EINTR') continue;
      return false;
    }
  }
  return true;
}

/** The name of a signal number (e.g. 15 -> 'SIGTERM'), or 'signal N'. */
export function signalName(signo: number): string {
  return signalNames.get(signo) ?? `signal ${signo}`;
}

const signalNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.signals)) {
  if (!signalNames.has(num as number)) signalNames.set(num as number, name);
}

/** The number of a signal name (e.g. 'SIGKILL' -> 9), or 0 when unknown. */
export function signalNumber(name: string): number {
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
}
