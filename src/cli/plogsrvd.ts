#!/usr/bin/env node
// plogsrvd(1): the process logger daemon. Options, start-up checks, becoming
// a daemon (src/daemon), then the server (src/plog/server/server.ts).
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { statSync } from 'node:fs';
import v8 from 'node:v8';
import { join } from 'node:path';
import { errnoWords } from '../errno.js';
import { SERVER, ExitError, type ExitCode } from '../plog/exitcodes.js';
import { resolveRunDir } from '../plog/rundir.js';
import { PlogServer } from '../plog/server/server.js';
import { pssBudget } from '../plog/engine/pss-budget.js';
import { raiseDescriptorLimit } from '../plog/ops/host.js';
import { version } from '../version.js';
import { parseListenFds, unsetListenEnv } from '../daemon/listenfds.js';
import { createNotifier, monotonicUsec } from '../daemon/sdnotify.js';
import { DAEMON_OPTIONS, daemonBasics, parseDaemonArgs, runDaemon, type DaemonBasics, type DaemonContext } from '../daemon/run.js';
import { loadSettings, opsFromValues, Operations, OPS_OPTIONS, type OpsCli } from '../plog/ops/ops.js';
import type { Settings } from '../plog/ops/config.js';
import { notifyWarning, onReload, onReopen } from '../daemon/index.js';

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

interface Options extends DaemonBasics {
  mode: number;
  ops: OpsCli;
  settings: Settings;
  /** A datagram socket passed by the service manager (socket activation). */
  socketFd: number | undefined;
}

function parse(argv: string[]): Options | 'help' | 'version' {
  const values = parseDaemonArgs(
    argv,
    {
      ...DAEMON_OPTIONS,
      d: { type: 'string', short: 'd' },
      m: { type: 'string', short: 'm' },
      ...OPS_OPTIONS,
    },
    SERVER.USAGE.code,
  );
  if (values === 'help' || values === 'version') return values;
  const basics = daemonBasics(values, SERVER.USAGE.code);
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
  return { ...basics, runtimeDir: rd.dir, mode, ops, settings, socketFd: undefined };
}

/** Options, then the checks made in the launcher too, so that their errors
 * reach the user even before there is a daemon to report them. */
function prepare(argv: string[]): Options | 'help' | 'version' {
  const opts = parse(argv);
  if (opts === 'help' || opts === 'version') return opts;
  checkDir(opts.runtimeDir);
  opts.socketFd = passedSocket(opts.foreground);
  return opts;
}

/**
 * Socket activation (systemd's LISTEN_FDS): one datagram socket, at
 * DIR/plogd_sock, and only in the foreground (the service manager
 * supervises us; a detached copy would have another pid).
 */
function passedSocket(foreground: boolean): number | undefined {
  const passed = parseListenFds(process.env, process.pid);
  unsetListenEnv();
  if (!passed.ok || passed.fds.length > 1 || (passed.fds.length === 1 && !foreground)) {
    const why = !passed.ok ? passed.reason : passed.fds.length > 1 ? `${passed.fds.length} sockets passed, one expected` : 'a socket passed by the service manager needs -f';
    throw new ExitError(SERVER.SOCKET, `Could not create socket: ${why}`);
  }
  return passed.fds[0]?.fd; // one at most, as checked above
}

function checkDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
    process.chdir(dir);
  } catch (err) {
    throw new ExitError(SERVER.CHDIR, `Could not change directory to ${dir}: ${errnoWords(err)}.`);
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

async function start(opts: Options, ctx: DaemonContext): Promise<() => void> {
  const { runtimeDir: dir, mode } = opts;
  const { report } = ctx;
  keepYoungGenerationSmall();

  // Root may log a whole host (plog -r .): descriptors for pid_max processes, where the kernel allows.
  raiseDescriptorLimit(report);

  const server = new PlogServer({
    dir,
    mode,
    plogGroup: mode === 0o770,
    report,
    warn: (msg) => notifyWarning(`${PROG}: ${msg}`),
    version: version(),
    socketFd: opts.socketFd,
    // Safe PSS: how much of a process's time PSS reads may take (plogsrvd(1), ENVIRONMENT).
    pssBudget: pssBudget(process.env.PLOG_PSS_BUDGET),
  });
  // The service manager's notifications (sd_notify(3); nothing without NOTIFY_SOCKET).
  const notifier = createNotifier();
  const ops = new Operations(server, report, opts.ops, opts.settings);
  const status = (): string => `STATUS=logging ${server.logCount} processes on ${server.socketPath}`;
  ctx.onStop(() => {
    notifier.send('STOPPING=1');
    notifier.close();
    ops.stop();
    server.stop();
  });
  server.onFatal = (err) => {
    void report.fatal(err.exitCode, err.message);
  };

  // One plogsrvd per directory (APUE's already_running()): the lock closes
  // the window in which two servers starting together could both find a
  // stale socket, remove it and bind. A lock file we cannot use (another
  // user's, in a shared directory) leaves the decision to the socket query.
  const lockPath = join(dir, 'plogsrvd.pid');
  try {
    if (ctx.lock(lockPath).held) await report.fatal(SERVER.RUNNING.code, `Plogsrvd already running on ${server.socketPath}.`);
  } catch (err) {
    // A directory we cannot write fails at the bind with its own message;
    // a planted link or someone else's file is worth an error of its own.
    const code = (err as NodeJS.ErrnoException).code;
    const msg = `not using the lock file ${lockPath}: ${(err as Error).message}`;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') report.info(msg);
    else report.error(msg);
  }
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
  return () => {
    notifier.send('READY=1', status(), `MAINPID=${process.pid}`);
    // SIGHUP: reload (see RELOAD in plogsrvd(1)), told to the service manager.
    onReload(async () => {
      notifier.send('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`);
      await ops.reload();
      notifier.send('READY=1', status());
    });
    // SIGUSR1 (logrotate's postrotate): reopen the logs moved away, as a reload does.
    onReopen(() => ops.reopen());
  };
}

runDaemon({
  name: PROG,
  usage,
  codes: { usage: SERVER.USAGE.code, fork: SERVER.FORK.code, internal: SERVER.INTERNAL.code },
  forkWords: 'Failed to fork',
  prepare,
  start,
});
