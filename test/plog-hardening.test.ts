// Hardening, the quick cases (the long runs are in test/stress/):
// the stats request, the rate limit and the other per-uid bounds under a
// real flood, names squatted and swapped under the client and the server,
// a log's name relinked between two samples, a full and an unwritable
// runtime directory, the socket deleted and SIGKILL while logging at 10 ms,
// targets exiting while being sampled, and concurrent real plog clients.
// Every log written here is read back: no torn line, anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLogLine } from '../src/plog/log/lineparse.js';
import { LIMITS } from '../src/plog/engine/limits.js';
import {
  alive,
  AS_NOBODY,
  asUser,
  ints,
  killChild,
  lines,
  NOBODY,
  plog,
  raw,
  ROOT,
  run,
  Server,
  sleep,
  sockDir,
  spawnChild,
  spawnSleep,
  staleSocket,
  tempDir,
  waitFor,
  waitLines,
  type Prefix,
} from './helpers/plog.js';
import { fdCount, statsOf, vmRssKb, type Stats } from './stress/lib.js';

const FLOOD = join(ROOT, 'dist/test/stress/flood.js');
/** A uid with no passwd entry: "another user" besides nobody. */
const OTHER = 12345;
const asUid = (uid: number): Prefix => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];

async function stats(dir: string): Promise<Stats> {
  const st = statsOf(await raw().ask(dir, ints(0, 19)));
  assert.ok(st, 'a stats reply');
  return st;
}

/** Every log in dir: lines after the command line and the header must all be
 * complete sample lines, and the file must end with a newline. Returns the
 * number of sample lines checked. */
function noTornLine(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'plogsrvd.pid' || name.startsWith('plogsrvd.state') || !lstatSync(join(dir, name)).isFile()) continue;
    const text = readFileSync(join(dir, name), 'utf8');
    if (text === '') continue;
    assert.ok(text.endsWith('\n'), `${name}: the last line is cut: ${JSON.stringify(text.slice(-80))}`);
    const l = text.split('\n').slice(0, -1);
    assert.ok(l.length >= 2, `${name}: no header`);
    assert.match(l[1]!, /^Date {3}Time/, `${name}: header`);
    for (const line of l.slice(2)) {
      assert.ok(parseLogLine(line), `${name}: not a complete sample line: ${JSON.stringify(line)}`);
      n++;
    }
  }
  return n;
}

/** What test/stress/flood.js prints: for `flood`, and for `probe` (latencies in ms). */
interface Flood {
  sent: number;
  eagain: number;
  perSecond: number;
}
interface Probe {
  n: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
  notices: number;
}

/** Run a script of this package as a child process (optionally as another
 * uid) and parse the JSON it prints. */
