// The metrics benchmark: plogsrvd --metrics's exposition of 10,000 logged
// processes, built by the server's own code (MetricsRegistry of
// src/plog/ops/metrics.ts) from synthetic registrations, and served by its own
// MetricsServer over loopback HTTP.
//
//   npx tsc -p . && node dist/bench/metrics.js [--targets N] [--reps N] [--cgroups N] [--hammer SECONDS]
//
// - Registrations: N targets whose latest sample is a real one (this
//   process's, read by ProcessReader) with the figures varied, names of 6 to
//   15 characters, pids up to 7 digits (as under a pid_max of 4194304).
// - Build: exposition() in both formats, --reps times after 5 warm-up runs
//   (median, p95 and the worst), and the text's size.
// - HTTP: GET /metrics as Prometheus asks for it (OpenMetrics, gzip) and
//   plain, each a fresh exposition (a sample in between, as in real use), from
//   the request to the last byte read (median, worst).
// - Cgroups: as root, with --cgroups K (default 100) memory cgroups with a
//   limit made for the run (cgroup v2, or v1's memory hierarchy), each
//   under a parent with a limit too, the N targets spread over them
//   (their /proc/PID/cgroup files written into a directory of the run):
//   the build time again, reading K x 2 limits and usages a scrape.
// - Hammered: a local client (any user may connect to the port) asks for
//   /metrics from 16 connections at once, without pause, for --hammer
//   seconds, while the registrations are sampled as in real use (a sample
//   every 1 ms); the server's share of its event loop spent (ELU), the
//   expositions built, and how late a 10 ms timer fires in the server (what
//   a sample due then waits), with the exposition reused (as plogsrvd does)
//   and without (one built for every request).
// - Validity: promtool check metrics on the Prometheus text, when promtool
//   is installed (Debian package prometheus).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { MetricsRegistry } from '../src/plog/ops/metrics.js';
import { MetricsServer } from '../src/plog/ops/metrics-http.js';
import type { Target } from '../src/plog/engine/registry.js';
import { ProcessReader, type RawSample } from '../src/proc/reader.js';
import { defaultRoots, type CgroupRoots } from '../src/proc/cgroup.js';
import { atExit, machine, n0, note, numOpt, quantile, say, table, tempDir } from './lib.js';

const N = numOpt('targets', 10_000);
const REPS = numOpt('reps', 30);
const CGROUPS = numOpt('cgroups', 100);
const HAMMER = numOpt('hammer', 10);

