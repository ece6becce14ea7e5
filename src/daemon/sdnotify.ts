// The service manager's notification protocol (sd_notify(3)): datagrams of
// "KEY=VALUE\n" lines to $NOTIFY_SOCKET, a path or an abstract name
// ('@...'), sent with the project's own AF_UNIX datagram socket.
import { UnixSocket } from '../native.js';

export interface Notifier {
  /** Send lines (e.g. 'READY=1', 'STATUS=...'); false when not under a
   * notifying manager or the send failed (never throws). */
  send(...lines: string[]): boolean;
  /** The watchdog period we keep, in ms (half of WATCHDOG_USEC), or 0. */
  readonly watchdogMs: number;
  /** Stop the watchdog timer and close the socket. */
  close(): void;
}

/** The watchdog interval asked of pid by env, in microseconds (0: none),
 * as sd_watchdog_enabled(3): WATCHDOG_PID, when set, must name pid. */
export function watchdogUsec(env: NodeJS.ProcessEnv, pid: number): number {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^[1-9][0-9]*$/.test(usec)) return 0;
  const wpid = env.WATCHDOG_PID;
  if (wpid !== undefined && wpid !== '' && Number(wpid) !== pid) return 0;
  return Number(usec);
}

/** The notification socket's address, normalised for UnixSocket, or null. */
export function notifySocketPath(env: NodeJS.ProcessEnv): string | null {
  const p = env.NOTIFY_SOCKET;
  if (!p) return null;
  if (p[0] !== '/' && p[0] !== '@') return null; // vsock and others: not ours
  return p;
}

/**
 * A notifier for this process from the environment. With WATCHDOG_USEC for
 * us, WATCHDOG=1 is sent every half period (the timer does not keep the
 * process alive). Without NOTIFY_SOCKET every send returns false.
 */
export function createNotifier(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Notifier {
  const path = notifySocketPath(env);
  const usec = path ? watchdogUsec(env, pid) : 0;
  const watchdogMs = usec ? Math.max(1, Math.floor(usec / 2000)) : 0;
  let sock: UnixSocket | null = null;
  let timer: NodeJS.Timeout | null = null;
  const send = (...lines: string[]): boolean => {
    if (!path) return false;
    try {
      if (!sock) sock = new UnixSocket();
      const data = Buffer.from(lines.map((l) => l.replace(/\n/g, ' ')).join('\n') + '\n');
      return sock.trySend(data, path) >= 0;
    } catch {
      return false;
    }
  };
  if (watchdogMs) {
    timer = setInterval(() => send('WATCHDOG=1'), watchdogMs);
    timer.unref();
  }
  return {
    send,
    watchdogMs,
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      sock?.close();
      sock = null;
    },
  };
}

/** Microseconds of CLOCK_MONOTONIC, for RELOADING=1's MONOTONIC_USEC. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}