function runJson<T>(script: string, args: string[], uid?: number): { done: Promise<T> } {
  const c = spawn(...asUser(process.execPath, [script, ...args], uid === undefined ? null : asUid(uid)), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  return {
    done: new Promise((resolve, reject) => {
      c.on('error', reject);
      c.on('close', (code) => {
        try {
          resolve(JSON.parse(out) as T);
        } catch {
          reject(new Error(`${script} ${args.join(' ')} exited ${code}: ${out}`));
        }
      });
    }),
  };
}

/** A small tmpfs at a fresh directory (unmounted by the caller). */
function tmpfs(size: string): string {
  const d = tempDir(0o755);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', d]);
  return d;
}

function canMount(): boolean {
  try {
    const d = tmpfs('16k');
    execFileSync('umount', [d]);
    return true;
  } catch {
    return false;
  }
}

test('{0,19} stats: logs, timers, descriptors and RSS as /proc sees them', async () => {
  const srv = await Server.start({ foreground: true });
  let st = await stats(srv.dir);
  assert.equal(st.pid, srv.pid);
  assert.deepEqual([st.logs, st.timers, st.outboxes, st.queued, st.paused], [0, 1, 0, 0, 0]);
  const base = st.fds;
  // The daemon holds one descriptor of the client's socket while it sends
  // a reply (src/plog/server/replies.ts): the count outside settles once it closed it.
  const settles = (fds: number): Promise<unknown> => waitFor(`ls /proc/PID/fd | wc -l to be ${fds}`, () => fdCount(srv.pid) === fds, { timeout: 2000 });
  await settles(st.fds);
  const rss = vmRssKb(srv.pid)!;
  assert.ok(Math.abs(st.rss_kb - rss) < rss * 0.2, `rss_kb ${st.rss_kb} vs VmRSS ${rss}`);
  const kids = [spawnSleep(), spawnSleep(), spawnSleep()];
  for (const k of kids) assert.match(await raw().ask(srv.dir, ints(0, 16, k.pid, 3_600_000)), /^Log file: /);
  // The descriptor count is refreshed at most every 100 ms: wait for one that counts the logs.
  st = await waitFor('the descriptor count to be refreshed', async () => {
    const s = await stats(srv.dir);
    return s.fds !== base ? s : null;
  });
  assert.deepEqual([st.logs, st.timers], [3, 4]);
  await settles(st.fds);
  assert.ok(st.fds > base, 'each log holds descriptors');
  for (const k of kids) assert.match(await raw().ask(srv.dir, ints(0, 17, k.pid)), /^Stopped logging/);
  const withLogs = st.fds;
  st = await waitFor('the descriptor count to be refreshed', async () => {
    const s = await stats(srv.dir);
    return s.fds !== withLogs ? s : null;
  });
  assert.deepEqual([st.logs, st.timers, st.fds], [0, 1, base], 'everything a log held is given back');
  assert.ok(st.requests >= 9, `requests ${st.requests}`);
});

test('a flood from one uid: dropped over 200/s, reported once a second, memory bounded; another uid is served promptly', async (t) => {
  const dir = tempDir(0o755);
  const srv = await Server.start({ dir, foreground: true, args: ['-m', 'world'] });
  // Some logs, so that each list the flooder asks for is 81 replies it never
  // reads: the ~500 lists of its budget (shared with its pid requests) are
  // twice what it may have queued.
  const kids = Array.from({ length: 80 }, () => spawnSleep());
  for (const k of kids) assert.match(await raw().ask(dir, ints(0, 16, k.pid, 3_600_000)), /^Log file: /);
  const rss0 = vmRssKb(srv.pid)!;
  const SECS = 4;
  const pidFlood = runJson<Flood>(FLOOD, ['flood', srv.sock, String(SECS), 'pid', '2'], NOBODY);
  const listFlood = runJson<Flood>(FLOOD, ['flood', srv.sock, String(SECS), 'list', '4'], NOBODY);
  await waitFor('the flood to be dropped', async () => (await stats(dir)).rate_limited > 0);
  // Meanwhile: another uid asks for the pid, then for the list, one at a time.
  const probePid = runJson<Probe>(FLOOD, ['probe', srv.sock, '1.5', 'pid'], OTHER);
  const probeList = runJson<Probe>(FLOOD, ['probe', srv.sock, '1.5', 'list'], OTHER);
  // And the real plog, as that uid: it must not fail on the full queue.
  const t0 = Date.now();
  const p = await run(...asUser(process.execPath, [join(ROOT, 'dist/src/cli/plog.js'), '-d', dir, '-q', 'pid'], asUid(OTHER)));
  const plogMs = Date.now() - t0;
  let maxQueued = 0;
  const watch = setInterval(() => {
    stats(dir).then(
      (s) => (maxQueued = Math.max(maxQueued, s.queued)),
      () => {},
    );
  }, 200);
  const [fp, fl, pp, pl] = await Promise.all([pidFlood.done, listFlood.done, probePid.done, probeList.done]);
  clearInterval(watch);
  const rss1 = vmRssKb(srv.pid)!;
  const st = await stats(dir);
  const diag = JSON.stringify({ fp, fl, pp, pl, plogMs, maxQueued, rss0, rss1, st });
  t.diagnostic(`FLOOD ${diag}`);
  assert.deepEqual([p.code, p.stdout, p.stderr], [0, `${srv.pid}\n`, ''], diag);
  assert.ok(plogMs < 3000, `plog took ${plogMs} ms during the flood`);
  assert.ok(fp.sent + fl.sent > 20_000, `a real flood: ${diag}`);
  const admitted = st.requests - st.rate_limited;
  assert.ok(st.rate_limited > 0.8 * (fp.sent + fl.sent), `most of the flood dropped: ${diag}`);
  assert.ok(admitted < LIMITS.burst + LIMITS.ratePerSecond * (SECS + 2) + 2000, `admitted ${admitted}: ${diag}`);
  // The other uid lost nothing and waited little.
  assert.equal(pp.lost, 0, diag);
  assert.equal(pl.lost, 0, diag);
  assert.ok(pp.n >= 20 && pl.n >= 10, diag);
  assert.ok(pp.p99 < 200 && pl.p99 < 300, `latency during the flood: ${diag}`);
  assert.equal(pp.notices + pl.notices, 0, 'the other uid was never rate limited');
  // Bounded: replies queued for the flooder's uid, and memory.
  assert.ok(maxQueued <= LIMITS.queuedPerUid + 200, diag);
  assert.ok(st.replies_dropped > 0, diag);
  assert.ok(rss1 - rss0 < 60_000, `RSS grew ${rss1 - rss0} kB: ${diag}`);
  // One "rate limited" report a second (at most), naming the uid.
  const reports = srv.stderr.split('\n').filter((l) => l.includes('rate limited uid'));
  assert.ok(reports.length >= 1 && reports.length <= SECS + 3, `${reports.length} reports: ${reports.join('\n')}`);
  assert.ok(
    reports.every((l) => new RegExp(`rate limited uid ${NOBODY}: \\d+ requests dropped \\(over 200/s, burst 1000\\)$`).test(l)),
    reports.join('\n'),
  );
  assert.match(srv.stderr, new RegExp(`uid ${NOBODY} does not read its replies: \\d+ dropped \\(over 20000 queued\\)`));
  // After the flood: the flooder is served again, queues drain, nothing is held.
  await waitFor(
    'the queues to drain',
    async () => {
      const s = await stats(dir);
      return s.outboxes === 0 && s.queued === 0 && s.paused === 0;
    },
    { timeout: 10_000 },
  );
  const after = await run(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, join(ROOT, 'dist/src/cli/plog.js'), '-d', dir, '-q', 'pid']);
  assert.deepEqual([after.code, after.stdout], [0, `${srv.pid}\n`]);
  assert.ok(alive(srv.pid));
  assert.doesNotMatch(srv.stderr, /internal error|request from pid/);
});

