// plogsrvd --metrics ADDR:PORT: the latest sample of every logged process
// over HTTP (node:http), as OpenMetrics text when the scraper asks for it
// (Accept: application/openmetrics-text, as Prometheus does) and as
// Prometheus' text format 0.0.4 otherwise; gzip when the scraper accepts it.
//
// Series are labelled so that one series is one log of one process, and its
// labels never change while it lives: pid; name (the process's name when its
// log began: a later exec or prctl does not move the series); start (when
// the process started, Unix seconds: a pid reused by another program is a new
// series, even under the same name); log (the log's base name, which tells
// two logs of one process apart). A log that ends leaves the exposition.
// Prometheus adds the host (instance) itself.
//
// Besides the process figures: the memory limits a process is held to (its
// memory cgroup and the ones above it with a limit, src/proc/cgroup.ts), and
// the logs that stopped for an error (for an hour, and counted).
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gzip } from 'node:zlib';
import { ancestors, defaultRoots, memoryLimit, memoryUsage, processCgroup, type CgroupRoots, type ProcCgroup } from '../proc/cgroup.js';
import { CLK_TCK, pageSizeKb, startTimeMs } from '../proc/system.js';
import { parseListenAddress } from './config.js';
import type { SampleEnd, ServerHooks, Target } from './server.js';

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

