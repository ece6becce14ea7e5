// Helpers for the plog/plogsrvd integration tests (test/plog-*.test.ts):
// real plogsrvd processes in short temporary directories, the real plog,
// raw datagrams from the test's own UnixSocket, polling with timeouts, and
// cleanup of everything a test file started (registered with node:test's
// after() when this module is imported: one test file is one process).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { endianness } from 'node:os';
import { UnixSocket, type Datagram } from '../../src/native.js';
import { decodeRequest, encodeReply, type Request } from '../../src/plog/protocol.js';
import {
  AS_NOBODY,
  assertLength,
  asUser,
  atEnd,
  killChild,
  lines,
  makeTempDir,
  NOBODY,
  ROOT,
  sleep,
  track,
  VERSION,
  waitFor,
  waitLines,
  type Prefix,
  type Tuple,
  type WaitOptions,
} from './harness.js';
import { childEnv, runToExit, type RunResult } from './run.js';
export { AS_NOBODY, assertLength, asUser, atEnd, killChild, lines, NOBODY, ROOT, VERSION, waitFor, waitLines, type Prefix, type Tuple, type WaitOptions };

/** The repository root (this file runs as dist/test/helpers/plog.js). */
export const PLOGSRVD = join(ROOT, 'dist/src/cli/plogsrvd.js');
export const PLOG = join(ROOT, 'dist/src/cli/plog.js');
/** How to run a command as nobody:nogroup with no supplementary groups. */
export const SOCK = 'plogd_sock';

export { sleep };
/** Block the whole thread (the event loop included) for ms: nothing is read meanwhile. */
export function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// ---------------------------------------------------------------------------
// Temporary directories and cleanup.

const servers = new Set<Server>();
const sockets = new Set<UnixSocket>();

/** A fresh directory under /tmp with a short name (DIR/plogd_sock must stay
 * under 108 bytes); removed after the file's tests. mode as given (mkdtemp
 * makes 0700). */
export function tempDir(mode?: number): string {
  return makeTempDir('pl', mode);
}

/** A sticky world-writable directory for client sockets (PLOG_TMPDIR) and
 * the raw sockets of the tests, so that clients of any uid can bind there,
 * servers of any uid can answer, and nothing is left in the real /tmp. */
let sharedSockDir: string | null = null;
export function sockDir(): string {
  if (!sharedSockDir) sharedSockDir = tempDir(0o1777);
  return sharedSockDir;
}

atEnd(async () => {
  for (const s of sockets) s.close();
  for (const srv of servers) await srv.kill();
});

// ---------------------------------------------------------------------------
// Processes.

/** The environment for the programs under test: PLOGDIR unset, client
 * sockets in sockDir(), plus `env` (a value of undefined removes a name). */
export function testEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv(['PLOGDIR'], { PLOG_TMPDIR: sockDir(), ...env });
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  asNobody?: boolean;
  /** Fail if the command still runs after this many ms (default 20 s). */
  limit?: number;
  cwd?: string;
  /** Where stdout goes: collected (default) or an open file descriptor. */
  stdout?: number | 'ignore';
  /** Where stderr goes: collected (default) or an open file descriptor. */
  stderr?: number | 'ignore';
  /** Descriptors 3, 4, ... of the command (e.g. to check that a daemon does not inherit them). */
  extraFds?: Array<number | 'ignore'>;
}

export type { RunResult };

function command(cmd: string, args: string[], asNobody?: boolean): [string, string[]] {
  return asUser(cmd, args, asNobody ? AS_NOBODY : null);
}

/**
 * Run a command to its exit; resolves on exit, not on the close of its
 * pipes (a daemon it started may keep them), then gives the pipes a moment
 * to deliver what was written before the exit.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [c, a] = command(cmd, args, opts.asNobody);
  const stdio: StdioOptions = ['ignore', opts.stdout ?? 'pipe', opts.stderr ?? 'pipe', ...(opts.extraFds ?? [])];
  return runToExit(c, a, { stdio, env: testEnv(opts.env), cwd: opts.cwd }, opts.limit, `${cmd} ${args.join(' ')}`);
}

/** Run plog with args. */
export function plog(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [PLOG, ...args], opts);
}

