/**
 * plogkit/daemon: what a Node program needs to be a proper Unix daemon
 * (W. R. Stevens and S. Rago, APUE chapter 13), without fork().
 *
 * ```ts
 * import { detach, notifyReady, notifyFailure, acquireLock, daemonSignals, onReopen, createReporter } from 'plogkit/daemon';
 *
 * // (parse and check the arguments: errors here go straight to the user)
 * await detach({ name: 'mydaemon', runtimeDir: dir, foreground, keepFds: verbose ? [1] : [] });
 * // from here on: the daemon (or the foreground program)
 * const l = acquireLock(`${dir}/mydaemon.pid`);
 * if (!l.acquired) notifyFailure(12, `mydaemon: already running (pid ${l.pid})`);
 * // every signal that would end it decided (DAEMON_SIGNALS): stop, reload, reopen, ignore
 * daemonSignals(() => { unlinkSync(sock); l.lock.release(); }, { tell: (m) => rep.info(m) });
 * onReopen(() => reopenMyLogs()); // SIGUSR1, as logrotate sends
 * // ... bind the socket, then:
 * notifyReady(); // the launcher exits 0 now
 * ```
 *
 * The launcher returns only once the daemon is ready, or with the daemon's
 * own message and exit code when its start failed. The daemon runs in a new
 * session without being its leader (the System V double fork), has no
 * controlling terminal, its runtime directory as cwd, a known umask, stdin on
 * /dev/null, stdout/stderr on /dev/null unless kept (files and pipes only,
 * never a terminal), and no inherited descriptors.
 *
 * Module layout: detach.ts (launcher and readiness; spawnReady() for a
 * program that runs another of the kit as its child), session.ts (the middle
 * process), fds.ts, lock.ts, ownfile.ts (our own files in a shared
 * directory), sockets.ts (stale sockets), signals.ts, report.ts; run.ts is
 * the main() of this project's daemons (its command-line conventions, not
 * exported here); syslog-sink.ts connects a
 * reporter to plogkit/syslog and is imported on its own. no-inspector.ts, first
 * of all: SIGUSR1 never opens Node's inspector in a program of the kit (it
 * ends the program as the default would, unless the program listens for it,
 * as daemonSignals() does); a program imports it first itself to make the
 * window before it as short as it can be.
 */
import './no-inspector.js';
export { detach, startDaemon, spawnReady, isDaemonChild, isReady, notifyReady, notifyWarning, notifyFailure, type DetachOptions, type StartResult, type SpawnReadyOptions } from './detach.js';
export { removeStaleSocket, socketState, type SocketState } from './sockets.js';
export { closeInheritedFds, isKeepableOutput } from './fds.js';
export { acquireLock, type PidLock, type LockResult } from './lock.js';
export { groupId, groupIdIn } from './groups.js';
export { onShutdown, shutdown, isShuttingDown, onSignal, onReload, onReopen, daemonSignals, DAEMON_SIGNALS, REALTIME_SIGNAL_ACTION, type Cleanup, type SignalAction } from './signals.js';
export { createReporter, timestamp, type Reporter, type ReporterOptions, type ErrorDest, type SyslogSink } from './report.js';
