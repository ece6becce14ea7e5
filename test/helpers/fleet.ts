// What the --metrics and fleet tests share: a plogsrvd with --metrics, GET,
// the exposition parsed, memory cgroups made for a test, promtool.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Server } from './plog.js';

export const promtool = spawnSync('promtool', ['--version']).status === 0;
export const NO_PROMTOOL = 'promtool is not installed (Debian package prometheus)';

export interface Got {
  status: number;
  type: string;
  encoding: string;
  body: string;
}

export function get(port: number, path = '/metrics', headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const raw = Buffer.concat(parts);
        const encoding = String(res.headers['content-encoding'] ?? '');
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), encoding, body: (encoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export const OM = { Accept: 'application/openmetrics-text; version=1.0.0,text/plain;q=0.5' };

/** A foreground plogsrvd -v with --metrics on a free loopback port. */
export async function metricsServer(extra: string[] = []): Promise<{ srv: Server; port: number }> {
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v', '--metrics', '127.0.0.1:0', ...extra] });
  const m = /serving metrics on 127\.0\.0\.1:(\d+)/.exec(await srv.waitOutput('stdout', /serving metrics on 127\.0\.0\.1:\d+/));
  return { srv, port: Number(m![1]) };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: string;
}

/** The samples of an exposition (comments left out); label values unescaped. */
export function samples(body: string): Sample[] {
  const out: Sample[] = [];
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let l: RegExpExecArray | null;
    const text = m[2] ?? '';
    let end = 0;
    while ((l = re.exec(text))) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      end = re.lastIndex;
    }
    if (end !== text.length) throw new Error(`labels not understood: ${line}`);
    out.push({ name: m[1]!, labels, value: m[3]! });
  }
  return out;
}

/** The samples of one metric whose labels include these. */
export function find(body: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return samples(body).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

export function promtoolCheck(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** A memory cgroup made for a test (v2, or v1's memory hierarchy), under which processes can be put. */
export interface TestCgroup {
  /** The path as /proc/PID/cgroup shows it. */
  path: string;
  dir: string;
  add(pid: number): void;
  remove(): void;
}

/**
 * A memory cgroup with a limit, and optionally one inside it without; or a
 * string saying why none can be made here (not root, no memory controller).
 */
export function memoryCgroups(name: string, limit: number): { outer: TestCgroup; inner: TestCgroup } | string {
  if (process.getuid?.() !== 0) return 'making cgroups needs root';
  let base: string;
  let limitFile: string;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers') && readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').includes('memory')) {
    base = '/sys/fs/cgroup';
    limitFile = 'memory.max';
  } else if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) {
    base = '/sys/fs/cgroup/memory';
    limitFile = 'memory.limit_in_bytes';
  } else return 'no memory cgroup controller at /sys/fs/cgroup';
  const make = (path: string): TestCgroup => {
    const dir = base + path;
    mkdirSync(dir);
    return {
      path,
      dir,
      add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
      remove: () => {
        try {
          rmdirSync(dir);
        } catch {
          /* still in use: left for the system */
        }
      },
    };
  };
  try {
    const outer = make(`/${name}-${process.pid}`);
    if (limitFile === 'memory.max') writeFileSync(join(outer.dir, 'cgroup.subtree_control'), '+memory');
    writeFileSync(join(outer.dir, limitFile), String(limit));
    const inner = make(`${outer.path}/inner`);
    return { outer, inner };
  } catch (err) {
    return `cannot make a memory cgroup: ${(err as Error).message}`;
  }
}
