#!/usr/bin/env node
// plog(1): the client of plogsrvd. Argument parsing, messages and exit codes;
// the exchange itself is src/plog/client.ts.
//
// Start-up: `npm run build` (and so `npm ci` and `npm test`) replaces the
// compiled dist/src/cli/plog.js by one esbuild bundle of it and the modules
// it imports (package.json's "bundle"), so that Node loads one module
// instead of ten; the subcommands (./plog-NAME.js) stay separate files,
// imported only when asked for. In the bundle import.meta.url stands for
// dist/src/native.js (a banner defines it), the place the bundled modules
// (native.ts, version.ts) find the package root from. A plain `tsc` build
// gives the unbundled file, which works the same, only slower to start.
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { nearest, parseOptions } from './args.js';
import { internalError } from '../bugs.js';
import { CLIENT, ExitError, type ExitCode } from '../plog/exitcodes.js';
import { request, RequestError, TMP_SOCKET_MAX, TMP_SOCKET_MIN, type RequestFailure } from '../plog/client.js';
import { resolveRunDir } from '../plog/rundir.js';
import { encodeLog, encodeQuery, encodeStop, formatInterval, parseInterval, Q_DIR, Q_LIST, Q_PID, UNRECOGNIZED } from '../plog/protocol.js';
import { encodeLogFormat, LOG_FORMATS, type LogFormatName } from '../plog/protocol.js';
import { encodeLogTree, encodeSelect, encodeStopBy, MAX_PATTERN } from '../plog/protocol.js';
import { version } from '../version.js';
import { compileLinear, NOT_LINEAR } from '../plog/ops/linear-regex.js';
import { escapeText } from '../escape.js';

const PROG = 'plog';

export function usage(): string {
  const codes = Object.values(CLIENT as Record<string, ExitCode>)
    .map((c) => `  ${String(c.code === 100 ? '100+' : c.code).padStart(4)}  ${c.meaning}`)
    .join('\n');
  return `plog ${version()} - ask plogsrvd to log a process's resource use

Usage:
  plog -p PID -i INTERVAL [--format F] [--tree] [-d DIR] [-t SECONDS]
                                                  log PID every INTERVAL
  plog -n NAME|-r REGEX -i INTERVAL [--format F] [-d DIR] [-t SECONDS]
                                                  log every process named NAME (or
                                                  whose command line matches REGEX),
                                                  now and as they start
  plog -x PID [-d DIR] [-t SECONDS]               stop logging PID (keeps the log)
  plog -x NAME|REGEX|LOG [-d DIR] [-t SECONDS]    stop a selection, or the log LOG
  plog -l [-d DIR] [-t SECONDS]                   list the log files being written
  plog -q pid|dir [-d DIR] [-t SECONDS]           the server's pid or runtime directory
  plog -h | --help | --version

Reading logs (each has its own --help and exit codes):
  plog show FILE...                               the log as charts in the terminal
  plog plot FILE... -o OUT.svg|OUT.html           a chart for a bug report
  plog report FILE...                             peak, mean and growth; leak verdict
  plog export FILE --csv|--jsonl [-o OUT]         the log as CSV or JSON lines
  plog web [-d DIR] [--listen ADDR:PORT] [FILE...]
                                                  every log, live, in a web browser

Running a command under a log:
  plog run [-i INTERVAL] [-o FILE] [--format F] -- CMD [ARGS...]
                                                  log CMD until it exits, summarize

Options:
  -p PID        the process to log
  -i INTERVAL   sampling interval: a bare number is minutes (as plog 0.1.0);
                with a unit: 500ms, 10s, 2m, 1h (from 10ms)
  --format F    the log's format: text (default), csv or jsonl (exact
                values, I/O bytes, open fds, context switches)
  --tree        with -p: log PID and its descendants summed (a text log with
                a Procs column: how many processes each line holds)
  -n NAME       select by name (comm, as ps -o comm shows it)
  -r REGEX      select by a regular expression (JavaScript's, matched in
                linear time: no backreferences, no lookaround) on the
                command line, arguments joined by spaces (its first 4096
                characters)
  -x PID        stop logging PID; -x NAME or REGEX stops that selection and
                its logs; -x LOG (a path, or a log's name) stops that log
  -l            list the log files being written, one a line
  -q pid|dir    print the server's pid, or its runtime directory
  -d DIR        runtime directory (default $PLOGDIR, else /var/local/plog)
  -t SECONDS    how long to wait for the server's reply, 1 to 300 (default 3)
  -s N          how many names to try for the client socket in /tmp, 2 to
                4095 (default 25; names are random, so one is nearly always
                enough)
  -h, --help    this text
  --version     the version

Exit status:
${codes}
`;
}

