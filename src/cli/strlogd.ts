#!/usr/bin/env node
// strlogd(8): the STREAMS log driver in user space. Options, start-up
// checks, becoming a daemon (src/daemon), then the sockets
// (src/strlog/server.ts) around the engine (src/strlog/driver.ts).
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BACKLOG_BYTES, DEFAULT_GROUP, DEFAULT_QUEUE_BYTES, PID_FILE } from '../strlog/constants.js';
import { groupId } from '../daemon/groups.js';
import { parseListenFds, unsetListenEnv } from '../daemon/listenfds.js';
import { DAEMON_OPTIONS, daemonBasics, parseDaemonArgs, runDaemon, type DaemonBasics, type DaemonContext } from '../daemon/run.js';
import { ExitError, exitStatusHelp, STRLOGD } from '../strlog/exitcodes.js';
import { resolveRunDir } from '../strlog/rundir.js';
import { StartError, StrlogServer } from '../strlog/server.js';
import { parseBytes } from '../strlog/options.js';
import { version } from '../version.js';

const PROG = 'strlogd';

export function usage(): string {
  return `strlogd ${version()} - the STREAMS log driver, in user space

Usage:
  strlogd -h | [-f] [-v] [-e stderr|both|none] [-d DIR] [-g GROUP]
          [-q BYTES] [-b BYTES] [-n]

Options:
  -f            run in the foreground (implies -e stderr unless -e is given)
  -v            verbose: timestamped non-error messages on stdout
  -e WHERE      where runtime errors go: stderr, both (syslog and stderr) or
                none; the default in the background is syslog (facility daemon)
  -d DIR        runtime directory: the sockets submit and logger, the lock
                file strlogd.pid (default $STRLOGDIR, else /run/strlog;
                created if missing)
  -g GROUP      the module group: its members (and root) may use the module
                interface (mid and sid as given) and register loggers
                (default ${DEFAULT_GROUP}; root only if it does not exist)
  -q BYTES      bound of each logger's queue; when full, its oldest messages
                are dropped (default ${DEFAULT_QUEUE_BYTES / 1024}k; k and m suffixes)
  -b BYTES      bound of the console backlog kept for the first console
                logger (default ${DEFAULT_BACKLOG_BYTES / 1024}k)
  -n            do not forward console messages to syslog (strlogd is then
                not a console logger itself: they wait in the backlog)
  -h, --help    this text
  --version     the version

Signals: SIGTERM, SIGINT, SIGQUIT, SIGXCPU or SIGPWR remove the sockets and
exit 0; SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGSTKFLT, SIGXFSZ,
SIGVTALRM, SIGPROF, SIGIO and the real-time signals are ignored.

Exit status:
${exitStatusHelp(STRLOGD)}
`;
}

interface Options extends DaemonBasics {
  group: string;
  groupGiven: boolean;
  queueBytes: number;
  backlogBytes: number;
  forward: boolean;
  /** The module group's gid, null when there is none. */
  gid: number | null;
  /** Sockets passed by the service manager (socket activation). */
  passed: number[];
}

function parse(argv: string[]): Options | 'help' | 'version' {
  const values = parseDaemonArgs(
    argv,
    {
      ...DAEMON_OPTIONS,
      d: { type: 'string', short: 'd' },
      g: { type: 'string', short: 'g' },
      q: { type: 'string', short: 'q' },
      b: { type: 'string', short: 'b' },
      n: { type: 'boolean', short: 'n' },
    },
    STRLOGD.USAGE.code,
  );
  if (values === 'help' || values === 'version') return values;
  const basics = daemonBasics(values, STRLOGD.USAGE.code);
  const bytes = (opt: string, v: string | boolean | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = parseBytes(String(v));
    if (n === null || n < 1024) throw new ExitError(STRLOGD.USAGE, `-${opt} takes a size of at least 1k (bytes, or with k or m), not '${String(v)}'`);
    return n;
  };
  const rd = resolveRunDir(values.d === undefined ? undefined : String(values.d));
  if (!rd.ok) throw new ExitError(STRLOGD.RUNDIR, rd.message);
  return {
    ...basics,
    runtimeDir: rd.dir,
    group: values.g === undefined ? DEFAULT_GROUP : String(values.g),
    groupGiven: values.g !== undefined,
    queueBytes: bytes('q', values.q, DEFAULT_QUEUE_BYTES),
    backlogBytes: bytes('b', values.b, DEFAULT_BACKLOG_BYTES),
    forward: !values.n,
    gid: null,
    passed: [],
  };
}