test('a rate-limited sender with an address hears "Rate limited: ..." once a second; a burst of 1000 is served', async () => {
  const srv = await Server.start({ dir: tempDir(0o755), foreground: true });
  const script = `
    import { UnixSocket } from ${JSON.stringify(join(ROOT, 'dist/src/native.js'))};
    import { mkdtempSync, rmSync } from 'node:fs';
    const home = mkdtempSync('/tmp/plog-burst-');
    process.on('exit', () => rmSync(home, { recursive: true, force: true }));
    const s = new UnixSocket(); s.bind(home + '/s');
    const req = Buffer.alloc(8); req.writeInt32LE(0, 0); req.writeInt32LE(2, 4);
    const got = []; let sent = 0;
    const drain = () => { for (let d; (d = s.recv(2048)); ) got.push(d.data.subarray(0, d.data.indexOf(0)).toString()); };
    // 1000 at once, reading as we go: all within the burst.
    while (sent < 1000) { if (s.trySend(req, process.argv[1]) >= 0) sent++; else await new Promise((r) => setTimeout(r, 1)); drain(); }
    const t = Date.now(); while (got.length < 1000 && Date.now() - t < 5000) { drain(); await new Promise((r) => setTimeout(r, 2)); }
    const first = got.length;
    // Then 3000 more at once: over the budget.
    const t2 = Date.now();
    const w = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 3000; i++) { while (s.trySend(req, process.argv[1]) < 0) Atomics.wait(w, 0, 0, 0.05); drain(); }
    const ms = Date.now() - t2;
    for (let n = -1; n !== got.length; ) { n = got.length; await new Promise((r) => setTimeout(r, 300)); drain(); }
    const notices = got.filter((g) => g.startsWith('Rate limited')).length;
    console.log(JSON.stringify({ first, total: got.length, notices, ms, text: got.find((g) => g.startsWith('Rate limited')) }));
  `;
  const r = await run(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-e', script, srv.sock]);
  const o = JSON.parse(r.stdout) as { first: number; total: number; notices: number; ms: number; text: string };
  assert.equal(o.first, 1000, r.stdout);
  assert.equal(o.text, `Rate limited: uid ${NOBODY} sent more than 200 requests a second; request dropped.`, r.stdout);
  assert.equal(o.text, `Rate limited: uid ${NOBODY} sent more than 200 requests a second; request dropped.`);
  assert.ok(o.notices >= 1 && o.notices <= Math.ceil(o.ms / 1000) + 1, r.stdout);
  assert.ok(o.total - 1000 - o.notices < 3000, `some of the 3000 were dropped: ${r.stdout}`);
  const st = await stats(srv.dir);
  assert.equal(st.rate_limited, 4000 - (o.total - o.notices), r.stdout);
});

test('at most 1024 logs per uid, root included: "Too many logs for uid 0 (1024): stop some first."; other uids unaffected', async () => {
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true });
  const kids = [spawnSleep(), spawnSleep(), spawnSleep()] as const;
  const r = raw();
  for (let i = 0; i < LIMITS.logsPerUid; i++) {
    const k = kids[i % 3]!;
    const reply = await r.ask(srv.dir, ints(0, 16, k.pid, 3_600_000));
    assert.match(reply, /^Log file: /, `registration ${i + 1}`);
  }
  assert.equal(await r.ask(srv.dir, ints(0, 16, kids[0].pid, 3_600_000)), `Too many logs for uid 0 (${LIMITS.logsPerUid}): stop some first.`);
  assert.equal(await r.ask(srv.dir, ints(kids[1].pid, 60)), `Too many logs for uid 0 (${LIMITS.logsPerUid}): stop some first.`);
  let st = await stats(srv.dir);
  assert.deepEqual([st.logs, st.logs_refused], [LIMITS.logsPerUid, 2]);
  // A client that reads gets the whole list of 1024 at once (its queue holds 10).
  const t0 = Date.now();
  assert.equal((await r.list(srv.dir, 3000)).length, LIMITS.logsPerUid);
  assert.ok(Date.now() - t0 < 2000, `a list of 1024 took ${Date.now() - t0} ms`);
  // nobody's own process is still logged.
  const mine = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => readFileSync(`/proc/${mine.pid}/comm`, 'utf8') === 'sleep\n');
  const p = await plog(['-d', srv.dir, '-p', String(mine.pid), '-i', '1h'], { asNobody: true });
  assert.deepEqual([p.code, p.stdout], [0, `Log file: ${srv.dir}/sleep.${mine.pid}\n`], p.stderr);
  // Stopping gives the room back.
  assert.match(await r.ask(srv.dir, ints(0, 17, kids[2].pid)), /^Stopped logging/);
  assert.match(await r.ask(srv.dir, ints(0, 16, kids[0].pid, 3_600_000)), /^Log file: /);
  for (const k of kids) await r.ask(srv.dir, ints(0, 17, k.pid));
  st = await stats(srv.dir);
  assert.equal(st.logs, 1);
});

