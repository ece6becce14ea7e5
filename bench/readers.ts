// What a sample costs the reader alone (src/proc/reader.ts: stat, statm,
// smaps_rollup and maps read and parsed), its four descriptors kept or lean
// (one descriptor of /proc/PID, each file opened, read and closed through
// it at each sample), against procfloor -r over the same processes: the
// part of plogsrvd's cost a sample that is /proc, apart from the rest (the
// row, the schedule, the scans, requests).
//
//   npx tsc -p . && node dist/bench/readers.js [--targets N] [--seconds S] [--runs N]
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
import { fmtSpread, machine, n0, note, numOpt, procfloor, say, spread, startMany, table } from './lib.js';

const TARGETS = numOpt('targets', 2000);
const SECONDS = numOpt('seconds', 10);
const RUNS = numOpt('runs', 3);

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Sample every pid in a loop for SECONDS with readers kept or lean: µs of CPU a sample. */
function readersUs(pids: number[], lean: boolean): number {
  const readers = pids.map((p) => ProcessReader.open(p, { lean }));
  const last = new Map<ProcessReader, RawSample>();
  for (const r of readers) last.set(r, r.sample());
  const c0 = cpuUs();
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (const r of readers) {
      last.set(r, r.sample(last.get(r)));
      n++;
    }
  }
  const us = (cpuUs() - c0) / n;
  for (const r of readers) r.close();
  return us;
}

/** procfloor -r over pids for about SECONDS of CPU, given what a sample cost the readers: µs a sample. */
function floorUs(pids: number[], guessUs: number): number {
  const rounds = Math.max(1, Math.round((SECONDS * 1e6) / (guessUs * pids.length)));
  const o = execFileSync(procfloor(), ['-r', String(rounds), ...pids.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return Number(/us_per_sample ([\d.]+)/.exec(o)![1]);
}

async function main(): Promise<void> {
  note(`starting ${TARGETS} targets`);
  const pids = (await startMany(TARGETS)).pids;
  const kept: number[] = [];
  const lean: number[] = [];
  const floor: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    kept.push(readersUs(pids, false));
    lean.push(readersUs(pids, true));
    floor.push(floorUs(pids, kept.at(-1)!));
    note(`run ${r + 1}: kept ${kept.at(-1)!.toFixed(1)}, lean ${lean.at(-1)!.toFixed(1)}, procfloor -r ${floor.at(-1)!.toFixed(1)} µs a sample`);
  }
  const ratio = (xs: number[]): string => fmtSpread(spread(xs.map((x, i) => x / floor[i]!)), 2);
  say(`\n### The reader alone: descriptors kept or lean, against procfloor\n\nMachine: ${machine()}\n\n`);
  say(`Command: node dist/bench/readers.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''} (${n0(TARGETS)} targets, ${SECONDS} s a turn, ${RUNS} runs)\n\n`);
  say(
    table(
      ['reader', 'µs a sample: median (range)', 'against procfloor -r in the same run'],
      [
        ['four descriptors kept (pread)', fmtSpread(spread(kept)), `${ratio(kept)}x`],
        ['lean: one descriptor, each file opened through it (openat, read, close)', fmtSpread(spread(lean)), `${ratio(lean)}x`],
        ['procfloor -r (open by path, read, close; C)', fmtSpread(spread(floor)), ''],
      ],
    ),
  );
}

await main();
