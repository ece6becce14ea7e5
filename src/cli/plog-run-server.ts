// plog run's server: the plogsrvd of the runtime directory, or a private
// one it starts; registering CMD with it, and reading the log it made.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnReady } from '../daemon/detach.js';
import { MAX_DIR_LENGTH, request, RequestError } from '../plog/client.js';
import { encodeHello, encodeLog, encodeLogFormat, UNRECOGNIZED } from '../plog/protocol.js';
import { fail } from './plog-run-outcome.js';
import type { RunArgs } from './plog-run.js';

/** The installed plogsrvd (dist/src/bin/plogsrvd.js: SIGUSR1's guard first). */
const PLOGSRVD = fileURLToPath(new URL('../bin/plogsrvd.js', import.meta.url));

/** A private plogsrvd on a temporary directory. */
export class PrivateServer {
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

  /** Start it, and wait for its word on the daemon kit's readiness channel. */
  async start(timeoutMs: number): Promise<void> {
    const env = { ...process.env };
    // Nothing of a service manager's meant for plog run.
    for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[k];
    // In a new session, so that the terminal's Ctrl-C does not reach it.
    const { child, ready } = spawnReady({
      name: 'plogsrvd',
      script: PLOGSRVD,
      args: ['-f', '-m', 'owner', '-d', this.dir],
      env,
      timeout: Math.max(timeoutMs, 10_000),
    });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d;
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const r = await ready;
    if (!r.ready) fail(`the private plogsrvd did not start: ${this.stderr.trim() || r.message}`);
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
export function foregroundOnTerminal(): boolean {
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
export function copyInto(src: number, fd: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let pos = 0; ;) {
    const n = readSync(src, buf, 0, buf.length, pos);
    if (n === 0) return;
    pos += n;
    for (let off = 0; off < n;) off += writeSync(fd, buf, off, n - off);
  }
}

/**
 * Open the log a server named, only if it is one it made for us: a regular
 * file directly in the directory we asked, not a link, owned by our uid (a
 * root plogsrvd hands each log to its requester). Whatever a server says,
 * plog run never reads a file for it that we could not read ourselves, nor
 * copies one into -o.
 */
export function openOurLog(path: string, dir: string): number {
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
export async function register(dir: string, pid: number, args: RunArgs): Promise<{ path: string } | { error: string; old: boolean }> {
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
export async function serverAnswers(dir: string): Promise<boolean> {
  try {
    const [reply] = await request(dir, encodeHello(), { timeoutMs: 1000 });
    return reply?.startsWith('plogsrvd ') === true;
  } catch (err) {
    if (err instanceof RequestError) return false;
    throw err;
  }
}
