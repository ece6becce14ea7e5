// The readiness channel: one JSON object per line, daemon -> session leader
// -> launcher. Internal to the kit.

/** The descriptor number of the readiness channel in the session leader and the daemon. */
export const READY_FD = 3;

/** Environment marker: set to 'daemon' in the detached copy of the program. */
export const STAGE_ENV = 'PLOG_DAEMON_STAGE';
/** Environment: octal umask the daemon runs with. */
export const UMASK_ENV = 'PLOG_DAEMON_UMASK';
/** Environment: comma-separated extra descriptors (>= 4) the daemon keeps. */
export const KEEP_ENV = 'PLOG_DAEMON_KEEP';

export type Word =
  | { t: 'ready'; pid: number }
  | { t: 'fail'; code: number; message: string }
  | { t: 'warn'; message: string }
  | { t: 'crash'; message: string }
  // from the session leader:
  | { t: 'spawned'; pid: number }
  | { t: 'exit'; pid: number; code: number | null; signal: string | null }
  | { t: 'error'; message: string };

export function encode(w: Word): string {
  return JSON.stringify(w) + '\n';
}

/** Splits a byte stream into words; malformed lines are ignored. */
export class WordReader {
  private buf = '';
  push(chunk: string): Word[] {
    this.buf += chunk;
    const out: Word[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      try {
        const w = JSON.parse(line) as Word;
        if (w && typeof w === 'object' && typeof w.t === 'string') out.push(w);
      } catch {
        // not ours: ignore
      }
    }
    return out;
  }
}
