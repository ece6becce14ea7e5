// The sampler benchmark: CPU per sample of plogsrvd's sampling path on
// small, medium and large targets, against the C floor `procfloor -r`
// (stat, statm, smaps_rollup and maps, opened and closed each time, one
// write(2) per line) on the same targets in the same run, as ratios.
//
//   npx tsc -p . && node dist/bench/sampler.js [--reps N] [--cpu SECONDS] [--window SECONDS] [--warmup SECONDS] [--sizes small,medium,large] [--parts harness,e2e]
//
// The Safe PSS budget is off in both (the harness passes none to
// sampleTarget(), the server runs with PLOG_PSS_BUDGET=off), so that plogsrvd
// reads PSS at every sample, as procfloor does: the same work (bench/pss.ts
// measures the budget).
//
// Two measurements per size:
// 1. harness: a fresh Node process runs the server's own sampling path
//    (sampleTarget() of src/plog/engine/sampler.ts: log check, ProcessReader,
//    formatLine, appendLine) in a tight loop, after a warm-up, and reports
//    its own CPU (getrusage: every thread, µs). Alternated with procfloor
//    runs of the same number of samples of the same target, REPS times;
//    each run is about --cpu seconds of CPU.
// 2. end to end: a real plogsrvd logs several targets of the size at an
//    interval (so that wakeups are shared as in real use); after --warmup
//    seconds (default 30: a daemon runs for hours, and for its first 20 s or
//    so V8 is still compiling the sampling path and growing its heap, which
//    doubled the figure for a lone target), its CPU (every thread, from the
//    scheduler's ns clock) over --window seconds, three windows, divided by
//    the lines it wrote; the floor is procfloor over the
//    same pids, and also bench/pacedfloor.c: procfloor's very work, one
//    round over the pids at the same interval (cold caches after each
//    sleep, as for any sampler at an interval). With perf, the
//    instructions and cycles per sample of both (the work against the
//    machine's speed at it).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  TOOLS,
  cc,
  LARGE,
  MEDIUM,
  SMALL,
  cpuUs,
  ctxSwitches,
  fmtSpread,
  lineCount,
  machine,
  n0,
  numOpt,
  opt,
  privateTmpSockets,
  procfloor,
  register,
  say,
  selfCpuUs,
  sizeArgs,
  sleep,
  spread,
  startServer,
  startTargets,
  stopServer,
  stopTargets,
  table,
  tempDir,
  type Spread,
  type TargetSize,
} from './lib.js';

const REPS = numOpt('reps', 5);
const CPU_S = numOpt('cpu', 1);
const WINDOW_S = numOpt('window', 6);
const WARMUP_S = numOpt('warmup', 30);
const SIZES = (opt('sizes') ?? 'small,medium,large').split(',');
const PARTS = (opt('parts') ?? 'harness,e2e').split(',');

/** procfloor -r over pids: µs of CPU per sample (its own getrusage). */
function floorRun(pids: number[], rounds: number, out: string): { us: number; samples: number } {
  const o = execFileSync(procfloor(), ['-r', '-o', out, String(rounds), ...pids.map(String)], { encoding: 'utf8' });
  rmSync(out, { force: true });
  const m = /samples (\d+) cpu_s ([\d.]+) us_per_sample ([\d.]+)/.exec(o);
  if (!m) throw new Error(`bench: procfloor said ${o}`);
  return { samples: Number(m[1]), us: Number(m[3]) };
}

