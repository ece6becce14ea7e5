#!/usr/bin/env node
// plogsrvd(1): the process logger daemon. Options, start-up checks, becoming
// a daemon (src/daemon), then the server (src/plog/server/server.ts).
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { parseOptions, exitOnError, helpOrVersion } from './args.js';
import { statSync } from 'node:fs';
import v8 from 'node:v8';
import { join } from 'node:path';
import { internalError } from '../bugs.js';
import { SERVER, ExitError, type ExitCode } from '../plog/exitcodes.js';
import { resolveRunDir } from '../plog/rundir.js';
import { PlogServer } from '../plog/server/server.js';
import { pssBudget } from '../plog/engine/pss-budget.js';
import { version } from '../version.js';
import { parseListenFds, unsetListenEnv } from '../daemon/listenfds.js';
import { createNotifier, monotonicUsec } from '../daemon/sdnotify.js';
import { loadSettings, opsFromValues, Operations, OPS_OPTIONS, type OpsCli } from '../plog/ops/ops.js';
import type { Settings } from '../plog/ops/config.js';
import {
  acquireLock,
  createReporter,
  daemonSignals,
  detach,
  isDaemonChild,
  notifyReady,
  notifyWarning,
  onReload,
  onReopen,
  shutdown,
  type ErrorDest,
  type PidLock,
} from '../daemon/index.js';

const PROG = 'plogsrvd';

export function usage(): string {
  const codes = Object.values(SERVER as Record<string, ExitCode>)
    .map((c) => `  ${String(c.code).padStart(3)}  ${c.meaning}`)
    .join('\n');
  return `plogsrvd ${version()} - process logger daemon

Usage:
  plogsrvd -h | [-f] [-v] [-e stderr|both|none] [-d DIR] [-m world|owner]
           [--resume] [-c FILE] [--max-size SIZE] [--keep N] [--max-total SIZE]
           [--metrics ADDR:PORT]

Options:
  -f            run in the foreground (implies -e stderr unless -e is given)
  -v            verbose: timestamped non-error messages on stdout
  -e WHERE      where runtime errors go: stderr, both (syslog and stderr) or
                none; the default in the background is syslog (facility daemon)
  -d DIR        runtime directory: its socket plogd_sock and the logs
                (default $PLOGDIR, else /var/local/plog)
  -m MODE       socket mode: world (777), owner (700); the default is 770 with
                the group 'plog' ('any' and 'group' as plog 0.1.0 said)
  --resume      take up the logs of the previous run (DIR/plogsrvd.state)
                whose processes still run
  -c FILE       configuration file of 'key = value' lines (keys: max-size,
                keep, max-total, metrics), read at start and on SIGHUP
                (default /etc/plogsrvd.conf if it exists)
  --max-size SIZE   rotate a log at SIZE bytes (k, M, G): NAME.r1, NAME.r2 ...
  --keep N      rotated files kept per log (default 5)
  --max-total SIZE  remove the oldest rotated logs while DIR holds more
  --metrics ADDR:PORT  serve the latest samples over HTTP (OpenMetrics)
  -h, --help    this text
  --version     the version

Signals: SIGTERM, SIGINT, SIGQUIT, SIGXCPU or SIGPWR remove the socket and
exit 0; SIGHUP re-reads the configuration file and reopens logs moved away;
SIGUSR1 reopens logs moved away; SIGUSR2, SIGPIPE, SIGALRM, SIGSTKFLT,
SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO and the real-time signals are ignored.

Exit status:
${codes}
`;
}

interface Options {
  foreground: boolean;
  verbose: boolean;
  dest: ErrorDest;
  dir: string;
  mode: number;
  ops: OpsCli;
  settings: Settings;
}

