// Signals for daemons (APUE 13.3 and 13.6): a clean shutdown on the usual
// termination signals, SIGHUP ignored (or used for a reload), and trapped
// signals reported by name.
import { writeAllSync } from './io.js';

/** Cleanup run once at shutdown; `signal` is the signal's name, or null when
 * the shutdown was asked for by {@link shutdown}. */
export type Cleanup = (signal: NodeJS.Signals | null) => void | Promise<void>;

let cleanup: Cleanup | null = null;
let stopping = false;
const shutdownSignals = new Set<NodeJS.Signals>();

/**
 * On any of `signals`, run `fn` once and exit 0. A signal that arrives while
 * the cleanup runs (even an async one) is ignored: it does not abort it
 * halfway, nor start it again. If `fn` throws, the error is written to stderr
 * and the exit status is 1. Calling onShutdown again replaces `fn` and adds
 * signals.
 */
export function onShutdown(fn: Cleanup, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT']): void {
  cleanup = fn;
  for (const sig of signals) {
    if (shutdownSignals.has(sig)) continue;
    shutdownSignals.add(sig);
    process.on(sig, () => {
      void shutdown(0, sig);
    });
  }
}

/**
 * Run the cleanup registered with {@link onShutdown} (at most once in the
 * life of the process) and exit with `code`. For fatal runtime errors, e.g.
 * the daemon's socket was deleted. A second call while the cleanup runs
 * does nothing (the first code wins).
 */
export async function shutdown(code = 0, signal: NodeJS.Signals | null = null): Promise<never> {
  if (stopping) return new Promise<never>(() => {});
  stopping = true;
  let status = code;
  if (cleanup) {
    try {
      await cleanup(signal);
    } catch (err) {
      writeAllSync(2, `cleanup failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      if (status === 0) status = 1;
    }
  }
  process.exit(status);
}

/** True once a shutdown has begun. */
export function isShuttingDown(): boolean {
  return stopping;
}

/**
 * Trap `signals` and call `fn` with the signal's name each time one arrives,
 * e.g. for -v: `onSignal(['SIGPIPE'], (s) => rep.info(\`trapped ${s}\`))`.
 * A trapped signal no longer has its default action (a trapped SIGUSR1 does
 * not kill; SIGPIPE, which Node ignores, is reported). Shutdown signals can
 * be reported this way too.
 */
export function onSignal(signals: NodeJS.Signals[], fn: (signal: NodeJS.Signals) => void): void {
  for (const sig of signals) process.on(sig, () => fn(sig));
}

let hangupIgnored = false;

/**
 * Ignore SIGHUP (APUE: a daemon has no terminal to hang up; a session
 * leader's exit must not kill it). `detach` does this in the daemon. @internal
 */
export function ignoreHangup(): void {
  if (hangupIgnored) return;
  hangupIgnored = true;
  process.on('SIGHUP', () => {});
}

/**
 * Handle SIGHUP by calling `fn` (reread configuration, reopen logs), the
 * daemon convention of APUE 13.6. Without it a daemon ignores SIGHUP. A
 * reload that is still running when the next SIGHUP arrives is not started
 * again; errors of an async `fn` are written to stderr.
 */
export function onReload(fn: () => void | Promise<void>): void {
  ignoreHangup();
  let running = false;
  process.on('SIGHUP', () => {
    if (running || stopping) return;
    running = true;
    Promise.resolve()
      .then(fn)
      .catch((err: unknown) => {
        writeAllSync(2, `reload failed: ${err instanceof Error ? err.message : String(err)}\n`);
      })
      .finally(() => {
        running = false;
      });
  });
}