function die(exit: ExitCode | number, message: string): never {
  throw new ExitError(exit, message);
}

const REASON_EXIT: Record<RequestFailure, ExitCode> = {
  socket: CLIENT.SOCKET,
  bind: CLIENT.BIND,
  'tmp-sockets': CLIENT.TMP_SOCKETS,
  'no-server': CLIENT.NO_SERVER,
  untrusted: CLIENT.NO_SERVER,
  stale: CLIENT.STALE,
  access: CLIENT.ACCESS,
  send: CLIENT.SEND_ERRNO,
  recv: CLIENT.RECV,
  timeout: CLIENT.TIMEOUT,
};

type Action =
  | { kind: 'log'; pid: number; intervalMs: number; format: LogFormatName; tree?: boolean }
  | { kind: 'stop'; pid: number }
  | { kind: 'select'; pattern: string; regex: boolean; intervalMs: number; format: LogFormatName }
  | { kind: 'stopby'; what: string }
  | { kind: 'list' }
  | { kind: 'query'; what: 'pid' | 'dir' }
  | { kind: 'help' }
  | { kind: 'version' };

export interface Parsed {
  action: Action;
  dir?: string;
  timeoutMs: number;
  /** -s N: client socket names to try (plog 0.1.0's limit of temporary sockets). */
  tries?: number;
}

function parsePid(text: string, opt: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 0x7fffffff) die(CLIENT.USAGE, `-${opt}: not a process id: '${text}'`);
  return Number(text);
}

/** --format F: text (the default), csv or jsonl. */
export function parseFormat(value: string | boolean | undefined): LogFormatName {
  if (value === undefined) return 'text';
  const f = String(value);
  if (!(LOG_FORMATS as readonly string[]).includes(f)) die(CLIENT.USAGE, `--format takes ${LOG_FORMATS.join(', ')}, not '${f}'`);
  return f as LogFormatName;
}

/** The readers of logs, plog run and plog web, loaded only when asked for, so that plain requests stay fast. */
const SUBCOMMANDS = new Set(['show', 'plot', 'report', 'export', 'run', 'web']);

/** A first word that is neither an option nor a subcommand: name the subcommands, and the nearest. */
function unknownSubcommand(word: string): string {
  const near = nearest(word, SUBCOMMANDS);
  return `unknown subcommand '${word}'${near ? `: did you mean 'plog ${near}'?` : ''} (plog's subcommands: ${[...SUBCOMMANDS].join(', ')}; requests to a server are options: -p, -n, -r, -x, -l, -q)`;
}

