// Becoming a daemon without fork(): the launcher re-runs the program as a
// detached copy through a session leader (session.ts) and waits for the copy
// to say it is ready. See index.ts for the overview.
import './no-inspector.js'; // the launcher and the daemon: SIGUSR1 never opens Node's inspector
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, fstatSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { errnoWords } from '../errno.js';
import { closeInheritedFds, isKeepableOutput } from './fds.js';
import { signalNumber, writeAllSync } from './io.js';
import { encode, KEEP_ENV, READY_FD, STAGE_ENV, UMASK_ENV, WordReader, type Word } from './protocol.js';
import { ignoreHangup } from './signals.js';

/** Options of {@link detach} and {@link startDaemon}. */
export interface DetachOptions {
  /** The daemon's name, used in the launcher's own messages (e.g. 'plogsrvd'). */
  name: string;
  /** The daemon's working directory (its runtime directory). Relative paths
   * are resolved against the launcher's working directory. */
  runtimeDir: string;
  /** The daemon's file mode creation mask. Default 0o022. */
  umask?: number;
  /**
   * Descriptors of the launcher that the daemon keeps. 1 and 2 (stdout,
   * stderr) are kept only when they are a regular file, a pipe or a socket,
   * never a terminal; otherwise, like every descriptor not listed, they are
   * /dev/null in the daemon. Descriptors of 4 and above are passed through
   * under the same number. 0 and 3 cannot be kept (stdin is always
   * /dev/null; 3 is the kit's readiness channel). Default: none.
   */
  keepFds?: number[];
  /** Run in the foreground instead: detach() then does nothing (-f). */
  foreground?: boolean;
  /** Arguments for the detached copy. Default: process.argv.slice(2). */
  args?: string[];
  /** The script the detached copy runs. Default: process.argv[1]. */
  script?: string;
  /** Environment of the daemon. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Give up waiting for readiness after this many milliseconds. Default 0:
   * wait as long as the daemon lives. A daemon that is still starting when
   * the launcher gives up (timeout, session leader killed) is sent SIGTERM. */
  timeout?: number;
  /** Exit code for a start that failed without a code of the daemon's own
   * (it could not be started, it exited 0 or vanished unready). Default 1. */
  failCode?: number;
}

/** How a start ended, as seen by the launcher. */
export type StartResult = { ready: true; pid: number } | { ready: false; code: number; message: string; pid: number | null };

// ---------------------------------------------------------------------------
// The daemon side.

/** The readiness channel while it is open (daemon copy only). */
let channel: number | null = null;
let ready = false;
/** What the launcher told the daemon copy: its umask and the extra fds it keeps. */
let stageUmask: number | null = null;
let stageKeep: number[] = [];
const daemonChild = detectStage();

function detectStage(): boolean {
  if (process.env[STAGE_ENV] !== 'daemon') return false;
  const mask = process.env[UMASK_ENV];
  if (mask !== undefined && /^[0-7]{1,4}$/.test(mask)) stageUmask = parseInt(mask, 8);
  stageKeep = (process.env[KEEP_ENV] ?? '').split(',').filter(Boolean).map(Number).filter(Number.isInteger);
  // Our own children must not believe they are daemon copies.
  delete process.env[STAGE_ENV];
  delete process.env[UMASK_ENV];
  delete process.env[KEEP_ENV];
  try {
    const st = fstatSync(READY_FD);
    if (!st.isSocket() && !st.isFIFO()) return false;
  } catch {
    return false;
  }
  channel = READY_FD;
  // Report an uncaught exception before it kills us unready: the launcher
  // prints it (the daemon's own stderr is usually /dev/null).
  process.on('uncaughtExceptionMonitor', (err: unknown) => {
    if (channel === null) return;
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    send({ t: 'crash', message });
  });
  return true;
}

function send(w: Word): boolean {
  if (channel === null) return false;
  return writeAllSync(channel, encode(w));
}

function closeChannel(): void {
  if (channel === null) return;
  try {
    closeSync(channel);
  } catch {
    // already gone
  }
  channel = null;
}

/**
 * True in the detached copy of the program that {@link detach} started (the
 * daemon), false in the launcher and in foreground runs.
 */
export function isDaemonChild(): boolean {
  return daemonChild;
}

