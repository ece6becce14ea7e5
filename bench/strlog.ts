// The strlog benchmark: messages per second from strlog() to strerr's file,
// through a real strlogd and a real strerr, against a C floor doing the
// least work for the same path, on the same machine, in one run.
//
//   npx tsc -p . && node dist/bench/strlog.js [--seconds S] [--goal R] [--rates R1,R2,...]
//
// 1. floor: bench/strlogfloor.c (compiled here with cc): a C sender, relay
//    and logger over the same sockets and wire format, blocking I/O, one
//    line per message appended to a file. What the machine can do at best.
// 2. paced runs: strlog() from this process at a steady rate for S seconds
//    (default 5), each run with a fresh strlogd and strerr, first at the
//    goal (default 50,000/s), then at higher rates until messages are lost.
//    For each: every message must be in strerr's file, numbered 1..N
//    without a gap, and none dropped by the sender or the driver; the time
//    is from the first strlog() to the last line in the file. Capacity is
//    the highest rate without loss.
//
// Prints a Markdown table for BENCHMARKS.md; exits 1 when the goal rate
// lost messages.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driverStats, SL_ERROR, StrlogClient } from '../src/strlog/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const bin = (n: string): string => join(ROOT, 'dist/src/cli', `${n}.js`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function opt(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
function num(name: string, dflt: number): number {
  const v = opt(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number`);
  return n;
}

const SECONDS = num('seconds', 5);
const GOAL = num('goal', 50_000);
const RATES = (opt('rates') ?? '75000,100000,150000,200000,300000,400000,500000').split(',').map(Number);
const WARMUP = 20_000;
const FMT = 'bench message %d from %s: %s';

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The last complete line of a file (read from its end). */
function lastLine(path: string): string {
  if (!existsSync(path)) return '';
  const size = statSync(path).size;
  const n = Math.min(size, 4096);
  const buf = Buffer.alloc(n);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, n, size - n);
  } finally {
    closeSync(fd);
  }
  const t = buf.toString('latin1');
  const end = t.lastIndexOf('\n');
  return t.slice(t.lastIndexOf('\n', end - 1) + 1, end);
}

/** Lines of strerr's files and the missing sequence numbers in 1..n. */
function checkFiles(logdir: string, n: number): { lines: number; missing: number } {
  const seen = new Uint8Array(n + 1);
  let lines = 0;
  for (const f of readdirSync(logdir).filter((x) => x.startsWith('error.'))) {
    const t = readFileSync(join(logdir, f), 'latin1');
    for (let pos = 0; pos < t.length; pos = t.indexOf('\n', pos) + 1) {
      const seq = Number(t.slice(pos, t.indexOf(' ', pos)));
      if (seq >= 1 && seq <= n) seen[seq] = 1;
      lines++;
    }
  }
  let missing = 0;
  for (let i = 1; i <= n; i++) if (!seen[i]) missing++;
  return { lines, missing };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(2);
  }
}

interface Run {
  name: string;
  rate: number | null;
  messages: number;
  seconds: number;
  lost: number;
  cpu: { sender: number; driver: number; logger: number };
}

function floor(tmp: string, n: number): Run | null {
  const exe = join(tmp, 'strlogfloor');
  try {
    execFileSync('cc', ['-O2', '-o', exe, join(ROOT, 'bench/strlogfloor.c')], { stdio: 'inherit' });
  } catch {
    process.stderr.write('bench: no C compiler: no floor\n');
    return null;
  }
  // "messages seconds lost sender_cpu relay_cpu logger_cpu"
  const [m, s, lost, a, b, c] = execFileSync(exe, [String(n), join(tmp, 'floor')], { encoding: 'utf8' })
    .trim()
    .split(/\s+/)
    .map(Number);
  return { name: 'C floor: blocking sends, one datagram each', rate: null, messages: m!, seconds: s!, lost: lost!, cpu: { sender: a!, driver: b!, logger: c! } };
}

function start(cmd: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [cmd, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PLOG_SYSLOG_SOCKET: '/nonexistent' } });
}

/** strlog() at `rate` a second until `n` are sent; yields every millisecond. */
async function paced(c: StrlogClient, rate: number, n: number, from: number): Promise<void> {
  const t0 = performance.now();
  let i = 0;
  while (i < n) {
    const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * rate));
    while (i < due) c.strlog(1234, 5, 0, SL_ERROR, FMT, from + i++, 'bench', 'status ok');
    await sleep(1);
  }
}

/** One paced run with a fresh strlogd and strerr. */
async function run(tmp: string, rate: number): Promise<Run> {
  const dir = mkdtempSync(join(tmp, 'r-'));
  const rundir = join(dir, 'run');
  const logdir = join(dir, 'logs');
  const d = start(bin('strlogd'), ['-f', '-n', '-e', 'stderr', '-d', rundir]);
  let strerr: ChildProcess | null = null;
  const client = new StrlogClient({ rundir, queueBytes: 64 << 20 });
  try {
    await waitFor('strlogd', () =>
      driverStats(rundir).then(
        () => true,
        () => false,
      ),
    );
    strerr = start(bin('strerr'), ['--rundir', rundir, '-d', logdir, '--mailer', '/bin/true']);
    await waitFor('strerr', async () => (await driverStats(rundir)).loggers.some((l) => l.role === 'error'));
    const last = (): string =>
      lastLine(
        join(
          logdir,
          readdirSync(logdir)
            .filter((f) => f.startsWith('error.'))
            .sort()
            .at(-1) ?? 'none',
        ),
      );
    // Warm-up (JIT, page cache): in the file, not in the figures.
    await paced(client, 20_000, WARMUP, 0);
    await waitFor('the warm-up', () => last().startsWith(String(WARMUP).padStart(6, '0') + ' '));
    const n = Math.round(rate * SECONDS);
    const total = WARMUP + n;
    const c0 = { s: selfCpu(), d: cpuSeconds(d.pid!), l: cpuSeconds(strerr.pid!) };
    const t0 = performance.now();
    await paced(client, rate, n, WARMUP);
    await client.flush();
    // The last message is never the one dropped: wait for it.
    await waitFor(`strerr to write message ${total}`, () => last().startsWith(String(total).padStart(6, '0') + ' '), 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = { sender: selfCpu() - c0.s, driver: cpuSeconds(d.pid!) - c0.d, logger: cpuSeconds(strerr.pid!) - c0.l };
    const st = await driverStats(rundir);
    const dropped = st.loggers.find((l) => l.role === 'error')!.dropped;
    const check = checkFiles(logdir, total);
    const lost = Math.max(client.dropped + dropped + st.malformed, check.missing, total - check.lines);
    if (check.missing !== dropped + client.dropped) process.stderr.write(`bench: ${check.missing} missing lines, ${dropped} dropped by strlogd, ${client.dropped} by the sender\n`);
    return { name: `strlog() -> strlogd -> strerr at ${rate.toLocaleString('en')}/s`, rate, messages: n, seconds, lost, cpu };
  } finally {
    client.close();
    strerr?.kill('SIGTERM');
    d.kill('SIGTERM');
    await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync('/tmp/slb-');
  const runs: Run[] = [];
  try {
    const f = floor(tmp, Math.round(GOAL * SECONDS));
    if (f) runs.push(f);
    const goal = await run(tmp, GOAL);
    runs.push(goal);
    let capacity = goal.lost === 0 ? GOAL : null;
    if (goal.lost === 0) {
      for (const rate of RATES.filter((r) => r > GOAL)) {
        const r = await run(tmp, rate);
        runs.push(r);
        // A run that took much longer than planned did not hold its rate.
        if (r.lost > 0 || r.seconds > SECONDS * 1.2) break;
        capacity = rate;
      }
    }
    const cpu = cpus();
    process.stdout.write(`\nMachine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}\n`);
    process.stdout.write(`Command: node dist/bench/strlog.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\n\n`);
    process.stdout.write('| run | messages | seconds | messages/s | lost | CPU µs per message: sender / driver / logger |\n|---|---:|---:|---:|---:|---|\n');
    for (const r of runs) {
      const us = (s: number): string => ((s / r.messages) * 1e6).toFixed(1);
      process.stdout.write(
        `| ${r.name} | ${r.messages.toLocaleString('en')} | ${r.seconds.toFixed(2)} | ${Math.round(r.messages / r.seconds).toLocaleString('en')} | ${r.lost} | ${us(r.cpu.sender)} / ${us(r.cpu.driver)} / ${us(r.cpu.logger)} |\n`,
      );
    }
    process.stdout.write(`\nGoal ${GOAL.toLocaleString('en')}/s: ${goal.lost === 0 ? 'met, no message lost' : `NOT met: ${goal.lost} lost`}. `);
    process.stdout.write(`Capacity without loss: ${capacity ? `at least ${capacity.toLocaleString('en')}/s` : 'below the goal'}.\n`);
    if (f) {
      const fr = f.messages / f.seconds;
      const cpuTs = (goal.cpu.sender + goal.cpu.driver + goal.cpu.logger) / goal.messages;
      const cpuC = (f.cpu.sender + f.cpu.driver + f.cpu.logger) / f.messages;
      process.stdout.write(`C floor: ${Math.round(fr).toLocaleString('en')}/s; CPU per message at the goal: ${(cpuTs / cpuC).toFixed(1)} x the floor's.\n`);
    }
    if (goal.lost > 0) process.exitCode = 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
