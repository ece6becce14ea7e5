/**
 * plog web's HTTP front: the pages, their files, a JSON API, live updates
 * as server-sent events, and downloads, over the engine (engine.ts).
 *
 * Who may see what. The server runs as the user who started it and shows
 * what that user may read. Any local user can connect to a port, so:
 * - every request must carry the secret token in its URL (?token=...; 256
 *   random bits, compared in constant time), pages and files alike: without
 *   it, 403 and nothing else;
 * - the Host header must name this machine by address (127.0.0.1, [::1], any
 *   IP literal) or as `localhost`, or be the one name allowed by
 *   --allow-host: a page of another site whose name is made to resolve to
 *   127.0.0.1 (DNS rebinding) is refused before anything is read;
 * - no cross-origin access: no CORS header is ever sent; a request whose
 *   Origin is another origin, or that another site made (Sec-Fetch-Site:
 *   cross-site) other than a top-level navigation, is refused; every
 *   response forbids framing and cross-origin embedding
 *   (Cross-Origin-Resource-Policy, frame-ancestors), sniffing and referrers;
 * - a Content-Security-Policy allows only this origin's own scripts, styles
 *   and connections: no inline script, no eval, nothing from elsewhere;
 * - text from logs (command lines, file names, states) reaches pages as JSON
 *   after escapeText(), and the pages put it in with textContent, never as
 *   markup;
 * - bounded: connections (maxConnections), header size, no request bodies,
 *   request and header time, event-stream clients (maxEventClients), and
 *   each event stream's unsent bytes (a client that does not read is cut
 *   off and reconnects to a fresh snapshot).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { safeJson } from '../escape.js';
import { renderSvg } from '../plog/readers/chart-svg.js';
import { toCsv, toJsonl } from '../plog/log/export.js';
import type { Log } from '../plog/log/sample.js';
import { FileTail, openFlags, type Located } from './tail.js';
import { CHART_KEYS, chartValue } from './stats.js';
import type { Engine, Entry, EngineEvent } from './engine.js';

export interface WebOptions {
  engine: Engine;
  /** The secret of the URLs. */
  token: string;
  /** A host name allowed in Host besides addresses and localhost (a reverse proxy's). */
  allowHost?: string;
  maxConnections?: number;
  maxEventClients?: number;
  /** Where the pages' files are (default: the package's web/). */
  assetsDir?: string;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Unsent bytes an event stream may hold before its client is cut off. */
const MAX_UNSENT = 4 << 20;
/** Logs on one chart at most. */
export const MAX_COMPARE = 8;
const MAX_POINTS = 20_000;

/** Whether a Host header names this server acceptably (see the file's comment). */
export function hostAllowed(host: string | undefined, allowHost?: string): boolean {
  if (!host || host.length > 300) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return false;
  const name = m[1].toLowerCase();
  if (name === 'localhost') return true;
  if (allowHost !== undefined && name === allowHost.toLowerCase()) return true;
  if (name.startsWith('[')) return isIP(name.slice(1, -1)) === 6;
  return isIP(name) === 4;
}

/** Constant-time comparison of a presented token with the secret. */
export function tokenMatches(given: string | null, secret: string): boolean {
  if (given === null) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b) && given.length === secret.length;
}

/** The package's root (this file is dist/src/web/http.js). */
const ROOT = new URL('../../../', import.meta.url);

interface Asset {
  body: Buffer;
  type: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const req = createRequire(import.meta.url);
  const files: Array<[string, string, string]> = [
    ['app.css', join(dir, 'app.css'), 'text/css; charset=utf-8'],
    ['common.js', join(dir, 'common.js'), 'text/javascript; charset=utf-8'],
    ['list.js', join(dir, 'list.js'), 'text/javascript; charset=utf-8'],
    ['log.js', join(dir, 'log.js'), 'text/javascript; charset=utf-8'],
    // uPlot (MIT), served from its npm package as it is: no CDN, no build.
    ['uPlot.js', req.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.css', req.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const out = new Map<string, Asset>();
  for (const [name, path, type] of files) out.set(name, { body: readFileSync(path), type });
  return out;
}

interface EventClient {
  res: ServerResponse;
  /** The logs it follows (null: the list). */
  ids: string[] | null;
}

export class WebServer {
  readonly server: Server;
  private readonly engine: Engine;
  private readonly token: string;
  private readonly allowHost: string | undefined;
  private readonly maxEventClients: number;
  private readonly assets: Map<string, Asset>;
  private readonly pages: Map<string, string>;
  private readonly clients = new Set<EventClient>();
  private readonly dirtyRows = new Set<string>();
  private readonly removedRows = new Set<string>();
  private readonly pendingSamples = new Map<string, Located[]>();
  private readonly reportDue = new Set<string>();
  private readonly resets = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: () => void;
  /** Requests refused, by reason (for the tests and the log). */
  readonly refused = { host: 0, token: 0, origin: 0, method: 0, body: 0, clients: 0, slow: 0 };

  constructor(opts: WebOptions) {
    this.engine = opts.engine;
    this.token = opts.token;
    this.allowHost = opts.allowHost;
    this.maxEventClients = opts.maxEventClients ?? 32;
    const dir = opts.assetsDir ?? new URL('web/', ROOT).pathname;
    this.assets = loadAssets(dir);
    this.pages = new Map([
      ['index', readFileSync(join(dir, 'index.html'), 'utf8')],
      ['log', readFileSync(join(dir, 'log.html'), 'utf8')],
    ]);
    this.server = createServer({ maxHeaderSize: 8192, requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 5000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.plain(res, 500, 'internal error\n');
        else res.destroy();
        process.emitWarning(`plog web: ${(err as Error)?.stack ?? String(err)}`);
      });
    });
    this.server.maxConnections = opts.maxConnections ?? 64;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    this.unsubscribe = this.engine.subscribe((e) => this.onEngine(e));
    this.timers.push(setInterval(() => this.flushLogs(), 250).unref());
    this.timers.push(setInterval(() => this.flushList(), 500).unref());
    this.timers.push(setInterval(() => this.heartbeat(), 15_000).unref());
  }

