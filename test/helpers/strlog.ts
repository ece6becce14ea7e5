// Helpers for the strlog integration tests: real strlogd, strerr and
// strtrace processes in short temporary directories, the real strlog
// command, in-process clients and loggers (plogkit/strlog), polling with
// timeouts, and cleanup of everything a test file started.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { driverStats, LogStream, StrlogClient, type DriverStats, type LoggerStats, type LogMessage, type Role, type TraceId } from '../../src/strlog/index.js';
import { UnixSocket, type Datagram } from '../../src/native.js';
import { AS_NOBODY, assertLength, asUser, atEnd, killChild, lines, makeTempDir, ROOT, sleep, track, VERSION, waitFor, waitLines, type Prefix, type Tuple, type WaitOptions } from './harness.js';
import { childEnv, runToExit, type RunResult } from './run.js';

export { AS_NOBODY, assertLength, atEnd, killChild, lines, ROOT, sleep, VERSION, waitFor, waitLines, type Prefix, type Tuple, type WaitOptions };
export const bin = (name: string): string => join(ROOT, 'dist/src/cli', `${name}.js`);
export const STRLOGD = bin('strlogd');
export const STRERR = bin('strerr');
export const STRTRACE = bin('strtrace');
export const STRCLEAN = bin('strclean');
export const STRLOG = bin('strlog');
/** How to run a command as nobody:nogroup with no supplementary groups. */

/** A fresh directory under /tmp with a short name (sockets fit in sockaddr_un). */
export function tempDir(mode?: number): string {
  return makeTempDir('sl', mode);
}

/** The environment of the programs under test: no STRLOGDIR, no TZ games, plus env. */
export function testEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv(['STRLOGDIR', 'STRLOGD_CLOCK_OFFSET'], env);
}

export type { RunResult };

export interface RunOptions {
  env?: Record<string, string | undefined>;
  asNobody?: boolean;
  /** Extra setpriv arguments (run as someone else), instead of asNobody. */
  as?: Prefix;
  limit?: number;
  /** Descriptors 3, 4, ... of the command (sockets a service manager passes). */
  extraFds?: number[];
}

function command(cmd: string, args: string[], o: RunOptions): [string, string[]] {
  return asUser(cmd, args, o.as ?? (o.asNobody ? AS_NOBODY : null));
}

/** Run a command to its exit (not to the close of its pipes: a daemon may keep them). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [c, a] = command(cmd, args, opts);
  return runToExit(c, a, { stdio: ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])], env: testEnv(opts.env) }, opts.limit, `${cmd} ${args.join(' ')}`);
}

export const node = (script: string, args: string[], opts: RunOptions = {}): Promise<RunResult> => run(process.execPath, [script, ...args], opts);

/** The strlog command against a runtime directory. */
export function strlogCmd(dir: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return node(STRLOG, ['--rundir', dir, ...args], opts);
}

/** Poll cond until it returns a truthy value; throw after timeout (wait.ts's, positional). */
/**
 * Every line of strerr's files in logdir (error.MM-DD[.N]), in sequence order: a
 * test that runs across midnight finds its lines in two files.
 */
export function errorLog(logdir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(logdir).filter((f) => /^error\.\d\d-\d\d(\.\d+)?$/.test(f));
  } catch {
    return [];
  }
  const all = names.flatMap((f) => lines(join(logdir, f)));
  return all.sort((a, b) => Number(a.slice(0, a.indexOf(' '))) - Number(b.slice(0, b.indexOf(' '))));
}

/** Wait until strerr's files in logdir have at least n lines; returns them in order. */
export function waitErrorLog(logdir: string, n: number, opts: WaitOptions = {}): Promise<string[]> {
  return waitFor(
    `${n} lines in ${logdir}/error.*`,
    () => {
      const l = errorLog(logdir);
      return l.length >= n ? l : null;
    },
    opts,
  );
}

// ---------------------------------------------------------------------------
// strlogd.

export interface DriverOptions {
  /** Extra strlogd options (-n, -q 4k, -g GROUP...). */
  args?: string[];
  env?: Record<string, string | undefined>;
  /** A runtime directory to use (default: a fresh one). */
  dir?: string;
  /** Sockets passed as descriptors 3, 4 ... as a service manager does
   * (socket activation: LISTEN_FDS, LISTEN_PID strlogd's own). */
  passed?: number[];
}

/** A strlogd in the foreground (-f), as a child of the test. */
export class Driver {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  private constructor(
    readonly dir: string,
    child: ChildProcess,
  ) {
    this.child = child;
    (child.stderr as Readable).setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    (child.stdout as Readable).setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
  }