test('the client socket is never chmod-ed or chown-ed by name (strace), so a swapped-in symlink changes nothing', async (t) => {
  if (!existsSync('/usr/bin/strace')) return t.skip('no strace');
  const own = join(tempDir(0o755), 'run');
  mkdirSync(own);
  chownSync(own, NOBODY, NOBODY);
  const srv = await Server.start({ dir: own, asNobody: true, foreground: true, args: ['-m', 'world'] });
  // A directory others may write to, not sticky: the swap is possible there.
  const open = tempDir(0o777);
  const victim = join(tempDir(0o755), 'victim');
  writeFileSync(victim, 'secret\n', { mode: 0o600 });
  const trace = join(tempDir(), 'trace');
  // Every chmod/chown delayed by 300 ms, so that a swap would surely land in between.
  const c = spawn(
    'strace',
    [
      '-f',
      '-qq',
      '-o',
      trace,
      '-e',
      'trace=chmod,fchmod,fchmodat,chown,fchown,fchownat,lchown,bind',
      '-e',
      'inject=chmod,fchmodat,chown,fchownat,lchown:delay_enter=300000',
      process.execPath,
      join(ROOT, 'dist/src/cli/plog.js'),
      '-d',
      srv.dir,
      '-q',
      'pid',
      '-t',
      '1',
    ],
    { env: { ...process.env, PLOG_TMPDIR: open }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  let swapped = false;
  const end = Date.now() + 5000;
  while (c.exitCode === null && Date.now() < end) {
    try {
      const name = readdirSync(open).find((n) => n.startsWith('.plog.'));
      const sockPath = join(open, name ?? '.plog.none');
      if (lstatSync(sockPath).isSocket()) {
        // The attacker (the directory lets anyone) moves the socket away and links the name to the victim.
        renameSync(sockPath, join(open, 'moved'));
        symlinkSync(victim, sockPath);
        swapped = true;
        break;
      }
    } catch {
      /* not yet */
    }
    await sleep(1); // the attacker's poll: it must win the race against the bind
  }
  await new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)));
  const calls = readFileSync(trace, 'utf8');
  assert.match(calls, new RegExp(`bind\\(\\d+, \\{sa_family=AF_UNIX, sun_path="${open}/\\.plog\\.[a-z0-9]{10}"\\}`), calls);
  assert.doesNotMatch(calls, /chmod|chown/, 'a chmod or chown by name after the bind');
  const st = statSync(victim);
  assert.equal(st.mode & 0o777, 0o600, `the victim's mode changed (swapped: ${swapped})`);
  assert.equal(readFileSync(victim, 'utf8'), 'secret\n');
  // Without a swap the socket was usable by a server of another uid: mode 777 from its birth.
  const p = await plog(['-d', srv.dir, '-q', 'pid']);
  assert.deepEqual([p.code, p.stdout], [0, `${srv.pid}\n`], `${p.stderr} (first run: ${out})`);
});

test('plogsrvd: no chmod of its socket by name; the group plog is set through a descriptor of the socket file', async (t) => {
  if (!existsSync('/usr/bin/strace')) return t.skip('no strace');
  for (const [args, mode] of [
    [['-m', 'world'], 0o777],
    [['-m', 'owner'], 0o700],
    [[], 0o770],
  ] as const) {
    const dir = tempDir(0o755);
    const trace = join(tempDir(), 'trace');
    const c = spawn('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=chmod,fchmodat,chown,fchownat,lchown', process.execPath, join(ROOT, 'dist/src/cli/plogsrvd.js'), '-f', ...args, '-d', dir], {
      stdio: 'ignore',
    });
    await waitFor('the socket', () => existsSync(join(dir, 'plogd_sock')));
    const pid = Number(await waitFor('an answer', () => raw().ask(dir, ints(0, 2), 500)));
    assert.equal(lstatSync(join(dir, 'plogd_sock')).mode & 0o777, mode, args.join(' '));
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)));
    const calls = readFileSync(trace, 'utf8');
    assert.doesNotMatch(calls, /plogd_sock/, `by name: ${calls}`);
    for (const line of calls.split('\n').filter((l) => /chown/.test(l))) assert.match(line, /"\/proc\/self\/fd\/\d+"/, line);
  }
});