/** Parse plog's arguments (pure: no I/O); throws ExitError(USAGE). */
export function parse(argv: string[]): Parsed {
  if (argv[0] !== undefined && argv[0] !== '' && !argv[0].startsWith('-')) die(CLIENT.USAGE, unknownSubcommand(argv[0]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseOptions(argv, {
      p: { type: 'string', short: 'p' },
      i: { type: 'string', short: 'i' },
      x: { type: 'string', short: 'x' },
      l: { type: 'boolean', short: 'l' },
      q: { type: 'string', short: 'q' },
      d: { type: 'string', short: 'd' },
      t: { type: 'string', short: 't' },
      s: { type: 'string', short: 's' },
      h: { type: 'boolean', short: 'h' },
      format: { type: 'string' },
      n: { type: 'string', short: 'n' },
      tree: { type: 'boolean' },
      r: { type: 'string', short: 'r' },
      help: { type: 'boolean' },
      version: { type: 'boolean' },
    }));
  } catch (err) {
    throw new ExitError(CLIENT.USAGE, (err as Error).message);
  }
  if (values.h || values.help) return { action: { kind: 'help' }, timeoutMs: 3000 };
  if (values.version) return { action: { kind: 'version' }, timeoutMs: 3000 };

  let timeoutMs = 3000;
  if (values.t !== undefined) {
    const t = String(values.t);
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 300) die(CLIENT.USAGE, `-t: the timeout is 1 to 300 seconds, not '${t}'`);
    timeoutMs = Number(t) * 1000;
  }
  let tries: number | undefined;
  if (values.s !== undefined) {
    const n = String(values.s);
    if (!/^\d+$/.test(n) || Number(n) < TMP_SOCKET_MIN || Number(n) > TMP_SOCKET_MAX) {
      die(CLIENT.USAGE, `-s: the number of client socket names to try is ${TMP_SOCKET_MIN} to ${TMP_SOCKET_MAX}, not '${n}'`);
    }
    tries = Number(n);
  }
  const selecting = values.n !== undefined || values.r !== undefined;
  if (selecting) {
    if (values.n !== undefined && values.r !== undefined) die(CLIENT.USAGE, '-n and -r exclude each other');
    if (values.p !== undefined) die(CLIENT.USAGE, '-n/-r and -p exclude each other');
  }
  const modes = [values.p !== undefined || values.i !== undefined || selecting, values.x !== undefined, !!values.l, values.q !== undefined].filter(Boolean);
  if (modes.length === 0) die(CLIENT.USAGE, 'nothing to do: give -p PID -i INTERVAL, -x PID, -l or -q pid|dir (see plog --help)');
  if (modes.length > 1) die(CLIENT.USAGE, '-p/-i, -x, -l and -q exclude each other');
  const dir = values.d === undefined ? undefined : String(values.d);
  let action: Action;
  if (selecting) {
    if (values.tree) die(CLIENT.USAGE, '--tree goes with -p PID -i INTERVAL');
    if (values.i === undefined) die(CLIENT.USAGE, `${values.n !== undefined ? '-n' : '-r'} needs -i INTERVAL`);
    const pattern = String(values.n ?? values.r);
    if (pattern === '' || Buffer.byteLength(pattern) > MAX_PATTERN) die(CLIENT.USAGE, `${values.n !== undefined ? '-n' : '-r'}: 1 to ${MAX_PATTERN} bytes`);
    if (values.r !== undefined) {
      // The server's engine (linear time): what it would refuse is said here.
      const re = compileLinear(pattern);
      if (typeof re === 'string') die(CLIENT.USAGE, `-r: /${escapeText(pattern)}/ ${re === NOT_LINEAR ? re : `is not a regular expression: ${re}`}`);
    }
    const ms = parseInterval(String(values.i));
    if (ms === null || ms > 0xffffffff) die(CLIENT.USAGE, `-i: not an interval: '${values.i}' (minutes, or with a unit: 500ms, 10s, 2m, 1h; at least 10ms)`);
    action = { kind: 'select', pattern, regex: values.r !== undefined, intervalMs: ms, format: parseFormat(values.format) };
  } else if (values.p !== undefined || values.i !== undefined) {
    if (values.p === undefined) die(CLIENT.USAGE, '-i needs -p PID');
    if (values.i === undefined) die(CLIENT.USAGE, '-p needs -i INTERVAL');
    const pid = parsePid(String(values.p), 'p');
    const ms = parseInterval(String(values.i));
    if (ms === null) die(CLIENT.USAGE, `-i: not an interval: '${values.i}' (minutes, or with a unit: 500ms, 10s, 2m, 1h; at least 10ms)`);
    const format = parseFormat(values.format);
    if (values.tree && format !== 'text') die(CLIENT.USAGE, '--tree writes a text log: leave out --format');
    action = { kind: 'log', pid, intervalMs: ms, format, tree: !!values.tree };
  } else if (values.tree) {
    die(CLIENT.USAGE, '--tree goes with -p PID -i INTERVAL');
  } else if (values.format !== undefined) {
    die(CLIENT.USAGE, '--format goes with -p PID -i INTERVAL');
  } else if (values.x !== undefined) {
    const x = String(values.x);
    if (/^\d+$/.test(x)) action = { kind: 'stop', pid: parsePid(x, 'x') };
    else if (x === '' || Buffer.byteLength(x) > MAX_PATTERN) die(CLIENT.USAGE, `-x: a pid, a selection or a log, not '${x}'`);
    else action = { kind: 'stopby', what: x };
  } else if (values.l) {
    action = { kind: 'list' };
  } else {
    const q = String(values.q);
    if (q !== 'pid' && q !== 'dir') die(CLIENT.USAGE, `-q takes 'pid' or 'dir', not '${q}'`);
    action = { kind: 'query', what: q };
  }
  return { action, dir, timeoutMs, tries };
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export async function run(argv: string[]): Promise<number> {
  const { action, dir: dirOpt, timeoutMs, tries } = parse(argv);
  if (action.kind === 'help') {
    out(usage());
    return 0;
  }
  if (action.kind === 'version') {
    out(`plog ${version()}`);
    return 0;
  }
  const rd = resolveRunDir(dirOpt);
  if (!rd.ok) die(CLIENT.PATH_TOO_LONG, rd.message);
  const dir = rd.dir;

  const failed = (err: unknown): never => {
    if (!(err instanceof RequestError)) throw err;
    const exit = REASON_EXIT[err.reason];
    die(err.reason === 'send' ? 100 + err.errno : exit, err.message);
  };
  const ask = (req: Buffer): Promise<[reply: string]> => request(dir, req, { timeoutMs, tries }).catch(failed);
  const askList = (req: Buffer): Promise<string[]> => request(dir, req, { timeoutMs, list: true, tries }).catch(failed);

  switch (action.kind) {
    case 'list': {
      for (const name of await askList(encodeQuery(Q_LIST))) out(name);
      return 0;
    }
    case 'query': {
      const [reply] = await ask(encodeQuery(action.what === 'pid' ? Q_PID : Q_DIR));
      out(reply);
      return 0;
    }
    case 'log': {
      const req = action.tree
        ? encodeLogTree(action.pid, action.intervalMs)
        : action.format === 'text'
          ? encodeLog(action.pid, action.intervalMs)
          : encodeLogFormat(action.pid, action.intervalMs, action.format);
      const [reply] = await ask(req);
      if (reply === UNRECOGNIZED && action.tree) {
        die(CLIENT.OLD_SERVER, `the plogsrvd on ${dir} is too old to log a process tree: it cannot do --tree. Log each process with -p PID.`);
      }
      if (reply === UNRECOGNIZED && action.format !== 'text') {
        die(CLIENT.OLD_SERVER, `the plogsrvd on ${dir} is too old to write ${action.format} logs: that server cannot write csv/jsonl. Leave out --format for a text log (plog export converts it).`);
      }
      if (reply === UNRECOGNIZED) {
        // Only an extension request can be unrecognized: a sub-minute interval.
        die(
          CLIENT.OLD_SERVER,
          `the plogsrvd on ${dir} speaks only the plog 0.1.0 protocol: it cannot log at an interval of ${formatInterval(action.intervalMs)}. Give -i in whole minutes (e.g. -i 1).`,
        );
      }
      if (!reply.startsWith('Log file: ')) die(CLIENT.REFUSED, reply);
      out(reply);
      return 0;
    }
    case 'select': {
      const [reply] = await ask(encodeSelect(action.pattern, action.regex, action.intervalMs, action.format));
      if (reply === UNRECOGNIZED) {
        die(CLIENT.OLD_SERVER, `the plogsrvd on ${dir} is too old to select processes by name: it cannot do ${action.regex ? '-r' : '-n'}. Log each process with -p PID.`);
      }
      if (!reply.startsWith('Selecting ')) die(CLIENT.REFUSED, reply);
      out(reply);
      return 0;
    }
    case 'stopby': {
      const [reply] = await ask(encodeStopBy(action.what));
      if (reply === UNRECOGNIZED) {
        die(CLIENT.OLD_SERVER, `the plogsrvd on ${dir} is too old to stop by name or log: it cannot do -x ${action.what}. Give -x PID, or delete the log file.`);
      }
      if (!reply.startsWith('Stopped ')) die(CLIENT.REFUSED, reply);
      out(reply);
      return 0;
    }
    case 'stop': {
      const [reply] = await ask(encodeStop(action.pid));
      if (reply === UNRECOGNIZED) {
        die(CLIENT.OLD_SERVER, `the plogsrvd on ${dir} speaks only the plog 0.1.0 protocol: it cannot stop a log on request. Delete the log file to stop it (see plog -l).`);
      }
      if (!reply.startsWith('Stopped logging')) die(CLIENT.REFUSED, reply);
      out(reply);
      return 0;
    }
  }
}

async function main(): Promise<void> {
  const sub = process.argv[2];
  if (sub !== undefined && SUBCOMMANDS.has(sub)) {
    const mod = (await import(`./plog-${sub}.js`)) as { main(argv: string[]): Promise<number> };
    process.exitCode = await mod.main(process.argv.slice(3));
    return;
  }
  try {
    process.exitCode = await run(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ExitError) {
      process.stderr.write(`${PROG}: ${err.message}\n`);
      if (err.exitCode === CLIENT.USAGE.code) process.stderr.write(`Try '${PROG} --help'.\n`);
      process.exitCode = err.exitCode;
      return;
    }
    // A bug of ours, not a user's mistake: say so, with the stack.
    process.stderr.write(`${PROG}: ${internalError(err)}\n`);
    process.exitCode = CLIENT.INTERNAL.code;
  }
}

await main();