  /** Start it and wait until it answers a STATS request. */
  static async start(o: DriverOptions = {}): Promise<Driver> {
    // 755: processes of other users (setpriv) reach the sockets.
    const dir = o.dir ?? tempDir(0o755);
    const env = { PLOG_SYSLOG_SOCKET: join(dir, 'no-syslog'), ...o.env };
    const argv = [process.execPath, STRLOGD, '-f', '-v', '-d', dir, ...(o.args ?? [])];
    const passed = o.passed ?? [];
    // strlogd's pid is known only once it runs: sh sets LISTEN_PID to its
    // own and execs strlogd under it.
    const child = passed.length
      ? spawn('sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=${passed.length} exec "$@"`, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe', ...passed], env: testEnv(env) })
      : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv(env) });
    track(child);
    const d = new Driver(dir, child);
    await waitFor(`strlogd on ${dir}`, async () => {
      if (child.exitCode !== null) throw new Error(`strlogd exited ${child.exitCode}: ${d.stderr}`);
      return (
        d.stdout.includes(' started on ') &&
        (await driverStats(dir).then(
          () => true,
          () => false,
        ))
      );
    });
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  stats(): Promise<DriverStats> {
    return driverStats(this.dir);
  }

  /** The stats of the logger with that pid (and role), once registered. */
  async logger(pid: number, role?: Role): Promise<LoggerStats | undefined> {
    return (await this.stats()).loggers.find((l) => l.pid === pid && (!role || l.role === role));
  }

  /** Wait until a process of that pid is registered (as role). */
  waitLogger(pid: number, role?: Role): Promise<LoggerStats> {
    return waitFor(`logger pid ${pid} registered`, () => this.logger(pid, role));
  }

  client(): StrlogClient {
    const c = new StrlogClient({ rundir: this.dir });
    atEnd(() => c.close());
    return c;
  }

  /** An in-process logger collecting what it gets. */
  async open(role: Role, ids?: TraceId[]): Promise<Collector> {
    const ls = await LogStream.open(role, { rundir: this.dir, ids });
    atEnd(() => ls.close());
    return new Collector(ls);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return { code: this.child.exitCode, signal: this.child.signalCode };
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => this.child.once('exit', (code, sig) => r({ code, signal: sig })));
    this.child.kill(signal);
    return done;
  }
}

/** An in-process logger (plogkit/strlog LogStream) keeping every message. */
export class Collector {
  readonly messages: LogMessage[] = [];
  constructor(readonly stream: LogStream) {
    stream.on('messages', (b: LogMessage[]) => this.messages.push(...b));
  }

  wait(n: number, timeout?: number): Promise<LogMessage[]> {
    return waitFor(`${n} messages for the ${this.stream.role} logger`, () => (this.messages.length >= n ? this.messages : null), { timeout });
  }

  close(): void {
    this.stream.close();
  }
}

// ---------------------------------------------------------------------------
// Loggers as processes.

/** A long-running program (strerr, strtrace) started by the test. */
export class Proc {
  stdout = '';
  stderr = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    track(child);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Complete lines printed so far. */
  lines(): string[] {
    const i = this.stdout.lastIndexOf('\n');
    return i < 0 ? [] : this.stdout.slice(0, i).split('\n');
  }

