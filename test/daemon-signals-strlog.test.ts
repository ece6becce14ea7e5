// Signals against the strlog programs, as root: SIGUSR1 never opens Node's
// inspector; every signal whose default would end strlogd or strerr does
// what strlogd(8) and strerr(8) say (DAEMON_SIGNALS in
// src/daemon/signals.ts); strtrace, strlog and strclean end on SIGUSR1 as
// the default would. plogsrvd and plog are in daemon-signals.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { UnixSocket } from '../src/native.js';
import { driverStats } from '../src/strlog/index.js';
import { DAEMON_SIGNALS } from '../src/daemon/signals.js';
import { Driver, ROOT, errorLog, node, spawnProc, startStrerr, startStrtrace, strlogCmd, tempDir, waitFor, type Proc } from './helpers/strlog.js';
import { INSPECTOR_WORDS, caughtSignals, deliver, probeEnv, probed, realtimeRange, tcpSockets } from './helpers/signals.js';

const BIN = (name: string): string => join(ROOT, 'dist/src/bin', `${name}.js`);
const TABLE = Object.entries(DAEMON_SIGNALS) as [NodeJS.Signals, string][];

function noTcp(pid: number): void {
  assert.deepEqual(tcpSockets(pid), [], `pid ${pid} has TCP sockets`);
}

/** How often strlogd -v has said `trapped SIG`. */
function trapped(d: Driver, sig: string): number {
  return d.stdout.split('\n').filter((l) => l.endsWith(`: trapped ${sig}`)).length;
}

/** The driver's sockets are gone. */
function socketsGone(dir: string): boolean {
  return !existsSync(join(dir, 'submit')) && !existsSync(join(dir, 'logger'));
}