  listen(host: string, port: number): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => reject(err);
      this.server.once('error', fail);
      this.server.listen(port, host, () => {
        this.server.off('error', fail);
        const a = this.server.address();
        if (a && typeof a === 'object') resolve({ address: a.address, port: a.port });
        else reject(new Error('no address'));
      });
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get eventClients(): number {
    return this.clients.size;
  }

  // -------------------------------------------------------------------------
  // Responses.

  private head(res: ServerResponse, status: number, type: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, ...extra });
  }

  private plain(res: ServerResponse, status: number, text: string): void {
    this.head(res, status, 'text/plain; charset=utf-8', { 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  private json(res: ServerResponse, value: unknown): void {
    const body = safeJson(value);
    this.head(res, 200, 'application/json; charset=utf-8', { 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  // -------------------------------------------------------------------------
  // Requests.

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req.headers.host, this.allowHost)) {
      this.refused.host++;
      return this.plain(res, 421, 'unknown host name: use 127.0.0.1, [::1] or localhost\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.refused.method++;
      res.setHeader('Allow', 'GET, HEAD');
      return this.plain(res, 405, 'only GET\n');
    }
    if ((req.headers['content-length'] && req.headers['content-length'] !== '0') || req.headers['transfer-encoding']) {
      this.refused.body++;
      res.setHeader('Connection', 'close');
      return this.plain(res, 413, 'no request body here\n');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      this.refused.origin++;
      return this.plain(res, 403, 'cross-origin request refused\n');
    }
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' && req.headers['sec-fetch-mode'] !== 'navigate') {
      this.refused.origin++;
      return this.plain(res, 403, 'cross-site request refused\n');
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return this.plain(res, 400, 'bad URL\n');
    }
    if (!tokenMatches(url.searchParams.get('token'), this.token)) {
      this.refused.token++;
      return this.plain(res, 403, 'a token is needed: open the URL that plog web printed\n');
    }
    const path = url.pathname;
    if (path === '/') return this.page(res, 'index');
    if (path.startsWith('/static/')) return this.asset(res, path.slice(8));
    let m = /^\/log\/([^/]+)$/.exec(path);
    if (m) return this.page(res, 'log');
    if (path === '/api/logs') {
      return this.json(res, { now: Date.now(), ...this.meta(), rows: this.engine.rows() });
    }
    if (path === '/api/events') return this.events(req, res, null);
    if (path === '/api/log-events') {
      const ids = url.searchParams.getAll('id').slice(0, MAX_COMPARE);
      return this.events(req, res, ids);
    }
    m = /^\/api\/log\/([^/]+)(\/series)?$/.exec(path);
    if (m) {
      const e = this.entry(m[1]);
      if (!e) return this.plain(res, 404, 'no such log\n');
      if (m[2]) {
        const num = (k: string, d: number): number => {
          const v = url.searchParams.get(k);
          return v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d;
        };
        const points = Math.min(MAX_POINTS, Math.max(10, num('points', 4000)));
        return this.json(res, this.engine.series(e, num('from', -Infinity), num('to', Infinity), points));
      }
      return this.json(res, { now: Date.now(), ...this.meta(), row: this.engine.row(e), report: this.engine.report(e) });
    }
    m = /^\/log\/([^/]+)\/download$/.exec(path);
    if (m) return this.download(res, m[1], url);
    return this.plain(res, 404, 'not found\n');
  }

  private zone = { at: -Infinity, name: '', off: 0 };

  private meta(): Record<string, unknown> {
    // The zone looked up once a minute (Intl is slow to ask, and it hardly changes).
    if (performance.now() - this.zone.at > 60_000) {
      this.zone = { at: performance.now(), name: Intl.DateTimeFormat().resolvedOptions().timeZone, off: -new Date().getTimezoneOffset() };
    }
    return {
      dir: this.engine.dir,
      dirError: this.engine.dirError,
      overflow: this.engine.overflow,
      timeZone: this.zone.name,
      utcOffsetMin: this.zone.off,
    };
  }

  private entry(raw: string): Entry | undefined {
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    return this.engine.get(id);
  }

  private page(res: ServerResponse, name: string): void {
    // The token is URL-safe base64 (letters, digits, - and _): nothing to escape.
    const html = this.pages.get(name)!.replaceAll('__TOKEN__', this.token);
    this.head(res, 200, 'text/html; charset=utf-8', { 'Content-Length': String(Buffer.byteLength(html)) });
    res.end(html);
  }

  private asset(res: ServerResponse, name: string): void {
    const a = this.assets.get(name);
    if (!a) return this.plain(res, 404, 'not found\n');
    this.head(res, 200, a.type, { 'Content-Length': String(a.body.length) });
    res.end(a.body);
  }

  // -------------------------------------------------------------------------
  // Downloads.

  private async download(res: ServerResponse, raw: string, url: URL): Promise<void> {
    const e = this.entry(raw);
    if (!e) return this.plain(res, 404, 'no such log\n');
    const format = url.searchParams.get('format') ?? 'log';
    const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200) || 'log';
    const disposition = (file: string): string => `attachment; filename="${safeName(file)}"; filename*=UTF-8''${encodeURIComponent(file)}`;
    if (format === 'log') {
      let fd: number;
      try {
        fd = openSync(e.path, openFlags(!e.inDir));
      } catch {
        return this.plain(res, 404, 'the log cannot be read now\n');
      }
      const st = fstatSync(fd);
      if (!st.isFile()) {
        closeSync(fd);
        return this.plain(res, 404, 'not a regular file\n');
      }
      this.head(res, 200, 'text/plain; charset=utf-8', { 'Content-Length': String(st.size), 'Content-Disposition': disposition(e.id) });
      if (st.size === 0) {
        closeSync(fd);
        res.end();
        return;
      }
      createReadStream('', { fd, start: 0, end: st.size - 1 }).pipe(res);
      return;
    }
    if (format === 'csv' || format === 'jsonl') {
      this.head(res, 200, format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl; charset=utf-8', {
        'Content-Disposition': disposition(`${e.id}.${format}`),
      });
      // The whole log, read in steps by a reader of its own (never held whole).
      const t = new FileTail(e.path, !e.inDir);
      res.on('close', () => t.close());
      let first = true;
      for (;;) {
        const r = t.read(1 << 20);
        if (r.error || r.reset) break;
        if (r.samples.length) {
          const log = t.parser.log(r.samples.map((l) => l.sample), e.id);
          if (log) {
            let k = 0;
            for (const chunk of format === 'csv' ? toCsv(log) : toJsonl(log)) {
              if (format === 'csv' && k++ === 0 && !first) continue;
              if (!res.write(chunk)) await once(res, 'drain');
            }
            first = false;
          }
        }
        if (!r.more || res.destroyed) break;
      }
      if (first && format === 'csv') {
        const log = t.parser.log([], e.id);
        if (log) for (const chunk of toCsv(log)) res.write(chunk);
      }
      t.close();
      res.end();
      return;
    }
    if (format === 'svg') {
      const entries = [e, ...url.searchParams.getAll('with').slice(0, MAX_COMPARE - 1).map((w) => this.engine.get(w))].filter((x): x is Entry => !!x);
      const logs = entries.map((x) => this.engine.asLog(x)).filter((l): l is Log => l !== null && l.samples.length > 0);
      if (logs.length === 0) return this.plain(res, 404, 'no samples yet\n');
      const time = url.searchParams.get('time');
      const svg = renderSvg(logs, { time: time === 'clock' || time === 'elapsed' ? time : undefined });
      this.head(res, 200, 'image/svg+xml; charset=utf-8', {
        'Content-Length': String(Buffer.byteLength(svg)),
        'Content-Disposition': disposition(`${logs.length > 1 ? 'compare' : e.id}.svg`),
      });
      res.end(svg);
      return;
    }
    return this.plain(res, 400, 'format: log, csv, jsonl or svg\n');
  }

  // -------------------------------------------------------------------------
  // Server-sent events.

  private events(req: IncomingMessage, res: ServerResponse, ids: string[] | null): void {
    if (this.clients.size >= this.maxEventClients) {
      this.refused.clients++;
      res.setHeader('Retry-After', '10');
      return this.plain(res, 503, 'too many live pages open: close one\n');
    }
    if (ids !== null && ids.some((id) => !this.engine.get(id))) return this.plain(res, 404, 'no such log\n');
    this.head(res, 200, 'text/event-stream; charset=utf-8', { Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const c: EventClient = { res, ids };
    this.clients.add(c);
    const gone = (): void => {
      this.clients.delete(c);
    };
    req.on('close', gone);
    res.on('error', gone);
    res.write('retry: 2000\n\n');
    if (ids === null) {
      this.send(c, 'snapshot', { now: Date.now(), ...this.meta(), rows: this.engine.rows() });
    } else {
      this.send(c, 'hello', { now: Date.now() });
    }
  }

  private send(c: EventClient, event: string, data: unknown): void {
    this.sendRaw(c, `event: ${event}\ndata: ${safeJson(data)}\n\n`);
  }

  private sendRaw(c: EventClient, text: string): void {
    if (c.res.writableLength > MAX_UNSENT) {
      // It does not read: cut it off; EventSource reconnects to a fresh snapshot.
      this.refused.slow++;
      this.clients.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(text);
  }

  private onEngine(e: EngineEvent): void {
    switch (e.type) {
      case 'removed':
        this.removedRows.add(e.id);
        this.dirtyRows.delete(e.id);
        this.pendingSamples.delete(e.id);
        break;
      case 'samples': {
        this.dirtyRows.add(e.id);
        this.removedRows.delete(e.id);
        let followed = false;
        for (const c of this.clients) if (c.ids?.includes(e.id)) followed = true;
        if (followed) {
          const p = this.pendingSamples.get(e.id);
          // A log read for the first time may give a great many at once: the page reloads it instead.
          if (p && p.length > 5000) this.resets.add(e.id);
          else if (p) p.push(...e.samples);
          else this.pendingSamples.set(e.id, e.samples.slice());
          this.reportDue.add(e.id);
        }
        break;
      }
      case 'reset':
        this.resets.add(e.id);
        this.dirtyRows.add(e.id);
        break;
      default:
        this.dirtyRows.add(e.id);
        this.removedRows.delete(e.id);
    }
  }

  private lastReport = 0;
  /** The sparkline version each log's last update carried. */
  private readonly sparkSent = new WeakMap<Entry, number>();

  private flushLogs(): void {
    const reportNow = performance.now() - this.lastReport >= 2000;
    for (const c of this.clients) {
      if (c.ids === null) continue;
      for (const id of c.ids) {
        if (this.resets.has(id)) {
          this.send(c, 'reset', { id });
          continue;
        }
        const p = this.pendingSamples.get(id);
        if (p && p.length) {
          const data = { id, t: [] as number[], rss: [] as Array<number | null>, pss: [] as Array<number | null>, swap: [] as Array<number | null>, cpu: [] as Array<number | null> };
          for (const l of p) {
            data.t.push(l.sample.timeMs);
            for (const k of CHART_KEYS) data[k].push(chartValue[k](l.sample));
          }
          this.send(c, 'samples', data);
        }
        if (reportNow && this.reportDue.has(id)) {
          const e = this.engine.get(id);
          if (e) this.send(c, 'report', { id, now: Date.now(), row: this.engine.row(e), report: this.engine.report(e) });
        }
      }
    }
    this.pendingSamples.clear();
    this.resets.clear();
    if (reportNow) {
      this.reportDue.clear();
      this.lastReport = performance.now();
    }
  }

  private flushList(): void {
    if (this.dirtyRows.size === 0 && this.removedRows.size === 0) return;
    const listeners = [...this.clients].filter((c) => c.ids === null);
    if (listeners.length === 0) {
      this.dirtyRows.clear();
      this.removedRows.clear();
      return;
    }
    const rows = [];
    for (const id of this.dirtyRows) {
      const e = this.engine.get(id);
      if (!e || (e.tail.parser.info === null && e.error === null)) continue;
      const row = this.engine.row(e);
      // The sparkline only when it changed since the last update (most rows: once in 10 s).
      if (this.sparkSent.get(e) === row.sparkVersion) delete row.spark;
      else this.sparkSent.set(e, row.sparkVersion);
      rows.push(row);
    }
    const text = `event: rows\ndata: ${safeJson({ now: Date.now(), rows, removed: [...this.removedRows], ...this.meta() })}\n\n`;
    this.dirtyRows.clear();
    this.removedRows.clear();
    for (const c of listeners) this.sendRaw(c, text);
  }

  private heartbeat(): void {
    for (const c of this.clients) this.sendRaw(c, ': alive\n\n');
  }
}
