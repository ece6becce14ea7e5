// The whole-host benchmark: root's `plog -r .` (every process of the
// machine, src/plog/ops/host.ts) in one plogsrvd, against procfloor over the
// same pids in the same run.
//
//   npx tsc -p . && node dist/bench/host.js [--phases 10000@10000,5000@1000] [--window SECONDS] [--churn N] [--ask-every MS] [--floor-runs N]
//
// - Targets: `target 1 0` processes (one mapping, one page: a host's many
//   small processes), half as root, half as nobody; kernel.pid_max and
//   kernel.threads-max are raised when they would not allow them, and put
//   back at the end. A phase N@MS logs the whole host (N targets and what
//   else runs) every MS.
// - CPU: plogsrvd's (every thread, the scheduler's ns clock) over the window
//   divided by the rows written in it; the floor is procfloor -r over the
//   same pids, --floor-runs rounds (default 6) spread over the window, one
//   at a time, beside the server: the goal's ratio is against their CPU
//   over their samples. Three runs of about a second of CPU each after the
//   window are shown too (a floor measured at another moment).
// - Lag: a row's epoch_ms (when its sample began) against its process's
//   schedule: (epoch_ms - that process's first row) modulo the interval (the
//   schedule is due at registration + k x interval, up to 10 ms of grid
//   alignment included).
// - Memory: VmRSS at the end of the window and VmHWM (the peak); its
//   descriptors (/proc/PID/fd).
// - Other users: a client as nobody (bench/hostask.ts) asks `plog -q pid`
//   every --ask-every ms (default 20) through the window; its round trips.
//   --ask-every 0: nobody asks (what the requests cost is the difference).
// - Before the phases, what the choice of one log against a log a process
//   rests on: appending a line to each of 10,000 files (descriptors kept;
//   or opened, checked and closed at each line) against 10,000 lines to one
//   file, in this process.
// - Churn (a build): --churn N processes that each live about 3 s, started
//   in bursts of 250 (sleep 3) while the whole host is logged every second: how soon
//   each is in the host log; and the two means of finding them: the /proc
//   scan a second (its CPU, measured in this process as the server does
//   it) against the kernel's process connector (bench/procconn.c, every
//   fork, exec and exit event received, its CPU).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { request } from '../src/plog/client.js';
import { encodeSelect } from '../src/plog/protocol.js';
import {
  askAs,
  startMany,
  atExit,
  cc,
  cpuUs,
  fmtSpread,
  machine,
  n0,
  note,
  numOpt,
  opt,
  privateTmpSockets,
  procfloor,
  quantile,
  say,
  selfCpuUs,
  sleep,
  spread,
  startServer,
  statusKb,
  stopServer,
  table,
  tempDir,
  TOOLS,
} from './lib.js';

const NOBODY = 65534;

const cpuNow = selfCpuUs;

/** Raise a sysctl to at least `want` for this run; put back at exit. */
function atLeast(path: string, want: number): void {
  const had = Number(readFileSync(path, 'latin1').trim());
  if (had >= want) return;
  writeFileSync(path, String(want));
  note(`${path}: ${had} -> ${want} for this run`);
  atExit(() => writeFileSync(path, String(had)));
}

/** bench/pacedfloor.c over pids: procfloor's work one round every ms for seconds; µs a sample. */
function pacedUs(pids: number[], ms: number, seconds: number, work: string): number {
  const exe = cc(new URL('../../bench/pacedfloor.c', import.meta.url).pathname, 'pacedfloor', ['-I', TOOLS]);
  const out = join(work, 'paced.out');
  const o = execFileSync(exe, [String(ms), String(seconds), '-r', '-o', out, ...pids.map(String)], { encoding: 'utf8' });
  rmSync(out, { force: true });
  return Number(/us_per_sample ([\d.]+)/.exec(o)![1]);
}

/** One procfloor -r run over pids, one round, in the background (the bench's loop goes on): [samples, CPU µs]. */
function floorRound(pids: number[], work: string, k: number): Promise<[number, number]> {
  const out = join(work, `floor-in-window-${k}.out`);
  return new Promise((resolve, reject) => {
    execFile(procfloor(), ['-r', '-o', out, '1', ...pids.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 }, (err, o) => {
      rmSync(out, { force: true });
      if (err) return reject(new Error(`bench: procfloor: ${err.message}`));
      const m = /samples (\d+) cpu_s ([\d.]+)/.exec(o);
      if (!m) return reject(new Error(`bench: procfloor said ${o}`));
      resolve([Number(m[1]), Number(m[2]) * 1e6]);
    });
  });
}

