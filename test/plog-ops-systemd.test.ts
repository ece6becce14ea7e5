// plogsrvd under a service manager: sd_notify(3) messages on a
// NOTIFY_SOCKET (a path or an abstract name), the watchdog, SIGHUP as a
// reload, socket activation (LISTEN_FDS), the unit files (their options,
// systemd-analyze security). The units and init scripts as installed:
// test/services.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket, type Datagram } from '../src/native.js';
import { parseListenFds } from '../src/daemon/listenfds.js';
import { watchdogUsec, notifySocketPath } from '../src/daemon/sdnotify.js';
import { PLOGSRVD, ROOT, alive, exited, isSocket, plog, run, Server, sleep, spawnSleep, tempDir, testEnv, text, waitFor, waitLines } from './helpers/plog.js';

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
    return waitFor(
      `${String(line)} on the notify socket (has ${JSON.stringify(this.all())})`,
      () => {
        const all = this.all();
        for (let i = after; i < all.length; i++) if (typeof line === 'string' ? all[i] === line : line.test(all[i]!)) return i + 1;
        return null;
      },
      { timeout },
    );
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
    assert.ok(
      all.some((l) => /^STATUS=logging 0 processes on .*plogd_sock$/.test(l)),
      JSON.stringify(all),
    );
    // Every 200 ms: 5 in a second; at least 3 (a loaded machine is late), and not a flood.
    const t0 = Date.now();
    await sleep(1000); // the window they are counted in: 5 would come, a flood far more
    const dogs = n.got.filter((g) => g.at >= t0 && g.lines.includes('WATCHDOG=1')).length;
    assert.ok(dogs >= 3 && dogs <= 8, `${dogs} WATCHDOG=1 in a second`);
    // A process logged: the status after a reload counts it.
    const sl = spawnSleep();
    const r = await plog(['-d', srv.dir, '-p', String(sl.pid), '-i', '1m']);
    assert.equal(r.code, 0, r.stderr);
    srv.signal('SIGHUP');
    i = await n.wait(/^RELOADING=1$/, i);
    const mono = n.all()[i];
    assert.ok(mono !== undefined, 'a line after RELOADING=1');
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
    await sleep(500); // five 100 ms watchdog periods: a WATCHDOG=1 would have come
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
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
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

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** The options a unit's ExecStart gives its program (systemd/NAME). */
function execStartOptions(name: string): string[] {
  const unit = readFileSync(join(ROOT, 'systemd', name), 'utf8');
  return unit
    .match(/^ExecStart=\S+ (.*)$/m)![1]!
    .split(/\s+/)
    .filter((w) => w.startsWith('-'));
}

// systemd-analyze verify of the units as `npm install -g` installs them,
// with the programs where systemd looks for them: test/services.test.ts.
test('the units run the installed programs by name, with options the programs know', () => {
  const plogsrvd = readFileSync(join(ROOT, 'systemd/plogsrvd.service'), 'utf8');
  assert.match(plogsrvd, /^Type=notify$/m);
  assert.match(plogsrvd, /^ExecStart=plogsrvd -f /m);
  const sock = readFileSync(join(ROOT, 'systemd/plogsrvd.socket'), 'utf8');
  assert.match(sock, /^ListenDatagram=\/var\/local\/plog\/plogd_sock$/m);
  const h = spawnSync(process.execPath, [PLOGSRVD, '--help'], { encoding: 'utf8' });
  for (const opt of execStartOptions('plogsrvd.service')) assert.ok(h.stdout.includes(opt), `plogsrvd --help does not know ${opt}`);

  const strlogd = readFileSync(join(ROOT, 'systemd/strlogd.service'), 'utf8');
  assert.match(strlogd, /^ExecStart=strlogd -f/m);
  // Its runtime directory is strlogd's default (no -d), the one RuntimeDirectory= makes.
  assert.match(strlogd, /^RuntimeDirectory=strlog$/m);
  const hs = spawnSync(process.execPath, [join(ROOT, 'dist/src/bin/strlogd.js'), '--help'], { encoding: 'utf8' });
  assert.match(hs.stdout, /else \/run\/strlog;/);
  for (const opt of execStartOptions('strlogd.service')) assert.ok(hs.stdout.includes(opt), `strlogd --help does not know ${opt}`);
});

const SERVICES = ['plogsrvd.service', 'strlogd.service'];

test('systemd-analyze security: every shipped service is exposed 4.0 at most', { skip: hasAnalyze ? false : 'systemd-analyze is not installed (Debian package systemd)' }, () => {
  assert.deepEqual(
    readdirSync(join(ROOT, 'systemd'))
      .filter((f) => f.endsWith('.service'))
      .sort(),
    SERVICES,
  );
  for (const name of SERVICES) {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(ROOT, 'systemd', name)], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: (\d+\.\d) (\w+)/.exec(r.stdout);
    assert.ok(m, `${name}: ${r.stdout}${r.stderr}`);
    assert.ok(Number(m[1]) <= 4.0, `${name}: exposure ${m[1]} ${m[2]}\n${r.stdout}`);
    // Node compiles code at run time: forbidding writable executable memory would kill it.
    assert.doesNotMatch(readFileSync(join(ROOT, 'systemd', name), 'utf8'), /^MemoryDenyWriteExecute=yes/m, name);
  }
});