/** Options, then the checks whose errors reach the user before there is a daemon. */
function prepare(argv: string[]): Options | 'help' | 'version' {
  const opts = parse(argv);
  if (opts === 'help' || opts === 'version') return opts;
  opts.gid = groupId(opts.group);
  if (opts.gid === null && opts.groupGiven) throw new ExitError(STRLOGD.GROUP, `no such group: ${opts.group}`);
  enterDir(opts.runtimeDir);
  opts.passed = passedSockets(opts.foreground);
  return opts;
}

/** Create the runtime directory if it is missing (its parent must exist), then enter it. */
function enterDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ExitError(STRLOGD.RUNDIR, `cannot create ${dir}: ${(err as Error).message}`);
  }
  try {
    if (!statSync(dir).isDirectory()) throw new ExitError(STRLOGD.RUNDIR, `${dir} is not a directory`);
    process.chdir(dir);
  } catch (err) {
    if (err instanceof ExitError) throw err;
    throw new ExitError(STRLOGD.RUNDIR, `cannot change directory to ${dir}: ${(err as Error).message}`);
  }
}

/**
 * Socket activation (systemd's LISTEN_FDS, systemd/strlogd.socket): the two
 * sockets the service manager bound at DIR/submit and DIR/logger, served
 * instead of binding them (the server tells them apart by their paths);
 * none when nothing was passed. Only in the foreground: the service manager
 * supervises us, and a detached copy would have another pid.
 */
function passedSockets(foreground: boolean): number[] {
  const p = parseListenFds(process.env, process.pid);
  unsetListenEnv();
  if (!p.ok) throw new ExitError(STRLOGD.SOCKET, p.reason);
  if (p.fds.length === 0) return [];
  if (p.fds.length !== 2) throw new ExitError(STRLOGD.SOCKET, `${p.fds.length} sockets passed, 2 expected (DIR/submit and DIR/logger)`);
  if (!foreground) throw new ExitError(STRLOGD.SOCKET, 'sockets passed by the service manager need -f');
  return p.fds.map((f) => f.fd);
}

/** $STRLOGD_CLOCK_OFFSET: seconds added to the time messages are stamped
 * with (tests of strerr's day switch; see ENVIRONMENT in strlogd(8)). */
function clockOffset(report: { error(msg: string): void }): number {
  const v = process.env.STRLOGD_CLOCK_OFFSET;
  if (v === undefined || v === '') return 0;
  if (!/^[-+]?\d+(\.\d+)?$/.test(v)) {
    report.error(`ignoring STRLOGD_CLOCK_OFFSET='${v}' (not a number of seconds)`);
    return 0;
  }
  return Math.round(Number(v) * 1000);
}

async function start(opts: Options, ctx: DaemonContext): Promise<void> {
  const { runtimeDir: dir, gid, passed } = opts;
  const { report } = ctx;
  const server = new StrlogServer({
    dir,
    queueBytes: opts.queueBytes,
    backlogBytes: opts.backlogBytes,
    group: gid,
    forward: opts.forward,
    report,
    passed: passed.length ? passed : undefined,
    clockOffset: clockOffset(report),
  });
  // No configuration to reload and no log files to reopen: SIGHUP (the
  // hangup of the terminal of -f too) and SIGUSR1 change nothing.
  ctx.onStop(() => server.stop());

  // One driver per directory: the lock also makes removing a stale socket safe.
  const lockPath = join(dir, PID_FILE);
  try {
    const r = ctx.lock(lockPath);
    if (r.held) await report.fatal(STRLOGD.RUNNING.code, `already running on ${dir}${r.pid ? ` (pid ${r.pid})` : ''}`);
  } catch (err) {
    await report.fatal(STRLOGD.RUNDIR.code, `cannot take the lock file ${lockPath}: ${(err as Error).message}`);
  }
  try {
    await server.start();
  } catch (err) {
    if (err instanceof StartError) await report.fatal(STRLOGD.SOCKET.code, err.message);
    throw err;
  }
  report.info(
    `started on ${dir}, pid ${process.pid}; module group ${gid === null ? 'none (root only)' : `${opts.group} (${gid})`}; ` +
      `queues ${opts.queueBytes} bytes, backlog ${opts.backlogBytes}; console to syslog ${opts.forward ? 'on' : 'off'}` +
      (passed.length ? '; sockets passed by the service manager' : ''),
  );
}

runDaemon({
  name: PROG,
  usage,
  codes: { usage: STRLOGD.USAGE.code, fork: STRLOGD.FORK.code, internal: STRLOGD.INTERNAL.code },
  forkWords: 'could not detach',
  prepare,
  start,
});