function floorUs(pids: number[], work: string): number[] {
  const out = join(work, 'floor.out');
  const run = (rounds: number): number => {
    const o = execFileSync(procfloor(), ['-r', '-o', out, String(rounds), ...pids.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    rmSync(out, { force: true });
    return Number(/us_per_sample ([\d.]+)/.exec(o)![1]);
  };
  const first = run(1);
  const rounds = Math.max(1, Math.round(1e6 / (first * pids.length)));
  return [0, 1, 2].map(() => run(rounds));
}

/** The rows of a host log appended since `from` (byte offset): [pid, epoch_ms]; and the new offset. */
function rowsSince(path: string, from: number): { rows: Array<[number, number]>; next: number } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size - from);
    let n = 0;
    while (n < buf.length) {
      const k = readSync(fd, buf, n, buf.length - n, from + n);
      if (k === 0) break;
      n += k;
    }
    const text = buf.subarray(0, n).toString('latin1');
    const end = text.lastIndexOf('\n') + 1;
    const rows: Array<[number, number]> = [];
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '' || line.startsWith('#') || line.startsWith('pid,')) continue;
      const a = line.indexOf(',');
      const b = line.indexOf(',', a + 1);
      rows.push([Number(line.slice(0, a)), Number(line.slice(a + 1, b))]);
    }
    return { rows, next: from + end };
  } finally {
    closeSync(fd);
  }
}

/** µs a line: 10,000 files with kept descriptors (fstat + write, as a log a process), reopened each line, and one file. */
function writeCosts(): { kept: number; reopened: number; one: number } {
  const N = 10_000;
  const R = 5;
  const d = mkdtempSync(join(tempDir('plog-bench-host-w-'), 'w'));
  const line = '2026-12-04T10:28:52.990+00:00,1796380132990,S,20,0,0,1,132,0,2990080,1802240,93.86,113664,0,364544,364544\n';
  const fds: number[] = [];
  for (let i = 0; i < N; i++) fds.push(openSync(join(d, `f${i}`), C.O_WRONLY | C.O_CREAT | C.O_APPEND, 0o644));
  let c = cpuNow();
  for (let r = 0; r < R; r++) {
    for (const fd of fds) {
      fstatSync(fd);
      writeSync(fd, line);
    }
  }
  const kept = (cpuNow() - c) / (N * R);
  for (const fd of fds) closeSync(fd);
  c = cpuNow();
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < N; i++) {
      const fd = openSync(join(d, `f${i}`), C.O_WRONLY | C.O_APPEND | C.O_NOFOLLOW | C.O_NONBLOCK);
      fstatSync(fd);
      writeSync(fd, line);
      closeSync(fd);
    }
  }
  const reopened = (cpuNow() - c) / (N * R);
  const one = openSync(join(d, 'host'), C.O_WRONLY | C.O_CREAT | C.O_APPEND, 0o644);
  c = cpuNow();
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < N; i++) {
      fstatSync(one);
      writeSync(one, line);
    }
  }
  const oneUs = (cpuNow() - c) / (N * R);
  closeSync(one);
  rmSync(d, { recursive: true, force: true });
  return { kept, reopened, one: oneUs };
}

/** µs of one /proc scan as the whole-host selection does it when nothing is new: readdir, the pids, the seen map. */
function scanCost(): { us: number; pids: number } {
  const seen = new Map<number, number>();
  const once = (): number => {
    const pids = new Set<number>();
    for (const n of readdirSync('/proc')) {
      const ch = n.charCodeAt(0);
      if (ch >= 48 && ch <= 57) pids.add(Number(n));
    }
    for (const pid of seen.keys()) if (!pids.has(pid)) seen.delete(pid);
    for (const pid of pids) if (!seen.has(pid)) seen.set(pid, -1);
    return pids.size;
  };
  once();
  const c = cpuNow();
  let n = 0;
  for (let i = 0; i < 20; i++) n = once();
  return { us: (cpuNow() - c) / 20, pids: n };
}

