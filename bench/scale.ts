// The scale benchmark: 2,000 target processes logged every second by one
// plogsrvd. Its CPU against procfloor for the same samples, the schedule's
// lag, its memory, and request round trips while it works.
//
//   npx tsc -p . && node dist/bench/scale.js [--targets N] [--interval MS] [--window SECONDS]
//
// - Targets: `target 1 1` processes; half run as root, half as nobody
//   (plogsrvd takes at most 1024 logs per requesting uid), each half
//   registered by a client of its own uid (bench/register.ts under setpriv
//   for nobody), one request at a time.
// - CPU: plogsrvd's (every thread, the scheduler's ns clock) over the
//   window, divided by the lines written in it; the floor is procfloor -r
//   over the same 2,000 pids (three runs of about a second of CPU each).
// - Lag: every 200 ms this process stats every log; each new mtime is a
//   line just written. Its lateness is (mtime - the log's birth time) modulo
//   the interval: the schedule is due at registration + k x interval, and
//   the log is born at registration. So it counts everything from the due
//   time to the line being in the file, including the up to 10 ms by which
//   the server may align a new log's schedule to share wakeups.
// - Memory: VmRSS at the end of the window and VmHWM (the peak).
import { spawn } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RTT_HEAD, roundTrips, rttRow } from './requests.js';
import {
  SMALL,
  cpuUs,
  ctxSwitches,
  fmtSpread,
  lineCount,
  machine,
  n0,
  numOpt,
  privateTmpSockets,
  procfloor,
  quantile,
  register,
  say,
  sleep,
  spread,
  startServer,
  startTargets,
  statusKb,
  stopServer,
  stopTargets,
  table,
  tempDir,
  note,
} from './lib.js';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const NOBODY = 65534;

function registerAs(uid: number, dir: string, ms: number, pids: number[], tmp: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, new URL('./register.js', import.meta.url).pathname, dir, String(ms), ...pids.map(String)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PLOG_TMPDIR: tmp },
    });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`bench: register.js as uid ${uid} exited ${code}`))));
  });
}

function floorUs(pids: number[], work: string): number[] {
  const out = join(work, 'floor.out');
  const run = (rounds: number): { us: number; samples: number } => {
    const o = execFileSync(procfloor(), ['-r', '-o', out, String(rounds), ...pids.map(String)], { encoding: 'utf8' });
    rmSync(out, { force: true });
    const m = /samples (\d+) cpu_s ([\d.]+) us_per_sample ([\d.]+)/.exec(o)!;
    return { samples: Number(m[1]), us: Number(m[3]) };
  };
  const first = run(2);
  const rounds = Math.max(2, Math.round(1e6 / (first.us * pids.length)));
  return [0, 1, 2].map(() => run(rounds).us);
}