test("a flood's dropped datagrams cost the server no look at the sender's socket; an answered request walks its path once (strace)", async (t) => {
  if (!existsSync('/usr/bin/strace')) return t.skip('no strace');
  const dir = tempDir(0o755);
  const trace = join(tempDir(), 'trace');
  const c = spawn('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=openat2,openat', process.execPath, join(ROOT, 'dist/src/cli/plogsrvd.js'), '-f', '-m', 'world', '-d', dir], {
    stdio: 'ignore',
  });
  await waitFor('the socket', () => existsSync(join(dir, 'plogd_sock')));
  const pid = Number(await waitFor('an answer', () => raw().ask(dir, ints(0, 2), 500)));
  const flood = await runJson<Flood>(FLOOD, ['flood', join(dir, 'plogd_sock'), '2', 'pid', '1'], NOBODY).done;
  const st = await stats(dir);
  process.kill(pid, 'SIGTERM');
  await new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)));
  // The flooder's socket: the one path the server looked at most.
  const opens = readFileSync(trace, 'utf8')
    .split('\n')
    .map((l) => /openat2?\(AT_FDCWD, "([^"]+)"/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined && !x.startsWith('/proc') && !x.includes('plogd_sock') && !x.startsWith(dir));
  const counts = new Map<string, number>();
  for (const path of opens) counts.set(path, (counts.get(path) ?? 0) + 1);
  const [, walked = 0] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [];
  const admitted = st.requests - st.rate_limited;
  const diag = `sent ${flood.sent}, requests ${st.requests}, limited ${st.rate_limited}, walks of its socket ${walked}`;
  assert.ok(st.rate_limited > 1000, `a real flood: ${diag}`);
  // One walk for each request let in (and one for each "Rate limited"
  // told, once a second, and for each retry of the replies it does not
  // read); none for the datagrams dropped. It was one for every datagram
  // and a second for each reply sent.
  assert.ok(walked >= admitted, diag);
  assert.ok(walked < 1.25 * admitted + 20, diag);
  assert.ok(walked < st.requests / 4, diag);
});

