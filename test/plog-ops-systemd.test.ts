// plogsrvd under a service manager (issue 7): sd_notify(3) messages on a
// NOTIFY_SOCKET (a path or an abstract name), the watchdog, SIGHUP as a
// reload, socket activation (LISTEN_FDS), the unit files (systemd-analyze
// verify) and the System V init script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket, type Datagram } from '../src/native.js';
import { parseListenFds } from '../src/daemon/listenfds.js';
import { watchdogUsec, notifySocketPath } from '../src/daemon/sdnotify.js';
import {
  PLOGSRVD,
  ROOT,
  alive,
  exited,
  isSocket,
  plog,
  run,
  Server,
  sleep,
  spawnSleep,
  tempDir,
  testEnv,
  text,
  waitFor,
  waitLines,
} from './helpers/plog.js';

/** A datagram socket standing in for the service manager's notify socket. */
class NotifySocket {
  readonly sock = new UnixSocket();
  readonly got: Array<{ at: number; lines: string[] }> = [];
  constructor(readonly path: string) {
    this.sock.bind(path);
    this.sock.setReadable(() => {
      for (;;) {
        const d: Datagram | null = this.sock.recv(4096);
        if (!d) break;
        this.got.push({ at: Date.now(), lines: text(d).split('\n').filter(Boolean) });
      }
    });
  }
  all(): string[] {
    return this.got.flatMap((g) => g.lines);
  }
  wait(line: string | RegExp, after = 0, timeout = 10_000): Promise<number> {
    return waitFor(`${String(line)} on the notify socket (has ${JSON.stringify(this.all())})`, () => {
      const all = this.all();
      for (let i = after; i < all.length; i++) if (typeof line === 'string' ? all[i] === line : line.test(all[i])) return i + 1;
      return null;
    }, { timeout });
  }
  close(): void {
    this.sock.close();
  }
}

test('listenfds: LISTEN_FDS for our pid, names, and what is not for us', () => {
  assert.deepEqual(parseListenFds({}, 10), { ok: true, fds: [] });
  assert.deepEqual(parseListenFds({ LISTEN_FDS: '1', LISTEN_PID: '10' }, 10), { ok: true, fds: [{ fd: 3, name: 'unknown' }] });
  assert.deepEqual(parseListenFds({ LISTEN_FDS: '2', LISTEN_PID: '10', LISTEN_FDNAMES: 'a:b' }, 10), {
    ok: true,
    fds: [
      { fd: 3, name: 'a' },
      { fd: 4, name: 'b' },
    ],
  });
  // Inherited from a parent: another pid's.
  assert.deepEqual(parseListenFds({ LISTEN_FDS: '1', LISTEN_PID: '11' }, 10), { ok: true, fds: [] });
  assert.equal(parseListenFds({ LISTEN_FDS: '1' }, 10).ok, false);
  assert.equal(parseListenFds({ LISTEN_FDS: 'x', LISTEN_PID: '10' }, 10).ok, false);
  assert.equal(parseListenFds({ LISTEN_FDS: '1', LISTEN_PID: '0x' }, 10).ok, false);
  assert.equal(parseListenFds({ LISTEN_FDS: '2', LISTEN_PID: '10', LISTEN_FDNAMES: 'a' }, 10).ok, false);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '3000000' }, 5), 3_000_000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '5' }, 5), 3_000_000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '6' }, 5), 0);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '0' }, 5), 0);
  assert.equal(notifySocketPath({ NOTIFY_SOCKET: '@x' }), '@x');
  assert.equal(notifySocketPath({ NOTIFY_SOCKET: 'vsock:2:1' }), null);
});

test('Type=notify: READY=1, STATUS and MAINPID once it serves; WATCHDOG=1 every half period; RELOADING=1 then READY=1 on SIGHUP; STOPPING=1', async () => {
  const n = new NotifySocket(join(tempDir(), 'notify'));
  try {
    const srv = await Server.start({ foreground: true, env: { NOTIFY_SOCKET: n.path, WATCHDOG_USEC: '400000' } });
    let i = await n.wait('READY=1');
    const all = n.all();
    assert.ok(all.includes(`MAINPID=${srv.pid}`), JSON.stringify(all));
    assert.ok(all.some((l) => /^STATUS=logging 0 processes on .*plogd_sock$/.test(l)), JSON.stringify(all));
    // Every 200 ms: at least 4 in a second, and not a flood.
    const t0 = Date.now();
    await sleep(1000);
    const dogs = n.got.filter((g) => g.at >= t0 && g.lines.includes('WATCHDOG=1')).length;
    assert.ok(dogs >= 3 && dogs <= 8, `${dogs} WATCHDOG=1 in a second`);
    // A process logged: the status after a reload counts it.
    const sl = spawnSleep();
    const r = await plog(['-d', srv.dir, '-p', String(sl.pid), '-i', '1m']);
    assert.equal(r.code, 0, r.stderr);
    srv.signal('SIGHUP');
    i = await n.wait(/^RELOADING=1$/, i);
    const mono = n.all()[i];
    assert.match(mono, /^MONOTONIC_USEC=\d+$/);
    i = await n.wait('READY=1', i);
    assert.ok(n.all().includes(`STATUS=logging 1 processes on ${srv.sock}`), JSON.stringify(n.all()));
    assert.ok(alive(srv.pid), 'SIGHUP ended the server');
    srv.signal('SIGTERM');
    await n.wait('STOPPING=1', i);
    assert.equal((await srv.ended()).code, 0);
  } finally {
    n.close();
  }
});

