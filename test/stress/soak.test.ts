// Soak: SOAK_MINUTES (10) of SOAK_TARGETS (500) short-lived processes alive
// at any time, each registered at 200 ms, 500 ms or 1 s and ending in one of
// the ways a process ends: it exits (most), it is killed, it is stopped with
// {0,17}, its log is deleted, it stays a zombie for a while. Every 30 s the
// daemon's descriptors (ls /proc/PID/fd), timers (stats), VmRSS and logs
// are recorded. At the end, once every target has ended, the daemon must
// hold what it held before the first: the same descriptors, one timer (its
// socket watch), no queued replies, and a resident set no larger than after
// the first minute plus a margin. Every log reads back without a torn line.
//
// A quick variant: SOAK_MINUTES=1 SOAK_TARGETS=200 node --test dist/test/stress/soak.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseLogLine } from '../../src/plog/log/lineparse.js';
import { alive, ints, Raw, Server, sockDir, tempDir, waitFor } from '../helpers/plog.js';
import { fdCount, plogStats, Rng, sleep, vmRssKb } from './lib.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const TARGETS = Number(process.env.SOAK_TARGETS ?? 500);

type Ending = 'exit' | 'kill' | 'stop' | 'delete' | 'zombie';

interface Row {
  t: number;
  logs: number;
  timers: number;
  fds: number;
  rssKb: number;
  alive: number;
  started: number;
}