/** True once {@link notifyReady} has been called (in any mode). */
export function isReady(): boolean {
  return ready;
}

/**
 * Tell the launcher that the daemon is up (its socket bound, its lock taken):
 * the launcher then exits 0. Closes the readiness channel. In the foreground
 * it only records readiness. Calling it again does nothing.
 */
export function notifyReady(): void {
  ready = true;
  if (channel === null) return;
  send({ t: 'ready', pid: process.pid });
  closeChannel();
}

/**
 * Send a start-up warning to the launcher, which prints it on its stderr
 * (e.g. "could not set the group of the socket"); the start goes on. In the
 * foreground, or once ready, the message is written to our own stderr.
 */
export function notifyWarning(message: string): void {
  if (!send({ t: 'warn', message })) writeAllSync(2, message.endsWith('\n') ? message : message + '\n');
}

/**
 * Report a failed start and exit with `code`. In the daemon the launcher
 * prints `message` (verbatim) on its stderr and exits with `code`; in the
 * foreground (or once ready) `message` is written to our stderr. The process
 * exits at once: release what must be released before calling it.
 */
export function notifyFailure(code: number, message: string): never {
  sendFailure(code, message);
  process.exit(code);
}

/** notifyFailure without the exit (for reporters that clean up first). @internal */
export function sendFailure(code: number, message: string): void {
  if (send({ t: 'fail', code, message })) closeChannel();
  else writeAllSync(2, message.endsWith('\n') ? message : message + '\n');
}

function daemonSide(opts: DetachOptions): void {
  // The session leader set it already; the launcher's word wins over this
  // copy's options (they are the same unless the program computes them
  // differently in the two processes).
  process.umask(stageUmask ?? opts.umask ?? 0o022);
  const keep = stageKeep;
  // The session leader closed them before starting us; this is for anything
  // the program itself inherited or opened without O_CLOEXEC since.
  closeInheritedFds({ keep: channel === null ? keep : [READY_FD, ...keep] });
  ignoreHangup();
}

// ---------------------------------------------------------------------------
// The launcher side.

const sessionScript = fileURLToPath(new URL('./session.js', import.meta.url));

function fail(code: number, message: string, pid: number | null = null): StartResult {
  return { ready: false, code, message, pid };
}

/**
 * Start the daemon and wait for its word, without exiting: the launcher half
 * of {@link detach}. Warnings the daemon sends are written to our stderr as
 * they come. Rejects only for invalid options (a `keepFds` entry of 0 or 3).
 */