function parse(argv: string[]): Options | 'help' | 'version' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseOptions(argv, {
      f: { type: 'boolean', short: 'f' },
      v: { type: 'boolean', short: 'v' },
      e: { type: 'string', short: 'e' },
      d: { type: 'string', short: 'd' },
      m: { type: 'string', short: 'm' },
      h: { type: 'boolean', short: 'h' },
      help: { type: 'boolean' },
      version: { type: 'boolean' },
      ...OPS_OPTIONS,
    }));
  } catch (err) {
    throw new ExitError(SERVER.USAGE, (err as Error).message);
  }
  if (values.h || values.help) return 'help';
  if (values.version) return 'version';
  const foreground = !!values.f;
  let dest: ErrorDest = foreground ? 'stderr' : 'syslog';
  if (values.e !== undefined) {
    const e = String(values.e);
    if (e !== 'stderr' && e !== 'both' && e !== 'none' && e !== 'syslog') {
      throw new ExitError(SERVER.USAGE, `-e takes stderr, both or none, not '${e}'`);
    }
    dest = e;
  }
  let mode = 0o770;
  if (values.m !== undefined) {
    const m = String(values.m);
    if (m === 'world' || m === 'any') mode = 0o777;
    else if (m === 'owner') mode = 0o700;
    else if (m === 'group') mode = 0o770;
    else throw new ExitError(SERVER.USAGE, `-m takes world or owner, not '${m}'`);
  }
  const rd = resolveRunDir(values.d === undefined ? undefined : String(values.d));
  if (!rd.ok) throw new ExitError(rd.problem === 'too-long' ? SERVER.PATH_TOO_LONG : SERVER.NOT_ABSOLUTE, rd.message);
  let ops: OpsCli;
  let settings: Settings;
  try {
    ops = opsFromValues(values);
    settings = loadSettings(ops);
  } catch (err) {
    throw new ExitError(SERVER.USAGE, (err as Error).message);
  }
  return { foreground, verbose: !!values.v, dest, dir: rd.dir, mode, ops, settings };
}

function checkDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
    process.chdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'No such file or directory' : code === 'ENOTDIR' ? 'Not a directory' : code === 'EACCES' ? 'Permission denied' : (err as Error).message;
    throw new ExitError(SERVER.CHDIR, `Could not change directory to ${dir}: ${why}.`);
  }
}

/**
 * A daemon's memory is mostly what it keeps (its logs' state); what a sample
 * allocates dies at once. V8 doubles its young generation (1 MB semi-spaces
 * at start, up to 16) whenever it is busy, and does not give the pages back:
 * with 2,000 logs that was 12 MB of RSS for nothing. Growth factor 1 keeps
 * the semi-spaces at their initial size; the extra scavenges cost nothing
 * measurable here (bench/scale.ts, BENCHMARKS.md). The factor is read at
 * each growth, so setting it at run time works (unlike the maximum); a V8
 * without the flag ignores it. PLOG_V8_YOUNG=default leaves V8 alone.
 */
function keepYoungGenerationSmall(): void {
  if (process.env.PLOG_V8_YOUNG === 'default') return;
  try {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    /* not this V8's business */
  }
}