interface Phase {
  n: number;
  ms: number;
}

async function main(): Promise<void> {
  const tmp = privateTmpSockets();
  const phases: Phase[] = (opt('phases') ?? '10000@10000,5000@1000').split(',').map((p) => {
    const [n, ms] = p.split('@').map(Number);
    return { n: n!, ms: ms! };
  });
  const WINDOW = numOpt('window', 30);
  const CHURN = numOpt('churn', 2000, true);
  const ASK_EVERY = numOpt('ask-every', 20, true);
  const FLOOR_RUNS = numOpt('floor-runs', 6);
  const max = Math.max(...phases.map((p) => p.n));
  const here = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  atLeast('/proc/sys/kernel/pid_max', Math.max(32768, 2 * (max + here + CHURN + 4096)));
  atLeast('/proc/sys/kernel/threads-max', 4 * (max + here + CHURN + 4096));
  const work = tempDir('plog-bench-host-');

  note('writes: 10,000 files against one');
  const w = writeCosts();

  note(`starting ${max} targets`);
  const half = Math.floor(max / 2);
  const mine = await startMany(max - half);
  const theirs = await startMany(half, NOBODY);
  const results: string[][] = [];
  let churnText = '';
  try {
    for (const ph of phases) {
      // Trim the targets to this phase's number, half and half.
      mine.stop(ph.n - Math.floor(ph.n / 2));
      theirs.stop(Math.floor(ph.n / 2));
      const dir = tempDir('plog-bench-host-dir-');
      const d = await startServer(dir, ['-m', 'world'], { PLOG_PSS_BUDGET: 'off' });
      try {
        note(`${ph.n} targets every ${ph.ms} ms: selecting the whole host`);
        const t0 = performance.now();
        const [reply] = await request(dir, encodeSelect('.', true, ph.ms), { timeoutMs: 600_000 });
        const regS = (performance.now() - t0) / 1000;
        const m = / to (\/.*)\.$/.exec(reply ?? '');
        if (!m) throw new Error(`bench: plogsrvd said ${reply}`);
        const log = m[1]!;
        const warm = Math.max(5000, 2 * ph.ms + 2000);
        note(`${reply}; warming up ${warm / 1000} s`);
        await sleep(warm);
        const first = new Map<number, number>();
        let at = 0;
        const take = (): Array<[number, number]> => {
          const r = rowsSince(log, at);
          at = r.next;
          for (const [pid, t] of r.rows) if (!first.has(pid)) first.set(pid, t);
          return r.rows;
        };
        take();
        const window = Math.max(WINDOW, (3 * ph.ms) / 1000);
        const c0 = cpuUs(d.pid!);
        const w0 = performance.now();
        const asks = askAs(NOBODY, dir, window, tmp, ASK_EVERY);
        const rows: Array<[number, number]> = [];
        // The floor in the window too: FLOOR_RUNS rounds of procfloor over
        // the pids, spread over it. This machine's speed moves by a quarter
        // within seconds (procfloor alone: 64 to 92 µs a sample between
        // runs), so a floor taken only after the window measures another
        // moment than the server's; rounds at the same moments as its
        // samples see the same machine.
        const known = [...first.keys()];
        const inWindow: Array<Promise<[number, number]>> = [];
        let floorAt = w0 + (window * 1000) / FLOOR_RUNS / 2;
        while (performance.now() - w0 < window * 1000) {
          await sleep(500);
          rows.push(...take());
          if (performance.now() >= floorAt && inWindow.length < FLOOR_RUNS) {
            floorAt += (window * 1000) / FLOOR_RUNS;
            await Promise.all(inWindow); // one at a time
            inWindow.push(floorRound(known, work, inWindow.length));
          }
        }
        const c1 = cpuUs(d.pid!);
        const rounds = await Promise.all(inWindow);
        const secs = (performance.now() - w0) / 1000;
        const rss = statusKb(d.pid!, 'VmRSS');
        const hwm = statusKb(d.pid!, 'VmHWM');
        const fds = readdirSync(`/proc/${d.pid}/fd`).length;
        const rtt = await asks;
        const lags = rows.map(([pid, t]) => {
          let lag = (t - first.get(pid)!) % ph.ms;
          if (lag > ph.ms / 2) lag -= ph.ms;
          return lag;
        });
        const pids = [...new Set(rows.map(([pid]) => pid))];
        const perSample = (c1 - c0) / rows.length;
        await stopServer(d);
        note('floor');
        const alive = pids.filter((p) => {
          try {
            readFileSync(`/proc/${p}/stat`);
            return true;
          } catch {
            return false;
          }
        });
        const floor = spread(floorUs(alive, work));
        // In the window: its rounds' CPU over their samples (each round weighs what it sampled).
        const during = rounds.reduce((a, [, us]) => a + us, 0) / rounds.reduce((a, [n]) => a + n, 0);
        const duringEach = spread(rounds.map(([n, us]) => us / n));
        const ratio = perSample / during;
        note('paced floor');
        const paced = pacedUs(alive, ph.ms, Math.max(10, (2 * ph.ms) / 1000), work);
        const lag99 = quantile(lags, 0.99);
        const rtt99 = rtt.length ? quantile(rtt, 0.99) : 0;
        results.push(
          [`${n0(ph.n)} targets (${n0(pids.length)} processes) at ${ph.ms / 1000} s`, 'selection (all running taken)', `${regS.toFixed(1)} s`, ''],
          ['', 'rows in the window', `${n0(rows.length)} in ${secs.toFixed(1)} s (${((rows.length / ((pids.length * secs * 1000) / ph.ms)) * 100).toFixed(1)}% of those due)`, ''],
          ['', 'plogsrvd CPU', `${((c1 - c0) / 1e4 / secs).toFixed(1)}% of a core; ${perSample.toFixed(1)} µs a sample`, ''],
          ['', `procfloor -r, same pids, ${rounds.length} rounds spread over the window`, `${during.toFixed(1)} µs a sample (rounds: ${fmtSpread(duringEach)})`, ''],
          ['', 'CPU against the floor in the window', `${ratio.toFixed(2)}x`, `≤ 1.3x: ${ratio <= 1.3 ? 'met' : 'NOT met'}`],
          ['', 'procfloor -r, same pids, after the window (3 runs)', `${fmtSpread(floor)} µs a sample; plogsrvd ${(perSample / floor.median).toFixed(2)}x`, ''],
          ['', "bench/pacedfloor.c (procfloor's work, one round every interval), same pids", `${paced.toFixed(1)} µs a sample; plogsrvd ${(perSample / paced).toFixed(2)}x`, ''],
          ['', 'lag p50 / p99 / max', `${quantile(lags, 0.5).toFixed(1)} / ${lag99.toFixed(1)} / ${quantile(lags, 1).toFixed(1)} ms`, `p99 < 100 ms: ${lag99 < 100 ? 'met' : 'NOT met'}`],
          ['', 'RSS at the end / peak', `${(rss / 1024).toFixed(1)} / ${(hwm / 1024).toFixed(1)} MB`, `< 150 MB: ${hwm / 1024 < 150 ? 'met' : 'NOT met'}`],
          ['', 'descriptors', `${n0(fds)} (${(fds / pids.length).toFixed(2)} a process)`, ''],
          rtt.length
            ? [
                '',
                `uid nobody, every ${ASK_EVERY} ms: plog -q pid round trip p50 / p99 / max`,
                `${quantile(rtt, 0.5).toFixed(2)} / ${rtt99.toFixed(2)} / ${quantile(rtt, 1).toFixed(2)} ms (${n0(rtt.length)} requests)`,
                `p99 < 50 ms: ${rtt99 < 50 ? 'met' : 'NOT met'}`,
              ]
            : ['', 'uid nobody', 'asked nothing (--ask-every 0)', ''],
        );
        if (ph === phases[phases.length - 1] && CHURN > 0) churnText = await churn(tmp, CHURN);
      } finally {
        await stopServer(d);
      }
    }
  } finally {
    mine.stop();
    theirs.stop();
  }
  const scan = scanCost();
  say(`\n### A whole host in one plogsrvd\n\nMachine: ${machine()}\n\n`);
  say(`Command: node dist/bench/host.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\n\n`);
  say(table(['phase', 'measure', 'value', 'goal'], results, ['---', '---', '---', '---']));
  say(`\nOne log a process or one for the host: µs of CPU to append a line (ext4; 10,000 files, 5 rounds): `);
  say(
    `a file a process, descriptor kept (fstat + write) ${w.kept.toFixed(2)}; reopened at each line (open, fstat, write, close) ${w.reopened.toFixed(2)}; one file (fstat + write) ${w.one.toFixed(2)}.\n`,
  );
  say(`\nA /proc scan with nothing new (${n0(scan.pids)} processes now): ${scan.us.toFixed(0)} µs.\n`);
  say(churnText);
}

