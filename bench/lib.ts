// What the plog benchmarks share: the machine's description, C tools
// compiled at bench time into a temporary build directory (never into the
// repository), target processes of a chosen size, CPU clocks of other
// processes, and statistics over repeated runs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/bench/lib.js). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const bin = (name: string): string => join(ROOT, 'dist/src/cli', `${name}.js`);
/** The shared C tools (procfloor.c, target.c): $PLOG_BENCH_TOOLS, else ../shared/bench. */
export const TOOLS = process.env.PLOG_BENCH_TOOLS || join(ROOT, '..', 'shared', 'bench');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function opt(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
/** A numeric option: positive, or 0 too with `zero` (an option that turns a part off). */
export function numOpt(name: string, dflt: number, zero = false): number {
  const v = opt(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero)) throw new Error(`--${name} takes a ${zero ? 'number, 0 or more' : 'positive number'}`);
  return n;
}

/** One line describing the machine: CPU, memory, kernel, Node. */
export function machine(): string {
  const c = cpus();
  let qlen = '?';
  try {
    qlen = readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8').trim();
  } catch {
    /* not Linux */
  }
  return `${c.length} x ${c[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GB, Linux ${release()}, Node ${process.version}, net.unix.max_dgram_qlen=${qlen}`;
}

// ---- a build directory for this run, removed at exit ----

let buildDir: string | null = null;
const cleanups: Array<() => void> = [];

/** Run fn at exit (normal exit, signal or uncaught error), last registered first. */
export function atExit(fn: () => void): void {
  cleanups.push(fn);
}
function runCleanups(): void {
  while (cleanups.length > 0) {
    try {
      cleanups.pop()!();
    } catch {
      /* best effort */
    }
  }
}
process.on('exit', runCleanups);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    runCleanups();
    process.exit(130);
  });
}

/** A temporary directory (world-searchable, so that targets of other uids can run the tools). */
export function tempDir(prefix = 'plog-bench-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  atExit(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Compile a C file with cc -O2 into this run's build directory (once); returns the executable. */
export function cc(source: string, name: string, flags: string[] = []): string {
  buildDir ??= tempDir('plog-bench-build-');
  const exe = join(buildDir, name);
  if (!existsSync(exe)) execFileSync('cc', ['-O2', '-o', exe, source, ...flags], { stdio: 'inherit' });
  return exe;
}
export const procfloor = (): string => cc(join(TOOLS, 'procfloor.c'), 'procfloor');
export const targetExe = (): string => cc(join(TOOLS, 'target.c'), 'target', ['-pthread']);

// ---- targets ----

export interface TargetSize {
  name: string;
  maps: number;
  mib: number;
  threads: number;
}
export const SMALL: TargetSize = { name: 'small', maps: 1, mib: 1, threads: 0 };
export const MEDIUM: TargetSize = { name: 'medium', maps: 1000, mib: 200, threads: 8 };
export const LARGE: TargetSize = { name: 'large', maps: 20000, mib: 1000, threads: 32 };
export const sizeArgs = (s: TargetSize): string => `target ${s.maps} ${s.mib}${s.threads ? ` ${s.threads}` : ''}`;

const live = new Set<ChildProcess>();
atExit(() => {
  for (const c of live) c.kill('SIGKILL');
});

/** Start n target processes of a size (as another uid with `asUid`) and
 * wait until each has touched its memory and started its threads. */
export async function startTargets(size: TargetSize, n: number, asUid?: number): Promise<ChildProcess[]> {
  const exe = targetExe();
  const args = [String(size.maps), String(size.mib), String(size.threads)];
  const out: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const c = asUid === undefined ? spawn(exe, args, { stdio: 'ignore' }) : spawn('setpriv', [`--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', exe, ...args], { stdio: 'ignore' });
    live.add(c);
    c.on('exit', () => live.delete(c));
    out.push(c);
  }
  const pages = Math.floor((size.mib * 1024 * 1024 * 0.95) / 4096);
  const end = Date.now() + 120_000;
  for (const c of out) {
    for (;;) {
      try {
        const stat = readFileSync(`/proc/${c.pid}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const rss = Number(readFileSync(`/proc/${c.pid}/statm`, 'latin1').split(' ')[1]);
        if (comm === 'target' && Number(f[17]) === size.threads + 1 && rss >= pages) break;
      } catch {
        /* not there yet */
      }
      if (Date.now() > end) throw new Error(`bench: target ${c.pid} (${sizeArgs(size)}) not ready`);
      await sleep(5);
    }
  }
  return out;
}

export function stopTargets(ts: ChildProcess[]): Promise<void> {
  const gone = ts.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))));
  for (const c of ts) c.kill('SIGKILL');
  return Promise.all(gone).then(() => undefined);
}

// ---- clocks ----

/** CPU time of a whole process (every thread), in µs, from the
 * scheduler's nanosecond clock (/proc/PID/task/TID/schedstat). */
export function cpuUs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      /* a thread that just ended */
    }
  }
  return ns / 1000;
}

/** Context switches of a whole process (a wakeup is at least one). */
export function ctxSwitches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
      n += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0);
    } catch {
      /* ended */
    }
  }
  return n;
}