export async function startDaemon(opts: DetachOptions): Promise<StartResult> {
  const name = opts.name;
  const failCode = opts.failCode ?? 1;
  const dir = resolve(opts.runtimeDir);
  try {
    if (!statSync(dir).isDirectory()) return fail(failCode, `${name}: ${dir} is not a directory`);
    accessSync(dir, fsConstants.X_OK);
  } catch (err) {
    return fail(failCode, `${name}: cannot use ${dir} as its runtime directory: ${errnoWords(err)}`);
  }
  const script = opts.script ?? process.argv[1];
  if (!script) return fail(failCode, `${name}: cannot tell which script to run as the daemon`);
  const umask = opts.umask ?? 0o022;

  const stdio: StdioOptions = ['ignore', 'ignore', 'ignore', 'pipe'];
  const extra: number[] = [];
  for (const fd of opts.keepFds ?? []) {
    if (fd === 1 || fd === 2) {
      if (isKeepableOutput(fd)) stdio[fd] = fd;
    } else if (Number.isInteger(fd) && fd >= 4) {
      try {
        fstatSync(fd);
      } catch {
        continue; // not open: nothing to keep
      }
      stdio[fd] = fd;
      extra.push(fd);
    } else {
      throw new RangeError(`detach: cannot keep descriptor ${fd}`);
    }
  }
  // no holes: child_process skips them, which would renumber what follows
  for (let i = 4; i < stdio.length; i++) if (stdio[i] === undefined) stdio[i] = 'ignore';

  const argv = [process.execPath, ...process.execArgv, resolve(script), ...(opts.args ?? process.argv.slice(2))];
  const env: NodeJS.ProcessEnv = {
    ...(opts.env ?? process.env),
    [STAGE_ENV]: 'daemon',
    [UMASK_ENV]: umask.toString(8),
    [KEEP_ENV]: extra.join(','),
  };

  let daemonPid: number | null = null;
  const wait = new StartWait(failCode, () => {
    chan?.destroy();
    leader.unref();
  });
  const settle = (r: StartResult): void => wait.settle(r);

  const leader = spawn(process.execPath, [sessionScript, JSON.stringify({ argv, umask, keep: extra })], {
    detached: true,
    cwd: dir,
    stdio,
    env,
  });
  leader.on('error', (err) => settle(fail(failCode, `${name}: cannot start the daemon: ${err.message}`)));
  const chan = leader.stdio[READY_FD] as Readable | null;
  if (!chan) return wait.result; // 'error' follows

  readWords(chan, (w: Word): void => {
    if (wait.word(w, daemonPid)) return;
    // The session leader's own words.
    if (w.t === 'spawned') daemonPid = w.pid;
    else if (w.t === 'error') settle(fail(failCode, `${name}: ${w.message}`, daemonPid));
    else if (w.t === 'exit') settle(died(name, w, wait.crash, failCode));
  });
  // A start that fails leaves nothing behind: what is still starting when
  // we give up is sent SIGTERM, the daemon and its session leader alike.
  // The session leader leads a process group of its own (setsid), and the
  // daemon is in it: one kill of the group reaches both, even before the
  // daemon's pid is known (a loaded machine may not have said it yet).
  const stop = (): string => {
    let stopped = false;
    try {
      if (leader.pid !== undefined) {
        process.kill(-leader.pid, 'SIGTERM');
        stopped = true;
      }
    } catch {
      /* the group is gone */
    }
    try {
      if (daemonPid !== null) {
        process.kill(daemonPid, 'SIGTERM');
        stopped = true;
      }
    } catch {
      /* already gone */
    }
    if (!stopped) return '';
    return daemonPid !== null ? `; stopped the daemon (pid ${daemonPid})` : '; stopped the daemon before it said its pid';
  };
  chan.on('close', () => {
    if (!wait.settled) settle(fail(failCode, `${name}: the daemon's start was interrupted (its session leader died)${stop()}`, daemonPid));
  });
  if (opts.timeout && opts.timeout > 0) {
    const secs = opts.timeout / 1000;
    wait.giveUpAfter(opts.timeout, () => fail(failCode, `${name}: the daemon was not ready after ${secs} s${stop()}`, daemonPid));
  }
  return wait.result;
}

/** The launcher's wait for a start's end: the first result wins; the
 * daemon's words of readiness, failure, warning and crash are read alike
 * from the session leader and from a child started by spawnReady(). */
class StartWait {
  settled = false;
  /** What the daemon's uncaught exception said, if it had one. */
  crash: string | null = null;
  readonly result: Promise<StartResult>;
  private resolve!: (r: StartResult) => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly failCode: number,
    private readonly onSettle: () => void,
  ) {
    this.result = new Promise((resolve) => (this.resolve = resolve));
  }

  settle(r: StartResult): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.onSettle();
    this.resolve(r);
  }

  /** Settle with what `result` says after ms, unless settled before. */
  giveUpAfter(ms: number, result: () => StartResult): void {
    this.timer = setTimeout(() => {
      if (!this.settled) this.settle(result());
    }, ms);
  }

  /** Take a word of the daemon's; false for a word that is not (the session leader's). */
  word(w: Word, pid: number | null): boolean {
    if (w.t === 'ready') this.settle({ ready: true, pid: w.pid });
    else if (w.t === 'fail') this.settle(fail(validCode(w.code, this.failCode), w.message, pid));
    else if (w.t === 'crash') this.crash = w.message;
    else if (w.t === 'warn') writeAllSync(2, w.message.endsWith('\n') ? w.message : w.message + '\n');
    else return false;
    return true;
  }
}

/** Call onWord with each word that comes on a readiness channel. */
function readWords(chan: Readable, onWord: (w: Word) => void): void {
  const reader = new WordReader();
  chan.setEncoding('utf8');
  chan.on('data', (chunk: string) => reader.push(chunk).forEach(onWord));
  chan.on('error', () => {});
}

