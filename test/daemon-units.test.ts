// The shipped systemd units' sandboxes do not keep the daemons from their
// work: plogsrvd and strlogd run, as root, under what of
// systemd/plogsrvd.service and systemd/strlogd.service can be rebuilt
// without systemd (test/helpers/sandbox.ts says what), read from the unit
// files themselves, and do everything they are for. systemd-analyze's
// ratings are in plog-ops-systemd.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as P from './helpers/plog.js';
import * as S from './helpers/strlog.js';
import { UnixSocket } from '../src/native.js';
import { NOT_READ_ONLY, NO_PROC_SUBSET, sandboxUnavailable, sandboxed, unitSandbox } from './helpers/sandbox.js';

const skip = sandboxUnavailable() ?? false;
const unit = (name: string): string => join(P.ROOT, 'systemd', name);

/** Why a unit's sandbox cannot run this checkout: one with PrivateTmp= does not see a clone made under /tmp or /var/tmp to try it. */
function hiddenCheckout(unitFile: string): string | false {
  const privateTmp = /^PrivateTmp=(yes|true|on|1)\s*$/m.test(readFileSync(unit(unitFile), 'utf8'));
  return privateTmp && /^\/(var\/)?tmp\//.test(`${P.ROOT}/`) ? `the checkout (${P.ROOT}) is under a /tmp that ${unitFile}'s PrivateTmp= hides` : false;
}
const skipStrlogd = skip || hiddenCheckout('strlogd.service');
const bin = (name: string): string => join(P.ROOT, 'dist/src/bin', `${name}.js`);