/** Instructions and cycles (user + kernel) counted by perf stat, or null without perf. */
interface Counts {
  instructions: number;
  cycles: number;
}
function perfCounts(out: string): Counts | null {
  const get = (ev: string): number => {
    const line = out.split('\n').find((l) => l.split(',')[2]?.startsWith(ev));
    return line ? Number(line.split(',')[0]) : NaN;
  };
  const c = { instructions: get('instructions'), cycles: get('cycles') };
  return Number.isFinite(c.instructions) && Number.isFinite(c.cycles) ? c : null;
}
let havePerf: boolean | null = null;
function perfOk(): boolean {
  if (havePerf === null) {
    const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions,cycles', 'true'], { encoding: 'utf8' });
    havePerf = r.status === 0 && perfCounts(r.stderr) !== null;
  }
  return havePerf;
}
/** perf stat of a running process for `seconds`. */
function perfPid(pid: number, seconds: number): Counts | null {
  if (!perfOk()) return null;
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions,cycles', '-p', String(pid), 'sleep', String(seconds)], { encoding: 'utf8' });
  return perfCounts(r.stderr);
}
/** procfloor under perf stat: counts per sample. */
function perfFloor(pids: number[], rounds: number, out: string): Counts | null {
  if (!perfOk()) return null;
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions,cycles', procfloor(), '-r', '-o', out, String(rounds), ...pids.map(String)], { encoding: 'utf8' });
  rmSync(out, { force: true });
  const c = perfCounts(r.stderr);
  const m = /samples (\d+)/.exec(r.stdout);
  if (!c || !m) return null;
  const n = Number(m[1]);
  return { instructions: c.instructions / n, cycles: c.cycles / n };
}

/** bench/pacedfloor.c: procfloor's work, one round every intervalMs for seconds; µs a sample. */
function pacedRun(pids: number[], intervalMs: number, seconds: number, out: string): number {
  const exe = cc(new URL('../../bench/pacedfloor.c', import.meta.url).pathname, 'pacedfloor', ['-I', TOOLS]);
  const o = execFileSync(exe, [String(intervalMs), String(seconds), '-r', '-o', out, ...pids.map(String)], { encoding: 'utf8' });
  rmSync(out, { force: true });
  const m = /us_per_sample ([\d.]+)/.exec(o);
  if (!m) throw new Error(`bench: pacedfloor said ${o}`);
  return Number(m[1]);
}

/** Rounds of procfloor over pids that take about `seconds` of CPU. */
function calibrate(pids: number[], seconds: number, out: string): number {
  let rounds = 1;
  for (;;) {
    const r = floorRun(pids, rounds, out);
    const cpu = (r.us * r.samples) / 1e6;
    if (cpu >= 0.1 || rounds >= 1 << 24) return Math.max(1, Math.round((rounds * seconds) / Math.max(cpu, 1e-6)));
    rounds *= 4;
  }
}

/** The harness in a fresh process: µs of CPU per sample over `samples` samples. */
function harnessRun(pids: number[], samples: number, dir: string): number {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--harness', dir, String(samples), ...pids.map(String)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`bench: harness failed (${r.status})`);
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  return (JSON.parse(r.stdout) as { us: number }).us;
}

/** Child side of harnessRun(): the server's sampling path in a loop. */
async function harness(): Promise<void> {
  const i = process.argv.indexOf('--harness');
  const dir = process.argv[i + 1]!;
  const samples = Number(process.argv[i + 2]);
  const pids = process.argv.slice(i + 3).map(Number);
  const { ProcessReader } = await import('../src/proc/reader.js');
  const { createLogFile, appendLine } = await import('../src/plog/log/logfile.js');
  const { formatHeader, formatLine } = await import('../src/plog/log/logline.js');
  const { sampleTarget } = await import('../src/plog/engine/sampler.js');
  const { CLK_TCK, pageSizeKb } = await import('../src/proc/system.js');
  const pageKb = pageSizeKb();
  // Registered as plogsrvd does: a log file each, a header, a first line.
  const ts = pids.map((pid) => {
    const reader = ProcessReader.open(pid);
    const first = reader.sample();
    const log = createLogFile(dir, `target.${pid}`);
    appendLine(log.fd, Buffer.from(formatHeader(true)));
    appendLine(log.fd, Buffer.from(formatLine(first, null, { withSeconds: true, pageKb, clkTck: CLK_TCK })));
    return { pid, starttime: first.stat.starttime, reader, log, withSeconds: true, prev: first };
  });
  const loop = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const end = sampleTarget(ts[k % ts.length]!, { pageKb, pssBudget: null }); // Safe PSS off
      if (end) throw new Error(end.why);
    }
  };
  loop(Math.max(ts.length, Math.round(samples / 5))); // warm-up: JIT, buffers
  const c0 = selfCpuUs();
  loop(samples);
  const us = (selfCpuUs() - c0) / samples;
  process.stdout.write(JSON.stringify({ us }) + '\n');
}

