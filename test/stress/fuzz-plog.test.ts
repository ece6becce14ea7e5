// Fuzz plogsrvd with 1,000,000 datagrams (FUZZ_COUNT to change it): random
// bytes of 0 to 65535 bytes, valid headers with wrong sizes, pids 0, -1,
// INT_MAX and random ones, intervals 0, negative, tiny and huge, extension
// opcodes with garbage, mutated valid requests (see fuzz.ts). Many of them
// are valid log and stop requests for the run's own 20 dummy processes (and
// a few for any process of the machine): the server must stay within its
// bounds (1024 logs per uid, its queues) and its memory must not grow
// without end. Afterwards it answers a valid request and logs a new process,
// and every log it wrote in the run reads back without a torn line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { parseLogLine } from '../../src/plog/log/lineparse.js';
import { LIMITS } from '../../src/plog/engine/limits.js';
import { alive, ints, raw, Server, sockDir, spawnSleep, tempDir, waitLines } from '../helpers/plog.js';
import { fuzz } from './fuzz.js';
import { fdCount, fmt, plogStats } from './lib.js';

const COUNT = Number(process.env.FUZZ_COUNT ?? 1_000_000);
const SENDERS = Number(process.env.FUZZ_SENDERS ?? 3);

test(`plogsrvd: ${COUNT} fuzzed datagrams from ${SENDERS} senders: no crash, bounded, still answering`, { timeout: 3_600_000 }, async (t) => {
  const srv = await Server.start({ dir: tempDir(0o755), foreground: true, args: ['-m', 'world'] });
  const dummies = Array.from({ length: Number(process.env.FUZZ_DUMMIES ?? 20) }, () => spawnSleep({ seconds: 7200 }));
  const before = await plogStats(srv.dir, sockDir());
  const fds0 = fdCount(srv.pid)!;
  let maxLogs = 0;
  let maxQueued = 0;
  const watch = setInterval(() => {
    plogStats(srv.dir, sockDir(), 2000).then(
      (s) => {
        maxLogs = Math.max(maxLogs, s.logs);
        maxQueued = Math.max(maxQueued, s.queued);
      },
      () => {},
    );
  }, 1000);
  const res = await fuzz({
    target: 'plogsrvd',
    socket: srv.sock,
    pid: srv.pid,
    count: COUNT,
    senders: SENDERS,
    seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
    pids: dummies.map((d) => d.pid),
  });
  clearInterval(watch);
  const after = await plogStats(srv.dir, sockDir());
  const summary = {
    seed: res.seed,
    sent: res.sent,
    seconds: +(res.ms / 1000).toFixed(1),
    perSecond: Math.round(res.perSecond),
    eagain: res.eagain,
    bytes: res.bytes,
    replies: res.replies,
    rssKb: res.rss,
    maxLogs,
    maxQueued,
    stats: after,
    fdsBefore: fds0,
  };
  t.diagnostic(`FUZZ plogsrvd ${JSON.stringify(summary)}`);
  t.diagnostic(`${fmt(res.sent)} datagrams in ${(res.ms / 1000).toFixed(1)} s = ${fmt(res.perSecond)}/s; VmRSS ${fmt(res.rss.first)} -> max ${fmt(res.rss.max)} -> ${fmt(res.rss.last)} kB`);
  assert.equal(res.error, null, 'a sender failed (the server gone?)');
  assert.equal(res.sent, COUNT);
  assert.ok(res.alive && alive(srv.pid), 'plogsrvd died');
  assert.equal(srv.child!.exitCode, null);
  // Everything sent was read (the stats requests of this test come on top).
  assert.ok(after.requests - before.requests >= COUNT, JSON.stringify(summary));
  // Bounded: logs by the per-uid cap, memory well under what a leak of
  // 1,000,000 requests would take.
  assert.ok(maxLogs <= LIMITS.logsPerUid && after.logs <= LIMITS.logsPerUid, JSON.stringify(summary));
  assert.ok(res.rss.max - res.rss.first < 200_000, `VmRSS grew by ${res.rss.max - res.rss.first} kB`);
  assert.doesNotMatch(srv.stderr, /internal error|request from pid/, srv.stderr.slice(0, 2000));
  // A valid request is answered afterwards, and a new process is logged.
  assert.equal(await raw().ask(srv.dir, ints(0, 2)), String(srv.pid));
  const fresh = spawnSleep();
  const reply = await raw().ask(srv.dir, ints(0, 16, fresh.pid, 100));
  if (after.logs < LIMITS.logsPerUid) {
    assert.equal(reply, `Log file: ${srv.dir}/sleep.${fresh.pid}`);
    await waitLines(join(srv.dir, `sleep.${fresh.pid}`), 5);
  } else {
    assert.equal(reply, `Too many logs for uid 0 (${LIMITS.logsPerUid}): stop some first.`);
  }
  // Stop what the fuzz started: the descriptors come back.
  for (const d of [...dummies, fresh]) await raw().ask(srv.dir, ints(0, 17, d.pid));
  // (and whatever real processes a random pid hit)
  // (NAME.PID or NAME.PID.N, and NAME may hold dots and digits: try each number)
  for (const name of await raw().list(srv.dir, 20_000)) {
    for (const n of name
      .split('.')
      .filter((x) => /^\d+$/.test(x))
      .map(Number))
      if (n > 0) await raw().ask(srv.dir, ints(0, 17, n));
  }
  await new Promise((r) => setTimeout(r, 200));
  const end = await plogStats(srv.dir, sockDir());
  t.diagnostic(`after stopping every log: ${JSON.stringify(end)}`);
  if (end.logs !== 0) t.diagnostic(`left: ${JSON.stringify(await raw().list(srv.dir))}`);
  assert.equal(end.logs, 0);
  assert.equal(end.fds, fds0, 'descriptors left open');
  // No torn line in any log of the run.
  let files = 0;
  let samples = 0;
  for (const name of readdirSync(srv.dir)) {
    const p = join(srv.dir, name);
    if (name === 'plogsrvd.pid' || name === 'plogsrvd.state' || !lstatSync(p).isFile()) continue;
    files++;
    const text = readFileSync(p, 'utf8');
    assert.ok(text.endsWith('\n'), `${name}: cut`);
    for (const line of text.split('\n').slice(2, -1)) {
      assert.ok(parseLogLine(line), `${name}: ${JSON.stringify(line)}`);
      samples++;
    }
  }
  t.diagnostic(`${files} logs, ${samples} sample lines, none torn`);
});
