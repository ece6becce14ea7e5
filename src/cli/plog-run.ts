// plog run: start a command, log it from its first moment until it exits,
// print a summary (src/plog/readers/report.ts's analysis), exit with its status.
// Loaded by plog.ts on demand.
//
// The server: the plogsrvd of the runtime directory (-d, $PLOGDIR,
// /var/local/plog) when one answers there, else a private one: a real
// plogsrvd started with -f in a new session (so that the terminal's Ctrl-C
// does not reach it) on a temporary directory, stopped and the directory
// removed at the end (the log moved to -o FILE first, if given). Everything
// about the server is settled before CMD starts, so that CMD is registered
// right after the spawn (the first sample is taken at registration).
//
// Signals: Ctrl-C on a terminal reaches CMD directly (it is in plog run's
// process group, the terminal's foreground group, as a shell would leave
// it); plog run then waits for CMD and still prints the summary. SIGINT and
// SIGQUIT sent to plog run alone (not from its terminal), and SIGTERM, SIGHUP
// and SIGUSR1 always, are passed on to CMD (SIGUSR1: dd(1) prints its
// progress; plog run itself never opens Node's inspector).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, UsageError } from './args.js';
import { errnoWords } from '../errno.js';
import { internalError } from '../bugs.js';
import { MAX_DIR_LENGTH, request, RequestError } from '../plog/client.js';
import { resolveRunDir } from '../plog/rundir.js';
import {
  encodeHello,
  encodeLog,
  encodeLogFormat,
  encodeQuery,
  encodeStop,
  LOG_FORMATS,
  parseInterval,
  Q_PID,
  UNRECOGNIZED,
  type LogFormatName,
} from '../plog/protocol.js';
import { readLog } from '../plog/log/readlog.js';
import { buildReport, type Report } from '../plog/readers/report.js';
import { formatBytes, formatDuration } from '../plog/readers/chart-scale.js';
import { version } from '../version.js';

const PROG = 'plog run';

/** plog run's own exit codes (as env(1) and timeout(1)); any other status is CMD's. */
export const RUN_EXIT = {
  FAILED: { code: 125, meaning: 'plog run itself failed (usage, -o FILE, no server could be started); CMD did not run' },
  CANNOT_RUN: { code: 126, meaning: 'CMD was found but could not be run' },
  NOT_FOUND: { code: 127, meaning: 'CMD was not found' },
} as const;

const DEFAULT_INTERVAL_MS = 1000;

export function usage(): string {
  return `plog run ${version()} - run a command, log it until it exits, summarize

Usage:
  plog run [-i INTERVAL] [-o FILE] [--format text|csv|jsonl] [-d DIR] [-t SECONDS] [--] CMD [ARGS...]
  plog run -h | --help

Starts CMD (its standard input, output and error are plog run's), logs it
from its first moment until it exits, then prints a summary on standard
error: duration, peak RSS and PSS, mean CPU%, and the leak verdict of
plog report. The plogsrvd of the runtime directory is used when one answers
there; otherwise a private one runs on a temporary directory for the
duration (removed at the end: give -o to keep the log).

Options:
  -i INTERVAL   sampling interval (default 1s): a bare number is minutes, as
                for plog -i; with a unit: 500ms, 10s, 2m, 1h (from 10ms)
  -o FILE       keep the log as FILE (created or truncated before CMD starts)
  --format F    the log's format: text (default), csv or jsonl
  -d DIR        the runtime directory to try first (default $PLOGDIR, else
                /var/local/plog)
  -t SECONDS    how long to wait for the server's replies, 1 to 300 (default 3)
  -h, --help    this text

Ctrl-C goes to CMD, as in a shell; plog run waits for it and still prints
the summary. SIGTERM, SIGHUP and SIGUSR1 sent to plog run are passed on to CMD.

Exit status: CMD's; 128+N when CMD was killed by signal N;
${Object.values(RUN_EXIT)
  .map((c) => `  ${c.code}  ${c.meaning}`)
  .join('\n')}
`;
}

export interface RunArgs {
  intervalMs: number;
  output: string | null;
  format: LogFormatName;
  dir: string | undefined;
  timeoutMs: number;
  cmd: string[];
}

class RunFailure extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