/** kB values of /proc/PID/status (VmRSS, VmHWM...). */
export function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) : NaN;
}

/** This process's CPU (all threads), µs. */
export function selfCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

// ---- statistics and printing ----

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}
export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0] ?? NaN, max: s[n - 1] ?? NaN, n };
}
/** The q-quantile (0..1) of unsorted values, nearest rank. */
export function quantile(xs: number[] | Float64Array, q: number): number {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
/** "12.3 (11.9-13.0)": median and range, with `d` decimals. */
export function fmtSpread(s: Spread, d = 1): string {
  return `${s.median.toFixed(d)} (${s.min.toFixed(d)}-${s.max.toFixed(d)})`;
}
export const n0 = (x: number): string => Math.round(x).toLocaleString('en');

export function table(head: string[], rows: string[][], align?: string[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? '---' : '---:'));
  return [`| ${head.join(' | ')} |`, `|${a.join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}

export function say(text: string): void {
  process.stdout.write(text);
}
export function note(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

export async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Start plogsrvd in the foreground on dir; resolves once its socket answers. */
/** PLOG_BENCH_SERVER_ARGS: options for plogsrvd's node (`--cpu-prof --cpu-prof-dir=DIR`, say). */
export async function startServer(dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const nodeArgs = (process.env.PLOG_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const d = spawn(process.execPath, [...nodeArgs, bin('plogsrvd'), '-f', '-e', 'stderr', '-d', dir, ...extra], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PLOG_SYSLOG_SOCKET: '/nonexistent', ...env },
  });
  live.add(d);
  d.on('exit', () => live.delete(d));
  await waitFor('plogsrvd', () => existsSync(join(dir, 'plogd_sock')));
  return d;
}

export async function stopServer(d: ChildProcess): Promise<void> {
  if (d.exitCode !== null || d.signalCode !== null) return;
  const gone = new Promise<void>((r) => d.once('exit', () => r()));
  d.kill('SIGTERM');
  await gone;
}

/** The whole of a file, as latin1 ('' when gone). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** Newlines in a file. */
export function lineCount(path: string): number {
  const t = readText(path);
  let n = 0;
  for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) n++;
  return n;
}

// ---- requests to plogsrvd, from this process (as root: no rate limit) ----

/** Ask dir's plogsrvd to log pid every ms; returns the log file's path. */
export async function register(dir: string, pid: number, ms: number): Promise<string> {
  const { request } = await import('../src/plog/client.js');
  const { encodeLog } = await import('../src/plog/protocol.js');
  const [reply] = await request(dir, encodeLog(pid, ms), { timeoutMs: 30_000 });
  if (!reply?.startsWith('Log file: ')) throw new Error(`bench: plogsrvd refused pid ${pid}: ${reply}`);
  return reply.slice('Log file: '.length);
}

/** Client sockets go to a private sticky directory, not /tmp. */
export function privateTmpSockets(): string {
  const d = tempDir('plog-bench-sock-');
  chmodSync(d, 0o1777);
  process.env.PLOG_TMPDIR = d;
  return d;
}

/**
 * Another user's requests (bench/hostask.ts as uid, through setpriv): `plog
 * -q pid` to dir's plogsrvd one at a time, every pauseMs for secs seconds;
 * their round trips in ms. pauseMs 0: none asked.
 */
export function askAs(uid: number, dir: string, secs: number, tmp: string, pauseMs: number): Promise<number[]> {
  if (pauseMs <= 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const c = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, new URL('./hostask.js', import.meta.url).pathname, dir, String(secs), String(pauseMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PLOG_TMPDIR: tmp },
    });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map(Number)) : reject(new Error(`bench: hostask exited ${code}`))));
  });
}

/** n `target 1 0` processes (one mapping, one page) started by one shell (as uid when given): much faster than a spawn each. */
export interface Many {
  pids: number[];
  stop(n?: number): void;
}
export async function startMany(n: number, uid?: number): Promise<Many> {
  const exe = targetExe();
  const script = `i=0; while [ $i -lt ${n} ]; do ${exe} 1 0 & i=$((i+1)); done; wait`;
  const sh = uid === undefined ? spawn('sh', ['-c', script], { stdio: 'ignore' }) : spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', script], { stdio: 'ignore' });
  atExit(() => sh.kill('SIGKILL'));
  let pids: number[];
  const end = Date.now() + 600_000;
  for (;;) {
    try {
      pids = readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      pids = [];
    }
    const ready = pids.filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'latin1') === 'target\n';
      } catch {
        return false;
      }
    });
    if (ready.length >= n) {
      pids = ready;
      break;
    }
    if (Date.now() > end) throw new Error(`bench: ${ready.length} of ${n} targets started`);
    await sleep(200);
  }
  const killAll = (ps: number[]): void => {
    for (const p of ps) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const many: Many = {
    pids,
    stop(keep = 0): void {
      killAll(many.pids.slice(keep));
      many.pids = many.pids.slice(0, keep);
    },
  };
  atExit(() => killAll(many.pids));
  return many;
}
