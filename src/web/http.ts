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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Engine, Entry } from './engine.js';
import type { Row } from './row.js';
import { head, hostAllowed, inlineJson, json, plain, tokenMatches } from './guard.js';
import { LiveStreams, MAX_COMPARE } from './live.js';
import { download } from './download.js';

export { hostAllowed, tokenMatches } from './guard.js';
export { MAX_COMPARE } from './live.js';

export interface WebOptions {
  engine: Engine;
  /** The secret of the URLs. */
  token: string;
  /** A host name allowed in Host besides addresses and localhost (a reverse proxy's). */
  allowHost?: string;
  maxConnections?: number;
  maxEventClients?: number;
  /** Unsent bytes an event stream may hold before its client is cut off (live.ts). */
  maxUnsent?: number;
  /** Where the pages' files are (default: the package's web/). */
  assetsDir?: string;
}

/** Points of a chart series sent at most. */
const MAX_POINTS = 20_000;
/** Rows the list page's document carries: more than a tall screen shows (about 40 px a row). */
export const ROWS_IN_PAGE = 100;

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

export class WebServer {
  readonly server: Server;
  private readonly engine: Engine;
  private readonly token: string;
  private readonly allowHost: string | undefined;
  private readonly assets: Map<string, Asset>;
  private readonly pages: Map<string, string>;
  private readonly live: LiveStreams;
  /** Requests refused, by reason (for the tests and the log). */
  readonly refused = { host: 0, token: 0, origin: 0, method: 0, body: 0, clients: 0, slow: 0 };

  constructor(opts: WebOptions) {
    this.engine = opts.engine;
    this.token = opts.token;
    this.allowHost = opts.allowHost;
    const dir = opts.assetsDir ?? new URL('web/', ROOT).pathname;
    this.assets = loadAssets(dir);
    this.pages = new Map([
      ['index', readFileSync(join(dir, 'index.html'), 'utf8')],
      ['log', readFileSync(join(dir, 'log.html'), 'utf8')],
    ]);
    this.server = createServer({ maxHeaderSize: 8192, requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 5000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) plain(res, 500, 'internal error\n');
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
    this.live = new LiveStreams(this.engine, opts.maxEventClients ?? 32, this.refused, () => this.meta(), opts.maxUnsent);
    // Intl's first question loads its zone data (tens of ms): at start, not in the first page's load.
    this.meta();
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
    this.live.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get eventClients(): number {
    return this.live.size;
  }

  // -------------------------------------------------------------------------
  // Requests.

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req.headers.host, this.allowHost)) {
      this.refused.host++;
      return plain(res, 421, 'unknown host name: use 127.0.0.1, [::1] or localhost\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.refused.method++;
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'only GET\n');
    }
    if ((req.headers['content-length'] && req.headers['content-length'] !== '0') || req.headers['transfer-encoding']) {
      this.refused.body++;
      res.setHeader('Connection', 'close');
      return plain(res, 413, 'no request body here\n');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      this.refused.origin++;
      return plain(res, 403, 'cross-origin request refused\n');
    }
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' && req.headers['sec-fetch-mode'] !== 'navigate') {
      this.refused.origin++;
      return plain(res, 403, 'cross-site request refused\n');
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return plain(res, 400, 'bad URL\n');
    }
    if (!tokenMatches(url.searchParams.get('token'), this.token)) {
      this.refused.token++;
      return plain(res, 403, 'a token is needed: open the URL that plog web printed\n');
    }
    const path = url.pathname;
    if (path === '/') return this.page(res, 'index');
    if (path.startsWith('/static/')) return this.asset(res, path.slice(8));
    let m = /^\/log\/([^/]+)$/.exec(path);
    if (m) return this.page(res, 'log');
    if (path === '/api/logs') {
      return json(res, this.snapshot());
    }
    if (path === '/api/events') return this.live.events(req, res, null);
    if (path === '/api/log-events') {
      const ids = url.searchParams.getAll('id').slice(0, MAX_COMPARE);
      return this.live.events(req, res, ids);
    }
    m = /^\/api\/log\/([^/]+)(\/series)?$/.exec(path);
    if (m) {
      const e = this.entry(m[1]!);
      if (!e) return plain(res, 404, 'no such log\n');
      if (m[2]) {
        const num = (k: string, d: number): number => {
          const v = url.searchParams.get(k);
          return v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d;
        };
        const points = Math.min(MAX_POINTS, Math.max(10, num('points', 4000)));
        return json(res, this.engine.series(e, num('from', -Infinity), num('to', Infinity), points));
      }
      return json(res, { now: Date.now(), ...this.meta(), row: this.engine.row(e), report: this.engine.report(e) });
    }
    m = /^\/log\/([^/]+)\/download$/.exec(path);
    if (m) {
      const e = this.entry(m[1]!);
      if (!e) return plain(res, 404, 'no such log\n');
      return download(res, this.engine, e, url);
    }
    return plain(res, 404, 'not found\n');
  }

  private zone = { at: -Infinity, name: '', off: 0 };

  /** The whole list, as /api/list, the list page and its live updates start with. */
  private snapshot(): Record<string, unknown> {
    return { now: Date.now(), ...this.meta(), rows: this.engine.rows() };
  }

  /**
   * The list page's own rows: the first ROWS_IN_PAGE of the list as the page
   * first sorts it (by name, then pid), and how many there are; the others
   * come with its live updates, whose first event is every row. A document
   * of 500 rows was 350 kB, parsed by a renderer that was just started.
   */
  private pageSnapshot(): Record<string, unknown> {
    const rows = this.engine.rows();
    const key = (r: Row): string => `${r.name}\u0000${String(r.pid ?? '').padStart(10, '0')}\u0000${r.id}`;
    const keyed = rows.map((r) => [key(r), r] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { now: Date.now(), ...this.meta(), total: rows.length, rows: keyed.slice(0, ROWS_IN_PAGE).map(([, r]) => r) };
  }

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
    let html = this.pages.get(name)!.replaceAll('__TOKEN__', this.token);
    // The list's first rows in the document (pageSnapshot): the page shows
    // them before its live updates connect (a new tab's renderer starts
    // meanwhile: this costs the load nothing).
    if (name === 'index') html = html.replace('__SNAPSHOT__', () => inlineJson(this.pageSnapshot()));
    head(res, 200, 'text/html; charset=utf-8', { 'Content-Length': String(Buffer.byteLength(html)) });
    res.end(html);
  }

  private asset(res: ServerResponse, name: string): void {
    const a = this.assets.get(name);
    if (!a) return plain(res, 404, 'not found\n');
    head(res, 200, a.type, { 'Content-Length': String(a.body.length) });
    res.end(a.body);
  }
}
