// plogsrvd --metrics ADDR:PORT: the HTTP server (node:http) of the
// exposition src/plog/ops/metrics.ts builds: OpenMetrics text when the
// scraper asks for it (Accept: application/openmetrics-text, as Prometheus
// does) and Prometheus' text format 0.0.4 otherwise; gzip when the scraper
// accepts it. Bounded: few connections, short timeouts.
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gzip } from 'node:zlib';
import { parseListenAddress } from './config.js';
import type { MetricsRegistry } from './metrics.js';

export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Whether an Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return !!accept && /application\/openmetrics-text/i.test(accept);
}

/** Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding = '', ...params] = part.trim().split(';');
    if (coding.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/i.exec(p)).find(Boolean);
    return !q || Number(q[1]) > 0;
  });
}

interface Built {
  generation: number;
  /** performance.now() when built. */
  at: number;
  body: Buffer;
  gzipped: Promise<Buffer> | null;
}

export class MetricsServer {
  private server: Server | null = null;
  readonly address: string;
  /** The last exposition of each format, reused while nothing changed or while young (see body()). */
  private built = new Map<boolean, Built>();
  /** How long the last exposition took, ms. */
  lastBuildMs = 0;
  /** Expositions built (bench/metrics.ts counts them). */
  builds = 0;

  /** reuse: false builds one for every request (bench/metrics.ts, for the figure without reuse). */
  constructor(
    address: string,
    private readonly registry: MetricsRegistry,
    private readonly opts: { reuse?: boolean } = {},
  ) {
    this.address = address;
  }

  /**
   * The exposition: the last one while no sample, log or end came since, or
   * while it is younger than 10 times what it took to build (at least 100
   * ms): however often it is asked for, building it takes at most a tenth of
   * the server's time, and the samples get the rest.
   */
  body(openMetrics: boolean): Built {
    const now = performance.now();
    const b = this.built.get(openMetrics);
    if (b && this.opts.reuse !== false && (b.generation === this.registry.generation || now - b.at < Math.max(100, 10 * this.lastBuildMs))) return b;
    const generation = this.registry.generation;
    const body = this.registry.expositionBytes(openMetrics);
    this.lastBuildMs = performance.now() - now;
    this.builds++;
    const nb: Built = { generation, at: now, body, gzipped: null };
    this.built.set(openMetrics, nb);
    return nb;
  }

  /** Listen; rejects with the error (EADDRINUSE, EACCES ...). */
  listen(): Promise<void> {
    const a = parseListenAddress(this.address);
    if (!a) return Promise.reject(new Error(`not ADDR:PORT: ${this.address}`));
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== '/metrics' && path !== '/') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: try /metrics\n');
        return;
      }
      const om = wantsOpenMetrics(req.headers.accept);
      const b = this.body(om);
      const send = (body: Buffer, encoding?: string): void => {
        if (res.destroyed) return;
        const headers: Record<string, string | number> = { 'Content-Type': om ? OPENMETRICS_TYPE : PROMETHEUS_TYPE, 'Content-Length': body.length, Vary: 'Accept-Encoding' };
        if (encoding) headers['Content-Encoding'] = encoding;
        res.writeHead(200, headers);
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (!acceptsGzip(req.headers['accept-encoding'])) {
        send(b.body);
        return;
      }
      // Compressed in libuv's thread pool, once per exposition, level 1: a
      // tenth of the size for a fraction of the time of the default level.
      b.gzipped ??= new Promise((resolve, reject) => gzip(b.body, { level: 1 }, (err, z) => (err ? reject(err) : resolve(z))));
      b.gzipped.then(
        (z) => send(z, 'gzip'),
        () => send(b.body),
      );
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 64;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(a.port, a.host, () => {
        server.off('error', reject);
        this.server = server;
        this.registry.enabled = true;
        resolve();
      });
    });
  }

  /** The port listened on (for PORT 0). */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  close(): void {
    this.registry.enabled = false;
    this.server?.close();
    this.server?.closeAllConnections();
    this.server = null;
    this.built.clear();
  }
}
