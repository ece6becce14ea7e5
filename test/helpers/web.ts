// Helpers for the plog web tests: start the real `plog web` (as this user or
// as nobody) and read the URL it prints; plain HTTP requests with chosen
// headers; a server-sent event stream read as a client reads it; and the
// headless Chromium the browser tests drive (Debian's /usr/bin/chromium,
// through playwright-core, which downloads no browser of its own).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request, type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { AS_NOBODY, PLOG, testEnv, killChild, waitFor } from './plog.js';

export interface WebProcess {
  child: ChildProcess;
  url: string;
  port: number;
  token: string;
  stderr: () => string;
  /** The exit status, once it exited. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();
after(async () => {
  for (const c of started) await killChild(c);
});

/** Start `plog web ARGS`; resolves once it printed its URL. */
export async function startWeb(args: string[], opts: { asNobody?: boolean; env?: Record<string, string | undefined> } = {}): Promise<WebProcess> {
  const cmd = opts.asNobody ? AS_NOBODY[0] : process.execPath;
  const argv = opts.asNobody ? [...AS_NOBODY.slice(1), process.execPath, PLOG, 'web', ...args] : [PLOG, 'web', ...args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv(opts.env) });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      started.delete(child);
      r({ code, signal });
    }),
  );
  let done = false;
  void exit.then(() => (done = true));
  const url = await waitFor(
    `plog web ${args.join(' ')} to print its URL`,
    () => {
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m) return m[1];
      if (done) throw new Error(`plog web exited: ${err}`);
      return null;
    },
    { timeout: 20_000 },
  );
  const u = new URL(url);
  return { child, url, port: Number(u.port), token: u.searchParams.get('token') ?? '', stderr: () => err, exit };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET (or another method) with the headers given; Host defaults to 127.0.0.1:port. */
export function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { Host: `127.0.0.1:${port}`, ...headers }, agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A deadline for the whole answer (an event stream that should have been refused never ends).
    const timer = setTimeout(() => req.destroy(new Error(`${path}: no whole answer in 20 s`)), 20_000);
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}

/** An event stream: its events as they come (name and parsed data). */
export class EventStream {
  readonly events: Array<{ event: string; data: unknown; at: number }> = [];
  status = 0;
  private buf = '';
  private closeFn: () => void = () => undefined;
  readonly ready: Promise<number>;

  constructor(port: number, path: string, headers: Record<string, string> = {}) {
    this.ready = new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { Host: `127.0.0.1:${port}`, Accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        this.status = res.statusCode ?? 0;
        resolve(this.status);
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          this.buf += d;
          for (;;) {
            const end = this.buf.indexOf('\n\n');
            if (end < 0) break;
            const block = this.buf.slice(0, end);
            this.buf = this.buf.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) this.events.push({ event, data: JSON.parse(data), at: performance.now() });
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', reject);
      req.end();
      this.closeFn = () => req.destroy();
    });
  }

  /** Wait for an event of that name whose data passes test; returns it. */
  next<T>(event: string, test: (data: T) => boolean = () => true, timeout = 15_000): Promise<{ data: T; at: number }> {
    return waitFor(
      `event ${event}`,
      () => {
        const e = this.events.find((x) => x.event === event && test(x.data as T));
        return e ? { data: e.data as T, at: e.at } : null;
      },
      { timeout, interval: 20 },
    );
  }

  close(): void {
    this.closeFn();
  }
}

/** Debian's Chromium, when installed. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => existsSync(c) && spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

/** The flags of a quiet, offline, throwaway headless Chromium. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A fresh profile directory for one browser. */
export function profileDir(): string {
  return mkdtempSync(join('/tmp', 'plog-web-chromium-'));
}