test(`soak: ${MINUTES} min of ${TARGETS} short-lived targets: descriptors, timers and RSS flat`, { timeout: (MINUTES + 5) * 60_000 }, async (t) => {
  const srv = await Server.start({ dir: tempDir(0o755), foreground: true, args: ['-m', 'world'] });
  const rng = new Rng(Number(process.env.SOAK_SEED ?? 12345));
  const base = await plogStats(srv.dir, sockDir());
  const fds0 = fdCount(srv.pid)!;
  const live = new Set<ChildProcess>();
  const counts: Record<Ending | 'started' | 'refused', number> = { started: 0, refused: 0, exit: 0, kill: 0, stop: 0, delete: 0, zombie: 0 };
  const rows: Row[] = [];
  const record = async (): Promise<void> => {
    const s = await plogStats(srv.dir, sockDir());
    rows.push({ t: Math.round((Date.now() - t0) / 1000), logs: s.logs, timers: s.timers, fds: fdCount(srv.pid)!, rssKb: vmRssKb(srv.pid)!, alive: live.size, started: counts.started });
  };
  const t0 = Date.now();
  const stopAt = t0 + MINUTES * 60_000;

  /** One target: started, registered, ended its way. */
  const one = async (): Promise<void> => {
    const k = rng.float();
    const ending: Ending = k < 0.7 ? 'exit' : k < 0.8 ? 'kill' : k < 0.9 ? 'stop' : k < 0.95 ? 'delete' : 'zombie';
    const lifeS = 2 + rng.float() * 18;
    let c: ChildProcess;
    let pid: number;
    if (ending === 'zombie') {
      // The inner sleep ends and stays a zombie: its parent (sh, exec'd into
      // sleep) never waits for it; it goes when the parent is killed.
      c = spawn('sh', ['-c', `sleep ${(lifeS / 2).toFixed(2)} & echo $!; exec sleep ${lifeS.toFixed(2)}`], { stdio: ['ignore', 'pipe', 'ignore'] });
      pid = await new Promise<number>((res) => c.stdout!.once('data', (d: Buffer) => res(Number(String(d).trim()))));
    } else {
      c = spawn('sleep', [lifeS.toFixed(2)], { stdio: 'ignore' });
      pid = c.pid!;
    }
    live.add(c);
    counts.started++;
    const exited = new Promise<void>((res) => c.once('exit', () => res()));
    const interval = rng.pick([200, 500, 1000]);
    // A socket of its own: the answers of 500 targets' questions must not mix.
    const r = new Raw();
    const reply = await r.ask(srv.dir, ints(0, 16, pid, interval), 10_000).catch((e: Error) => e.message);
    if (!reply.startsWith('Log file: ')) {
      counts.refused++; // e.g. it ended already
    } else {
      const log = reply.slice('Log file: '.length);
      const early = lifeS * 1000 * (0.2 + rng.float() * 0.6);
      if (ending === 'kill') {
        await Promise.race([sleep(early), exited]);
        c.kill('SIGKILL');
      } else if (ending === 'stop') {
        await Promise.race([sleep(early), exited]);
        await r.ask(srv.dir, ints(0, 17, pid), 10_000).catch(() => '');
      } else if (ending === 'delete') {
        await Promise.race([sleep(early), exited]);
        rmSync(log, { force: true });
      }
    }
    r.close();
    await exited;
    live.delete(c);
    counts[ending]++;
  };

  let lastRow = 0;
  const running = new Set<Promise<void>>();
  while (Date.now() < stopAt) {
    while (running.size < TARGETS && Date.now() < stopAt) {
      const p = one().catch((err: Error) => t.diagnostic(`target: ${err.message}`));
      running.add(p);
      void p.finally(() => running.delete(p));
      // Spread the starts: the first TARGETS over 10 s, then as targets end.
      if (counts.started <= TARGETS) await sleep(10_000 / TARGETS);
    }
    if (Date.now() - lastRow >= 30_000) {
      lastRow = Date.now();
      await record();
      t.diagnostic(`SOAK row ${JSON.stringify(rows[rows.length - 1])}`);
      assert.ok(alive(srv.pid), 'plogsrvd died');
    }
    await sleep(20);
  }
  await Promise.all(running);
  // Every target has ended: the last samples come within an interval.
  await waitFor('every log to end', async () => (await plogStats(srv.dir, sockDir())).logs === 0, { timeout: 30_000 });
  await sleep(1500);
  await record();
  const end = await plogStats(srv.dir, sockDir());
  const first = rows.find((row) => row.t >= 60) ?? rows[0];
  const last = rows.at(-1);
  assert.ok(first && last, 'rows recorded');
  t.diagnostic(`SOAK ${JSON.stringify({ minutes: MINUTES, targets: TARGETS, counts, base: { fds: fds0, timers: base.timers, rssKb: base.rss_kb }, end, rows })}`);
  assert.ok(alive(srv.pid));
  assert.equal(end.logs, 0);
  assert.equal(end.timers, 1, 'timers left');
  assert.deepEqual([end.outboxes, end.queued], [0, 0]);
  assert.equal(last.fds, fds0, 'descriptors left open');
  assert.ok(last.rssKb <= first.rssKb * 1.25 + 20_000, `VmRSS ${first.rssKb} kB after a minute, ${last.rssKb} kB at the end`);
  assert.doesNotMatch(srv.stderr, /internal error|request from pid/);
  // No torn line; count the samples, and the lines of processes caught as
  // they exited (all sizes 0 kB while not yet a zombie: see RELIABILITY.md).
  let files = 0;
  let samples = 0;
  let exiting = 0;
  for (const name of readdirSync(srv.dir)) {
    const p = join(srv.dir, name);
    if (name === 'plogsrvd.pid' || name === 'plogsrvd.state' || !lstatSync(p).isFile()) continue;
    files++;
    const text = readFileSync(p, 'utf8');
    assert.ok(text === '' || text.endsWith('\n'), `${name}: cut`);
    for (const line of text.split('\n').slice(2, -1)) {
      const rec = parseLogLine(line);
      assert.ok(rec, `${name}: ${JSON.stringify(line)}`);
      samples++;
      if (rec.virtualKb === 0 && rec.state !== 'Z') exiting++;
    }
  }
  t.diagnostic(`SOAK logs ${JSON.stringify({ files, samples, exitingLines: exiting })}`);
  assert.ok(counts.started >= TARGETS);
});
