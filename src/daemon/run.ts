// The main() of this project's daemons (plogsrvd, strlogd, strerr), once:
// the options and the checks whose errors go straight to the user, then
// detach(), the reporter, every signal decided, the single-instance lock,
// the start, readiness, and what an unexpected error does. Each program
// gives its options, its exit codes and its start; the order of the steps
// and their messages are the kit's.
//
// Not part of plogkit/daemon's public API (index.ts): it speaks the
// project's own command-line conventions (src/cli/args.ts, ExitError).
import { exitOnError, helpOrVersion, parseOptions } from '../cli/args.js';
import { internalError } from '../bugs.js';
import { ExitError } from '../strlog/exitcodes.js';
import { detach, isDaemonChild, notifyReady } from './detach.js';
import { acquireLock, type PidLock } from './lock.js';
import { createReporter, type ErrorDest, type Reporter } from './report.js';
import { daemonSignals, shutdown } from './signals.js';

/** What every daemon's options decide about its life, as the kit needs it. */
export interface DaemonBasics {
  /** Its runtime directory (the daemon's cwd once detached). */
  runtimeDir: string;
  /** Stay in the foreground (-f; strerr without --daemon). */
  foreground: boolean;
  /** Where runtime errors go (-e). */
  dest: ErrorDest;
  /** Timestamped non-error messages on stdout (-v). */
  verbose?: boolean;
}

/** A daemon's description for {@link runDaemon}. */
export interface DaemonProgram<O extends DaemonBasics> {
  /** Its name, as in its messages (`plogsrvd: ...`). */
  name: string;
  /** Its --help text. */
  usage: () => string;
  /** Its exit codes the kit uses: a usage error (the --help hint follows
   * its message), a failed detach, an unexpected error (a bug). */
  codes: { usage: number; fork: number; internal: number };
  /** How a failed detach begins its message, e.g. 'could not detach'. */
  forkWords: string;
  /**
   * Parse argv and make the checks whose errors reach the user before
   * there is a daemon (the launcher's stderr, the program's exit code):
   * throws ExitError. Runs in the launcher and again in the daemon.
   */
  prepare(argv: string[]): O | 'help' | 'version';
  /**
   * The daemon (after detach): set up, take the lock (ctx.lock), start.
   * Resolves once it serves: the kit then tells the launcher it is ready,
   * and calls what it resolved with, if anything (what follows readiness).
   * A failed start is ctx.report.fatal(), which never returns.
   */
  start(opts: O, ctx: DaemonContext): Promise<void | (() => void)>;
}

/** What the kit gives a daemon's start. */
export interface DaemonContext {
  report: Reporter;
  /**
   * What a stop signal (DAEMON_SIGNALS) or a fatal error undoes, before the
   * lock is released and the reporter closed: the last one given is kept.
   * Until it is given, the lock and the reporter are still let go.
   */
  onStop(fn: (signal: NodeJS.Signals | null) => void | Promise<void>): void;
  /**
   * Take the single-instance lock (APUE 13.5) at path, released at the stop.
   * 'held' when another instance holds it (its pid, when it wrote one);
   * other failures (a file we may not use) throw, for the daemon to judge.
   */
  lock(path: string): { held: false } | { held: true; pid: number | null };
}

type Values = Record<string, string | boolean | undefined>;
type OptionsConfig = Parameters<typeof parseOptions>[1];

/**
 * A daemon's options (parseOptions()) with -h, --help and --version added:
 * 'help' or 'version' when asked for; a bad option is an ExitError with
 * usageCode.
 */
export function parseDaemonArgs(argv: string[], options: OptionsConfig, usageCode: number): Values | 'help' | 'version' {
  let values: Values;
  try {
    ({ values } = parseOptions(argv, { ...options, h: { type: 'boolean', short: 'h' }, help: { type: 'boolean' }, version: { type: 'boolean' } }));
  } catch (err) {
    throw new ExitError(usageCode, (err as Error).message);
  }
  if (values.h || values.help) return 'help';
  if (values.version) return 'version';
  return values;
}

/** The options -f, -v and -e of plogsrvd and strlogd, for parseOptions. */
export const DAEMON_OPTIONS = {
  f: { type: 'boolean', short: 'f' },
  v: { type: 'boolean', short: 'v' },
  e: { type: 'string', short: 'e' },
} as const;

/** -f, -v and -e from parsed values: -e defaults to stderr in the foreground, else syslog. */
export function daemonBasics(values: Record<string, string | boolean | undefined>, usageCode: number): Omit<DaemonBasics, 'runtimeDir'> {
  const foreground = !!values.f;
  let dest: ErrorDest = foreground ? 'stderr' : 'syslog';
  if (values.e !== undefined) {
    const e = String(values.e);
    if (e !== 'stderr' && e !== 'both' && e !== 'none' && e !== 'syslog') throw new ExitError(usageCode, `-e takes stderr, both or none, not '${e}'`);
    dest = e;
  }
  return { foreground, verbose: !!values.v, dest };
}

/** Run a daemon program: its main(), the same steps in every one. */
export function runDaemon<O extends DaemonBasics>(program: DaemonProgram<O>): void {
  main(program).catch((err: unknown) => {
    process.stderr.write(`${program.name}: ${internalError(err)}\n`);
    void shutdown(program.codes.internal);
  });
}

async function main<O extends DaemonBasics>(program: DaemonProgram<O>): Promise<void> {
  const { name, codes } = program;
  let opts: O | 'help' | 'version';
  try {
    opts = program.prepare(process.argv.slice(2));
    if (helpOrVersion(name, opts, program.usage)) return;
  } catch (err) {
    exitOnError(name, err, codes.usage);
  }
  const { runtimeDir, foreground, dest, verbose = false } = opts;

  // Keep stdout for -v and stderr for -e stderr|both, where the launcher
  // pointed them (a file or a pipe; never a terminal: the kit checks).
  const keepFds: number[] = [];
  if (verbose) keepFds.push(1);
  if (dest === 'stderr' || dest === 'both') keepFds.push(2);
  try {
    await detach({ name, runtimeDir, foreground, keepFds, failCode: codes.fork });
  } catch (err) {
    process.stderr.write(`${name}: ${program.forkWords}: ${(err as Error).message}\n`);
    process.exit(codes.fork);
  }
  if (isDaemonChild()) process.chdir(runtimeDir);

  const needsSyslog = dest === 'syslog' || dest === 'both';
  const sink = needsSyslog ? (await import('./syslog-sink.js')).syslogSink(name) : undefined;
  const report = createReporter({ program: name, dest, verbose, syslog: sink });

  let stop: ((signal: NodeJS.Signals | null) => void | Promise<void>) | null = null;
  let pidLock: PidLock | null = null;
  // Every signal that would end us by default is decided (DAEMON_SIGNALS,
  // SIGNALS in each daemon's man page), before anything can need undoing.
  daemonSignals(
    async (signal) => {
      if (signal) report.info(`caught ${signal}: shutting down`);
      await stop?.(signal);
      pidLock?.release();
      report.close();
    },
    { tell: (m) => report.info(m) },
  );
  const ctx: DaemonContext = {
    report,
    onStop(fn) {
      stop = fn;
    },
    lock(path) {
      const r = acquireLock(path);
      if (!r.acquired) return { held: true, pid: r.pid };
      pidLock = r.lock;
      return { held: false };
    },
  };
  const then = await program.start(opts, ctx);
  notifyReady();
  then?.();
}