async function main(): Promise<void> {
  const tmp = privateTmpSockets();
  const N = numOpt('targets', 2000);
  const MS = numOpt('interval', 1000);
  const WINDOW = numOpt('window', 20);
  const work = tempDir('plog-bench-scale-');
  const dir = tempDir('plog-bench-scale-dir-');
  chmodSync(dir, 0o755);
  const half = Math.floor(N / 2);
  note(`starting ${N} targets`);
  const mine = await startTargets(SMALL, N - half);
  const theirs = await startTargets(SMALL, half, NOBODY);
  // PSS at every sample, as procfloor reads it (small targets: the budget would read it anyway).
  const d = await startServer(dir, ['-m', 'world'], { PLOG_PSS_BUDGET: 'off' });
  try {
    note('registering');
    const t0 = performance.now();
    const logs: string[] = [];
    const nobodyLogs = registerAs(
      NOBODY,
      dir,
      MS,
      theirs.map((c) => c.pid!),
      tmp,
    );
    for (const c of mine) logs.push(await register(dir, c.pid!, MS));
    logs.push(...(await nobodyLogs));
    const regS = (performance.now() - t0) / 1000;
    const born = logs.map((p) => statSync(p, { bigint: true }).birthtimeNs);
    if (born.some((b) => b === 0n)) throw new Error('bench: no birth times on this file system');
    note(`registered ${logs.length} in ${regS.toFixed(1)} s; warming up`);
    await sleep(5000);

    const seen = logs.map(() => 0n);
    const lags: number[] = [];
    const observe = (): void => {
      for (let i = 0; i < logs.length; i++) {
        let m: bigint;
        try {
          m = statSync(logs[i]!, { bigint: true }).mtimeNs;
        } catch {
          continue;
        }
        if (m === seen[i]) continue;
        seen[i] = m;
        let lag = Number((m - born[i]!) % BigInt(MS * 1e6)) / 1e6;
        if (lag > MS / 2) lag -= MS;
        lags.push(lag);
      }
    };
    observe();
    lags.length = 0;
    const lines = (): number => logs.reduce((n, p) => n + lineCount(p), 0);
    const l0 = lines();
    const c0 = cpuUs(d.pid!);
    const x0 = ctxSwitches(d.pid!);
    const w0 = performance.now();
    while (performance.now() - w0 < WINDOW * 1000) {
      await sleep(200);
      observe();
    }
    const c1 = cpuUs(d.pid!);
    const x1 = ctxSwitches(d.pid!);
    const w1 = performance.now();
    const rss = statusKb(d.pid!, 'VmRSS');
    const hwm = statusKb(d.pid!, 'VmHWM');
    const samples = lines() - l0;
    const secs = (w1 - w0) / 1000;
    const perSample = (c1 - c0) / samples;
    note('round trips under load');
    const rt = await roundTrips(dir, 100, 20);
    await stopServer(d);
    note('floor');
    const floor = spread(
      floorUs(
        [...mine, ...theirs].map((c) => c.pid!),
        work,
      ),
    );
    const ratio = perSample / floor.median;
    const due = (N * secs * 1000) / MS;

    say(`\n### Scale: ${n0(N)} targets at ${MS} ms in one plogsrvd\n\nMachine: ${machine()}\n`);
    say(`Command: node dist/bench/scale.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\n\n`);
    say(
      table(
        ['measure', 'value', 'goal'],
        [
          ['registration of all targets', `${regS.toFixed(1)} s`, ''],
          ['samples in the window', `${n0(samples)} in ${secs.toFixed(1)} s (${((samples / due) * 100).toFixed(1)}% of those due)`, ''],
          ['plogsrvd CPU', `${((c1 - c0) / 1e4 / secs).toFixed(1)}% of a core; ${perSample.toFixed(1)} µs a sample`, ''],
          ['procfloor -r, same pids', `${fmtSpread(floor)} µs a sample`, ''],
          ['CPU against the floor', `${ratio.toFixed(2)}x`, `≤ 1.5x: ${ratio <= 1.5 ? 'met' : 'NOT met'}`],
          ['wakeups (context switches)', `${n0((x1 - x0) / secs)}/s`, ''],
          [
            'lag p50 / p99 / max',
            `${quantile(lags, 0.5).toFixed(1)} / ${quantile(lags, 0.99).toFixed(1)} / ${quantile(lags, 1).toFixed(1)} ms (${n0(lags.length)} lines seen)`,
            `p99 < 50 ms: ${quantile(lags, 0.99) < 50 ? 'met' : 'NOT met'}`,
          ],
          ['RSS at the end / peak', `${(rss / 1024).toFixed(1)} / ${(hwm / 1024).toFixed(1)} MB`, `< 80 MB: ${hwm / 1024 < 80 ? 'met' : 'NOT met'}`],
        ],
        ['---', '---', '---'],
      ),
    );
    say(`\nRound trips under this load ({0, 2}, 100 clients at once, 20 each):\n\n`);
    say(table(RTT_HEAD, [rttRow(`${n0(N)} logs at ${MS} ms`, rt)]));
  } finally {
    await stopServer(d);
    await stopTargets([...mine, ...theirs]);
  }
}

await main();