test('/tmp/.plog names squatted by another user (file, symlinks, FIFO, sockets, directory) are skipped, never followed, left alone', async () => {
  const srv = await Server.start({ dir: tempDir(0o755), foreground: true });
  const tmp = tempDir(0o1777); // as /tmp
  const victimDir = tempDir(0o755);
  const victim = join(victimDir, 'victim');
  writeFileSync(victim, 'secret\n', { mode: 0o600 });
  const privateDir = tempDir(0o700);
  const squat = `
    import { UnixSocket } from ${JSON.stringify(join(ROOT, 'dist/src/native.js'))};
    import fs from 'node:fs';
    const t = process.argv[1];
    fs.writeFileSync(t + '/.plog', 'x');
    fs.symlinkSync(${JSON.stringify(victim)}, t + '/.plog-2');
    fs.symlinkSync(${JSON.stringify(join(privateDir, 'created'))}, t + '/.plog-3');
    fs.symlinkSync(${JSON.stringify(victimDir)}, t + '/.plog-4');
    const stale = new UnixSocket(); stale.bind(t + '/.plog-6'); stale.close();
    fs.mkdirSync(t + '/.plog-7');
    const live = new UnixSocket(); live.bind(t + '/.plog-8');
    fs.chmodSync(t + '/.plog-8', 0o777);
    // The live squatter answers anything it hears with a fake pid.
    live.setReadable(() => { for (let d; (d = live.recv(100)); ) if (d.path) live.trySend(Buffer.from('4242\\0'), d.path); });
    console.log('ready');
    setTimeout(() => {}, 60000);
  `;
  const sq = spawnChild(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-e', squat, tmp], { stdout: true });
  await waitFor('the squatter', () => existsSync(join(tmp, '.plog-8')));
  const fifo = await run(AS_NOBODY[0], [...AS_NOBODY.slice(1), 'mkfifo', join(tmp, '.plog-5')]);
  assert.equal(fifo.code, 0, fifo.stderr);
  const names = ['.plog', '.plog-2', '.plog-3', '.plog-4', '.plog-5', '.plog-6', '.plog-7', '.plog-8'];
  const before = new Map(names.map((n) => [n, lstatSync(join(tmp, n))]));
  for (const st of before.values()) assert.equal(st.uid, NOBODY);
  // Root's plog and root's plogsrvd (its start-up query of a stale socket) both use the first free name.
  for (let i = 0; i < 3; i++) {
    const p = await plog(['-d', srv.dir, '-q', 'pid'], { env: { PLOG_TMPDIR: tmp } });
    assert.deepEqual([p.code, p.stdout, p.stderr], [0, `${srv.pid}\n`, '']);
  }
  const child = spawnSleep();
  const l = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1h'], { env: { PLOG_TMPDIR: tmp } });
  assert.equal(l.code, 0, l.stderr);
  const d2 = tempDir(0o755);
  staleSocket(join(d2, 'plogd_sock'));
  const s2 = await Server.start({ dir: d2, env: { PLOG_TMPDIR: tmp } });
  assert.ok(alive(s2.pid));
  // Nothing squatted was touched, nothing followed, nothing of ours left behind.
  for (const n of names) {
    const a = before.get(n)!;
    const b = lstatSync(join(tmp, n));
    assert.deepEqual([b.ino, b.uid, b.mode, b.size, b.mtimeMs], [a.ino, a.uid, a.mode, a.size, a.mtimeMs], n);
  }
  assert.deepEqual(readdirSync(tmp).sort(), [...names].sort());
  assert.equal(readFileSync(victim, 'utf8'), 'secret\n');
  assert.equal(statSync(victim).mode & 0o777, 0o600);
  assert.equal(existsSync(join(privateDir, 'created')), false, 'a dangling squatted link was followed');
  assert.deepEqual(readdirSync(victimDir), ['victim']);
  await killChild(sq);
});

test('world mode: any local user may ask, but only for its own processes', async () => {
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world'] });
  const mine = spawnChild(...asUser('sleep', ['300'], asUid(OTHER)));
  const theirs = spawnSleep({ asNobody: true });
  await waitFor('the sleeps', () => [mine.pid!, theirs.pid].every((p) => readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n'));
  const other = (args: string[]): Promise<Awaited<ReturnType<typeof run>>> => run(...asUser(process.execPath, [join(ROOT, 'dist/src/cli/plog.js'), '-d', srv.dir, ...args], asUid(OTHER)));
  let r = await other(['-q', 'pid']);
  assert.deepEqual([r.code, r.stdout], [0, `${srv.pid}\n`]);
  r = await other(['-p', String(mine.pid), '-i', '1h']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${srv.dir}/sleep.${mine.pid}\n`, '']);
  assert.equal(lstatSync(join(srv.dir, `sleep.${mine.pid}`)).uid, OTHER);
  // nobody's process: neither logged nor stopped by the other user; nor the other way round.
  r = await other(['-p', String(theirs.pid), '-i', '1h']);
  assert.deepEqual([r.code, r.stderr], [15, `plog: pid ${theirs.pid}: Operation not permitted\n`]);
  const n = await plog(['-d', srv.dir, '-p', String(theirs.pid), '-i', '1h'], { asNobody: true });
  assert.equal(n.code, 0, n.stderr);
  r = await other(['-x', String(theirs.pid)]);
  assert.deepEqual([r.code, r.stderr], [15, `plog: pid ${theirs.pid}: Operation not permitted\n`]);
  const x = await plog(['-d', srv.dir, '-x', String(mine.pid)], { asNobody: true });
  assert.deepEqual([x.code, x.stderr], [15, `plog: pid ${mine.pid}: Operation not permitted\n`]);
  r = await other(['-l']);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), [`sleep.${mine.pid}`, `sleep.${theirs.pid}`].sort());
});

test('a log relinked between two samples: a symlink put at its name is never written through', async () => {
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-v', '-m', 'world'] });
  const victim = join(tempDir(0o755), 'victim');
  writeFileSync(victim, 'secret\n', { mode: 0o644 });
  const vBefore = statSync(victim);
  // (a) the owner renames its log away and puts a symlink at the name: the
  // server goes on writing to the file it has open; the link is left alone.
  const a = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => readFileSync(`/proc/${a.pid}/comm`, 'utf8') === 'sleep\n');
  const logA = join(srv.dir, `sleep.${a.pid}`);
  assert.equal((await plog(['-d', srv.dir, '-p', String(a.pid), '-i', '100ms'], { asNobody: true })).code, 0);
  await waitLines(logA, 4);
  const mv = await run(AS_NOBODY[0], [...AS_NOBODY.slice(1), 'sh', '-c', `mv ${logA} ${logA}.moved && ln -s ${victim} ${logA}`]);
  assert.equal(mv.code, 0, mv.stderr);
  const n = lines(`${logA}.moved`).length;
  await waitLines(`${logA}.moved`, n + 3);
  // (b) the owner deletes its log and puts a symlink there: "Can't find log", stopped.
  const b = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => readFileSync(`/proc/${b.pid}/comm`, 'utf8') === 'sleep\n');
  const logB = join(srv.dir, `sleep.${b.pid}`);
  assert.equal((await plog(['-d', srv.dir, '-p', String(b.pid), '-i', '100ms'], { asNobody: true })).code, 0);
  await waitLines(logB, 4);
  const rm = await run(AS_NOBODY[0], [...AS_NOBODY.slice(1), 'sh', '-c', `rm ${logB} && ln -s ${victim} ${logB}`]);
  assert.equal(rm.code, 0, rm.stderr);
  await srv.waitOutput('stderr', `Can't find log ${logB}\n`);
  await sleep(300); // three of a's 100 ms intervals: a write through the link would have come
  const vAfter = statSync(victim);
  assert.equal(readFileSync(victim, 'utf8'), 'secret\n');
  assert.deepEqual([vAfter.size, vAfter.mtimeMs, vAfter.uid], [vBefore.size, vBefore.mtimeMs, vBefore.uid]);
  assert.equal(lstatSync(logA).isSymbolicLink(), true);
  assert.equal(lstatSync(logB).isSymbolicLink(), true);
  rmSync(logA);
  rmSync(logB);
  assert.ok(noTornLine(srv.dir) > 5);
});

test('ENOSPC: a full runtime directory (64 kB tmpfs) stops each log with "Can\'t append logfile: ..."; no torn line; the server answers; room again, logging again', async (t) => {
  if (!canMount()) return t.skip('cannot mount a tmpfs here');
  const dir = tmpfs('64k');
  let srv: Server | null = null;
  try {
    srv = await Server.start({ dir, foreground: true, args: ['-v', '-m', 'world'] });
    const kids = Array.from({ length: 4 }, () => spawnSleep());
    for (const k of kids) assert.match(await raw().ask(dir, ints(0, 16, k.pid, 10)), /^Log file: /);
    // ~150 bytes a line, 400 lines a second: full within a second or two.
    await waitFor('every log to stop', async () => (await stats(dir)).logs === 0, { timeout: 20_000 });
    const errs = srv.stderr.split('\n').filter((l) => l.includes("Can't append logfile"));
    assert.equal(errs.length, 4, srv.stderr);
    for (const e of errs) {
      assert.match(e, new RegExp(`: Can't append logfile: (No space left on device|short write \\(\\d+ of \\d+ bytes; No space left on device\\?\\)) \\(${dir}/sleep\\.\\d+\\)$`), e);
    }
    const n = noTornLine(dir);
    t.diagnostic(`ENOSPC ${n} sample lines; ${errs.map((e) => e.replace(/^.*?\]: /, '')).join(' | ')}`);
    assert.ok(n > 50, `${n} sample lines`);
    // A new log cannot be made: a clear reply, no half-made file left.
    const k = spawnSleep();
    const reply = await raw().ask(dir, ints(0, 16, k.pid, 10));
    assert.match(
      reply,
      new RegExp(`^Problem logging to sleep\\.${k.pid} -- Can't (append|create) logfile: (No space left on device|short write \\(\\d+ of \\d+ bytes; No space left on device\\?\\))$`),
    );
    assert.equal(existsSync(join(dir, `sleep.${k.pid}`)), false);
    assert.equal(await raw().ask(dir, ints(0, 2)), String(srv.pid));
    // Room again: logging again.
    for (const kid of kids) rmSync(join(dir, `sleep.${kid.pid}`));
    assert.equal(await raw().ask(dir, ints(0, 16, k.pid, 1000)), `Log file: ${dir}/sleep.${k.pid}`);
    await waitLines(join(dir, `sleep.${k.pid}`), 4);
    noTornLine(dir);
  } finally {
    await srv?.kill();
    execFileSync('umount', [dir]);
  }
});

test('ENOSPC on the host log (root plog -r ., 64 kB tmpfs): the whole-host selection ends, said once; its rows are whole lines up to the end', async (t) => {
  if (!canMount()) return t.skip('cannot mount a tmpfs here');
  const dir = tmpfs('64k');
  let srv: Server | null = null;
  try {
    srv = await Server.start({ dir, foreground: true, args: ['-m', 'world'] });
    const r = await plog(['-d', dir, '-t', '60', '-r', '.', '-i', '100ms']);
    assert.equal(r.code, 0, r.stderr);
    const path = /to (\/.*\.csv)\.\n$/.exec(r.stdout)![1]!;
    // Every process of the machine ten times a second, about 100 bytes a row:
    // the file system is full within a second or two.
    const ended = new RegExp(`Can't append logfile: (No space left on device|short write \\(\\d+ of \\d+ bytes; No space left on device\\?\\)) \\(${path}\\): stopped selection /\\./ of uid 0\n`);
    await waitFor('the selection to end', () => ended.test(srv!.stderr), { timeout: 20_000 });
    await waitFor('no log and no selection left', async () => (await plog(['-d', dir, '-l'])).stdout === '', { timeout: 10_000 });
    // Said once for the selection, and at most once more by the samples that met it first.
    assert.equal(srv.stderr.split('stopped selection').length - 1, 1, srv.stderr);
    assert.ok(srv.stderr.split(`No space left on device (${path})\n`).length - 1 <= 1, srv.stderr);
    const text = readFileSync(path, 'latin1');
    assert.ok(text.endsWith('\n'), `the last line is cut: ${JSON.stringify(text.slice(-80))}`);
    const rows = text
      .split('\n')
      .slice(1, -1)
      .filter((l) => !l.startsWith('# pid '));
    assert.ok(rows.length > 100, `${rows.length} rows`);
    for (const row of rows) assert.match(row, /^\d+,\d{13},[A-Za-z],/, `not a whole row: ${JSON.stringify(row)}`);
    // The server still answers.
    assert.equal(await raw().ask(dir, ints(0, 2)), String(srv.pid));
  } finally {
    await srv?.kill();
    execFileSync('umount', [dir]);
  }
});

test('a runtime directory that is read-only: no socket (exit 9, "Read-only file system"); made unwritable under a running server: open logs go on, new ones get "Can\'t create logfile: Permission denied"', async (t) => {
  if (!canMount()) return t.skip('cannot mount a tmpfs here');
  // Linux refuses to remount a file system read-only while files on it are
  // open for writing (EBUSY): a running server always has its lock file and
  // logs open, so "made read-only under it" is the permission case below.
  const ro = tmpfs('64k');
  try {
    execFileSync('mount', ['-o', 'remount,ro', ro]);
    const r = await run(process.execPath, [join(ROOT, 'dist/src/cli/plogsrvd.js'), '-f', '-d', ro]);
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stderr, new RegExp(`Bind ${ro}/plogd_sock failed: Read-only file system`));
  } finally {
    execFileSync('umount', [ro]);
  }
  const dir = join(tempDir(0o755), 'run');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  const srv = await Server.start({ dir, asNobody: true, foreground: true, args: ['-v', '-m', 'world'] });
  const a = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => readFileSync(`/proc/${a.pid}/comm`, 'utf8') === 'sleep\n');
  assert.match(await raw().ask(dir, ints(0, 16, a.pid, 50)), /^Log file: /);
  await waitLines(join(dir, `sleep.${a.pid}`), 4);
  chmodSync(dir, 0o555);
  const b = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => readFileSync(`/proc/${b.pid}/comm`, 'utf8') === 'sleep\n');
  assert.equal(await raw().ask(dir, ints(0, 16, b.pid, 50)), `Problem logging to sleep.${b.pid} -- Can't create logfile: Permission denied`);
  const n = lines(join(dir, `sleep.${a.pid}`)).length;
  await waitLines(join(dir, `sleep.${a.pid}`), n + 5);
  chmodSync(dir, 0o755);
  assert.match(await raw().ask(dir, ints(0, 16, b.pid, 50)), /^Log file: /);
  assert.ok(alive(srv.pid));
  noTornLine(dir);
});

test('logging at 10 ms: the socket deleted (exit 6) or SIGKILL, then a new server; no torn line in any log', async () => {
  for (const how of ['socket deleted', 'SIGKILL']) {
    const srv = await Server.start({ foreground: true, args: ['-m', 'world'] });
    const kids = Array.from({ length: 5 }, () => spawnSleep());
    for (const k of kids) assert.match(await raw().ask(srv.dir, ints(0, 16, k.pid, 10)), /^Log file: /);
    const samples = (): number => kids.reduce((n, k) => n + Math.max(0, lines(join(srv.dir, `sleep.${k.pid}`)).length - 2), 0);
    await waitFor('100 samples in all', () => samples() > 100);
    if (how === 'SIGKILL') {
      srv.signal('SIGKILL');
      assert.deepEqual(await srv.ended(), { code: null, signal: 'SIGKILL' });
    } else {
      unlinkSync(srv.sock);
      assert.equal((await srv.ended()).code, 6);
      assert.match(srv.stderr, new RegExp(`${srv.sock} is gone\\.\n`));
    }
    const sizes = kids.map((k) => statSync(join(srv.dir, `sleep.${k.pid}`)).size);
    assert.ok(noTornLine(srv.dir) > 100, how);
    // A new server on the same directory (a stale socket after SIGKILL): new logs beside the old ones.
    const next = await Server.start({ dir: srv.dir, foreground: true });
    assert.equal(await raw().ask(srv.dir, ints(0, 16, kids[0]!.pid, 10)), `Log file: ${srv.dir}/sleep.${kids[0]!.pid}.2`);
    await sleep(200); // twenty 10 ms intervals: a write to an old log would have come
    assert.deepEqual(
      kids.map((k) => statSync(join(srv.dir, `sleep.${k.pid}`)).size),
      sizes,
      'an old log was written to',
    );
    await next.kill();
    noTornLine(srv.dir);
  }
});

test('20 real plog clients at once, each logging and listing: every one answered', async () => {
  const srv = await Server.start({ foreground: true });
  const kids = Array.from({ length: 20 }, () => spawnSleep());
  const results = await Promise.all(
    kids.map(async (k) => {
      const a = await plog(['-d', srv.dir, '-p', String(k.pid), '-i', '1h']);
      const b = await plog(['-d', srv.dir, '-l']);
      return { a, b, k };
    }),
  );
  for (const { a, b, k } of results) {
    assert.deepEqual([a.code, a.stdout, a.stderr], [0, `Log file: ${srv.dir}/sleep.${k.pid}\n`, '']);
    assert.equal(b.code, 0, b.stderr);
    assert.ok(b.stdout.split('\n').includes(`sleep.${k.pid}`), b.stdout);
  }
  const l = await plog(['-d', srv.dir, '-l']);
  assert.equal(l.stdout.split('\n').filter(Boolean).length, 20);
  assert.deepEqual(
    readdirSync(sockDir()).filter((n) => n.startsWith('.plog')),
    [],
    'client sockets left behind',
  );
});