/** Run plogsrvd with args (the launcher: it returns once the daemon is up or failed). */
export function plogsrvd(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [PLOGSRVD, ...args], opts);
}

/** Spawn a long-running helper process (killed and reaped after the file's tests). */
export function spawnChild(cmd: string, args: string[], opts: { asNobody?: boolean; stdout?: boolean } = {}): ChildProcess {
  const [c, a] = command(cmd, args, opts.asNobody);
  const child = spawn(c, a, { stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'ignore'] });
  return track(child);
}

/** A `sleep` process to be logged. As nobody, setpriv execs sleep: same pid. */
export function spawnSleep(opts: { asNobody?: boolean; seconds?: number } = {}): ChildProcess & { pid: number } {
  const c = spawnChild('sleep', [String(opts.seconds ?? 300)], opts);
  if (!c.pid) throw new Error('sleep did not start');
  return c as ChildProcess & { pid: number };
}

/** Wait until a child exits, up to ms. */
export function exited(c: ChildProcess, ms = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${c.pid} still running after ${ms} ms`)), ms);
    c.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

// ---------------------------------------------------------------------------
// /proc.

/** Fields of /proc/PID/stat after the name: [0] is state (field 3). null when gone. */
export function procStat(pid: number): { comm: string; rest: string[] } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    rest: text
      .slice(close + 2)
      .trim()
      .split(' '),
  };
}

/** Whether pid is a live (not zombie) process. */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== null && s.rest[0] !== 'Z' && s.rest[0] !== 'X';
}

export function fdTarget(pid: number, fd: number | string): string {
  return readlinkSync(`/proc/${pid}/${fd === 'cwd' ? 'cwd' : `fd/${fd}`}`);
}

// ---------------------------------------------------------------------------
// Polling.

/** Resolve once the file has not grown for `quiet` ms (returns its line count). */
export async function waitStable(path: string, quiet: number, opts: WaitOptions = {}): Promise<number> {
  let n = lines(path).length;
  let since = Date.now();
  await waitFor(
    `${path} to stop growing`,
    () => {
      const m = lines(path).length;
      if (m !== n) {
        n = m;
        since = Date.now();
        return false;
      }
      return Date.now() - since >= quiet;
    },
    { timeout: opts.timeout ?? 20_000, interval: opts.interval ?? 100 },
  );
  return n;
}

// ---------------------------------------------------------------------------
// Datagrams.

const LE = endianness() === 'LE';

/** 32-bit integers in host byte order, as the C client sends them. */
export function ints(...vals: number[]): Buffer {
  const b = Buffer.alloc(vals.length * 4);
  vals.forEach((v, i) => {
    if (v > 0x7fffffff) {
      if (LE) b.writeUInt32LE(v, i * 4);
      else b.writeUInt32BE(v, i * 4);
    } else if (LE) b.writeInt32LE(v, i * 4);
    else b.writeInt32BE(v, i * 4);
  });
  return b;
}

/** A reply's text: up to the NUL. */
export function text(d: Datagram): string {
  const nul = d.data.indexOf(0);
  return d.data.subarray(0, nul < 0 ? d.data.length : nul).toString('utf8');
}

let rawCount = 0;

/**
 * The test's own datagram socket, bound in sockDir() (mode 777 so that a
 * server of any uid can answer), or at `path`. Datagrams received are
 * queued; recv() takes them in order.
 */
export class Raw {
  readonly sock: UnixSocket;
  readonly path: string;
  private readonly queue: Datagram[] = [];
  private waiter: (() => void) | null = null;

  constructor(path?: string) {
    this.path = path ?? join(sockDir(), `r${process.pid}-${++rawCount}`);
    this.sock = new UnixSocket();
    sockets.add(this.sock);
    this.sock.bind(this.path);
    chmodSync(this.path, 0o777);
    this.sock.setReadable(() => {
      for (;;) {
        const d = this.sock.recv(70_000);
        if (!d) break;
        this.queue.push(d);
      }
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
  }

  /** Send one datagram to a socket path; retries while the peer's queue is full. */
  async send(to: string, data: Buffer): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.sock.trySend(data, to) >= 0) return;
      if (i > 500) throw new Error(`send to ${to}: queue full for 5 s`);
      await sleep(10);
    }
  }

  /** The next datagram, or null after ms. */
  async recv(ms = 5000): Promise<Datagram | null> {
    const end = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = end - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.queue.shift()!;
  }

  /** Everything received so far (emptying the queue). */
  take(): Datagram[] {
    return this.queue.splice(0);
  }

  /** Send a request to DIR/plogd_sock and return the text of the one reply. */
  async ask(dir: string, data: Buffer, ms = 5000): Promise<string> {
    this.take(); // late replies to an earlier question
    await this.send(join(dir, SOCK), data);
    const d = await this.recv(ms);
    if (!d) throw new Error(`no reply from ${dir}/${SOCK} within ${ms} ms`);
    return text(d);
  }

  /** {0,1}: the list of logs (up to the "0000" that ends it). */
  async list(dir: string, ms = 5000): Promise<string[]> {
    this.take();
    await this.send(join(dir, SOCK), ints(0, 1));
    const out: string[] = [];
    for (;;) {
      const d = await this.recv(ms);
      if (!d) throw new Error(`list from ${dir}: no "0000" within ${ms} ms (got ${JSON.stringify(out)})`);
      const t = text(d);
      if (t === '0000') return out;
      out.push(t);
    }
  }

  close(): void {
    this.sock.close();
    sockets.delete(this.sock);
    rmSync(this.path, { force: true });
  }
}

let oneRaw: Raw | null = null;
/** A shared Raw for quick questions. */
export function raw(): Raw {
  if (!oneRaw) oneRaw = new Raw();
  return oneRaw;
}

/** A bound datagram socket at path that never answers (for timeouts). */
export function silentSocket(path: string): UnixSocket {
  const s = new UnixSocket();
  sockets.add(s);
  s.bind(path);
  chmodSync(path, 0o777);
  return s;
}

/** A stale socket file at path: bound, then closed (nobody behind it). */
export function staleSocket(path: string): void {
  const s = new UnixSocket();
  s.bind(path);
  s.close();
}

export function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Servers.

export interface ServerOptions {
  /** The runtime directory (default: a new tempDir()). */
  dir?: string;
  /** Options besides -d (default ['-m', 'world']). */
  args?: string[];
  /** Run with -f and keep its stdout/stderr (default: background). */
  foreground?: boolean;
  asNobody?: boolean;
  env?: Record<string, string | undefined>;
}

/** A running plogsrvd (background daemon or foreground child). */
export class Server {
  readonly dir: string;
  pid = 0;
  /** The foreground child (null for a daemon). */
  child: ChildProcess | null = null;
  stdout = '';
  stderr = '';
  /** The launcher's result (background). */
  launch: RunResult | null = null;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;

  private constructor(dir: string) {
    this.dir = dir;
  }

  get sock(): string {
    return join(this.dir, SOCK);
  }

  /** Start a plogsrvd and wait until it answers {0,2}. */
  static async start(opts: ServerOptions = {}): Promise<Server> {
    const srv = new Server(opts.dir ?? tempDir());
    servers.add(srv);
    const args = [...(opts.args ?? ['-m', 'world']), '-d', srv.dir];
    if (opts.foreground) {
      const [c, a] = command(process.execPath, [PLOGSRVD, '-f', ...args], opts.asNobody);
      const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv(opts.env) });
      srv.child = child;
      srv.pid = child.pid ?? 0;
      child.stdout.setEncoding('utf8').on('data', (d: string) => (srv.stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (srv.stderr += d));
      srv.exit = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
      let dead = false;
      void srv.exit.then(() => (dead = true));
      await waitFor(
        `plogsrvd -f on ${srv.dir} to answer`,
        async () => {
          if (dead) throw new Error(`plogsrvd -f exited early: ${srv.stderr}`);
          if (!isSocket(srv.sock)) return false;
          return (await raw().ask(srv.dir, ints(0, 2), 1000)) === String(srv.pid);
        },
        { timeout: 20_000, interval: 50 },
      );
    } else {
      const r = await plogsrvd(args, { env: opts.env, asNobody: opts.asNobody });
      srv.launch = r;
      if (r.code !== 0) throw new Error(`plogsrvd ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      srv.pid = Number(await raw().ask(srv.dir, ints(0, 2)));
      if (!(srv.pid > 0)) throw new Error(`plogsrvd on ${srv.dir}: bad pid reply`);
    }
    return srv;
  }

  /** A daemon started some other way, found by its directory (killed after the tests). */
  static async adopt(dir: string): Promise<Server> {
    const srv = new Server(dir);
    srv.pid = Number(await raw().ask(dir, ints(0, 2)));
    if (!(srv.pid > 0)) throw new Error(`no plogsrvd answers on ${dir}`);
    servers.add(srv);
    return srv;
  }

  /** Wait for text (a string or pattern) on the foreground server's stdout or stderr. */
  waitOutput(stream: 'stdout' | 'stderr', what: string | RegExp, timeout = 15_000): Promise<string> {
    return waitFor(
      `${JSON.stringify(String(what))} on plogsrvd's ${stream} (has: ${JSON.stringify(this[stream])})`,
      () => {
        const s = this[stream];
        return (typeof what === 'string' ? s.includes(what) : what.test(s)) ? s : null;
      },
      { timeout },
    );
  }

  /** Wait for the server to end (foreground: its exit status; daemon: its disappearance). */
  async ended(timeout = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit) {
      const r = await Promise.race([this.exit, sleep(timeout).then(() => null)]);
      if (!r) throw new Error(`plogsrvd ${this.pid} still running after ${timeout} ms`);
      servers.delete(this);
      return r;
    }
    await waitFor(`daemon ${this.pid} to end`, () => !alive(this.pid), { timeout });
    servers.delete(this);
    return { code: null, signal: null };
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  /** SIGTERM, then SIGKILL if it lingers; waits for its end. */
  async kill(): Promise<void> {
    if (!servers.has(this)) return;
    try {
      this.signal('SIGTERM');
      await this.ended(5000);
    } catch {
      try {
        this.signal('SIGKILL');
        await this.ended(5000);
      } catch {
        /* nothing more to do */
      }
    }
    servers.delete(this);
  }
}

/** The log request as plog 0.1.0 sends it. */
export function logReq(pid: number, minutes: number): Buffer {
  return ints(pid, minutes);
}

/** Wait until a daemon pid has gone (not our child). */
export function gone(pid: number, timeout = 15_000): Promise<boolean> {
  return waitFor(`pid ${pid} to end`, () => !alive(pid), { timeout });
}

/** Whether a path exists (any file type, even a dangling link). */
export function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export { existsSync };

/** A fake server on DIR/plogd_sock (an old plogsrvd, say) that answers each
 * request with what `answer` makes of it. Close it when done. */
export function fakeServer(dir: string, answer: (req: Request) => string): UnixSocket {
  const sock = new UnixSocket();
  sock.bind(join(dir, 'plogd_sock'));
  sock.setReadable(() => {
    for (let d = sock.recv(1024); d; d = sock.recv(1024)) if (d.path) sock.trySend(encodeReply(answer(decodeRequest(d.data, d.size))), d.path);
  });
  return sock;
}