  waitLines(n: number, timeout?: number): Promise<string[]> {
    return waitFor(
      `${n} lines from pid ${this.pid}`,
      () => {
        const l = this.lines();
        return l.length >= n ? l : null;
      },
      { timeout },
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    try {
      this.child.kill('SIGCONT');
      this.child.kill(signal);
    } catch {
      /* gone */
    }
    return this.exit;
  }
}

export function spawnProc(cmd: string, args: string[], opts: RunOptions & { stdout?: 'pipe' | 'ignore' } = {}): Proc {
  const [c, a] = command(cmd, args, opts);
  return new Proc(spawn(c, a, { stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'], env: testEnv(opts.env) }));
}

/** A registered strerr writing to logdir (mailer: --mailer, if given). */
export async function startStrerr(d: Driver, logdir: string, args: string[] = [], opts: RunOptions = {}): Promise<Proc> {
  const p = spawnProc(process.execPath, [STRERR, '--rundir', d.dir, '-d', logdir, ...args], opts);
  await waitFor('strerr registered', async () => {
    if (p.child.exitCode !== null) throw new Error(`strerr exited ${p.child.exitCode}: ${p.stderr}`);
    return d.logger(p.pid, 'error');
  });
  return p;
}

/** A registered strtrace with the given triples. */
export async function startStrtrace(d: Driver, triples: string[] = [], opts: RunOptions & { stdout?: 'pipe' | 'ignore' } = {}): Promise<Proc> {
  const p = spawnProc(process.execPath, [STRTRACE, '--rundir', d.dir, ...triples], opts);
  await waitFor('strtrace registered', async () => {
    if (p.child.exitCode !== null) throw new Error(`strtrace exited ${p.child.exitCode}: ${p.stderr}`);
    return d.logger(p.pid, 'trace');
  });
  return p;
}

// ---------------------------------------------------------------------------
// A syslog receiver (PLOG_SYSLOG_SOCKET).

export class SyslogSink {
  readonly sock = new UnixSocket();
  readonly got: Datagram[] = [];
  constructor(readonly path: string) {
    this.sock.bind(path);
    this.sock.setReadable(() => {
      for (;;) {
        const d = this.sock.recv();
        if (!d) break;
        this.got.push(d);
      }
    });
    atEnd(() => this.sock.close());
  }

  texts(): string[] {
    return this.got.map((d) => d.data.toString('utf8'));
  }

  wait(n: number): Promise<string[]> {
    return waitFor(`${n} syslog lines at ${this.path}`, () => (this.got.length >= n ? this.texts() : null));
  }
}

/** Parse a strerr line. */
export function parseErrLine(l: string): { seq: number; time: string; ticks: string; flags: string; mid: number; sid: number; text: string } {
  const m = /^(\d{6,}) (\d\d:\d\d:\d\d) ([0-9a-f]{8}) ([F.][N.][T.]) (-?\d+) (-?\d+) (.*)$/.exec(l);
  if (!m) throw new Error(`not a strerr line: ${JSON.stringify(l)}`);
  return { seq: Number(m[1]), time: m[2]!, ticks: m[3]!, flags: m[4]!, mid: Number(m[5]), sid: Number(m[6]), text: m[7]! };
}

/** Parse a strtrace line. */
export function parseTraceLine(l: string): { seq: number; time: string; ticks: string; level: number; flags: string; mid: number; sid: number; text: string } {
  const m = /^(\d{6,}) (\d\d:\d\d:\d\d) ([0-9a-f]{8}) +(-?\d+) ([F.][N.][E.]) (-?\d+) (-?\d+) (.*)$/.exec(l);
  if (!m) throw new Error(`not a strtrace line: ${JSON.stringify(l)}`);
  return { seq: Number(m[1]), time: m[2]!, ticks: m[3]!, level: Number(m[4]), flags: m[5]!, mid: Number(m[6]), sid: Number(m[7]), text: m[8]! };
}

// ---------------------------------------------------------------------------
// Attackers: scripts run as nobody (setpriv) against a real root strlogd.

/**
 * Run an ES module, given as text, as nobody. It may import the project's
 * compiled modules as `@/src/...` (rewritten to their absolute paths);
 * `process.argv.slice(1)` are `args`. Resolves with its exit status and output.
 */
export function runAsNobody(script: string, args: string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, ['--input-type=module', '-e', moduleText(script), ...args], { ...opts, asNobody: opts.as === undefined });
}

/** runAsNobody(), for a script that runs until the test stops it. */
export function spawnAsNobody(script: string, args: string[] = []): Proc {
  return spawnProc(process.execPath, ['--input-type=module', '-e', moduleText(script), ...args], { asNobody: true });
}

function moduleText(script: string): string {
  return script.replace(/'@\/(src\/[^']+)'/g, (_m, p: string) => `'${join(ROOT, 'dist', p)}'`);
}

/** Send raw submission records to DIR/submit as fast as the socket takes them (never blocking). */
export const FLOOD_SCRIPT = `
import { UnixSocket } from '@/src/native.js';
import { encodeData, encodeSubmission } from '@/src/strlog/wire.js';
const [path, nBig, nSmall, flags] = process.argv.slice(1);
const s = new UnixSocket();
s.connect(path);
const head = { iface: 2, flags: Number(flags), mid: 0, sid: 0, level: 0, facility: 0, token: 0 };
const big = encodeSubmission(head, encodeData('%999d'.repeat(32), Array(32).fill(7)));
const all = Number(nBig) + Number(nSmall);
for (let i = 0; i < all; ) {
  const rec = i < Number(nBig) ? big : encodeSubmission(head, encodeData('flood %d', [i]));
  if (s.trySend(rec) >= 0) i++;
  else await new Promise((r) => setTimeout(r, 1));
}
process.stdout.write(String(process.pid));
`;
