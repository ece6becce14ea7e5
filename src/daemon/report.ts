// Error reporting for daemons (APUE 13.4): runtime errors to syslog and/or
// stderr, verbose messages to stdout, fatal errors that end the daemon.
import { writeAllSync } from './io.js';
import { isReady, sendFailure } from './detach.js';
import { shutdown } from './signals.js';

/** Where runtime errors go (the -e option of plogsrvd). */
export type ErrorDest = 'syslog' | 'stderr' | 'both' | 'none';

/** The part of a syslog connection a reporter needs; see `syslogSink` in
 * syslog-sink.ts for one backed by plogkit/syslog. */
export interface SyslogSink {
  /** Log one message at LOG_ERR. */
  error(msg: string): void;
  close(): void;
}

export interface ReporterOptions {
  /** Program name, as in `plogsrvd[PID]: ...`. */
  program: string;
  /** Where errors go. 'syslog' and 'both' need `syslog`. */
  dest: ErrorDest;
  /** Whether info() prints (-v). */
  verbose?: boolean;
  syslog?: SyslogSink;
}

export interface Reporter {
  /** A runtime error: to syslog and/or stderr according to `dest`. */
  error(msg: string): void;
  /** A timestamped non-error message on stdout, only when verbose:
   * `2026-11-21 10:04:05 plogsrvd[PID]: now logging bash.123`. */
  info(msg: string): void;
  /**
   * A fatal error. Before the daemon is ready (see notifyReady) it is an
   * initialisation error and always goes to stderr as `program: msg` (the
   * launcher's stderr when detached, the launcher then exits with `code`);
   * afterwards it goes where error() goes. Then the shutdown cleanup runs
   * (see onShutdown) and the process exits with `code`. Code after an
   * awaited or returned fatal() never runs.
   */
  fatal(code: number, msg: string): Promise<never>;
  /** Close the syslog connection, if any. */
  close(): void;
}

/** Local time as `YYYY-MM-DD HH:MM:SS`. */
export function timestamp(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Make a reporter. Lines on stdout/stderr are written synchronously, as
 * `YYYY-MM-DD HH:MM:SS program[PID]: msg`; a failed write (a closed pipe)
 * is ignored.
 */
export function createReporter(opts: ReporterOptions): Reporter {
  const { program, dest } = opts;
  const verbose = !!opts.verbose;
  const toSyslog = dest === 'syslog' || dest === 'both';
  const toStderr = dest === 'stderr' || dest === 'both';
  if (toSyslog && !opts.syslog) throw new TypeError(`createReporter: dest '${dest}' needs a syslog sink`);
  const sink = toSyslog ? opts.syslog! : null;
  const line = (msg: string): string => `${timestamp()} ${program}[${process.pid}]: ${msg}\n`;

  const error = (msg: string): void => {
    if (sink) {
      try {
        sink.error(msg);
      } catch {
        // a logger that cannot log has nowhere to say so
      }
    }
    if (toStderr) writeAllSync(2, line(msg));
  };
  return {
    error,
    info(msg: string): void {
      if (verbose) writeAllSync(1, line(msg));
    },
    fatal(code: number, msg: string): Promise<never> {
      if (isReady()) error(msg);
      else sendFailure(code, `${program}: ${msg}`);
      return shutdown(code);
    },
    close(): void {
      sink?.close();
    },
  };
}