interface HarnessResult {
  size: TargetSize;
  floor: Spread;
  ours: Spread;
  ratio: Spread;
  samples: number;
}

async function harnessSize(size: TargetSize, work: string): Promise<HarnessResult> {
  const [t] = await startTargets(size, 1);
  const pids = [t!.pid!];
  const out = join(work, 'floor.out');
  try {
    const rounds = calibrate(pids, CPU_S, out);
    const floors: number[] = [];
    const ours: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < REPS; r++) {
      let f: number;
      let o: number;
      if (r % 2 === 0) {
        f = floorRun(pids, rounds, out).us;
        o = harnessRun(pids, rounds, work);
      } else {
        o = harnessRun(pids, rounds, work);
        f = floorRun(pids, rounds, out).us;
      }
      floors.push(f);
      ours.push(o);
      ratios.push(o / f);
    }
    return { size, floor: spread(floors), ours: spread(ours), ratio: spread(ratios), samples: rounds };
  } finally {
    await stopTargets([t!]);
  }
}

interface E2eConfig {
  size: TargetSize;
  targets: number;
  intervalMs: number;
}
interface E2eResult extends E2eConfig {
  ours: Spread;
  floor: Spread;
  ratio: number;
  /** pacedfloor at the same interval over the same pids. */
  paced: Spread;
  samplesPerS: number;
  wakeupsPerS: number;
  cpuPct: number;
  /** Per sample, from perf stat (null without perf). */
  oursCounts: Counts | null;
  floorCounts: Counts | null;
}

async function e2e(cfg: E2eConfig, work: string): Promise<E2eResult> {
  const ts = await startTargets(cfg.size, cfg.targets);
  const pids = ts.map((c) => c.pid!);
  const dir = tempDir('plog-bench-e2e-');
  const d = await startServer(dir, [], { PLOG_PSS_BUDGET: 'off' });
  try {
    const logs: string[] = [];
    for (const pid of pids) logs.push(await register(dir, pid, cfg.intervalMs));
    await sleep(WARMUP_S * 1000);
    const lines = (): number => logs.reduce((n, p) => n + lineCount(p), 0);
    const per: number[] = [];
    let samples = 0;
    let seconds = 0;
    let wakeups = 0;
    let cpu = 0;
    for (let w = 0; w < 3; w++) {
      const l0 = lines();
      const c0 = cpuUs(d.pid!);
      const x0 = ctxSwitches(d.pid!);
      const t0 = performance.now();
      await sleep(WINDOW_S * 1000);
      const c1 = cpuUs(d.pid!);
      const x1 = ctxSwitches(d.pid!);
      const t1 = performance.now();
      const n = lines() - l0;
      per.push((c1 - c0) / n);
      samples += n;
      seconds += (t1 - t0) / 1000;
      wakeups += x1 - x0;
      cpu += c1 - c0;
    }
    // Instructions and cycles a sample, by perf stat over one more window.
    const pl0 = lines();
    const pc = perfPid(d.pid!, WINDOW_S);
    const pn = lines() - pl0;
    const oursCounts = pc && pn > 0 ? { instructions: pc.instructions / pn, cycles: pc.cycles / pn } : null;
    await stopServer(d);
    const out = join(work, 'floor.out');
    const rounds = calibrate(pids, CPU_S, out);
    const floors = [0, 1, 2].map(() => floorRun(pids, rounds, out).us);
    const floorCounts = perfFloor(pids, rounds, out);
    const paced = spread([0, 1, 2].map(() => pacedRun(pids, cfg.intervalMs, WINDOW_S, out)));
    const ours = spread(per);
    const floor = spread(floors);
    return {
      ...cfg,
      ours,
      floor,
      ratio: ours.median / floor.median,
      samplesPerS: samples / seconds,
      wakeupsPerS: wakeups / seconds,
      cpuPct: cpu / 1e4 / seconds,
      oursCounts,
      floorCounts,
      paced,
    };
  } finally {
    await stopServer(d);
    await stopTargets(ts);
    rmSync(dir, { recursive: true, force: true });
  }
}