/** A message through strlogd to strerr, and its line in the error log. */
async function logged(d: Driver, logdir: string, text: string): Promise<void> {
  const r = await strlogCmd(d.dir, ['-f', 'error', text]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(`"${text}" in ${logdir}`, () => errorLog(logdir).some((l) => l.endsWith(` ${text}`)));
}

test('strlogd (root, -f, not -v): SIGUSR1 five times never opens an inspector, changes nothing, and it still answers', async () => {
  // Not -v: strlogd -v always listened for SIGUSR1 (to report it), which kept Node's inspector away.
  const dir = tempDir(0o755);
  const out = join(tempDir(), 'probe');
  const p = spawnProc(process.execPath, [BIN('strlogd'), '-f', '-d', dir], { env: { ...probeEnv(out), PLOG_SYSLOG_SOCKET: join(dir, 'no-syslog') } });
  await waitFor('strlogd answers', () =>
    driverStats(dir).then(
      (s) => s.pid === p.pid,
      () => false,
    ),
  );
  for (let i = 1; i <= 5; i++) {
    await deliver(p.pid, 'SIGUSR1');
    assert.equal((await driverStats(dir)).pid, p.pid);
    noTcp(p.pid);
  }
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
  assert.equal(probed(out, p.pid, 'exit'), 'undefined', 'inspector.url() at the exit');
  assert.doesNotMatch(p.stderr, INSPECTOR_WORDS);
  assert.ok(socketsGone(dir), 'the sockets removed');
});

test('strlogd (root, detached): SIGUSR1 three times, then no TCP socket and it answers', async () => {
  const dir = tempDir(0o755);
  const out = join(tempDir(), 'probe');
  const r = await node(BIN('strlogd'), ['-d', dir], { env: { ...probeEnv(out), PLOG_SYSLOG_SOCKET: join(dir, 'no-syslog') } });
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(readFileSync(join(dir, 'strlogd.pid'), 'utf8'));
  try {
    for (let i = 0; i < 3; i++) await deliver(pid, 'SIGUSR1');
    assert.equal((await driverStats(dir)).pid, pid);
    noTcp(pid);
  } finally {
    process.kill(pid, 'SIGTERM');
  }
  await waitFor('the sockets removed', () => socketsGone(dir));
  await waitFor('the probe heard its exit', () => probed(out, pid, 'exit'));
  assert.equal(probed(out, pid, 'exit'), 'undefined');
});

test('strlogd: every signal that would end it is decided; the ignored ones (real-time too) leave it serving', async () => {
  const d = await Driver.start();
  for (const [sig, action] of TABLE) {
    if (action === 'stop') continue;
    // No configuration to reload, no log to reopen: SIGHUP and SIGUSR1 are ignored too.
    d.child.kill(sig);
    await waitFor(`${sig} trapped`, () => trapped(d, sig) >= 1);
  }
  const [min, max] = realtimeRange();
  for (const n of [min, min + 1, Math.floor((min + max) / 2), max - 1, max]) await deliver(d.pid, n);
  const caught = caughtSignals(d.pid);
  for (let n = min; n <= max; n++) assert.ok(caught.has(n), `signal ${n} is caught`);
  assert.equal((await d.stats()).pid, d.pid);
  noTcp(d.pid);
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
  assert.ok(socketsGone(d.dir), 'the sockets removed');
});

for (const [sig, action] of TABLE) {
  if (action !== 'stop') continue;
  test(`strlogd: ${sig} stops it cleanly: status 0, its sockets removed`, async () => {
    const d = await Driver.start();
    assert.deepEqual(await d.stop(sig), { code: 0, signal: null });
    assert.match(d.stdout, new RegExp(`: caught ${sig}: shutting down$`, 'm'));
    assert.ok(socketsGone(d.dir), 'the sockets removed');
  });
}

test('strerr (root): SIGUSR1 and SIGHUP reopen the error log moved away; never an inspector', async () => {
  const d = await Driver.start();
  const logdir = tempDir();
  const out = join(tempDir(), 'probe');
  const e = await startStrerr(d, logdir, [], { env: probeEnv(out) });
  const rounds = ['SIGUSR1', 'SIGHUP', 'SIGUSR1', 'SIGUSR1'] as const;
  for (const [i, sig] of rounds.entries()) {
    await logged(d, logdir, `before ${sig} ${i}`);
    const [name] = readdirSync(logdir).filter((f) => f.startsWith('error.'));
    renameSync(join(logdir, name!), join(logdir, `moved.${i}`));
    await deliver(e.pid, sig);
    await logged(d, logdir, `after ${sig} ${i}`);
    assert.match(readFileSync(join(logdir, `moved.${i}`), 'utf8'), new RegExp(`before ${sig} ${i}\n$`), 'nothing more in the moved file');
    noTcp(e.pid);
  }
  assert.deepEqual(await e.stop(), { code: 0, signal: null });
  assert.equal(probed(out, e.pid, 'exit'), 'undefined');
  assert.doesNotMatch(e.stderr, INSPECTOR_WORDS);
});

test('strerr: the ignored signals (real-time too) leave it logging', async () => {
  const d = await Driver.start();
  const logdir = tempDir();
  const e = await startStrerr(d, logdir);
  for (const [sig, action] of TABLE) if (action === 'ignore') await deliver(e.pid, sig);
  const [min, max] = realtimeRange();
  for (const n of [min, Math.floor((min + max) / 2), max]) await deliver(e.pid, n);
  await logged(d, logdir, 'still here');
  assert.equal((await d.logger(e.pid, 'error'))?.pid, e.pid, 'still registered');
  assert.equal(e.stderr, '');
  assert.deepEqual(await e.stop(), { code: 0, signal: null });
});

test('strerr: each stop signal ends it with status 0', async () => {
  const d = await Driver.start();
  for (const [sig, action] of TABLE) {
    if (action !== 'stop') continue;
    const logdir = tempDir();
    const e = await startStrerr(d, logdir);
    assert.deepEqual(await e.stop(sig), { code: 0, signal: null }, sig);
    await waitFor('strerr unregistered', async () => !(await d.logger(e.pid, 'error')));
  }
});

/** A driver that never answers, at DIR/submit (datagrams) and DIR/logger (where
 * strlog and strclean ask for their answer); got() counts what it received. */
function silentDriver(dir: string): { got: () => number; close: () => void } {
  const s = new UnixSocket();
  s.bind(join(dir, 'submit'));
  let n = 0;
  s.setReadable(() => {
    while (s.recv(70_000)) n++;
  });
  const conns = new Set<Socket>();
  const srv = createServer((c) => {
    conns.add(c);
    c.on('data', () => n++);
    c.on('error', () => {});
    c.on('close', () => conns.delete(c));
  }).listen(join(dir, 'logger'));
  return {
    got: () => n,
    close: () => {
      s.close();
      for (const c of conns) c.destroy();
      srv.close();
    },
  };
}

async function endsOnSigusr1(p: Proc): Promise<void> {
  p.child.kill('SIGUSR1');
  assert.deepEqual(await p.exit, { code: null, signal: 'SIGUSR1' });
  assert.doesNotMatch(p.stderr, INSPECTOR_WORDS);
}

test('strtrace: SIGUSR1 ends it as the default would, without an inspector', async () => {
  const d = await Driver.start();
  const t = await startStrtrace(d);
  await endsOnSigusr1(t);
});

for (const prog of ['strlog', 'strclean'] as const) {
  test(`${prog}: SIGUSR1 while it waits for strlogd's answer ends it as the default would, without an inspector`, async () => {
    const dir = tempDir(0o755);
    const silent = silentDriver(dir);
    try {
      const args = prog === 'strlog' ? ['--rundir', dir, '-t', '60', 'hello'] : ['--rundir', dir, '-d', tempDir()];
      const p = spawnProc(process.execPath, [BIN(prog), ...args]);
      await waitFor(`${prog} submitted`, () => silent.got() > 0);
      await endsOnSigusr1(p);
    } finally {
      silent.close();
    }
  });
}