async function main(): Promise<void> {
  let opts: Options | 'help' | 'version';
  try {
    opts = parse(process.argv.slice(2));
    if (helpOrVersion(PROG, opts, usage)) return;
    // Checked in the launcher too, so that these errors reach the user even
    // before there is a daemon to report them.
    checkDir(opts.dir);
  } catch (err) {
    exitOnError(PROG, err, SERVER.USAGE.code);
  }
  const { foreground, verbose, dest, dir, mode } = opts;

  // Socket activation (systemd's LISTEN_FDS): one datagram socket, at
  // DIR/plogd_sock, and only in the foreground (the service manager
  // supervises us; a detached copy would have another pid).
  let socketFd: number | undefined;
  const passed = parseListenFds(process.env, process.pid);
  unsetListenEnv();
  if (!passed.ok || passed.fds.length > 1 || (passed.fds.length === 1 && !foreground)) {
    const why = !passed.ok ? passed.reason : passed.fds.length > 1 ? `${passed.fds.length} sockets passed, one expected` : 'a socket passed by the service manager needs -f';
    process.stderr.write(`${PROG}: Could not create socket: ${why}\n`);
    process.exit(SERVER.SOCKET.code);
  }
  if (passed.fds.length === 1) socketFd = passed.fds[0].fd;

  // Keep stdout for -v and stderr for -e stderr|both, where the launcher
  // pointed them (a file or a pipe; never a terminal: the kit checks).
  const keepFds: number[] = [];
  if (verbose) keepFds.push(1);
  if (dest === 'stderr' || dest === 'both') keepFds.push(2);
  try {
    await detach({ name: PROG, runtimeDir: dir, foreground, keepFds, failCode: SERVER.FORK.code });
  } catch (err) {
    process.stderr.write(`${PROG}: Failed to fork: ${(err as Error).message}\n`);
    process.exit(SERVER.FORK.code);
  }
  if (isDaemonChild()) process.chdir(dir);

  keepYoungGenerationSmall();

  const needsSyslog = dest === 'syslog' || dest === 'both';
  const sink = needsSyslog ? (await import('../daemon/syslog-sink.js')).syslogSink(PROG) : undefined;
  const report = createReporter({ program: PROG, dest, verbose, syslog: sink });

  const server = new PlogServer({
    dir,
    mode,
    plogGroup: mode === 0o770,
    report,
    warn: (msg) => notifyWarning(`${PROG}: ${msg}`),
    version: version(),
    socketFd,
    // Safe PSS: how much of a process's time PSS reads may take (plogsrvd(1), ENVIRONMENT).
    pssBudget: pssBudget(process.env.PLOG_PSS_BUDGET),
  });
  // The service manager's notifications (sd_notify(3); nothing without NOTIFY_SOCKET).
  const notifier = createNotifier();
  const ops = new Operations(server, report, opts.ops, opts.settings);
  reloadHooks.push(() => ops.reload());
  const status = (): string => `STATUS=logging ${server.logs.length} processes on ${server.socketPath}`;
  let pidLock: PidLock | null = null;
  // Every signal that would end us by default is decided (DAEMON_SIGNALS, plogsrvd(1) SIGNALS).
  daemonSignals((signal) => {
    if (signal) report.info(`caught ${signal}: shutting down`);
    notifier.send('STOPPING=1');
    notifier.close();
    ops.stop();
    server.stop();
    pidLock?.release();
    report.close();
  }, { tell: (m) => report.info(m) });
  const takeLock = (path: string): 'held' | 'taken' | 'skipped' => {
    try {
      const r = acquireLock(path);
      if (!r.acquired) return 'held';
      pidLock = r.lock;
      return 'taken';
    } catch (err) {
      // A directory we cannot write fails at the bind with its own message;
      // a planted link or someone else's file is worth an error of its own.
      const code = (err as NodeJS.ErrnoException).code;
      const msg = `not using the lock file ${path}: ${(err as Error).message}`;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') report.info(msg);
      else report.error(msg);
      return 'skipped';
    }
  };
  server.onFatal = (err) => {
    void report.fatal(err.exitCode, err.message);
  };

  // One plogsrvd per directory (APUE's already_running()): the lock closes
  // the window in which two servers starting together could both find a
  // stale socket, remove it and bind. A lock file we cannot use (another
  // user's, in a shared directory) leaves the decision to the socket query.
  const lock = takeLock(join(dir, 'plogsrvd.pid'));
  if (lock === 'held') await report.fatal(SERVER.RUNNING.code, `Plogsrvd already running on ${server.socketPath}.`);
  try {
    await server.start();
  } catch (err) {
    if (err instanceof ExitError) await report.fatal(err.exitCode, err.message);
    await report.fatal(SERVER.SERVER.code, `Could not create server: ${(err as Error).message}`);
  }
  try {
    await ops.start();
  } catch (err) {
    await report.fatal(SERVER.SERVER.code, `Could not create server: --metrics ${opts.settings.metrics}: ${(err as Error).message}`);
  }
  report.info(`started on ${server.socketPath} (mode ${mode.toString(8)}), pid ${process.pid}`);
  notifyReady();
  notifier.send('READY=1', status(), `MAINPID=${process.pid}`);
  // SIGHUP: reload (see RELOAD in plogsrvd(1)), told to the service manager.
  onReload(async () => {
    notifier.send('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`);
    for (const hook of reloadHooks) await hook();
    notifier.send('READY=1', status());
  });
  // SIGUSR1 (logrotate's postrotate): reopen the logs moved away, as a reload does.
  onReopen(() => ops.reopen());
}

/** What a reload (SIGHUP) does, in order. */
const reloadHooks: Array<() => void | Promise<void>> = [];

main().catch((err: unknown) => {
  process.stderr.write(`${PROG}: ${internalError(err)}\n`);
  void shutdown(SERVER.INTERNAL.code);
});