/** A build: n processes of 3 s (sleep 3) in bursts of 250, logged every second; how soon each is found; scan against connector. */
async function churn(tmp: string, n: number): Promise<string> {
  void tmp;
  const dir = tempDir('plog-bench-host-churn-');
  const d = await startServer(dir, ['-m', 'world'], { PLOG_PSS_BUDGET: 'off' });
  const conn = cc(new URL('../../bench/procconn.c', import.meta.url).pathname, 'procconn');
  try {
    const [reply] = await request(dir, encodeSelect('.', true, 1000), { timeoutMs: 600_000 });
    const log = / to (\/.*)\.$/.exec(reply ?? '')![1]!;
    await sleep(2000);
    const secs = Math.ceil(n / 250) + 5;
    note(`churn: ${n} processes over ${secs} s`);
    const connOut = new Promise<string>((resolve) => {
      const c = spawn(conn, [String(secs)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      c.on('exit', () => resolve(out));
    });
    const c0 = cpuUs(d.pid!);
    // `sleep 3` processes, 250 a second, started by one shell that says each pid as it starts it.
    const started = new Map<number, number>();
    const script = `i=0; while [ $i -lt ${n} ]; do j=0; while [ $j -lt 250 ]; do sleep 3 & echo $!; j=$((j+1)); done; sleep 1; i=$((i+250)); done; wait`;
    const sh = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    sh.stdout.setEncoding('utf8').on('data', (s: string) => {
      const now = Date.now();
      buf += s;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) started.set(Number(l), now);
    });
    await new Promise<void>((r) => sh.on('exit', () => r()));
    await sleep(4000);
    const c1 = cpuUs(d.pid!);
    const firstRow = new Map<number, number>();
    for (const [pid, t] of rowsSince(log, 0).rows) if (!firstRow.has(pid)) firstRow.set(pid, t);
    const delays: number[] = [];
    let missed = 0;
    for (const [pid, t] of started) {
      const f = firstRow.get(pid);
      if (f === undefined) missed++;
      else delays.push(f - t);
    }
    const cs = /forks (\d+) execs (\d+) exits (\d+) other (\d+) wakeups (\d+) cpu_s ([\d.]+)/.exec(await connOut);
    const events = cs ? Number(cs[1]) + Number(cs[2]) + Number(cs[3]) : NaN;
    const connCpu = cs ? Number(cs[6]) * 1e6 : NaN;
    const scan = scanCost();
    let text = `\nChurn: ${n0(n)} processes of 3 s each (sleep 3), started 250 a second, while the whole host is logged every second:\n\n`;
    text += table(
      ['measure', 'value'],
      [
        ['found (a row in the host log)', `${n0(delays.length)} of ${n0(n)} (${missed} not)`],
        ['start to first row p50 / p99 / max', `${quantile(delays, 0.5).toFixed(0)} / ${quantile(delays, 0.99).toFixed(0)} / ${quantile(delays, 1).toFixed(0)} ms`],
        ['plogsrvd CPU through the churn', `${((c1 - c0) / 1e4 / (secs + 4)).toFixed(1)}% of a core`],
        ['a /proc scan a second (this process, as the server does it)', `${scan.us.toFixed(0)} µs a scan, ${(scan.us / 1e4).toFixed(2)}% of a core (${n0(scan.pids)} processes)`],
        ['process connector (bench/procconn.c): events received', `${n0(events)} (fork ${cs?.[1]}, exec ${cs?.[2]}, exit ${cs?.[3]}) in ${secs} s, ${cs?.[5]} wakeups`],
        ['process connector: its CPU', `${(connCpu / secs / 1e4).toFixed(2)}% of a core, ${(connCpu / events).toFixed(1)} µs an event (receiving only: no /proc read, no JS)`],
      ],
      ['---', '---'],
    );
    return text;
  } finally {
    await stopServer(d);
  }
}

await main();
