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
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseOptions, UsageError } from './args.js';
import { errnoWords } from '../errno.js';
import { internalError } from '../bugs.js';
import { request } from '../plog/client.js';
import { resolveRunDir } from '../plog/rundir.js';
import { encodeStop, LOG_FORMATS, parseInterval, type LogFormatName } from '../plog/protocol.js';
import { readLog } from '../plog/log/readlog.js';
import { buildReport, type Report } from '../plog/readers/report.js';
import { version } from '../version.js';
import { exitStatus, fail, formatSummary, RUN_EXIT, RunFailure, say } from './plog-run-outcome.js';
import { copyInto, foregroundOnTerminal, openOurLog, PrivateServer, register, serverAnswers } from './plog-run-server.js';

export { exitStatus, formatSummary, RUN_EXIT, type RunOutcome } from './plog-run-outcome.js';

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
  /** CMD and its arguments: never empty. */
  cmd: [cmd: string, ...args: string[]];
}

/** Parse plog run's arguments (pure); throws RunFailure (125) on a usage error. */
export function parseRunArgs(argv: string[]): RunArgs | 'help' {
  // Options end at '--' or at the first operand (CMD): CMD's own options are not plog run's.
  let end = argv.length;
  let cmdStart = argv.length;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
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
  const [file, ...rest] = argv.slice(cmdStart);
  if (file === undefined) fail('no command given: plog run [OPTIONS] -- CMD [ARGS...]');
  const cmd: RunArgs['cmd'] = [file, ...rest];
  return { intervalMs, output, format, dir: values.d === undefined ? undefined : String(values.d), timeoutMs, cmd };
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
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
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
