// What a sample costs the reader alone (src/proc/reader.ts: stat, statm,
// smaps_rollup and maps read and parsed), its four descriptors kept or lean
// (one descriptor of /proc/PID, each file opened, read and closed through
// it at each sample), against procfloor -r over the same processes: the
// part of plogsrvd's cost a sample that is /proc, apart from the rest (the
// row, the schedule, the scans, requests).
//
//   npx tsc -p . && node dist/bench/readers.js [--targets N] [--seconds S] [--runs N] [--modes kept,lean,host]
//
// - Targets: N (default 2,000) `target 1 0` processes (one mapping, one
//   page: a host's many small processes).
// - Each run takes, in turn, S seconds (default 10) of samples with kept
//   descriptors, S of lean ones (every target sampled in a loop, a sample
//   reusing the one before it, as the server does), then procfloor -r over
//   the same pids for about as long: CPU of this process (or procfloor's)
//   over the samples taken. The turns of a run share the machine's moment.
import { execFileSync } from 'node:child_process';
import { ProcessReader, type RawSample } from '../src/proc/reader.js';
import { HostLog } from '../src/plog/ops/host.js';
import { sampleTarget, type SampledTarget } from '../src/plog/engine/sampler.js';
import { DEFAULT_PSS_BUDGET } from '../src/plog/engine/pss-budget.js';
import { pageSizeKb } from '../src/proc/system.js';
import { fmtSpread, machine, n0, note, numOpt, opt, procfloor, say, spread, startMany, table, tempDir } from './lib.js';

const TARGETS = numOpt('targets', 2000);
const SECONDS = numOpt('seconds', 10);
const RUNS = numOpt('runs', 3);
/** Which samplers run (kept, lean, host): four descriptors a process do not fit the limit at 10,000. */
const MODES = new Set((opt('modes') ?? 'kept,lean,host').split(','));

/** µs a sample: all, and its user and system parts. */
interface Cost {
  all: number;
  user: number;
  sys: number;
}

function costSince(c0: NodeJS.CpuUsage, n: number): Cost {
  const u = process.cpuUsage(c0);
  return { all: (u.user + u.system) / n, user: u.user / n, sys: u.system / n };
}

/** Samples taken in turns of this many, as the server's schedule takes the host's (a batch of rows written at each turn's end). */
const TURN = 50;

/** Sample every pid in a loop for SECONDS with readers kept or lean: µs of CPU a sample. */
function readersUs(pids: number[], lean: boolean): Cost {
  const readers = pids.map((p) => ProcessReader.open(p, { lean }));
  const last = new Map<ProcessReader, RawSample>();
  for (const r of readers) last.set(r, r.sample());
  const c0 = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (const r of readers) {
      last.set(r, r.sample(last.get(r)));
      n++;
    }
  }
  const cost = costSince(c0, n);
  for (const r of readers) r.close();
  return cost;
}

/**
 * The whole host's sampling path on lean readers (src/plog/engine/sampler.ts
 * sampleTarget: the log's check, the reader, the pid's check, the host log's
 * row into its batch), the batch written every TURN samples: what the
 * server does at each sample, less its schedule, scans and requests.
 */
function hostPathUs(pids: number[], dir: string): Cost {
  const log = new HostLog(dir);
  const targets: SampledTarget[] = pids.map((pid) => {
    const reader = ProcessReader.open(pid, { lean: true });
    const first = reader.sample();
    return {
      pid,
      starttime: first.stat.starttime,
      reader,
      log: log.file,
      sharedLog: true,
      withSeconds: false,
      prev: first,
      machine: { format: 'csv', head: () => '', line: (s: RawSample, prev: RawSample) => log.row(pid, s, prev), close: () => {} },
      ownerUid: 0,
    };
  });
  const o = { pageKb: pageSizeKb(), pssBudget: DEFAULT_PSS_BUDGET };
  const c0 = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (const t of targets) {
      const why = sampleTarget(t, o);
      if (why) throw new Error(why.why);
      if (++n % TURN === 0) log.file.batch!.flush();
    }
  }
  log.file.batch!.flush();
  const cost = costSince(c0, n);
  for (const t of targets) t.reader.close();
  log.close();
  return cost;
}

/** procfloor -r over pids for about SECONDS of CPU, given what a sample cost the readers: µs a sample (user and system from the shell's times). */
function floorUs(pids: number[], guessUs: number): Cost {
  const rounds = Math.max(1, Math.round((SECONDS * 1e6) / (guessUs * pids.length)));
  // The floor's own count of samples and CPU, and the shell's split of it (times: its children's user and system).
  const o = execFileSync('sh', ['-c', '"$@" && times', 'sh', procfloor(), '-r', String(rounds), ...pids.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const all = Number(/us_per_sample ([\d.]+)/.exec(o)![1]);
  const samples = Number(/samples (\d+)/.exec(o)![1]);
  const t = [...o.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  // times: the shell's own user and system, then its children's.
  const user = ((t[2] ?? 0) * 1e6) / samples;
  const sys = ((t[3] ?? 0) * 1e6) / samples;
  return { all, user, sys };
}

async function main(): Promise<void> {
  note(`starting ${TARGETS} targets`);
  const many = await startMany(TARGETS);
  const pids = many.pids;
  const dir = tempDir('plog-readers-');
  const kept: Cost[] = [];
  const lean: Cost[] = [];
  const host: Cost[] = [];
  const floor: Cost[] = [];
  const f = (c: Cost): string => `${c.all.toFixed(1)} (user ${c.user.toFixed(1)}, system ${c.sys.toFixed(1)})`;
  for (let r = 0; r < RUNS; r++) {
    if (MODES.has('kept')) kept.push(readersUs(pids, false));
    if (MODES.has('lean')) lean.push(readersUs(pids, true));
    if (MODES.has('host')) host.push(hostPathUs(pids, dir));
    floor.push(floorUs(pids, 70));
    const last = (xs: Cost[]): string => (xs.length > r ? f(xs[r]!) : '-');
    note(`run ${r + 1}: kept ${last(kept)}, lean ${last(lean)}, host path ${last(host)}, procfloor -r ${f(floor[r]!)} µs a sample`);
  }
  const ratio = (xs: Cost[]): string => fmtSpread(spread(xs.map((x, i) => x.all / floor[i]!.all)), 2);
  const part = (xs: Cost[], k: keyof Cost): string => fmtSpread(spread(xs.map((x) => x[k])));
  const row = (name: string, xs: Cost[], vs: boolean): string[] => [name, part(xs, 'all'), part(xs, 'user'), part(xs, 'sys'), vs ? `${ratio(xs)}x` : ''];
  say(`\n### The reader alone: descriptors kept or lean, against procfloor\n\nMachine: ${machine()}\n\n`);
  say(`Command: node dist/bench/readers.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''} (${n0(TARGETS)} targets, ${SECONDS} s a turn, ${RUNS} runs)\n\n`);
  say(
    table(
      ['reader', 'µs a sample: median (range)', 'user', 'system', 'against procfloor -r in the same run'],
      [
        ...(kept.length ? [row('four descriptors kept (pread)', kept, true)] : []),
        ...(lean.length ? [row('lean: one descriptor, each file opened through it (openat, read, close)', lean, true)] : []),
        ...(host.length ? [row("lean, the host's whole sampling path (checks, row, a write every 50 rows)", host, true)] : []),
        row('procfloor -r (open by path, read, close; C)', floor, false),
      ],
    ),
  );
  // Their shell waits for them: the bench ends once they do.
  many.stop();
}

await main();