/** Options of {@link spawnReady}. */
export interface SpawnReadyOptions {
  /** The program's name, in the messages of a failed start. */
  name: string;
  /** The script of a program of the kit, and its arguments (a foreground
   * run: -f or the like; the child is not detached by the kit). */
  script: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Exit code for a start that failed without a code of the child's own. Default 1. */
  failCode?: number;
  /** Give up after this many milliseconds (the child is then sent SIGTERM). Default 0: no limit. */
  timeout?: number;
}

/**
 * Start a program of the kit as our own child, in a new session, its
 * standard error on a pipe (child.stderr), and wait for its word on the
 * kit's readiness channel, as the launcher of {@link detach} does: ready
 * when it calls notifyReady(), its message and code when its start fails
 * (notifyFailure, a fatal report), or how it died. For a program that runs
 * another for its own use (plog run's private plogsrvd).
 */
export function spawnReady(opts: SpawnReadyOptions): { child: ChildProcess; ready: Promise<StartResult> } {
  const failCode = opts.failCode ?? 1;
  const child = spawn(process.execPath, [...process.execArgv, opts.script, ...opts.args], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...(opts.env ?? process.env), [STAGE_ENV]: 'daemon' },
  });
  const wait = new StartWait(failCode, () => chan?.destroy());
  const chan = child.stdio[READY_FD] as Readable | null;
  child.once('error', (err) => wait.settle(fail(failCode, `${opts.name}: cannot start: ${err.message}`)));
  child.once('exit', (code, signal) => wait.settle(died(opts.name, { t: 'exit', pid: child.pid ?? 0, code, signal }, wait.crash, failCode)));
  if (chan) readWords(chan, (w) => wait.word(w, child.pid ?? null));
  if (opts.timeout && opts.timeout > 0) {
    const secs = opts.timeout / 1000;
    wait.giveUpAfter(opts.timeout, () => {
      child.kill('SIGTERM');
      return fail(failCode, `${opts.name}: not ready after ${secs} s; stopped it (pid ${child.pid})`, child.pid ?? null);
    });
  }
  const ready = wait.result;
  return { child, ready };
}

function validCode(code: unknown, fallback: number): number {
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code < 256 ? code : fallback;
}

function died(name: string, w: Extract<Word, { t: 'exit' }>, crash: string | null, failCode: number): StartResult {
  const what = crash ? `crashed (${crash})` : null;
  if (w.signal) {
    const n = signalNumber(w.signal);
    return fail(n ? 128 + n : failCode, `${name}: the daemon (pid ${w.pid}) ${what ?? `was killed by ${w.signal}`} before it was ready`, w.pid);
  }
  const code = w.code ?? 0;
  const how = what ? `${what}, exit status ${code},` : `exited with status ${code}`;
  return fail(code > 0 ? validCode(code, failCode) : failCode, `${name}: the daemon (pid ${w.pid}) ${how} before it was ready`, w.pid);
}

/**
 * Become a daemon (APUE 13.3, without fork()). Call it early, after checking
 * the arguments, in the program the user runs:
 *
 * - In the launcher (the process the user started) it starts a session leader
 *   with `setsid` semantics (`detached: true`, no controlling terminal, cwd =
 *   `runtimeDir`, the given umask, stdin on /dev/null, stdout/stderr on
 *   /dev/null unless kept, see `keepFds`), which closes inherited descriptors
 *   and starts this same program again (same node, node options, script and
 *   arguments) as a process that is not a session leader, then exits. The
 *   launcher waits until that daemon calls {@link notifyReady} (exit 0),
 *   {@link notifyFailure} (its message on stderr, its exit code), or dies
 *   (a message and its exit status, or `failCode`). It never returns.
 * - In the daemon copy ({@link isDaemonChild}) it applies the umask, closes
 *   inherited descriptors ({@link closeInheritedFds}), ignores SIGHUP (see
 *   `onReload`) and returns: the caller goes on as the daemon.
 * - With `foreground: true` it returns at once and changes nothing.
 *
 * Everything before the call runs twice (launcher, daemon). Take locks and
 * bind sockets after it, in the daemon, and then call notifyReady().
 */
export async function detach(opts: DetachOptions): Promise<void> {
  if (opts.foreground) return;
  if (daemonChild) {
    daemonSide(opts);
    return;
  }
  const r = await startDaemon(opts);
  if (r.ready) process.exit(0);
  writeAllSync(2, r.message.endsWith('\n') ? r.message : r.message + '\n');
  process.exit(r.code);
}