test('NOTIFY_SOCKET in the abstract namespace; WATCHDOG_PID of another process means no watchdog', async () => {
  const name = `@plog-test-notify-${process.pid}`;
  const n = new NotifySocket(name);
  try {
    const srv = await Server.start({ foreground: true, env: { NOTIFY_SOCKET: name, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' } });
    await n.wait('READY=1');
    await sleep(500);
    assert.ok(!n.all().includes('WATCHDOG=1'), JSON.stringify(n.all()));
    await srv.kill();
  } finally {
    n.close();
  }
});

test('socket activation: plogsrvd -f serves on the socket passed as fd 3 (LISTEN_FDS=1, LISTEN_PID its own) and leaves it in place', async () => {
  const dir = tempDir();
  const path = join(dir, 'plogd_sock');
  const passed = new UnixSocket();
  passed.bind(path);
  chmodSync(path, 0o777);
  // The child's pid is known only once it runs: sh sets LISTEN_PID to its
  // own pid and execs plogsrvd under it.
  const child = spawn('sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=plogsrvd.socket exec "${process.execPath}" "${PLOGSRVD}" -f -v -d "${dir}"`], {
    stdio: ['ignore', 'pipe', 'pipe', passed.fd],
    env: testEnv(),
  });
  passed.close(); // the server holds it now
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  try {
    await waitFor(`plogsrvd to start (${out})`, () => out.includes('started on'));
    const q = await plog(['-d', dir, '-q', 'pid']);
    assert.deepEqual([q.code, q.stdout], [0, `${child.pid}\n`], q.stderr);
    const sl = spawnSleep();
    const r = await plog(['-d', dir, '-p', String(sl.pid), '-i', '100ms']);
    assert.equal(r.code, 0, r.stderr);
    const log = r.stdout.trim().replace(/^Log file: /, '');
    await waitLines(log, 5);
    // (LISTEN_* are removed from process.env at start, for our children.)
    const env = readFileSync(`/proc/${child.pid}/environ`, 'latin1');
    assert.ok(env.includes('LISTEN_FDS=1'), 'the exec environment had it (sanity)');
    child.kill('SIGTERM');
    assert.equal((await exited(child)).code, 0, out);
    assert.ok(isSocket(path), 'the passed socket was removed at the end');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('socket activation: a passed socket without -f, or two of them, is an error (status 8)', async () => {
  const dir = tempDir();
  const passed = new UnixSocket();
  passed.bind(join(dir, 'plogd_sock'));
  try {
    for (const [args, fds, why] of [
      [['-d', dir], '1', /needs -f/],
      [['-f', '-d', dir], '2', /2 sockets passed/],
    ] as const) {
      const r = await run('sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=${fds} exec "${process.execPath}" "${PLOGSRVD}" "$@"`, 'sh', ...args], {
        extraFds: [passed.fd, passed.fd],
      });
      assert.equal(r.code, 8, r.stderr);
      assert.match(r.stderr, why);
    }
  } finally {
    passed.close();
  }
});

test('systemd-analyze verify: the unit files', { skip: spawnSync('systemd-analyze', ['--version']).status === 0 ? false : 'systemd-analyze is not installed' }, () => {
  const d = tempDir();
  // ExecStart must name an executable: a stand-in for the installed one.
  const exe = join(d, 'plogsrvd');
  writeFileSync(exe, `#!/bin/sh\nexec "${process.execPath}" "${PLOGSRVD}" "$@"\n`);
  chmodSync(exe, 0o755);
  const unit = readFileSync(join(ROOT, 'systemd/plogsrvd.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/plogsrvd -f /m);
  writeFileSync(join(d, 'plogsrvd.service'), unit.replaceAll('/usr/local/bin/plogsrvd', exe));
  const sock = readFileSync(join(ROOT, 'systemd/plogsrvd.socket'), 'utf8');
  assert.match(sock, /^ListenDatagram=\/var\/local\/plog\/plogd_sock$/m);
  writeFileSync(join(d, 'plogsrvd.socket'), sock);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(d, 'plogsrvd.socket'), join(d, 'plogsrvd.service')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
  // The options the unit gives are plogsrvd's.
  const h = spawnSync(process.execPath, [PLOGSRVD, '--help'], { encoding: 'utf8' });
  for (const opt of unit.match(/^ExecStart=\S+ (.*)$/m)![1].split(/\s+/).filter((w) => w.startsWith('-'))) {
    assert.ok(h.stdout.includes(opt), `plogsrvd --help does not know ${opt}`);
  }
});

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** The shipped unit `name` in a temporary directory, its ExecStart program
 * (/usr/local/bin/PROG) replaced by a stand-in running dist/src/bin/PROG.js. */
function stagedUnit(name: string): string {
  const d = tempDir();
  let unit = readFileSync(join(ROOT, 'systemd', name), 'utf8');
  for (const [, prog] of unit.matchAll(/^ExecStart=\/usr\/local\/bin\/(\w+)/gm)) {
    const exe = join(d, prog);
    writeFileSync(exe, `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist/src/bin', `${prog}.js`)}" "$@"\n`);
    chmodSync(exe, 0o755);
    unit = unit.replaceAll(`/usr/local/bin/${prog}`, exe);
  }
  writeFileSync(join(d, name), unit);
  return join(d, name);
}

const SERVICES = ['plogsrvd.service', 'strlogd.service'];

test('systemd-analyze security: every shipped service is exposed 4.0 at most', { skip: hasAnalyze ? false : 'systemd-analyze is not installed (Debian package systemd)' }, () => {
  assert.deepEqual(readdirSync(join(ROOT, 'systemd')).filter((f) => f.endsWith('.service')).sort(), SERVICES);
  for (const name of SERVICES) {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', stagedUnit(name)], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: (\d+\.\d) (\w+)/.exec(r.stdout);
    assert.ok(m, `${name}: ${r.stdout}${r.stderr}`);
    assert.ok(Number(m[1]) <= 4.0, `${name}: exposure ${m[1]} ${m[2]}\n${r.stdout}`);
    // Node compiles code at run time: forbidding writable executable memory would kill it.
    assert.doesNotMatch(readFileSync(join(ROOT, 'systemd', name), 'utf8'), /^MemoryDenyWriteExecute=yes/m, name);
  }
});

test('systemd-analyze verify: strlogd.service; its options are strlogd\'s', { skip: hasAnalyze ? false : 'systemd-analyze is not installed' }, () => {
  const unit = stagedUnit('strlogd.service');
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
  const text = readFileSync(join(ROOT, 'systemd/strlogd.service'), 'utf8');
  assert.match(text, /^ExecStart=\/usr\/local\/bin\/strlogd -f/m);
  // Its runtime directory is strlogd's default (no -d), the one RuntimeDirectory= makes.
  assert.match(text, /^RuntimeDirectory=strlog$/m);
  const h = spawnSync(process.execPath, [join(ROOT, 'dist/src/bin/strlogd.js'), '--help'], { encoding: 'utf8' });
  assert.match(h.stdout, /else \/run\/strlog;/);
  for (const opt of text.match(/^ExecStart=\S+ (.*)$/m)![1].split(/\s+/).filter((w) => w.startsWith('-'))) {
    assert.ok(h.stdout.includes(opt), `strlogd --help does not know ${opt}`);
  }
});

test('init.d/plogsrvd: start, status, reload, restart, stop, with plog 0.1.0\'s mode words', async () => {
  const dir = tempDir(0o755);
  const d = tempDir();
  const exe = join(d, 'plogsrvd');
  writeFileSync(exe, `#!/bin/sh\nexec "${process.execPath}" "${PLOGSRVD}" "$@"\n`);
  chmodSync(exe, 0o755);
  const defaults = join(d, 'defaults');
  writeFileSync(defaults, `PLOGDIR=${dir}\nMODE=any\nDAEMON=${exe}\n`);
  const script = join(ROOT, 'init.d/plogsrvd');
  const env = { PLOGSRVD_DEFAULTS: defaults };
  const sh = (arg: string) => run('sh', [script, arg], { env });
  let r = await sh('status');
  assert.equal(r.code, 3, r.stdout);
  r = await sh('start');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const srv = await Server.adopt(dir);
  try {
    r = await sh('status');
    assert.deepEqual([r.code, r.stdout.trim()], [0, `plogsrvd is running (pid ${srv.pid}).`]);
    // -m any: a socket anyone may use.
    assert.equal(spawnSync('stat', ['-c', '%a', join(dir, 'plogd_sock')], { encoding: 'utf8' }).stdout.trim(), '777');
    r = await sh('reload');
    assert.equal(r.code, 0);
    await sleep(300);
    assert.ok(alive(srv.pid), 'reload ended the daemon');
    r = await sh('start');
    assert.match(r.stdout, /already running/);
    r = await sh('restart');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(!alive(srv.pid), 'restart left the old daemon');
    const again = await Server.adopt(dir);
    assert.notEqual(again.pid, srv.pid);
    r = await sh('stop');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(!alive(again.pid));
    assert.ok(!existsSync(join(dir, 'plogd_sock')));
    r = await sh('status');
    assert.equal(r.code, 3);
    r = await sh('bogus');
    assert.equal(r.code, 2);
  } finally {
    await srv.kill();
  }
});
