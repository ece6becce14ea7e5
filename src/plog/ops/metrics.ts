// plogsrvd --metrics ADDR:PORT: the exposition of the latest sample of
// every logged process, as OpenMetrics text or Prometheus' text format
// 0.0.4 (src/plog/ops/metrics-http.ts serves it over HTTP).
//
// Series are labelled so that one series is one log of one process, and its
// labels never change while it lives: pid; name (the process's name when its
// log began: a later exec or prctl does not move the series); start (when
// the process started, Unix seconds to the clock tick: a pid reused by
// another program is a new series, even under the same name); log (the log's base name, which tells
// two logs of one process apart). A log that ends leaves the exposition.
// Prometheus adds the host (instance) itself.
//
// Besides the process figures: the memory limits a process is held to (its
// memory cgroup and the ones above it with a limit, src/proc/cgroup.ts), and
// the logs that stopped for an error (for an hour, and counted).
import { performance } from 'node:perf_hooks';
import { ancestors, defaultRoots, memoryInactiveFile, memoryLimit, memoryUsage, processCgroup, type CgroupRoots, type ProcCgroup } from '../../proc/cgroup.js';
import { bootTimeMs, CLK_TCK, pageSizeKb } from '../../proc/system.js';
import type { EngineHooks, Target } from '../engine/registry.js';
import type { SampleEnd } from '../engine/sampler.js';

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
  { name: 'plog_processes', type: 'gauge', unit: '', help: 'Processes summed in the sample of a tree log (plog --tree): the process and its descendants.', value: (t) => t.tree?.count ?? null },
  { name: 'plog_interval_seconds', type: 'gauge', unit: 'seconds', help: 'The logging interval.', value: (t) => t.intervalMs / 1000 },
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
  /** {labels} and a space, as UTF-8: what follows the name in each line. */
  bytes: Buffer;
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

/**
 * A process's start as Unix seconds to the clock tick (1796375473.42): boot
 * time and ticks since, added as whole hundredths, so that the text is the
 * same each time. To the tick, so that a pid taken again within the second
 * is a new series too.
 */
export function startLabel(starttimeTicks: number): string {
  const c = bootTimeMs() / 10 + Math.round((starttimeTicks * 100) / CLK_TCK);
  return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
}

/**
 * The exposition's bytes, written in place: ten thousand processes make some
 * 130,000 lines, and a line is most of all its labels, encoded once per log
 * and copied here byte by byte (faster than a call per piece for such short
 * runs), its value's digits written directly.
 */
class Writer {
  buf: Buffer;
  o = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, size));
  }

  /** Room for n more bytes. */
  room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.o + n));
    this.buf.copy(bigger, 0, 0, this.o);
    this.buf = bigger;
  }

  /** A value at o: a whole number's digits directly, anything else as String() writes it; returns the end. */
  static value(buf: Buffer, o: number, v: number): number {
    if (Number.isSafeInteger(v) && v >= 0) {
      let n = 1;
      for (let x = v; x >= 10; x = Math.floor(x / 10)) n++;
      let p = o + n;
      while (v >= 10) {
        const q = Math.floor(v / 10);
        buf[--p] = 48 + (v - q * 10);
        v = q;
      }
      buf[p - 1] = 48 + v;
      return o + n;
    }
    return o + buf.write(num(v), o, 'latin1');
  }

  put(b: Uint8Array): void {
    const buf = this.buf;
    let o = this.o;
    for (let i = 0; i < b.length; i++) buf[o++] = b[i]!;
    this.o = o;
  }

  /** Text (headers, the small sections): as UTF-8. */
  line(s: string): void {
    this.room(Buffer.byteLength(s) + 1);
    this.o += this.buf.write(s, this.o, 'utf8');
    this.buf[this.o++] = 10;
  }

  done(): Buffer {
    return this.buf.subarray(0, this.o);
  }
}