function fail(message: string): never {
  throw new RunFailure(RUN_EXIT.FAILED.code, message);
}

/** Parse plog run's arguments (pure); throws RunFailure (125) on a usage error. */
export function parseRunArgs(argv: string[]): RunArgs | 'help' {
  // Options end at '--' or at the first operand (CMD): CMD's own options are not plog run's.
  let end = argv.length;
  let cmdStart = argv.length;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      end = i;
      cmdStart = i + 1;
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      end = cmdStart = i;
      break;
    }
    // An option taking a value consumes the next word when it is not attached.
    if (/^-[iodt]$/.test(a) || a === '--format') i++;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseOptions(argv.slice(0, end), {
      i: { type: 'string', short: 'i' },
      o: { type: 'string', short: 'o' },
      d: { type: 'string', short: 'd' },
      t: { type: 'string', short: 't' },
      format: { type: 'string' },
      h: { type: 'boolean', short: 'h' },
      help: { type: 'boolean' },
    }));
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  }
  if (values.h || values.help) return 'help';
  let intervalMs = DEFAULT_INTERVAL_MS;
  if (values.i !== undefined) {
    const ms = parseInterval(String(values.i));
    if (ms === null) fail(`-i: not an interval: '${values.i}' (minutes, or with a unit: 500ms, 10s, 2m, 1h; at least 10ms)`);
    intervalMs = ms;
  }
  let format: LogFormatName = 'text';
  if (values.format !== undefined) {
    const f = String(values.format);
    if (!(LOG_FORMATS as readonly string[]).includes(f)) fail(`--format takes ${LOG_FORMATS.join(', ')}, not '${f}'`);
    format = f as LogFormatName;
  }
  let timeoutMs = 3000;
  if (values.t !== undefined) {
    const t = String(values.t);
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 300) fail(`-t: the timeout is 1 to 300 seconds, not '${t}'`);
    timeoutMs = Number(t) * 1000;
  }
  const output = values.o === undefined ? null : String(values.o);
  if (output === '') fail('-o: an empty file name');
  const cmd = argv.slice(cmdStart);
  if (cmd.length === 0) fail('no command given: plog run [OPTIONS] -- CMD [ARGS...]');
  return { intervalMs, output, format, dir: values.d === undefined ? undefined : String(values.d), timeoutMs, cmd };
}

/** The exit status a shell would give for a child's end. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

export interface RunOutcome {
  cmd: string[];
  status: number;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Where the log is now ('' when nowhere), and why not when so. */
  logPath: string;
  logNote: string;
  report: Report | null;
  /** The extras of a csv/jsonl log's last sample (I/O bytes, fds, context switches), if any. */
  extras?: Record<string, number | string | null>;
  /** The most open descriptors seen. */
  peakFds?: number | null;
}

/** The summary printed at the end (pure). */
export function formatSummary(o: RunOutcome): string {
  const lines: string[] = [];
  const ended = o.signal ? `was killed by ${o.signal} (status ${o.status})` : `exited with status ${o.status}`;
  lines.push(`plog run: ${o.cmd.join(' ')} ${ended} after ${formatDuration(o.wallMs)}`);
  lines.push(`  log:      ${o.logPath || '-'}${o.logNote ? ` (${o.logNote})` : ''}`);
  const r = o.report;
  if (!r || r.samples === 0) {
    lines.push('  samples:  none (the command ended before its first sample, or was not logged)');
    return lines.join('\n') + '\n';
  }
  // A text log's times are to the second: a short run's samples can share one.
  const span = r.spanMs === 0 && r.samples > 1 ? 'within a second' : `over ${formatDuration(r.spanMs)}`;
  lines.push(`  samples:  ${r.samples} ${span}${r.intervalMs ? `, every ${formatDuration(r.intervalMs)}` : ''}`);
  const fig = (key: string): string => {
    const f = r.figures.find((x) => x.key === key);
    return f ? formatBytes(f.peak) : 'unknown';
  };
  lines.push(`  peak:     RSS ${fig('rss')}, PSS ${fig('pss')}`);
  const cpu = r.cpu.mean === null ? 'mean CPU% unknown (one sample)' : `mean ${r.cpu.mean.toFixed(1)}%, peak ${r.cpu.peak!.toFixed(1)}%`;
  lines.push(`  CPU:      ${cpu}; CPU time ${formatDuration(r.cpu.totalSeconds * 1000)}; threads up to ${r.cpu.maxThreads}`);
  const x = o.extras;
  if (x) {
    const n = (k: string): number | null => (typeof x[k] === 'number' ? (x[k] as number) : null);
    const parts: string[] = [];
    if (n('read_bytes') !== null) parts.push(`storage read ${formatBytes(n('read_bytes')!)}, written ${formatBytes(n('write_bytes') ?? 0)}`);
    if (n('rchar') !== null) parts.push(`read() ${formatBytes(n('rchar')!)}, write() ${formatBytes(n('wchar') ?? 0)}`);
    if (o.peakFds != null) parts.push(`open fds up to ${o.peakFds}`);
    if (n('voluntary_ctxt_switches') !== null) parts.push(`context switches ${n('voluntary_ctxt_switches')} voluntary, ${n('nonvoluntary_ctxt_switches') ?? 0} involuntary`);
    if (parts.length) lines.push(`  I/O:      ${parts.join('; ')} (at the last sample)`);
  }
  lines.push(`  verdict:  ${r.verdict.text}`);
  return lines.join('\n') + '\n';
}