/** A program started in a unit's sandbox, its output kept. */
class Sandboxed {
  stdout = '';
  stderr = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  }
  get pid(): number {
    return this.child.pid!;
  }
  said(what: RegExp): Promise<string> {
    return P.waitFor(`${what} from pid ${this.pid} (stdout: ${this.stdout}; stderr: ${this.stderr})`, () => {
      if (this.child.exitCode !== null) throw new Error(`exited ${this.child.exitCode}: ${this.stderr}`);
      return what.exec(this.stdout)?.[0] ?? null;
    });
  }
  /** The sandbox as the kernel sees it: bounding set, no_new_privs, / read-only. */
  checkConfined(caps: string[]): void {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const bnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)![1]}`);
    const want = caps.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c]!)), 0n);
    assert.equal(bnd, want, `CapBnd ${bnd.toString(16)}`);
    assert.match(status, /^NoNewPrivs:\s*1$/m);
    const root = readFileSync(`/proc/${this.pid}/mountinfo`, 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === '/');
    assert.match(root!.split(' ')[5]!, /(^|,)ro(,|$)/, 'the root file system is read-only');
  }
}

const CAP_NUMBERS: Record<string, number> = { CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_KILL: 5, CAP_SYS_PTRACE: 19, CAP_SYS_ADMIN: 21 };

/** Start argv in the unit's sandbox; `passed`: sockets given as descriptors
 * 3, 4 ... as the unit's socket unit gives them (LISTEN_FDS, LISTEN_PID the
 * program's: everything on the way execs). */
function start(unitFile: string, writable: string[], argv: string[], env: NodeJS.ProcessEnv, passed: number[] = []): Sandboxed {
  const u = unitSandbox(unitFile);
  for (const c of u.caps) assert.ok(c in CAP_NUMBERS, `a capability this test knows: ${c}`);
  const run = passed.length ? ['sh', '-c', `LISTEN_PID=$$ LISTEN_FDS=${passed.length} exec "$@"`, 'sh', ...argv] : argv;
  const [cmd, args] = sandboxed(u, writable, run);
  return new Sandboxed(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', ...passed], env }));
}

test(
  "plogsrvd in the sandbox of plogsrvd.service: logs other users' processes with every figure, gives them their logs, rotates and removes them, serves metrics, reloads, stops cleanly",
  { skip },
  async () => {
    const u = unitSandbox(unit('plogsrvd.service'));
    assert.deepEqual(u.readWritePaths, ['/var/local/plog']);
    assert.match(readFileSync(unit('plogsrvd.service'), 'utf8'), /^Environment=PLOG_TMPDIR=\/run\/plogsrvd$/m);
    const dir = P.tempDir(0o1777); // the runtime directory: root's, 1777, as plogsrvd.socket makes it
    const run = P.tempDir(0o700); // RuntimeDirectory=plogsrvd, $PLOG_TMPDIR
    const srv = start(
      unit('plogsrvd.service'),
      [dir, run],
      [process.execPath, bin('plogsrvd'), '-f', '-v', '-m', 'world', '-d', dir, '--max-size', '2k', '--keep', '1', '--max-total', '6k', '--metrics', '127.0.0.1:0'],
      P.testEnv({ PLOG_TMPDIR: run }),
    );
    try {
      await srv.said(/: started on /);
      srv.checkConfined(u.caps);
      // Clients bind their reply sockets in P.sockDir(), under /tmp: read-only for plogsrvd.
      const own = P.spawnSleep({ asNobody: true });
      const other = P.spawnSleep({ asNobody: true });
      const r1 = await P.plog(['-d', dir, '-p', String(own.pid), '-i', '20ms'], { asNobody: true });
      assert.equal(r1.code, 0, r1.stderr);
      const ownLog = /Log file: (\S+)/.exec(r1.stdout)![1]!;
      assert.equal(statSync(ownLog).uid, P.NOBODY, "the log is the requester's (CAP_CHOWN)");
      const r2 = await P.plog(['-d', dir, '-p', String(other.pid), '-i', '20ms', '--format', 'csv']);
      assert.equal(r2.code, 0, r2.stderr);
      const csv = /Log file: (\S+)/.exec(r2.stdout)![1]!;
      // root logging nobody's process: PSS and swap (CAP_SYS_PTRACE), I/O and open fds (and CAP_DAC_READ_SEARCH).
      const header = (await P.waitLines(csv, 2))[1]!.split(',');
      const full = await P.waitFor('a CSV line with every figure', () =>
        P.lines(csv)
          .slice(2)
          .map((l) => l.split(','))
          .find((f) => ['pss_bytes', 'swap_bytes', 'read_bytes', 'open_fds'].every((k) => f[header.indexOf(k)] !== '')),
      );
      assert.ok(full);
      // Rotation and --max-total of nobody's logs in the sticky directory.
      await srv.said(new RegExp(`: removed ${ownLog.slice(dir.length + 1).replace(/\./g, '\\.')}\\.r1 \\(\\d+ bytes\\): the directory is over --max-total`));
      const port = /serving metrics on 127\.0\.0\.1:(\d+)/.exec(await srv.said(/serving metrics on 127\.0\.0\.1:\d+/))![1];
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, new RegExp(`^plog_resident_memory_bytes\\{.*pid="${other.pid}".*\\} \\d+`, 'm'));
      srv.child.kill('SIGHUP');
      await srv.said(/: caught SIGHUP: reloading/);
      srv.child.kill('SIGUSR1');
      await srv.said(/: caught SIGUSR1: reopening logs/);
      srv.child.kill('SIGTERM');
      assert.deepEqual(await srv.exit, { code: 0, signal: null });
      assert.ok(!P.isSocket(join(dir, 'plogd_sock')), 'the socket removed');
      assert.equal(srv.stderr, '');
    } finally {
      srv.child.kill('SIGKILL');
    }
  },
);

test('strlogd in the sandbox of strlogd.service: takes messages from anyone, serves its loggers, stops cleanly', { skip: skipStrlogd }, async () => {
  const u = unitSandbox(unit('strlogd.service'));
  assert.equal(u.runtimeDirectory, 'strlog');
  assert.deepEqual(u.caps, []);
  // PrivateTmp hides /tmp: the runtime directory is under /run, as /run/strlog.
  const dir = mkdtempSync('/run/sl-');
  chmodSync(dir, 0o755); // RuntimeDirectoryMode=0755
  try {
    const logdir = S.tempDir();
    const d = start(unit('strlogd.service'), [dir], [process.execPath, bin('strlogd'), '-f', '-v', '-d', dir], S.testEnv({ PLOG_SYSLOG_SOCKET: join(dir, 'no-syslog') }));
    try {
      await d.said(/: started on /);
      d.checkConfined(u.caps);
      assert.equal(statSync(join(dir, 'strlogd.pid')).mode & 0o777, 0o600, 'UMask=0077');
      for (const s of ['submit', 'logger']) assert.equal(statSync(join(dir, s)).mode & 0o777, 0o666, s);
      const e = S.spawnProc(process.execPath, [bin('strerr'), '--rundir', dir, '-d', logdir]);
      const t = S.spawnProc(process.execPath, [bin('strtrace'), '--rundir', dir]);
      await d.said(/error logger \d+ registered/);
      await d.said(/trace logger \d+ registered/);
      const r = await S.node(bin('strlog'), ['--rundir', dir, '-f', 'error,trace', 'from nobody %d', '7'], { asNobody: true });
      assert.equal(r.code, 0, r.stderr);
      const r2 = await S.node(bin('strlog'), ['--rundir', dir, '-m', '5', '-s', '6', '-f', 'error', 'from a module']);
      assert.equal(r2.code, 0, r2.stderr);
      const lines = await S.waitErrorLog(logdir, 2);
      assert.match(lines[0]!, / 44 \d+ from nobody 7$/);
      assert.match(lines[1]!, / 5 6 from a module$/);
      await t.waitLines(1);
      d.child.kill('SIGUSR1');
      await d.said(/: trapped SIGUSR1/);
      d.child.kill('SIGTERM');
      assert.deepEqual(await d.exit, { code: 0, signal: null });
      assert.equal(d.stderr, '');
      await e.exit;
      await t.exit;
    } finally {
      d.child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'strlogd in the sandbox of strlogd.service, on the sockets strlogd.socket passes: finds where they are bound (/proc/self/net/unix under ProcSubset=pid), takes a message from nobody, leaves them',
  { skip: skipStrlogd },
  async () => {
    const u = unitSandbox(unit('strlogd.service'));
    const dir = mkdtempSync('/run/sl-');
    chmodSync(dir, 0o755);
    try {
      // As strlogd.socket binds them: root's, 0666, the datagram socket with SO_PASSCRED.
      const mask = process.umask(0o111);
      const submit = new UnixSocket();
      const logger = new UnixSocket({ stream: true });
      try {
        submit.bind(join(dir, 'submit'));
        logger.bind(join(dir, 'logger'));
      } finally {
        process.umask(mask);
      }
      const d = start(unit('strlogd.service'), [dir], [process.execPath, bin('strlogd'), '-f', '-v', '-d', dir], S.testEnv({ PLOG_SYSLOG_SOCKET: join(dir, 'no-syslog') }), [submit.fd, logger.fd]);
      try {
        await d.said(/: started on .*; sockets passed by the service manager/);
        d.checkConfined(u.caps);
        const r = await S.node(bin('strlog'), ['--rundir', dir, 'from nobody'], { asNobody: true });
        assert.equal(r.code, 2, r.stderr); // acknowledged; no logger takes it
        d.child.kill('SIGTERM');
        assert.deepEqual(await d.exit, { code: 0, signal: null });
        assert.equal(d.stderr, '');
        for (const s of ['submit', 'logger']) assert.ok(statSync(join(dir, s)).isSocket(), `${s} left to the service manager`);
      } finally {
        d.child.kill('SIGKILL');
        submit.close();
        logger.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('the sandbox is rebuilt for real: the file system read-only, /proc of processes only, the bounding set applied', { skip }, async () => {
  const dir = P.tempDir();
  const u = unitSandbox(unit('plogsrvd.service'));
  const [cmd, args] = sandboxed(u, [dir], ['sh', '-c', 'touch /etc/sandbox-probe 2>&1; ls /proc/meminfo 2>&1; touch "$1"/ok && echo writable; grep CapBnd /proc/self/status', 'sh', dir]);
  const r = await P.run(cmd, args);
  assert.ok(r.code !== NOT_READ_ONLY && r.code !== NO_PROC_SUBSET, `set-up failed: ${r.code}`);
  assert.match(r.stdout, /Read-only file system/);
  assert.match(r.stdout, /\/proc\/meminfo'?: No such file or directory/);
  assert.match(r.stdout, /^writable$/m);
  assert.match(r.stdout, /^CapBnd:\s*0*80005$/m);
});
