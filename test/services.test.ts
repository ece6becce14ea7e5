// The services as an administrator sets them up: the package packed and
// installed with `npm install -g` where npm puts it ($(npm prefix -g):
// /usr/local, or /usr with Debian's npm), each in a private mount namespace
// over the real system (test/helpers/package.ts), so that the tools look
// where they would and nothing of the machine changes. Then the shipped
// systemd units are checked where they were installed (systemd-analyze
// verify; their security ratings are in plog-ops-systemd.test.ts) and the
// shipped init scripts run as rc runs them at boot (a bare environment, a
// PATH without /usr/local), as root on temporary runtime directories:
// start, status, reload, restart, stop, and a restart that cannot happen
// leaves the running daemon alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, plog, ROOT, run, Server, spawnSleep, tempDir, waitLines, type RunResult } from './helpers/plog.js';
import { driverStats } from '../src/strlog/client.js';
import { NAME, Offline, packedTarball, PrivateRoot } from './helpers/package.js';

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const skip = PrivateRoot.unavailable() ?? false;
/** The PATH init scripts get at boot (sysvinit's /etc/init.d/rc): no /usr/local. */
const RC_PATH = '/sbin:/usr/sbin:/bin:/usr/bin';
const PREFIXES = ['/usr/local', '/usr'] as const;
type Prefix = (typeof PREFIXES)[number];

const roots = new Map<Prefix, PrivateRoot>();
const started: string[] = [];

