// The reply path of a root plogsrvd under 1,000,000 datagrams (FUZZ_COUNT to
// change it) from unprivileged senders (nobody) that keep swapping their
// sockets' names for symlinks to each other, to the daemon's own socket and
// to a root-only socket (swapper.ts). Nothing may be delivered through a
// link: the root-only socket gets nothing, and every reply a sender's socket
// gets is one it asked for. The daemon never spins: it answers root all
// along, and is idle once the senders stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AS_NOBODY, ints, plog, Raw, Server, sleep, tempDir } from '../helpers/plog.js';
import { fmt, plogStats } from './lib.js';
import { sockDir } from '../helpers/plog.js';

const COUNT = Number(process.env.FUZZ_COUNT ?? 1_000_000);
const SENDERS = Number(process.env.FUZZ_SENDERS ?? 3);
const SWAPPER = fileURLToPath(new URL('./swapper.js', import.meta.url));

interface Out {
  sent: number;
  eagain: number;
  replies: number;
  foreign: number;
  swaps: number;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

function sender(arg: object): Promise<Out> {
  return new Promise((resolve, reject) => {
    const c = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, SWAPPER, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Out) : reject(new Error(`swapper exited ${code}: ${out}`))));
  });
}

test(`plogsrvd: ${COUNT} requests from senders that swap their sockets for links: nothing delivered through a link, the daemon never spins`, { timeout: 3_600_000 }, async (t) => {
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world'] });
  const victim = new Raw(join(tempDir(0o700), 'root-only'));
  const shared = mkdtempSync('/tmp/fzr-');
  chmodSync(shared, 0o1777);
  const t0 = performance.now();
  const cpu0 = cpuTicks(srv.pid);
  // Root asks meanwhile, once every 200 ms: every answer must come, and soon.
  const lat: number[] = [];
  let lost = 0;
  let probing = true;
  const asker = new Raw();
  const probe = (async () => {
    while (probing) {
      const p0 = performance.now();
      const got = await asker.ask(srv.dir, ints(0, 2), 5000).catch(() => null);
      if (got === String(srv.pid)) lat.push(performance.now() - p0);
      else lost++;
      await sleep(200);
    }
  })();
  const outs = await Promise.all(Array.from({ length: SENDERS }, (_, id) => sender({ server: srv.sock, victim: victim.path, shared, count: Math.ceil(COUNT / SENDERS), seed: 1234 + id, id })));
  probing = false;
  await probe;
  const ms = performance.now() - t0;
  const busy = (cpuTicks(srv.pid) - cpu0) / 100 / (ms / 1000);
  // Idle once the senders are gone.
  const i0 = cpuTicks(srv.pid);
  const w0 = performance.now();
  await sleep(2000);
  const idle = (cpuTicks(srv.pid) - i0) / 100 / ((performance.now() - w0) / 1000);
  const st = await plogStats(srv.dir, sockDir());
  const sum = (k: keyof Out): number => outs.reduce((s, o) => s + o[k], 0);
  lat.sort((a, b) => a - b);
  const p99 = lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] ?? NaN;
  const report = {
    sent: sum('sent'),
    swaps: sum('swaps'),
    replies: sum('replies'),
    foreign: sum('foreign'),
    victim: victim.take().length,
    seconds: fmt(ms / 1000),
    perSecond: Math.round(sum('sent') / (ms / 1000)),
    daemonCpuPercent: Math.round(busy * 100),
    idleCpuPercent: Math.round(idle * 100),
    rootAsked: lat.length,
    rootLost: lost,
    rootP99Ms: fmt(p99),
    rootMaxMs: fmt(lat.at(-1) ?? NaN),
    unanswerable: st.unanswerable,
    rateLimited: st.rate_limited,
    repliesDropped: st.replies_dropped,
  };
  t.diagnostic(`REPLIES ${JSON.stringify(report)}`);
  assert.ok(report.sent >= COUNT, JSON.stringify(report));
  assert.ok(report.swaps > COUNT / 100, JSON.stringify(report));
  assert.equal(report.victim, 0, 'the root-only socket got a reply');
  assert.equal(report.foreign, 0, "a sender's socket got a reply meant for another");
  assert.equal(lost, 0, 'root asked and got no answer');
  // And the real client, as root, after the run.
  const q = await plog(['-d', srv.dir, '-q', 'pid']);
  assert.deepEqual([q.code, q.stdout], [0, `${srv.pid}\n`]);
  assert.ok(idle < 0.1, `the daemon is not idle after the run: ${JSON.stringify(report)}`);
  victim.close();
  rmSync(shared, { recursive: true, force: true });
});