function say(message: string): void {
  try {
    writeSync(2, `${PROG}: ${message}\n`);
  } catch {
    /* nowhere to say it */
  }
}

/** The installed plogsrvd (dist/src/bin/plogsrvd.js: SIGUSR1's guard first). */
const PLOGSRVD = fileURLToPath(new URL('../bin/plogsrvd.js', import.meta.url));

/** A private plogsrvd on a temporary directory. */
class PrivateServer {
  readonly dir: string;
  private child: ChildProcess | null = null;
  private stderr = '';
  private exited: Promise<void> | null = null;
  private done = false;

  constructor() {
    let base = tmpdir();
    // DIR/plogd_sock must fit in a socket address.
    if (Buffer.byteLength(join(base, 'plog-run-XXXXXX')) > MAX_DIR_LENGTH) base = '/tmp';
    this.dir = mkdtempSync(join(base, 'plog-run-'));
  }

  async start(timeoutMs: number): Promise<void> {
    const env = { ...process.env };
    // Nothing of a service manager's meant for plog run.
    for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[k];
    const child = spawn(process.execPath, [PLOGSRVD, '-f', '-m', 'owner', '-d', this.dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      env,
    });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d;
    });
    let gone = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        gone = true;
        resolve();
      });
      child.once('error', (err) => {
        gone = true;
        this.stderr += `${err.message}\n`;
        resolve();
      });
    });
    const end = performance.now() + Math.max(timeoutMs, 10_000);
    for (;;) {
      if (gone) fail(`the private plogsrvd did not start: ${this.stderr.trim() || 'it exited'}`);
      try {
        await request(this.dir, encodeQuery(Q_PID), { timeoutMs: 500 });
        return;
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        if (performance.now() > end) fail(`the private plogsrvd on ${this.dir} does not answer: ${err.message}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** What the server said on stderr (its runtime errors). */
  get messages(): string {
    return this.stderr;
  }

  /** Stop the server (SIGTERM, then SIGKILL) and remove its directory (the log included). */
  async stop(): Promise<void> {
    if (this.done) return;
    this.done = true;
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null && this.exited) {
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
    c?.stderr?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether plog run is in the foreground process group of its controlling
 * terminal (then the terminal's Ctrl-C reaches CMD without our help). */
function foregroundOnTerminal(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state ppid pgrp session tty_nr tpgid ...
    const pgrp = Number(f[2]);
    const ttyNr = Number(f[4]);
    const tpgid = Number(f[5]);
    return ttyNr !== 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}

/** Copy a file (an open descriptor's) into an open descriptor, a chunk at a time, from its start. */
function copyInto(src: number, fd: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let pos = 0; ; ) {
    const n = readSync(src, buf, 0, buf.length, pos);
    if (n === 0) return;
    pos += n;
    for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off);
  }
}

/**
 * Open the log a server named, only if it is one it made for us: a regular
 * file directly in the directory we asked, not a link, owned by our uid (a
 * root plogsrvd hands each log to its requester). Whatever a server says,
 * plog run never reads a file for it that we could not read ourselves, nor
 * copies one into -o.
 */
function openOurLog(path: string, dir: string): number {
  const a = statSync(dirname(path));
  const b = statSync(dir);
  if (a.dev !== b.dev || a.ino !== b.ino || basename(path).startsWith('.')) {
    throw new Error(`the server named ${JSON.stringify(path)}, which is not a log in ${dir}`);
  }
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (st.uid !== process.geteuid?.()) throw new Error(`${path} belongs to uid ${st.uid}, not to you: not a log made for you`);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Ask a server to log pid; the log's path, or why not. */
async function register(dir: string, pid: number, args: RunArgs): Promise<{ path: string } | { error: string; old: boolean }> {
  const req = args.format === 'text' ? encodeLog(pid, args.intervalMs) : encodeLogFormat(pid, args.intervalMs, args.format);
  let reply: string;
  try {
    [reply] = await request(dir, req, { timeoutMs: args.timeoutMs });
  } catch (err) {
    if (!(err instanceof RequestError)) throw err;
    return { error: err.message, old: false };
  }
  if (reply?.startsWith('Log file: ')) return { path: reply.slice('Log file: '.length) };
  return { error: reply ?? 'no reply', old: reply === UNRECOGNIZED };
}

/** Whether a plogsrvd that speaks this project's extensions answers on dir. */
async function serverAnswers(dir: string): Promise<boolean> {
  try {
    const [reply] = await request(dir, encodeHello(), { timeoutMs: 1000 });
    return reply?.startsWith('plogsrvd ') === true;
  } catch (err) {
    if (err instanceof RequestError) return false;
    throw err;
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: RunArgs | 'help';
  try {
    args = parseRunArgs(argv);
  } catch (err) {
    if (err instanceof RunFailure) {
      say(err.message);
      say("Try 'plog run --help'.");
      return err.exitCode;
    }
    throw err;
  }
  if (args === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const ctx: Ctx = { priv: null, outFd: null };
  try {
    return await runCommand(args, ctx);
  } catch (err) {
    if (err instanceof RunFailure) {
      say(err.message);
      return err.exitCode;
    }
    say(internalError(err));
    return 70;
  } finally {
    if (ctx.outFd !== null) closeSync(ctx.outFd);
    await ctx.priv?.stop();
  }
}

/** What main() cleans up after runCommand(). */
interface Ctx {
  priv: PrivateServer | null;
  /** -o FILE, opened before CMD starts. */
  outFd: number | null;
}

async function runCommand(args: RunArgs, ctx: Ctx): Promise<number> {
  // -o first: a FILE that cannot be written is said before CMD runs.
  if (args.output !== null) {
    try {
      ctx.outFd = openSync(args.output, 'w');
    } catch (err) {
      fail(`-o ${args.output}: ${errnoWords(err)}`);
    }
  }
  // A signal before CMD starts (Ctrl-C while a private server starts) ends
  // plog run once that server is stopped again, CMD not started.
  const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP', 'SIGUSR1'];
  let early: NodeJS.Signals | null = null;
  const before = (sig: NodeJS.Signals): void => {
    early ??= sig;
  };
  for (const s of SIGNALS) process.on(s, before);
  try {
    return await startAndLog(args, ctx, () => early);
  } finally {
    for (const s of SIGNALS) process.removeListener(s, before);
  }
}

async function startAndLog(args: RunArgs, ctx: Ctx, early: () => NodeJS.Signals | null): Promise<number> {
  const rd = resolveRunDir(args.dir);
  let dir: string | null = rd.ok && (await serverAnswers(rd.dir)) ? rd.dir : null;
  const startPrivate = async (): Promise<string> => {
    let p: PrivateServer;
    try {
      p = new PrivateServer();
    } catch (err) {
      fail(`cannot make a directory for a private plogsrvd: ${(err as Error).message}`);
    }
    ctx.priv = p;
    await p.start(args.timeoutMs);
    return p.dir;
  };
  if (dir === null) dir = await startPrivate();
  const sig = early();
  if (sig !== null) {
    say(`${sig} before ${args.cmd[0]} started: not started`);
    return exitStatus(null, sig);
  }

  // CMD, in our process group, with our standard streams.
  const t0 = performance.now();
  const child = spawn(args.cmd[0], args.cmd.slice(1), { stdio: 'inherit' });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  if (child.pid === undefined) {
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
    if (err.code === 'ENOENT') throw new RunFailure(RUN_EXIT.NOT_FOUND.code, `${args.cmd[0]}: command not found`);
    throw new RunFailure(RUN_EXIT.CANNOT_RUN.code, `cannot run ${args.cmd[0]}: ${errnoWords(err)}`);
  }
  const pid = child.pid;

  // Signals for CMD while it runs.
  const fromTerminal = foregroundOnTerminal();
  const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP', 'SIGUSR1'];
  const pass = (sig: NodeJS.Signals): void => {
    if ((sig === 'SIGINT' || sig === 'SIGQUIT') && fromTerminal) return; // the terminal sent it to CMD too
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  };
  for (const s of SIGNALS) process.on(s, pass);

  let logPath = '';
  let logNote = '';
  try {
    let reg = await register(dir, pid, args);
    if ('error' in reg && reg.old && ctx.priv === null) {
      // A server of the extensions' first days: no formats. Log with a private one, late.
      say(`the plogsrvd on ${dir} cannot write ${args.format} logs; using a private one (the log misses the first moments)`);
      dir = await startPrivate();
      reg = await register(dir, pid, args);
    }
    if ('error' in reg) {
      if (reg.error.startsWith('No such process')) {
        logNote = 'not logged: the command ended before its first sample';
      } else {
        logNote = `not logged: ${reg.error}`;
        say(`cannot log ${args.cmd[0]} (pid ${pid}): ${reg.error}`);
      }
    } else {
      logPath = reg.path;
    }

    const { code, signal } = await exit;
    const wallMs = performance.now() - t0;
    const status = exitStatus(code, signal);

    let report: Report | null = null;
    let extras: Record<string, number | string | null> | undefined;
    let peakFds: number | null = null;
    if (logPath) {
      // The server stops at its next sample anyway; the stop makes sure the log is closed now.
      try {
        await request(dir, encodeStop(pid), { timeoutMs: args.timeoutMs });
      } catch {
        /* not logging any more, or the server went: the log is what it is */
      }
      let logFd: number | null = null;
      try {
        logFd = openOurLog(logPath, dir);
        // Read through the descriptor just checked, never the name again.
        const log = readLog(`/proc/self/fd/${logFd}`);
        report = buildReport(log);
        extras = log.samples[log.samples.length - 1]?.extra;
        for (const s of log.samples) {
          const f = s.extra?.open_fds;
          if (typeof f === 'number' && (peakFds === null || f > peakFds)) peakFds = f;
        }
      } catch (err) {
        logNote = `cannot read it: ${(err as Error).message}`;
      }
      const out = args.output;
      if (out !== null && ctx.outFd !== null && logFd === null) {
        say(`-o ${out}: ${logNote.replace(/^cannot read it: /, '')}`);
      } else if (out !== null && ctx.outFd !== null && logFd !== null) {
        try {
          copyInto(logFd, ctx.outFd);
          if (ctx.priv !== null) {
            logNote = '';
            logPath = out;
          } else {
            logNote = `copied to ${out}`;
          }
        } catch (err) {
          say(`-o ${out}: ${(err as Error).message}`);
          if (ctx.priv !== null) logNote = 'removed with the private plogsrvd';
        }
      } else if (ctx.priv !== null) {
        logNote = 'removed with the private plogsrvd; -o FILE keeps it';
      }
      if (logFd !== null) closeSync(logFd);
      if (report) report = { ...report, path: logPath };
    }
    const serverSaid = ctx.priv?.messages.trim();
    if (serverSaid) for (const line of serverSaid.split('\n')) say(`plogsrvd: ${line}`);
    try {
      writeSync(2, formatSummary({ cmd: args.cmd, status, signal, wallMs, logPath, logNote, report, extras, peakFds }));
    } catch {
      /* stderr closed */
    }
    return status;
  } finally {
    for (const s of SIGNALS) process.removeListener(s, pass);
  }
}