function header(out: Writer, name: string, type: 'gauge' | 'counter' | 'info', unit: string, help: string, openMetrics: boolean): string {
  const sample = type === 'counter' ? `${name}_total` : type === 'info' ? `${name}_info` : name;
  if (openMetrics) {
    out.line(`# HELP ${name} ${help}`);
    out.line(`# TYPE ${name} ${type}`);
    if (unit) out.line(`# UNIT ${name} ${unit}`);
  } else {
    // The classic format has no info type, and names a family by its samples.
    out.line(`# HELP ${sample} ${help}`);
    out.line(`# TYPE ${sample} ${type === 'info' ? 'gauge' : type}`);
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

  hooks(): EngineHooks {
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
      const start = startLabel(t.starttime);
      const labels = `pid="${t.pid}",name="${escapeLabel(name)}",start="${start}",log="${escapeLabel(t.log.name)}"`;
      e = { labels, bytes: Buffer.from(`{${labels}} `), cgroup: null, cgroupAt: -Infinity };
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
    return this.expositionBytes(openMetrics).toString('utf8');
  }

  /** The exposition as UTF-8. */
  expositionBytes(openMetrics: boolean): Buffer {
    const now = performance.now();
    const list: { t: Target; e: Entry }[] = [];
    let labelBytes = 0;
    for (const t of this.targets()) {
      const e = this.entry(t);
      if (this.enabled && e.cgroupAt === -Infinity) this.readCgroup(t, e);
      list.push({ t, e });
      labelBytes += e.bytes.length;
    }
    const pb = this.pageBytes;
    const out = new Writer((labelBytes + 60 * list.length) * (FAMILIES.length + 1) + 64 * 1024);
    out.line('# HELP plog_logs Logs being written.');
    out.line('# TYPE plog_logs gauge');
    out.line(`plog_logs ${list.length}`);
    for (const f of FAMILIES) {
      const name = Buffer.from(header(out, f.name, f.type, f.unit, f.help, openMetrics));
      // The hot loop: buf and o in locals, bytes copied one by one.
      let buf = out.buf;
      let o = out.o;
      for (const { t, e } of list) {
        const v = f.value(t, pb);
        if (v === null) continue;
        const lb = e.bytes;
        const need = name.length + lb.length + 32;
        if (o + need > buf.length) {
          out.o = o;
          out.room(need);
          buf = out.buf;
        }
        for (let i = 0; i < name.length; i++) buf[o++] = name[i]!;
        for (let i = 0; i < lb.length; i++) buf[o++] = lb[i]!;
        o = Writer.value(buf, o, v);
        buf[o++] = 10;
      }
      out.o = o;
    }
    this.cgroupSection(out, list, now, openMetrics);
    // Logs stopped for an error: the count, and each for an hour.
    while (this.stopped[0] !== undefined && now - this.stopped[0].mono > ERROR_KEEP_MS) this.stopped.shift();
    header(out, 'plog_log_errors', 'counter', '', 'Logs stopped for an error since plogsrvd started.', openMetrics);
    out.line(`plog_log_errors_total ${this.errorsTotal}`);
    header(out, 'plog_log_error_timestamp_seconds', 'gauge', 'seconds', 'When a log stopped for an error (Unix time; each for an hour), the error in its label.', openMetrics);
    for (const s of this.stopped) out.line(`plog_log_error_timestamp_seconds{${s.labels}} ${s.at}`);
    if (openMetrics) out.line('# EOF');
    return out.done();
  }

  /**
   * The memory limits over the logged processes: each cgroup with a limit
   * that holds one of them (its own or one above), its limit and use, and
   * which process it holds.
   */
  private cgroupSection(out: Writer, list: { t: Target; e: Entry }[], now: number, openMetrics: boolean): void {
    // The limited cgroups over each distinct cgroup, found once a scrape.
    const over = new Map<string, ProcCgroup[]>();
    const seen = new Set<string>();
    const used = new Map<string, number | null>();
    const limited: { cg: ProcCgroup; max: number; inactive: number | null }[] = [];
    // Which process is under which: its labels (without the closing brace), then ,cgroup="..."} 1.
    const links: { e: Entry; tail: Buffer }[] = [];
    const tails = new Map<string, Buffer>();
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
            const use = memoryUsage(up, this.roots);
            used.set(k, use);
            limited.push({ cg: up, max, inactive: use === null ? null : memoryInactiveFile(up, this.roots) });
          }
          if (used.get(k) !== null) ups.push(up);
        }
        over.set(key, ups);
      }
      for (const up of ups) {
        let tail = tails.get(up.path);
        if (!tail) {
          tail = Buffer.from(`,cgroup="${escapeLabel(up.path)}"} 1\n`);
          tails.set(up.path, tail);
        }
        links.push({ e, tail });
      }
    }
    // Forget the limits of cgroups no process is in any more.
    for (const k of this.limits.keys()) if (!seen.has(k)) this.limits.delete(k);
    header(out, 'plog_cgroup_memory_max_bytes', 'gauge', 'bytes', 'Memory limit of a cgroup over a logged process (memory.max; v1: memory.limit_in_bytes).', openMetrics);
    const shown = limited.filter((l) => used.get(`${l.cg.version}${l.cg.path}`) !== null);
    for (const l of shown) out.line(`plog_cgroup_memory_max_bytes{cgroup="${escapeLabel(l.cg.path)}"} ${l.max}`);
    header(out, 'plog_cgroup_memory_current_bytes', 'gauge', 'bytes', 'Memory used by that cgroup (memory.current; v1: memory.usage_in_bytes).', openMetrics);
    for (const l of shown) out.line(`plog_cgroup_memory_current_bytes{cgroup="${escapeLabel(l.cg.path)}"} ${used.get(`${l.cg.version}${l.cg.path}`)}`);
    header(
      out,
      'plog_cgroup_memory_inactive_file_bytes',
      'gauge',
      'bytes',
      'Inactive page cache of that cgroup, which the kernel reclaims first (memory.stat inactive_file; v1: total_inactive_file).',
      openMetrics,
    );
    for (const l of shown) if (l.inactive !== null) out.line(`plog_cgroup_memory_inactive_file_bytes{cgroup="${escapeLabel(l.cg.path)}"} ${l.inactive}`);
    header(out, 'plog_process_cgroup', 'info', '', 'A logged process is in (or under) a cgroup with a memory limit.', openMetrics);
    const name = Buffer.from('plog_process_cgroup_info');
    for (const { e, tail } of links) {
      out.room(name.length + e.bytes.length + tail.length);
      out.put(name);
      out.put(e.bytes.subarray(0, e.bytes.length - 2));
      out.put(tail);
    }
  }
}