const GOAL: Record<string, number> = { small: 2, medium: 1.25, large: 1.25 };

async function main(): Promise<void> {
  privateTmpSockets();
  const work = tempDir('plog-bench-sampler-');
  const sizes = [SMALL, MEDIUM, LARGE].filter((s) => SIZES.includes(s.name));
  const hr: HarnessResult[] = [];
  if (PARTS.includes('harness')) for (const s of sizes) hr.push(await harnessSize(s, work));
  const configs: E2eConfig[] = [];
  if (PARTS.includes('e2e')) {
    if (SIZES.includes('small')) configs.push({ size: SMALL, targets: 1, intervalMs: 10 }, { size: SMALL, targets: 100, intervalMs: 100 });
    if (SIZES.includes('medium')) configs.push({ size: MEDIUM, targets: 10, intervalMs: 100 });
    if (SIZES.includes('large')) configs.push({ size: LARGE, targets: 2, intervalMs: 250 });
  }
  const er: E2eResult[] = [];
  for (const c of configs) er.push(await e2e(c, work));

  say(`\n### Sampler: CPU per sample against procfloor -r\n\nMachine: ${machine()}\n`);
  say(`Command: node dist/bench/sampler.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\n\n`);
  if (hr.length > 0) say(`Harness (the server's sampleTarget() in a loop, ${REPS} runs alternating with procfloor, each about ${CPU_S} s of CPU; median (min-max)):\n\n`);
  if (hr.length > 0)
    say(
      table(
        ['target', 'samples a run', 'procfloor -r µs/sample', 'plog µs/sample', 'ratio', 'goal'],
        hr.map((r) => [
          `${r.size.name} (\`${sizeArgs(r.size)}\`)`,
          n0(r.samples),
          fmtSpread(r.floor, r.floor.median < 100 ? 1 : 0),
          fmtSpread(r.ours, r.ours.median < 100 ? 1 : 0),
          fmtSpread(r.ratio, 2),
          `≤ ${GOAL[r.size.name]}x: ${r.ratio.median <= GOAL[r.size.name]! ? 'met' : 'NOT met'}`,
        ]),
      ),
    );
  if (er.length > 0)
    say(`\nEnd to end (a real plogsrvd, ${3} windows of ${WINDOW_S} s after ${WARMUP_S} s of warm-up; its CPU, every thread, over the lines it wrote; floor: procfloor over the same pids):\n\n`);
  if (er.length > 0)
    say(
      table(
        [
          'targets',
          'samples/s',
          'plogsrvd CPU',
          'wakeups/s',
          'procfloor µs/sample',
          'plogsrvd µs/sample',
          'ratio',
          'pacedfloor µs/sample (ratio)',
          'instructions/sample: procfloor / plogsrvd (ratio)',
          'instructions per cycle: procfloor / plogsrvd',
        ],
        er.map((r) => [
          `${r.targets} x ${r.size.name} at ${r.intervalMs} ms`,
          n0(r.samplesPerS),
          `${r.cpuPct.toFixed(1)}%`,
          n0(r.wakeupsPerS),
          r.floor.median.toFixed(r.floor.median < 100 ? 1 : 0),
          fmtSpread(r.ours, r.ours.median < 100 ? 1 : 0),
          r.ratio.toFixed(2),
          `${r.paced.median.toFixed(r.paced.median < 100 ? 1 : 0)} (${(r.ours.median / r.paced.median).toFixed(2)})`,
          r.oursCounts && r.floorCounts ? `${n0(r.floorCounts.instructions)} / ${n0(r.oursCounts.instructions)} (${(r.oursCounts.instructions / r.floorCounts.instructions).toFixed(2)})` : 'no perf',
          r.oursCounts && r.floorCounts ? `${(r.floorCounts.instructions / r.floorCounts.cycles).toFixed(2)} / ${(r.oursCounts.instructions / r.oursCounts.cycles).toFixed(2)}` : '',
        ]),
      ),
    );
}

if (process.argv.includes('--harness')) {
  await harness();
} else {
  await main();
}
