// Load: 1,000 clients at once (LOAD_CLIENTS), in 4 processes, each a socket
// bound at its own path (the real plog is limited to 25 /tmp/.plog names),
// each registering a process and then listing the logs: 0 lost replies, 0
// wrong ones. Then 216 runs of the real plog, 24 at a time, each logging a
// process and listing. Every list is complete (up to its "0000") and holds
// the client's own log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { alive, ints, plog, raw, ROOT, Server, sockDir, spawnSleep, tempDir } from '../helpers/plog.js';
import { fdCount, plogStats, sleep } from './lib.js';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 1000);
const WORKERS = 4;

interface WorkerResult {
  clients: number;
  registered: number;
  listed: number;
  lost: number;
  bad: number;
  badSamples: string[];
  regMs: { p50: number; p99: number; max: number };
  listMs: { p50: number; p99: number; max: number };
  ms: number;
}

function worker(args: string[]): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(ROOT, 'dist/test/stress/load.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('close', (code) => {
      try {
        resolve(JSON.parse(out) as WorkerResult);
      } catch {
        reject(new Error(`load worker exited ${code}: ${out}`));
      }
    });
  });
}

test(`${CLIENTS} concurrent clients registering and listing: 0 lost replies`, { timeout: 600_000 }, async (t) => {
  const srv = await Server.start({ dir: tempDir(0o755), foreground: true, args: ['-m', 'world'] });
  const kids = Array.from({ length: 50 }, () => spawnSleep({ seconds: 3600 }));
  const pids = kids.map((k) => k.pid).join(',');
  const fds0 = fdCount(srv.pid)!;
  const dir = tempDir(0o755);
  const per = Math.ceil(CLIENTS / WORKERS);
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker([dir, srv.sock, String(w * per), String(Math.min(per, CLIENTS - w * per)), pids, '3600000', '120000'])));
  const ms = Date.now() - t0;
  const sum = (k: 'clients' | 'registered' | 'listed' | 'lost' | 'bad'): number => results.reduce((a, r) => a + r[k], 0);
  const st = await plogStats(srv.dir, sockDir());
  const summary = {
    clients: sum('clients'),
    registered: sum('registered'),
    listed: sum('listed'),
    lost: sum('lost'),
    bad: sum('bad'),
    ms,
    workers: results.map((r) => ({ regMs: r.regMs, listMs: r.listMs, ms: r.ms })),
    stats: st,
  };
  t.diagnostic(`LOAD ${JSON.stringify(summary)}`);
  for (const r of results) assert.deepEqual(r.badSamples, []);
  assert.equal(summary.clients, CLIENTS);
  assert.equal(summary.lost, 0, 'lost replies');
  assert.equal(summary.bad, 0);
  assert.equal(summary.registered, CLIENTS);
  assert.equal(summary.listed, CLIENTS);
  assert.equal(st.logs, CLIENTS);
  assert.equal((await raw().list(srv.dir, 10_000)).length, CLIENTS);
  assert.equal(st.replies_dropped, 0);
  for (const k of kids) assert.match(await raw().ask(srv.dir, ints(0, 17, k.pid)), /^Stopped logging/);
  await sleep(200);
  const after = await plogStats(srv.dir, sockDir());
  assert.deepEqual([after.logs, after.outboxes, after.queued, after.fds], [0, 0, 0, fds0]);

  // The real plog: 9 rounds of 24 at a time (the 25 /tmp/.plog names), each logging and listing.
  const t1 = Date.now();
  let failures: string[] = [];
  let runs = 0;
  for (let round = 0; round < 9; round++) {
    const batch = kids.slice(0, 24).map(async (k) => {
      const a = await plog(['-d', srv.dir, '-p', String(k.pid), '-i', '1h']);
      const l = await plog(['-d', srv.dir, '-l']);
      runs += 2;
      const name = a.stdout.replace(/^Log file: .*\//, '').trim();
      if (a.code !== 0 || !a.stdout.startsWith('Log file: ')) failures.push(`log: ${a.code} ${a.stderr}`);
      else if (l.code !== 0 || !l.stdout.split('\n').includes(name)) failures.push(`list: ${l.code} ${l.stderr} (${name} missing)`);
    });
    await Promise.all(batch);
  }
  failures = failures.slice(0, 10);
  t.diagnostic(`real plog: ${runs} runs in ${Date.now() - t1} ms, failures: ${JSON.stringify(failures)}`);
  assert.deepEqual(failures, []);
  assert.ok(alive(srv.pid));
});