/** The per-process families, in the order of the exposition. */
export const FAMILIES: readonly Family[] = [
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

/** Every metric name an exposition can have (samples, as queries name them). */
export const METRIC_NAMES: readonly string[] = [
  'plog_logs',
  ...FAMILIES.map((f) => (f.type === 'counter' ? `${f.name}_total` : f.name)),
  'plog_cgroup_memory_max_bytes',
  'plog_cgroup_memory_current_bytes',
  'plog_process_cgroup_info',
  'plog_log_errors_total',
  'plog_log_error_timestamp_seconds',
];

/** How long a process's memory cgroup, and a cgroup's limit, are taken as known before they are read again. */
const CGROUP_TTL_MS = 60_000;
/** A log stopped for an error stays in the exposition this long ... */
const ERROR_KEEP_MS = 3_600_000;
/** ... and at most this many of them (the latest). */
const ERROR_KEEP_MAX = 1000;
/** The error text in a label is cut to this many characters. */
const ERROR_TEXT_MAX = 200;

interface Entry {
  /** pid="..",name="..",start="..",log="..": escaped once, when the log began. */
  labels: string;
  cgroup: ProcCgroup | null;
  /** performance.now() when cgroup was read; -Infinity: not yet. */
  cgroupAt: number;
}

interface StoppedLog {
  labels: string;
  /** Unix seconds. */
  at: number;
  /** performance.now(), for ERROR_KEEP_MS. */
  mono: number;
}

interface Limit {
  max: number | null;
  at: number;
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

function header(out: string[], name: string, type: 'gauge' | 'counter' | 'info', unit: string, help: string, openMetrics: boolean): string {
  const sample = type === 'counter' ? `${name}_total` : type === 'info' ? `${name}_info` : name;
  if (openMetrics) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    if (unit) out.push(`# UNIT ${name} ${unit}`);
  } else {
    // The classic format has no info type, and names a family by its samples.
    out.push(`# HELP ${sample} ${help}`, `# TYPE ${sample} ${type === 'info' ? 'gauge' : type}`);
  }
  return sample;
}

/**
 * What --metrics exports: kept up by the server's hooks (each log's labels
 * fixed when it begins, the logs stopped for an error), read by exposition().
 */
export class MetricsRegistry {
  /** Off: no cgroup is read (the hooks keep only labels and errors). */
  enabled = false;
  /** Bumped by every sample, new log and end: an exposition of the same generation is still true. */
  generation = 0;
  private readonly entries = new WeakMap<Target, Entry>();
  private stopped: StoppedLog[] = [];
  private errorsTotal = 0;
  private readonly limits = new Map<string, Limit>();

  constructor(
    private readonly targets: () => Iterable<Target>,
    private readonly roots: CgroupRoots = defaultRoots(),
    private readonly pageBytes = pageSizeKb() * 1024,
  ) {}

  hooks(): ServerHooks {
    return {
      registered: (t) => {
        this.entry(t);
        this.generation++;
      },
      sampled: (t) => {
        this.generation++;
        if (!this.enabled) return;
        const e = this.entry(t);
        if (performance.now() - e.cgroupAt >= CGROUP_TTL_MS) this.readCgroup(t, e);
      },
      ended: (t, why) => {
        this.generation++;
        if (why?.isError) this.stoppedForError(t, why);
      },
    };
  }

  private entry(t: Target): Entry {
    let e = this.entries.get(t);
    if (!e) {
      // stat's comm is latin1 (its exact bytes): names are UTF-8 as a rule.
      const name = Buffer.from(t.prev.stat.comm, 'latin1').toString('utf8');
      const start = Math.floor(startTimeMs(t.starttime) / 1000);
      e = { labels: `pid="${t.pid}",name="${escapeLabel(name)}",start="${start}",log="${escapeLabel(t.log.name)}"`, cgroup: null, cgroupAt: -Infinity };
      this.entries.set(t, e);
    }
    return e;
  }

  private readCgroup(t: Target, e: Entry): void {
    e.cgroup = processCgroup(t.reader.dir);
    e.cgroupAt = performance.now();
  }

  private stoppedForError(t: Target, why: Exclude<SampleEnd, null>): void {
    this.errorsTotal++;
    const text = why.why.length > ERROR_TEXT_MAX ? `${why.why.slice(0, ERROR_TEXT_MAX)}...` : why.why;
    this.stopped.push({ labels: `${this.entry(t).labels},error="${escapeLabel(text)}"`, at: Date.now() / 1000, mono: performance.now() });
    if (this.stopped.length > ERROR_KEEP_MAX) this.stopped.splice(0, this.stopped.length - ERROR_KEEP_MAX);
  }

  /** The limit of a cgroup, read again after CGROUP_TTL_MS. */
  private limitOf(cg: ProcCgroup, now: number): number | null {
    const key = `${cg.version}${cg.path}`;
    let l = this.limits.get(key);
    if (!l || now - l.at >= CGROUP_TTL_MS) {
      l = { max: memoryLimit(cg, this.roots), at: now };
      this.limits.set(key, l);
    }
    return l.max;
  }

  /** The exposition, OpenMetrics or Prometheus text. */
  exposition(openMetrics: boolean): string {
    const now = performance.now();
    const list: { t: Target; e: Entry }[] = [];
    for (const t of this.targets()) {
      const e = this.entry(t);
      if (this.enabled && e.cgroupAt === -Infinity) this.readCgroup(t, e);
      list.push({ t, e });
    }
    const pb = this.pageBytes;
    const out: string[] = [];
    out.push('# HELP plog_logs Logs being written.', '# TYPE plog_logs gauge', `plog_logs ${list.length}`);
    for (const f of FAMILIES) {
      const sample = header(out, f.name, f.type, f.unit, f.help, openMetrics);
      const head = `${sample}{`;
      for (const { t, e } of list) {
        const v = f.value(t, pb);
        if (v !== null) out.push(`${head}${e.labels}} ${num(v)}`);
      }
    }
    this.cgroupSection(out, list, now, openMetrics);
    // Logs stopped for an error: the count, and each for an hour.
    while (this.stopped.length && now - this.stopped[0].mono > ERROR_KEEP_MS) this.stopped.shift();
    header(out, 'plog_log_errors', 'counter', '', 'Logs stopped for an error since plogsrvd started.', openMetrics);
    out.push(`plog_log_errors_total ${this.errorsTotal}`);
    header(out, 'plog_log_error_timestamp_seconds', 'gauge', 'seconds', 'When a log stopped for an error (Unix time; each for an hour), the error in its label.', openMetrics);
    for (const s of this.stopped) out.push(`plog_log_error_timestamp_seconds{${s.labels}} ${s.at}`);
    if (openMetrics) out.push('# EOF');
    out.push('');
    return out.join('\n');
  }

  /**
   * The memory limits over the logged processes: each cgroup with a limit
   * that holds one of them (its own or one above), its limit and use, and
   * which process it holds.
   */
  private cgroupSection(out: string[], list: { t: Target; e: Entry }[], now: number, openMetrics: boolean): void {
    // The limited cgroups over each distinct cgroup, found once a scrape.
    const over = new Map<string, ProcCgroup[]>();
    const seen = new Set<string>();
    const used = new Map<string, number | null>();
    const limited: { cg: ProcCgroup; max: number }[] = [];
    const links: string[] = [];
    for (const { e } of list) {
      const cg = e.cgroup;
      if (!cg) continue;
      const key = `${cg.version}${cg.path}`;
      let ups = over.get(key);
      if (!ups) {
        ups = [];
        for (const path of ancestors(cg.path)) {
          const up = { version: cg.version, path };
          const k = `${cg.version}${path}`;
          seen.add(k);
          const max = this.limitOf(up, now);
          if (max === null) continue;
          if (!used.has(k)) {
            used.set(k, memoryUsage(up, this.roots));
            limited.push({ cg: up, max });
          }
          if (used.get(k) !== null) ups.push(up);
        }
        over.set(key, ups);
      }
      for (const up of ups) links.push(`${e.labels},cgroup="${escapeLabel(up.path)}"`);
    }
    // Forget the limits of cgroups no process is in any more.
    for (const k of this.limits.keys()) if (!seen.has(k)) this.limits.delete(k);
    header(out, 'plog_cgroup_memory_max_bytes', 'gauge', 'bytes', 'Memory limit of a cgroup over a logged process (memory.max; v1: memory.limit_in_bytes).', openMetrics);
    const shown = limited.filter((l) => used.get(`${l.cg.version}${l.cg.path}`) !== null);
    for (const l of shown) out.push(`plog_cgroup_memory_max_bytes{cgroup="${escapeLabel(l.cg.path)}"} ${l.max}`);
    header(out, 'plog_cgroup_memory_current_bytes', 'gauge', 'bytes', 'Memory used by that cgroup (memory.current; v1: memory.usage_in_bytes).', openMetrics);
    for (const l of shown) out.push(`plog_cgroup_memory_current_bytes{cgroup="${escapeLabel(l.cg.path)}"} ${used.get(`${l.cg.version}${l.cg.path}`)}`);
    header(out, 'plog_process_cgroup', 'info', '', 'A logged process is in (or under) a cgroup with a memory limit.', openMetrics);
    for (const l of links) out.push(`plog_process_cgroup_info{${l}} 1`);
  }
}

/** Whether an Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return !!accept && /application\/openmetrics-text/i.test(accept);
}

/** Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
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

  constructor(address: string, private readonly registry: MetricsRegistry) {
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
    if (b && (b.generation === this.registry.generation || now - b.at < Math.max(100, 10 * this.lastBuildMs))) return b;
    const generation = this.registry.generation;
    const body = Buffer.from(this.registry.exposition(openMetrics), 'utf8');
    this.lastBuildMs = performance.now() - now;
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
