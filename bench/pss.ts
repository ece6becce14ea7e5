// The Safe PSS benchmark: what reading a big process's PSS costs it.
//
//   npx tsc -p . && node dist/bench/pss.js [--mib MIB] [--seconds S] [--interval MS]
//
// /proc/PID/smaps_rollup walks every page of the process with its mapping
// lock held for reading; the process's own mmap/munmap wait for the walk.
// bench/mmapstall.c maps --mib MiB (default 4096) in small pages, then times
// one mmap+touch+munmap every millisecond for --seconds (default 10):
// 1. alone;
// 2. logged by a real plogsrvd every --interval ms (default 100) with the
//    PSS budget off (PLOG_PSS_BUDGET=off: PSS read at every sample);
// 3. the same with the default budget.
// The cost of one smaps_rollup read is measured here too (10 reads by this
// process, median), and the lines of the log whose PSS was re-read counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { cc, machine, numOpt, privateTmpSockets, readText, register, say, sleep, spread, startServer, stopServer, table, tempDir } from './lib.js';

interface Stall {
  ops: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  over1ms: number;
  overMs: number;
}

function startStall(exe: string, mib: number, seconds: number): Promise<{ c: ChildProcess; done: Promise<Stall> }> {
  const c = spawn(exe, [String(mib), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const done = new Promise<Stall>((res, rej) => {
      c.on('exit', (code) => {
        const line = out.split('\n')[1];
        if (code !== 0 || !line) return rej(new Error(`bench: mmapstall exited ${code}`));
        const [ops, p50, p99, p999, max, over1ms, overMs] = line.trim().split(' ').map(Number);
        res({ ops: ops!, p50: p50!, p99: p99!, p999: p999!, max: max!, over1ms: over1ms!, overMs: overMs! });
      });
    });
    c.stdout.on('data', (s: string) => {
      out += s;
      if (out.startsWith('ready\n')) resolve({ c, done });
    });
    c.on('error', reject);
  });
}

/** Wall ms of one whole read of /proc/PID/smaps_rollup. */
function rollupMs(pid: number): number {
  const b = Buffer.allocUnsafe(4096);
  const t = performance.now();
  const fd = openSync(`/proc/${pid}/smaps_rollup`, 'r');
  try {
    while (readSync(fd, b) > 0);
  } finally {
    closeSync(fd);
  }
  return performance.now() - t;
}

async function main(): Promise<void> {
  privateTmpSockets();
  const mib = numOpt('mib', 4096);
  const seconds = numOpt('seconds', 10);
  const interval = numOpt('interval', 100);
  const exe = cc(new URL('../../bench/mmapstall.c', import.meta.url).pathname, 'mmapstall');
  const rows: string[][] = [];
  // The cost of a read, on a target of its own (reads stall it).
  const probe = await startStall(exe, mib, 1);
  await sleep(100);
  const readCost = spread(Array.from({ length: 10 }, () => rollupMs(probe.c.pid!))).median;
  probe.c.kill('SIGKILL');
  await probe.done.catch(() => undefined);
  for (const mode of ['alone', 'off', 'default'] as const) {
    const { c, done } = await startStall(exe, mib, seconds);
    let d: ChildProcess | null = null;
    let log = '';
    const dir = tempDir('plog-bench-pss-');
    try {
      if (mode !== 'alone') {
        d = await startServer(dir, [], mode === 'off' ? { PLOG_PSS_BUDGET: 'off' } : {});
        log = await register(dir, c.pid!, interval);
      }
      const s = await done;
      let reread = '';
      if (d) {
        const lines = readText(log)
          .split('\n')
          .slice(2)
          .filter((l) => l.length > 0);
        const fresh = lines.filter((l) => !/\*\s/.test(l)).length;
        reread = `${fresh} of ${lines.length}`;
        await stopServer(d);
      }
      const name = mode === 'alone' ? 'not logged' : `logged every ${interval} ms, PSS budget ${mode === 'off' ? 'off' : 'on (default)'}`;
      rows.push([name, reread, String(s.ops), s.p50.toFixed(0), s.p99.toFixed(0), s.max.toFixed(0), String(s.over1ms), s.overMs.toFixed(0)]);
    } finally {
      if (d) await stopServer(d);
      c.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  say(`\n### Safe PSS: the target's mmap/munmap stalls\n\nMachine: ${machine()}\n`);
  say(`Command: node dist/bench/pss.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\n\n`);
  say(`Target: \`mmapstall ${mib} ${seconds}\` (${mib} MiB touched in one mapping of small pages); one read of its smaps_rollup costs ${readCost.toFixed(1)} ms (median of 10).\n`);
  say(`Each row: one mmap+touch+munmap a millisecond for ${seconds} s; latencies in µs.\n\n`);
  say(table(['run', 'lines with PSS re-read', 'operations', 'p50 µs', 'p99 µs', 'max µs', 'over 1 ms', 'ms stalled over 1 ms'], rows));
}

await main();