/** 16 connections asking for /metrics without pause for s seconds, from a process of their own: the answers. */
function hammer(port: number, s: number): Promise<number> {
  const code = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const end = Date.now() + ${s * 1000};
    let n = 0;
    const one = () => { if (Date.now() > end) return Promise.resolve(); return new Promise((r) => http.get({ host: '127.0.0.1', port: ${port}, path: '/metrics', agent, headers: { 'Accept-Encoding': 'gzip', Accept: 'application/openmetrics-text' } }, (res) => { res.resume(); res.on('end', () => { n++; r(); }); }).on('error', r)).then(one); };
    Promise.all(Array.from({ length: 16 }, one)).then(() => { console.log(n); agent.destroy(); });`.replace(
    "res.on('end', () => { n++; r(); })",
    "res.on('end', () => { if (res.statusCode === 200) n++; r(); })",
  );
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('exit', (st) => (st === 0 ? resolve(Number(out.trim())) : reject(new Error(`bench: hammer exited ${st}`))));
  });
}

/** The server under a hammer: ELU, builds, a 10 ms timer's lateness (p50, p99, worst). */
async function hammered(reg: MetricsRegistry, list: Target[], opts: { reuse: boolean }): Promise<{ answers: number; builds: number; elu: number; cpu: number; late: number[] }> {
  const hooks = reg.hooks();
  const srv = new MetricsServer('127.0.0.1:0', reg, opts);
  await srv.listen();
  let i = 0;
  const sampler = setInterval(() => hooks.sampled!(list[i++ % list.length]!), 1);
  const late: number[] = [];
  let due = performance.now() + 10;
  let ticking = true;
  const tick = (): void => {
    const now = performance.now();
    late.push(now - due);
    due = now + 10;
    if (ticking) setTimeout(tick, 10);
  };
  setTimeout(tick, 10);
  const e0 = performance.eventLoopUtilization();
  const c0 = process.cpuUsage();
  const answers = await hammer(srv.port, HAMMER);
  const elu = performance.eventLoopUtilization(e0).utilization;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6 / HAMMER;
  ticking = false;
  clearInterval(sampler);
  srv.close();
  return { answers, builds: srv.builds, elu, cpu, late };
}

function clone(s: RawSample): RawSample {
  return structuredClone(s);
}

/** N registrations of synthetic processes, their /proc directories in procDir (for cgroup files). */
function targets(n: number, procDir: string): Target[] {
  const reader = new ProcessReader(process.pid);
  const base = reader.sample();
  reader.close();
  const out: Target[] = [];
  const names = ['postgres', 'nginx', 'java', 'python3', 'node', 'worker-pool', 'sshd', 'containerd-shim'];
  for (let i = 0; i < n; i++) {
    const s = clone(base);
    const pid = 1_000_000 + i * 317;
    const name = `${names[i % names.length]}`.slice(0, 15);
    s.stat.comm = name;
    s.stat.utime = 1000 + i * 7;
    s.stat.stime = 300 + i;
    s.statm.resident = 2000 + ((i * 7919) % 500_000);
    s.statm.shared = 500 + (i % 1000);
    s.stat.vsize = 100_000_000 + i * 4096;
    if (s.smaps) {
      s.smaps.pss = 4000 + (i % 90_000);
      s.smaps.swap = i % 3 === 0 ? 0 : i * 3;
    }
    s.timeMs = Date.now() - (i % 1000);
    out.push({
      id: i,
      pid,
      starttime: 100_000 + i,
      reader: { dir: join(procDir, String(pid)) },
      log: { fd: -1, name: `${name}.${pid}`, path: `/var/local/plog/${name}.${pid}` },
      intervalMs: 1000,
      withSeconds: true,
      prev: s,
      due: 0,
      heapIndex: -1,
      ownerUid: 0,
    } as unknown as Target);
  }
  return out;
}

/** Wall and CPU (this process, every thread: the collector's too) ms of each build. */
function timeBuilds(reg: MetricsRegistry, openMetrics: boolean, reps: number): { ms: number[]; cpu: number[]; bytes: number; text: string } {
  let body: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 5; i++) body = reg.expositionBytes(openMetrics);
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    body = reg.expositionBytes(openMetrics);
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms, cpu, bytes: body.length, text: body.toString('utf8') };
}

function get(port: number, headers: Record<string, string>): Promise<{ ms: number; bytes: number; body: Buffer; encoding: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({ ms: performance.now() - t0, bytes: body.length, body, encoding: String(res.headers['content-encoding'] ?? '') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const fmt = (ms: number[]): string[] => [quantile(ms, 0.5).toFixed(1), quantile(ms, 0.95).toFixed(1), Math.max(...ms).toFixed(1)];
const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** K memory cgroups with a limit, under a parent with one: [roots, paths] or null where none can be made. */
function makeCgroups(k: number): { roots: CgroupRoots; version: 1 | 2; paths: string[] } | null {
  const roots = defaultRoots();
  let version: 1 | 2;
  let base: string;
  if (existsSync(join(roots.v2, 'cgroup.controllers')) && readFileSync(join(roots.v2, 'cgroup.subtree_control'), 'utf8').includes('memory')) {
    version = 2;
    base = roots.v2;
  } else if (existsSync(join(roots.v1Memory, 'memory.limit_in_bytes'))) {
    version = 1;
    base = roots.v1Memory;
  } else return null;
  const limitFile = version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
  const parent = `/plog-bench-${process.pid}`;
  const paths: string[] = [];
  try {
    mkdirSync(base + parent);
    atExit(() => rmdirSync(base + parent));
    if (version === 2) writeFileSync(join(base + parent, 'cgroup.subtree_control'), '+memory');
    writeFileSync(join(base + parent, limitFile), String(8 * 2 ** 30));
    for (let i = 0; i < k; i++) {
      const p = `${parent}/svc-${i}`;
      mkdirSync(base + p);
      atExit(() => rmdirSync(base + p));
      writeFileSync(join(base + p, limitFile), String((64 + i) * 2 ** 20));
      paths.push(p);
    }
  } catch (err) {
    note(`no cgroups: ${(err as Error).message}`);
    return null;
  }
  return { roots, version, paths };
}

async function main(): Promise<void> {
  note(machine());
  const procDir = tempDir('plog-bench-metrics-');
  const list = targets(N, procDir);
  const reg = new MetricsRegistry(() => list.values());
  const hooks = reg.hooks();
  for (const t of list) hooks.registered!(t);

  note(`building the exposition of ${N} targets, ${REPS} times per format`);
  const prom = timeBuilds(reg, false, REPS);
  const om = timeBuilds(reg, true, REPS);
  const lines = prom.text.split('\n').filter((l) => l && !l.startsWith('#')).length;

  // HTTP: the server's own, a sample between requests so that each builds anew.
  const srv = new MetricsServer('127.0.0.1:0', reg);
  await srv.listen();
  const http: Record<string, { ms: number[]; bytes: number }> = {};
  for (const [what, headers] of [
    ['OpenMetrics, gzip (as Prometheus asks)', { Accept: 'application/openmetrics-text; version=1.0.0', 'Accept-Encoding': 'gzip' }],
    ['Prometheus text, plain', {}],
  ] as const) {
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5 + REPS; i++) {
      hooks.sampled!(list[i % list.length]!);
      await new Promise((r) => setTimeout(r, Math.max(100, 10 * srv.lastBuildMs) + 5));
      const r = await get(srv.port, headers);
      if (what.includes('gzip') && r.encoding !== 'gzip') throw new Error('bench: no gzip');
      if (r.encoding === 'gzip' && gunzipSync(r.body).length !== om.bytes) throw new Error('bench: the gzipped body is not the exposition');
      if (i >= 5) ms.push(r.ms);
      bytes = r.bytes;
    }
    http[what] = { ms, bytes };
  }
  srv.close();

  // Cgroups.
  let cg: { ms: number[]; cpu: number[]; k: number; version: number; linked: number } | null = null;
  if (process.getuid?.() === 0) {
    const made = makeCgroups(CGROUPS);
    if (made) {
      for (const t of list) {
        const i = t.id % made.paths.length;
        mkdirSync(t.reader.dir);
        writeFileSync(join(t.reader.dir, 'cgroup'), made.version === 2 ? `0::${made.paths[i]}\n` : `4:memory:${made.paths[i]}\n0::/\n`);
      }
      const creg = new MetricsRegistry(() => list.values(), made.roots);
      creg.enabled = true;
      const b = timeBuilds(creg, true, REPS);
      const linked = b.text.split('\n').filter((l) => l.startsWith('plog_process_cgroup_info{')).length;
      const limits = b.text.split('\n').filter((l) => l.startsWith('plog_cgroup_memory_max_bytes{')).length;
      if (linked !== 2 * N || limits !== made.paths.length + 1) throw new Error(`bench: ${linked} links, ${limits} limits`);
      cg = { ms: b.ms, cpu: b.cpu, k: made.paths.length, version: made.version, linked };
    }
  }

  note(`hammering /metrics for ${HAMMER} s, the exposition reused (as plogsrvd does), then not`);
  const runs = [
    ['reused (plogsrvd)', await hammered(reg, list, { reuse: true })],
    ['built for every request', await hammered(reg, list, { reuse: false })],
  ] as const;

  let check = 'promtool not installed';
  if (spawnSync('promtool', ['--version']).status === 0) {
    const t0 = performance.now();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: prom.text, encoding: 'utf8', maxBuffer: 1 << 26 });
    check = r.status === 0 && !r.stdout.trim() && !r.stderr.trim() ? `valid, no lint (${((performance.now() - t0) / 1000).toFixed(1)} s)` : `FAILED: ${(r.stdout + r.stderr).slice(0, 500)}`;
  }

  say(`### --metrics: the exposition of ${n0(N)} processes\n\n`);
  say(`${machine()}; \`node dist/bench/metrics.js --targets ${N} --reps ${REPS}\`: ${n0(lines)} samples, Prometheus text ${mb(prom.bytes)}, OpenMetrics ${mb(om.bytes)}.\n\n`);
  const rows = [
    ['build, Prometheus text', ...fmt(prom.ms), quantile(prom.cpu, 0.5).toFixed(1)],
    ['build, OpenMetrics', ...fmt(om.ms), quantile(om.cpu, 0.5).toFixed(1)],
    ...Object.entries(http).map(([what, r]) => [`GET over loopback, ${what}: ${mb(r.bytes)}`, ...fmt(r.ms), '']),
  ];
  if (cg)
    rows.push([`build, OpenMetrics, with ${cg.k} + 1 limited memory cgroups (v${cg.version}) over every process: ${n0(cg.linked)} more samples`, ...fmt(cg.ms), quantile(cg.cpu, 0.5).toFixed(1)]);
  say(table(['what', 'median ms', 'p95 ms', 'worst ms', 'CPU ms (median)'], rows));
  say(`\npromtool check metrics on the Prometheus text: ${check}.\n`);
  say(`\nHammered: 16 connections asking for /metrics without pause for ${HAMMER} s (gzip, OpenMetrics), a sample every ms:\n\n`);
  say(
    table(
      ['exposition', 'expositions sent', 'built', "server's event loop busy", 'server CPU (every thread)', 'a 10 ms timer late: median / p99 / worst ms'],
      runs.map(([what, r]) => [
        what,
        n0(r.answers),
        n0(r.builds),
        `${(r.elu * 100).toFixed(0)}%`,
        `${(r.cpu * 100).toFixed(0)}%`,
        `${quantile(r.late, 0.5).toFixed(1)} / ${quantile(r.late, 0.99).toFixed(1)} / ${Math.max(...r.late).toFixed(1)}`,
      ]),
    ),
  );
}

await main();
