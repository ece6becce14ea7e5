// Signals for daemons (APUE 13.3 and 13.6): a clean shutdown on the usual
// termination signals, SIGHUP ignored (or used for a reload), and trapped
// signals reported by name. DAEMON_SIGNALS decides, in one place, every
// signal whose default action would end plogsrvd, strlogd or strerr.
import { catchRealtimeSignals } from '../native.js';
import { writeAllSync } from './io.js';

/** What a daemon does on a signal: see {@link DAEMON_SIGNALS}. */
export type SignalAction = 'stop' | 'reload' | 'reopen' | 'ignore';

/**
 * What the daemons (plogsrvd, strlogd, strerr, and any program that calls
 * {@link daemonSignals}) do on each signal whose default action would end
 * them (signal(7)); their man pages' SIGNALS sections say the same.
 *
 * - stop: run the cleanup (the socket removed, the state saved) and exit 0.
 *   The signals that ask a process to end, and those that warn it is about
 *   to be ended: SIGXCPU (the soft CPU limit; SIGKILL follows at the hard
 *   one), SIGPWR (the power is failing).
 * - reload: SIGHUP, the daemon convention (APUE 13.6): re-read the
 *   configuration, reopen logs ({@link onReload}); ignored by a daemon that
 *   has nothing to reload.
 * - reopen: SIGUSR1, what logrotate's postrotate scripts send: reopen the
 *   logs moved away ({@link onReopen}); ignored by a daemon without logs.
 *   Never Node's inspector (see no-inspector.ts).
 * - ignore: signals that mean nothing to these daemons, so that a stray one
 *   (a mistyped kill, a tool's wrong pid) cannot take down a root service
 *   and leave its socket behind. SIGXFSZ: a write past RLIMIT_FSIZE fails
 *   with EFBIG instead, which the writer reports.
 *
 * The real-time signals SIGRTMIN..SIGRTMAX are ignored too (caught by the
 * addon: Node cannot listen for them). The synchronous faults SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS and SIGTRAP keep their default: a
 * process that caught one could not go on safely, and the core dump is what
 * a bug report needs. SIGKILL and SIGSTOP cannot be caught.
 */
export const DAEMON_SIGNALS = {
  SIGTERM: 'stop',
  SIGINT: 'stop',
  SIGQUIT: 'stop',
  SIGXCPU: 'stop',
  SIGPWR: 'stop',
  SIGHUP: 'reload',
  SIGUSR1: 'reopen',
  SIGUSR2: 'ignore',
  SIGPIPE: 'ignore',
  SIGALRM: 'ignore',
  SIGSTKFLT: 'ignore',
  SIGXFSZ: 'ignore',
  SIGVTALRM: 'ignore',
  SIGPROF: 'ignore',
  SIGIO: 'ignore',
} as const satisfies Partial<Record<NodeJS.Signals, SignalAction>>;

/** What the real-time signals (SIGRTMIN..SIGRTMAX) do in a daemon. */
export const REALTIME_SIGNAL_ACTION: SignalAction = 'ignore';

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
      writeAllSync(2, `cleanup failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
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

let tell: ((message: string) => void) | null = null;
const listening = new Set<NodeJS.Signals>();
const hooks: Record<'reload' | 'reopen', (() => void | Promise<void>) | null> = { reload: null, reopen: null };

/**
 * Decide every signal of {@link DAEMON_SIGNALS} and the real-time signals,
 * for a daemon: `cleanup` runs once on a stop signal (see
 * {@link onShutdown}); SIGHUP and SIGUSR1 call what {@link onReload} and
 * {@link onReopen} set, when they have been called (before, they are
 * ignored); `tell` hears of each signal caught that does not stop the daemon
 * (e.g. the reporter's info, shown with -v): `caught SIGHUP: reloading`,
 * `trapped SIGUSR2` for one ignored. Call it as soon as there is something
 * to clean up, in the daemon (after detach()).
 */
export function daemonSignals(fn: Cleanup, opts: { tell?: (message: string) => void } = {}): void {
  tell = opts.tell ?? null;
  const table = Object.entries(DAEMON_SIGNALS) as [NodeJS.Signals, SignalAction][];
  onShutdown(
    fn,
    table.filter(([, a]) => a === 'stop').map(([s]) => s),
  );
  for (const [sig, action] of table) if (action !== 'stop') listen(sig, action);
  catchRealtimeSignals();
}

/** One listener per signal, which looks its action's hook up when the signal comes. */
function listen(sig: NodeJS.Signals, action: SignalAction): void {
  if (listening.has(sig)) return;
  listening.add(sig);
  process.on(sig, () => {
    if (action === 'reload' || action === 'reopen') {
      if (hooks[action]) {
        tell?.(`caught ${sig}: ${action === 'reload' ? 'reloading' : 'reopening logs'}`);
        request(action);
        return;
      }
    }
    tell?.(`trapped ${sig}`);
  });
}

// Reloads and reopens run one at a time, in the order asked. One asked for
// while another runs is done after it (a log moved meanwhile is then seen);
// asking again for one already waiting adds nothing.
const waiting = new Set<'reload' | 'reopen'>();
let draining = false;

function request(job: 'reload' | 'reopen'): void {
  if (stopping) return;
  waiting.add(job);
  if (draining) return;
  draining = true;
  void (async () => {
    for (let next = first(waiting); next && !stopping; next = first(waiting)) {
      waiting.delete(next);
      try {
        await hooks[next]?.();
      } catch (err) {
        writeAllSync(2, `${next} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    waiting.clear();
    draining = false;
  })();
}

function first<T>(set: Set<T>): T | undefined {
  for (const v of set) return v;
  return undefined;
}

/**
 * Ignore SIGHUP (APUE: a daemon has no terminal to hang up; a session
 * leader's exit must not kill it), until {@link onReload} gives it a
 * meaning. `detach` does this in the daemon. @internal
 */
export function ignoreHangup(): void {
  listen('SIGHUP', 'reload');
}

/**
 * Handle SIGHUP by calling `fn` (reread configuration, reopen logs), the
 * daemon convention of APUE 13.6. Without it a daemon ignores SIGHUP. A
 * SIGHUP that comes while a reload (or a reopen) runs makes one more reload
 * after it; errors of an async `fn` are written to stderr.
 */
export function onReload(fn: () => void | Promise<void>): void {
  hooks.reload = fn;
  listen('SIGHUP', 'reload');
}

/**
 * Handle SIGUSR1 by calling `fn`: reopen the log files that were moved away
 * (what logrotate's postrotate scripts send SIGUSR1 for). Without it a
 * daemon of {@link daemonSignals} ignores SIGUSR1; it never opens Node's
 * inspector. Runs one at a time with reloads, as {@link onReload} says.
 */
export function onReopen(fn: () => void | Promise<void>): void {
  hooks.reopen = fn;
  listen('SIGUSR1', 'reopen');
}