before(async () => {
  if (skip) return;
  const off = await Offline.create();
  const tarball = await packedTarball();
  for (const prefix of PREFIXES) {
    const root = await PrivateRoot.start([prefix]);
    roots.set(prefix, root);
    const r = await off.npm(['install', '-g', '--prefix', prefix, tarball], off.home, root.via);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
});

after(() => {
  // Whatever a failed test left running, by its lock file (emptied when the
  // daemon stops).
  for (const pidfile of started) {
    try {
      const pid = Number(readFileSync(pidfile, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

const pkgDir = (prefix: Prefix): string => join(prefix, 'lib/node_modules', NAME);

/** A command in the namespace where plogkit is installed under prefix. */
function inRoot(prefix: Prefix, cmd: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const via = roots.get(prefix)!.via;
  const vars = Object.entries({ PATH: RC_PATH, ...env }).map(([k, v]) => `${k}=${v}`);
  return run(via[0]!, [...via.slice(1), 'env', '-i', ...vars, ...cmd], { env: process.env });
}

test('npm install -g puts the programs where systemd looks a bare command name up (systemd.service(5), "Command lines")', { skip }, async () => {
  for (const prefix of PREFIXES) {
    for (const prog of ['plogsrvd', 'strlogd']) {
      const r = await inRoot(prefix, ['sh', '-c', `test -x ${prefix}/bin/${prog} && echo ok`]);
      assert.equal(r.stdout, 'ok\n', `${prefix}/bin/${prog}: ${r.stderr}`);
    }
  }
});

for (const prefix of PREFIXES) {
  test(
    `systemd-analyze verify: every unit the package ships, as installed under ${prefix}, is clean`,
    { skip: skip || (hasAnalyze ? false : 'systemd-analyze is not installed (Debian package systemd)') },
    async () => {
      const dir = join(pkgDir(prefix), 'systemd');
      const ls = await inRoot(prefix, ['ls', dir]);
      const units = ls.stdout.split('\n').filter(Boolean);
      assert.deepEqual(units, ['plogsrvd.service', 'plogsrvd.socket', 'strlogd.service', 'strlogd.socket']);
      const v = await inRoot(prefix, ['systemd-analyze', 'verify', '--man=no', ...units.map((u) => join(dir, u))]);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(v.stderr.trim(), '');
    },
  );
}

/** An init script of the package installed under prefix, with its defaults file. */
class InitScript {
  readonly defaults: string;
  constructor(
    readonly prefix: Prefix,
    readonly name: 'plogsrvd' | 'strlogd',
    settings: Record<string, string>,
  ) {
    this.defaults = join(tempDir(), 'defaults');
    this.set(settings);
  }
  set(settings: Record<string, string>): void {
    writeFileSync(
      this.defaults,
      Object.entries(settings)
        .map(([k, v]) => `${k}='${v}'\n`)
        .join(''),
    );
  }
  run(action: string): Promise<RunResult> {
    return inRoot(this.prefix, [join(pkgDir(this.prefix), 'init.d', this.name), action], { [`${this.name.toUpperCase()}_DEFAULTS`]: this.defaults });
  }
  /** `status`: the pid it says runs, or null (exit 3). */
  async status(): Promise<number | null> {
    const r = await this.run('status');
    if (r.code === 3) {
      assert.equal(r.stdout, `${this.name} is not running.\n`);
      return null;
    }
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = new RegExp(`^${this.name} is running \\(pid (\\d+)\\)\\.\\n$`).exec(r.stdout);
    assert.ok(m, r.stdout);
    return Number(m[1]);
  }
}

/** The daemon behind pid is the installed program (its command line names it). */
function assertInstalled(pid: number, prefix: Prefix, name: string): void {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.equal(argv[1], join(prefix, 'bin', name), argv.join(' '));
}

/** What each init script starts, and how the test sees it serve. */
const DAEMONS = {
  plogsrvd: {
    settings: (dir: string): Record<string, string> => ({ PLOGDIR: dir, MODE: 'any' }),
    pidfile: (dir: string): string => join(dir, 'plogsrvd.pid'),
    /** It logs a process for a client, and answers as the pid the script says. */
    async serves(dir: string, pid: number): Promise<void> {
      const srv = await Server.adopt(dir);
      assert.equal(srv.pid, pid);
      const s = spawnSleep();
      const r = await plog(['-d', dir, '-p', String(s.pid), '-i', '100ms']);
      assert.equal(r.code, 0, r.stderr);
      await waitLines(join(dir, `sleep.${s.pid}`), 3);
    },
  },
  strlogd: {
    settings: (dir: string): Record<string, string> => ({ STRLOGDIR: dir }),
    pidfile: (dir: string): string => join(dir, 'strlogd.pid'),
    /** It takes a message, and answers for its counters as the pid the script says. */
    async serves(dir: string, pid: number): Promise<void> {
      const before = (await driverStats(dir)).records;
      const r = await run(process.execPath, [join(ROOT, 'dist/src/cli/strlog.js'), '--rundir', dir, 'from the test']);
      assert.equal(r.code, 2, r.stderr); // taken, and no logger registered to get it
      const st = await driverStats(dir);
      assert.equal(st.pid, pid);
      assert.equal(st.records, before + 1, JSON.stringify(st));
    },
  },
} as const;

for (const prefix of PREFIXES) {
  for (const name of ['plogsrvd', 'strlogd'] as const) {
    test(
      `init.d/${name} as rc runs it, with plogkit installed under ${prefix}: finds the installed ${name}; start, status, ${name === 'plogsrvd' ? 'reload' : 'reload refused (nothing to reload)'}, restart, stop`,
      { skip },
      async () => {
        const d = DAEMONS[name];
        const dir = tempDir(0o755);
        started.push(d.pidfile(dir));
        const sc = new InitScript(prefix, name, d.settings(dir));
        assert.equal(await sc.status(), null);
        let r = await sc.run('start');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const pid = await sc.status();
        assert.ok(pid);
        assertInstalled(pid, prefix, name);
        await d.serves(dir, pid);
        r = await sc.run('start');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /already running/);
        r = await sc.run('reload');
        if (name === 'plogsrvd') {
          assert.equal(r.code, 0, r.stdout + r.stderr);
          await d.serves(dir, pid);
        } else {
          // strlogd reads nothing after its start.
          assert.deepEqual([r.code, r.stderr], [3, 'strlogd has nothing to reload: use restart.\n']);
        }
        assert.equal(await sc.status(), pid, 'a reload keeps the daemon');
        r = await sc.run('restart');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.ok(!alive(pid), 'restart left the old daemon');
        const again = await sc.status();
        assert.ok(again && again !== pid);
        assertInstalled(again, prefix, name);
        await d.serves(dir, again);
        r = await sc.run('stop');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.ok(!alive(again));
        assert.equal(await sc.status(), null);
        r = await sc.run('stop');
        assert.equal(r.code, 0, 'stopping a stopped service succeeds (LSB)');
        r = await sc.run('bogus');
        assert.equal(r.code, 2);
      },
    );
  }
}

for (const name of ['plogsrvd', 'strlogd'] as const) {
  test(`init.d/${name}: a restart that cannot start the new ${name} (missing, not runnable, refused options) says why and leaves the running one serving; start says it too`, { skip }, async () => {
    const prefix = '/usr';
    const d = DAEMONS[name];
    const dir = tempDir(0o755);
    started.push(d.pidfile(dir));
    const good = d.settings(dir);
    const sc = new InitScript(prefix, name, good);
    let r = await sc.run('start');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pid = (await sc.status())!;
    // A program that cannot run: its interpreter is missing, as when node is
    // not on the PATH.
    const noNode = join(tempDir(), name);
    writeFileSync(noNode, '#!/usr/bin/env no-such-node\n');
    chmodSync(noNode, 0o755);
    const bad: Array<[string, Record<string, string>, number, RegExp]> = [
      ['missing', { DAEMON: `/usr/local/bin/${name}` }, 5, new RegExp(`/usr/local/bin/${name} \\(DAEMON in \\S+\\) is not installed\\.`)],
      ['not runnable', { DAEMON: noNode }, 1, /no-such-node/],
      ['refused options', { OPTIONS: name === 'plogsrvd' ? '--max-size bogus' : '-g no-such-group' }, 1, name === 'plogsrvd' ? /--max-size takes a size/ : /no such group: no-such-group/],
    ];
    for (const [why, set, code, says] of bad) {
      sc.set({ ...good, ...set });
      r = await sc.run('restart');
      assert.equal(r.code, code, `${why}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, says, why);
      assert.match(r.stderr, new RegExp(`not restarted: ${name} \\(pid ${pid}\\) keeps running`), why);
      assert.equal(await sc.status(), pid, `${why}: the running daemon was stopped`);
      await d.serves(dir, pid);
    }
    // Not running: start says the same, with the same status.
    sc.set(good);
    assert.equal((await sc.run('stop')).code, 0);
    for (const [why, set, code, says] of bad) {
      sc.set({ ...good, ...set });
      r = await sc.run('start');
      assert.equal(r.code, code, `${why}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, says, why);
      assert.equal(await sc.status(), null);
    }
    assert.ok(!existsSync(join(dir, name === 'plogsrvd' ? 'plogd_sock' : 'submit')), 'nothing serves');
  });
}
