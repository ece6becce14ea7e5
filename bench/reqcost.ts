// What a request costs plogsrvd: its CPU for another user's `plog -q pid`
// (a {0, 2}) asked one at a time, every --every ms (default 20), by a client
// as nobody (bench/hostask.ts), against the same server's CPU with nobody
// asking (measured just before, as long). plogsrvd runs as root with -m
// world and logs nothing: what is left is the request's own path (receive,
// the rate limit, the sender's socket walked and checked, the reply).
//
//   npx tsc -p . && node dist/bench/reqcost.js [--every MS] [--seconds N] [--runs N]
//
// CPU is the scheduler's ns clock of every thread of the server.
import { askAs, atExit, cpuUs, fmtSpread, machine, note, numOpt, privateTmpSockets, quantile, say, sleep, spread, startServer, stopServer, table, tempDir } from './lib.js';

const NOBODY = 65534;
const EVERY = numOpt('every', 20);
const SECONDS = numOpt('seconds', 20);
const RUNS = numOpt('runs', 3);

/** The server's CPU (µs) over the next secs seconds, and that time (s). */
async function cpuOver(pid: number, run: () => Promise<unknown>): Promise<{ us: number; secs: number }> {
  const c0 = cpuUs(pid);
  const t0 = performance.now();
  await run();
  return { us: cpuUs(pid) - c0, secs: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const tmp = privateTmpSockets();
  const perRequest: number[] = [];
  const idleShare: number[] = [];
  const rtts: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const dir = tempDir('plog-bench-reqcost-');
    const d = await startServer(dir, ['-m', 'world']);
    atExit(() => d.kill('SIGKILL'));
    await sleep(2000); // past its start-up
    const idle = await cpuOver(d.pid!, () => sleep(SECONDS * 1000));
    let rtt: number[] = [];
    const busy = await cpuOver(d.pid!, async () => (rtt = await askAs(NOBODY, dir, SECONDS, tmp, EVERY)));
    await stopServer(d);
    const extra = busy.us - (idle.us / idle.secs) * busy.secs;
    perRequest.push(extra / rtt.length);
    idleShare.push(idle.us / idle.secs / 1e4);
    rtts.push(...rtt);
    note(`run ${r + 1}: ${rtt.length} requests, ${(extra / rtt.length).toFixed(0)} µs of the server's CPU each`);
  }
  say(`### What a request costs plogsrvd\n\nMachine: ${machine()}\n\nCommand: node dist/bench/reqcost.js --every ${EVERY} --seconds ${SECONDS} --runs ${RUNS}\n\n`);
  say(
    table(
      ['measure', 'value'],
      [
        [`server CPU a request beyond its idle (one client as nobody, a request every ${EVERY} ms): median (range) of ${RUNS}`, `${fmtSpread(spread(perRequest), 0)} µs`],
        ['the server idle, share of a core: median (range)', `${fmtSpread(spread(idleShare), 2)} %`],
        ['round trip p50 / p99', `${quantile(rtts, 0.5).toFixed(2)} / ${quantile(rtts, 0.99).toFixed(2)} ms`],
      ],
    ),
  );
}

await main();
