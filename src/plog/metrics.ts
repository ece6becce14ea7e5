// plogsrvd --metrics ADDR:PORT (issue 7): the latest sample of every logged
// process over HTTP (node:http), as OpenMetrics text when the scraper asks
// for it (Accept: application/openmetrics-text, as Prometheus does) and as
// Prometheus' text format 0.0.4 otherwise. Labels: pid, name (the process's
// name from stat), log (the log's base name).
import { createServer, type Server } from 'node:http';
import { CLK_TCK, pageSizeKb } from '../proc/system.js';
import { parseListenAddress } from './config.js';
import type { Target } from './server.js';

export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A label value as both formats escape it: backslash, double quote, newline. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  unit: string;
  help: string;
  value: (t: Target, pageBytes: number) => number | null;
}

const FAMILIES: Family[] = [
  { name: 'plog_cpu_seconds', type: 'counter', unit: 'seconds', help: 'User and system CPU time of the process.', value: (t) => (t.prev.stat.utime + t.prev.stat.stime) / CLK_TCK },
  { name: 'plog_resident_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Resident set size.', value: (t, pb) => t.prev.statm.resident * pb },
  { name: 'plog_virtual_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Virtual memory size.', value: (t) => t.prev.stat.vsize },
  { name: 'plog_shared_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Resident shared memory.', value: (t, pb) => t.prev.statm.shared * pb },
  { name: 'plog_data_stack_bytes', type: 'gauge', unit: 'bytes', help: 'Data and stack.', value: (t, pb) => t.prev.statm.data * pb },
  { name: 'plog_proportional_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Proportional set size (PSS).', value: (t) => (t.prev.smaps ? t.prev.smaps.pss * 1024 : null) },
  { name: 'plog_swap_bytes', type: 'gauge', unit: 'bytes', help: 'Swapped-out memory.', value: (t) => (t.prev.smaps ? t.prev.smaps.swap * 1024 : null) },
  { name: 'plog_threads', type: 'gauge', unit: '', help: 'Threads of the process.', value: (t) => t.prev.stat.numThreads },
  { name: 'plog_minor_faults', type: 'counter', unit: '', help: 'Minor page faults of the process.', value: (t) => t.prev.stat.minflt },
  { name: 'plog_major_faults', type: 'counter', unit: '', help: 'Major page faults of the process.', value: (t) => t.prev.stat.majflt },
  { name: 'plog_sample_timestamp_seconds', type: 'gauge', unit: 'seconds', help: 'When the latest sample was taken (Unix time).', value: (t) => t.prev.timeMs / 1000 },
  { name: 'plog_processes', type: 'gauge', unit: '', help: 'Processes summed in the sample (a tree log: the process and its descendants; else 1).', value: (t) => t.tree?.count ?? 1 },
  { name: 'plog_interval_seconds', type: 'gauge', unit: 'seconds', help: 'The logging interval.', value: (t) => t.intervalMs / 1000 },
];

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : 'NaN';
}

/** The exposition of these registrations, OpenMetrics or Prometheus text. */
export function exposition(targets: Iterable<Target>, openMetrics: boolean, pageBytes = pageSizeKb() * 1024): string {
  const list = [...targets];
  const out: string[] = [];
  out.push('# HELP plog_logs Logs being written.', '# TYPE plog_logs gauge', `plog_logs ${list.length}`);
  for (const f of FAMILIES) {
    const sample = f.type === 'counter' ? `${f.name}_total` : f.name;
    if (openMetrics) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      if (f.unit) out.push(`# UNIT ${f.name} ${f.unit}`);
    } else {
      out.push(`# HELP ${sample} ${f.help}`, `# TYPE ${sample} ${f.type}`);
    }
    for (const t of list) {
      const v = f.value(t, pageBytes);
      if (v === null) continue;
      out.push(`${sample}{pid="${t.pid}",name="${escapeLabel(t.prev.stat.comm)}",log="${escapeLabel(t.log.name)}"} ${num(v)}`);
    }
  }
  if (openMetrics) out.push('# EOF');
  return out.join('\n') + '\n';
}

/** Whether an Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return !!accept && /application\/openmetrics-text/i.test(accept);
}

export class MetricsServer {
  private server: Server | null = null;
  readonly address: string;

  constructor(address: string, private readonly targets: () => Iterable<Target>) {
    this.address = address;
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
      const body = exposition(this.targets(), om);
      res.writeHead(200, { 'Content-Type': om ? OPENMETRICS_TYPE : PROMETHEUS_TYPE, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
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
    this.server?.close();
    this.server?.closeAllConnections();
    this.server = null;
  }
}
