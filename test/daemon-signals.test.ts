// Signals against real programs, as root: SIGUSR1 never opens Node's
// inspector (which would let any local user run code in a root daemon), and
// every signal whose default would end plogsrvd does what plogsrvd(1) says
// (DAEMON_SIGNALS in src/daemon/signals.ts). The strlog programs are in
// daemon-signals-strlog.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLOG, ROOT, Server, alive, exited, ints, isSocket, lines, plog, raw, silentSocket, spawnSleep, tempDir, testEnv, waitFor } from './helpers/plog.js';
import { INSPECTOR_WORDS, caughtSignals, childrenOf, cmdline, deliver, probeEnv, probed, realtimeRange, tcpSockets } from './helpers/signals.js';
import { DAEMON_SIGNALS } from '../src/daemon/signals.js';

const BIN = (name: string): string => join(ROOT, 'dist/src/bin', `${name}.js`);
const TESTD = fileURLToPath(new URL('./fixtures/daemon/testd.js', import.meta.url));

/** How often a line matching re has been printed on the server's stdout. */
function count(srv: Server, re: RegExp): number {
  return srv.stdout.split('\n').filter((l) => re.test(l)).length;
}

/** The server answers {0,2} with its pid. */
async function answers(srv: Server): Promise<void> {
  assert.equal(await raw().ask(srv.dir, ints(0, 2)), String(srv.pid));
}

function noTcp(pid: number): void {
  assert.deepEqual(tcpSockets(pid), [], `pid ${pid} has TCP sockets`);
}

test('plogsrvd (root, -f, not -v): SIGUSR1 five times never opens an inspector, and it still answers', async () => {
  // Not -v: plogsrvd -v always listened for SIGUSR1 (to report it), which kept Node's inspector away.
  const out = join(tempDir(), 'probe');
  const srv = await Server.start({ foreground: true, args: ['-m', 'world'], env: probeEnv(out) });
  for (let i = 1; i <= 5; i++) {
    // One at a time: the kernel merges a SIGUSR1 sent while another is pending.
    await deliver(srv.pid, 'SIGUSR1');
    await answers(srv);
    noTcp(srv.pid);
  }
  srv.signal('SIGTERM');
  assert.deepEqual(await srv.ended(), { code: 0, signal: null });
  assert.equal(probed(out, srv.pid, 'exit'), 'undefined', 'inspector.url() at the exit');
  assert.doesNotMatch(srv.stderr, INSPECTOR_WORDS);
  assert.ok(!isSocket(srv.sock), 'the socket removed');
});

test('plogsrvd (root, detached, as init.d starts it): SIGUSR1 three times, then no TCP socket and it answers', async () => {
  const out = join(tempDir(), 'probe');
  const srv = await Server.start({ args: ['-m', 'world'], env: probeEnv(out) });
  assert.equal(srv.launch?.stderr, '');
  for (let i = 0; i < 3; i++) {
    await deliver(srv.pid, 'SIGUSR1');
    await answers(srv);
  }
  noTcp(srv.pid);
  assert.ok(alive(srv.pid));
  await srv.kill();
  assert.ok(!isSocket(srv.sock), 'the socket removed');
  assert.equal(probed(out, srv.pid, 'exit'), 'undefined', 'inspector.url() at the exit');
});

test('plogsrvd: an inspector a SIGUSR1 opened while Node started is closed before the program runs', async () => {
  const out = join(tempDir(), 'probe');
  const srv = await Server.start({ foreground: true, args: ['-m', 'world'], env: probeEnv(out, { openFirst: true }) });
  assert.match(probed(out, srv.pid, 'opened') ?? '', /^ws:\/\/127\.0\.0\.1:\d+\//, 'the probe opened an inspector');
  noTcp(srv.pid);
  await answers(srv);
  srv.signal('SIGTERM');
  assert.deepEqual(await srv.ended(), { code: 0, signal: null });
  assert.equal(probed(out, srv.pid, 'exit'), 'undefined');
});

test('plogsrvd: SIGUSR1 reopens a log moved away (logrotate), as SIGHUP does', async () => {
  const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
  const sl = spawnSleep();
  const r = await plog(['-d', srv.dir, '-p', String(sl.pid), '-i', '50ms']);
  assert.equal(r.code, 0, r.stderr);
  const log = /Log file: (\S+)/.exec(r.stdout)![1]!;
  await waitFor('3 lines in the log', () => lines(log).length >= 3);
  renameSync(log, `${log}.1`);
  srv.signal('SIGUSR1');
  await waitFor('a new log at the name', () => lines(log).length >= 3);
  assert.equal(lines(log)[0], 'sleep 300', 'headed again');
  const moved = lines(`${log}.1`).length;
  await waitFor('two more lines at the name', () => lines(log).length >= 5);
  assert.ok(lines(`${log}.1`).length <= moved + 1, 'still writing to the moved log');
  await srv.kill();
});

test('plogsrvd: every signal that would end it is decided; the ignored ones (real-time too) leave it serving', async () => {
  const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
  const expect: Record<string, RegExp> = {
    SIGHUP: /: caught SIGHUP: reloading$/,
    SIGUSR1: /: caught SIGUSR1: reopening logs$/,
  };
  for (const [sig, action] of Object.entries(DAEMON_SIGNALS) as [NodeJS.Signals, string][]) {
    if (action === 'stop') continue;
    const re = expect[sig] ?? new RegExp(`: trapped ${sig}$`);
    assert.equal(action, expect[sig] ? (sig === 'SIGHUP' ? 'reload' : 'reopen') : 'ignore', sig);
    srv.signal(sig);
    await waitFor(`${sig} handled`, () => count(srv, re) >= 1);
  }
  const [min, max] = realtimeRange();
  for (const n of [min, min + 1, Math.floor((min + max) / 2), max - 1, max]) await deliver(srv.pid, n);
  const caught = caughtSignals(srv.pid);
  for (let n = min; n <= max; n++) assert.ok(caught.has(n), `signal ${n} is caught`);
  assert.ok(alive(srv.pid));
  await answers(srv);
  noTcp(srv.pid);
  srv.signal('SIGTERM');
  assert.deepEqual(await srv.ended(), { code: 0, signal: null });
  assert.equal(srv.stderr, '');
  assert.ok(!isSocket(srv.sock), 'the socket removed');
});

for (const [sig, action] of Object.entries(DAEMON_SIGNALS) as [NodeJS.Signals, string][]) {
  if (action !== 'stop') continue;
  test(`plogsrvd: ${sig} stops it cleanly: status 0, the socket removed, the state saved`, async () => {
    const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
    srv.signal(sig);
    assert.deepEqual(await srv.ended(), { code: 0, signal: null });
    assert.match(srv.stdout, new RegExp(`: caught ${sig}: shutting down$`, 'm'));
    assert.ok(!isSocket(srv.sock), 'the socket removed');
    assert.ok(existsSync(join(srv.dir, 'plogsrvd.state')), 'the state file');
  });
}

test('plog: SIGUSR1 while it waits for an answer ends it as the default would, its reply socket removed, no inspector', async () => {
  const dir = tempDir();
  silentSocket(join(dir, 'plogd_sock'));
  const tmp = tempDir(0o1777);
  const child = spawn(process.execPath, [BIN('plog'), '-d', dir, '-q', 'pid', '-t', '60'], { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv({ PLOG_TMPDIR: tmp }) });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await waitFor('plog bound its reply socket', () => readdirSync(tmp).length > 0);
  child.kill('SIGUSR1');
  assert.deepEqual(await exited(child), { code: null, signal: 'SIGUSR1' });
  assert.deepEqual(readdirSync(tmp), [], 'its exit cleanup ran');
  assert.doesNotMatch(stderr, INSPECTOR_WORDS);
});

test('plog run: SIGUSR1 is passed on to CMD; plog run then ends with its status, the private server stopped', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, [BIN('plog'), 'run', '-d', dir, '-i', '100ms', '--', 'sleep', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const kids = await waitFor('sleep and the private plogsrvd started', () => {
    const k = childrenOf(child.pid!);
    const sl = k.find((p) => cmdline(p) === 'sleep 300');
    const srv = k.find((p) => cmdline(p).includes('plogsrvd'));
    return sl && srv ? { sl, srv } : null;
  });
  child.kill('SIGUSR1');
  assert.deepEqual(await exited(child, 20_000), { code: 138, signal: null }, stderr);
  assert.ok(!alive(kids.sl), 'sleep got SIGUSR1');
  await waitFor('the private plogsrvd stopped', () => !alive(kids.srv));
  assert.doesNotMatch(stderr, INSPECTOR_WORDS);
});

test('the kit: the launcher and the session leader end on SIGUSR1 as the default would, without an inspector', async (t) => {
  for (const who of ['launcher', 'session leader'] as const) {
    await t.test(who, async () => {
      const dir = mkdtempSync('/tmp/pl-');
      try {
        const launcher = spawn(process.execPath, [TESTD, '--dir', dir, '--delay', '60000'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        launcher.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const leader = await waitFor('the session leader', () => childrenOf(launcher.pid!).find((p) => cmdline(p).includes('session.js')));
        const daemon = await waitFor('the daemon', () => childrenOf(leader).find((p) => cmdline(p).includes('testd.js')));
        const target = who === 'launcher' ? launcher.pid! : leader;
        process.kill(target, 'SIGUSR1');
        if (who === 'launcher') {
          assert.deepEqual(await exited(launcher), { code: null, signal: 'SIGUSR1' });
        } else {
          // The launcher sees its session leader die, says so, and stops the daemon still starting.
          assert.deepEqual(await exited(launcher), { code: 4, signal: null });
          assert.match(stderr, /the daemon's start was interrupted \(its session leader died\); stopped the daemon/);
        }
        await waitFor(`${who} gone`, () => !alive(target));
        assert.doesNotMatch(stderr, INSPECTOR_WORDS);
        try {
          process.kill(daemon, 'SIGKILL');
        } catch {
          /* stopped */
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

test('the guard: an inspector is closed as soon as anything opens it; a program with its own SIGUSR1 listener keeps it', async () => {
  const guard = join(ROOT, 'dist/src/daemon/no-inspector.js');
  const script = `
    import inspector from 'node:inspector';
    const early = await new Promise((resolve) => {
      process.kill(process.pid, 'SIGUSR1'); // Node's handler: nothing listens yet
      const t = setInterval(() => { if (inspector.url()) { clearInterval(t); resolve(inspector.url()); } }, 5);
    });
    await import(${JSON.stringify(guard)});
    const afterGuard = inspector.url() ?? null;
    inspector.open(0, '127.0.0.1');
    const afterOpen = inspector.url() ?? null;
    let heard = 0;
    process.on('SIGUSR1', () => { heard++; });
    for (let i = 0; i < 3; i++) {
      process.kill(process.pid, 'SIGUSR1');
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(JSON.stringify({ early, afterGuard, afterOpen, heard, url: inspector.url() ?? null }));
  `;
  // --inspect-port=0: a port of its own, whatever holds 9229.
  const child = spawn(process.execPath, ['--inspect-port=0', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  assert.deepEqual(await exited(child), { code: 0, signal: null });
  const r = JSON.parse(stdout) as { early: string; afterGuard: null; afterOpen: null; heard: number; url: null };
  assert.match(r.early, /^ws:/);
  assert.deepEqual({ ...r, early: 'ws' }, { early: 'ws', afterGuard: null, afterOpen: null, heard: 3, url: null });
});

test('the guard leaves alone an inspector asked for on the command line (--inspect)', async () => {
  const guard = join(ROOT, 'dist/src/daemon/no-inspector.js');
  const child = spawn(
    process.execPath,
    [
      '--inspect=127.0.0.1:0',
      '--input-type=module',
      '-e',
      `
    import inspector from 'node:inspector';
    await import(${JSON.stringify(guard)});
    console.log(inspector.url() ?? 'none');
  `,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  assert.deepEqual(await exited(child), { code: 0, signal: null });
  assert.match(stdout, /^ws:\/\/127\.0\.0\.1:\d+\//);
});

test('every program, and each installed command, imports the guard before anything else', () => {
  const first = (file: string): string => /^import\s+(?:[^'"]*from\s+)?'([^']+)'/m.exec(readFileSync(join(ROOT, file), 'utf8'))![1]!;
  for (const p of ['plogsrvd', 'plog', 'strlogd', 'strerr', 'strtrace', 'strclean', 'strlog']) {
    assert.equal(first(`src/cli/${p}.ts`), '../daemon/no-inspector.js', `src/cli/${p}.ts`);
    assert.equal(first(`src/bin/${p}.ts`), '../daemon/no-inspector.js', `src/bin/${p}.ts`);
    const bin = readFileSync(join(ROOT, `src/bin/${p}.ts`), 'utf8');
    assert.equal([...bin.matchAll(/^import /gm)].length, 1, `src/bin/${p}.ts imports the guard alone`);
    assert.match(bin, new RegExp(`^await import\\('\\.\\./cli/${p}\\.js'\\);$`, 'm'));
  }
  assert.equal(first('src/daemon/session.ts'), './no-inspector.js');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  for (const [name, file] of Object.entries(pkg.bin)) assert.equal(file, `dist/src/bin/${name}.js`, name);
  // The bundle of plog starts with the guard's code.
  const bundle = readFileSync(PLOG, 'utf8');
  assert.ok(bundle.indexOf('process.on("SIGUSR1"') < bundle.indexOf('function usage('), 'the guard first in the plog bundle');
});

test("the SIGNALS sections: the daemons' pages name every signal of the table and the real-time ones; every other program's says what SIGUSR1 does", () => {
  const section = (page: string): string => {
    const text = readFileSync(join(ROOT, 'man', page), 'utf8');
    const s = text.split(/^\.SH /m).find((x) => x.startsWith('SIGNALS\n'));
    assert.ok(s, `${page} has a SIGNALS section`);
    return s.replace(/\\-/g, '-');
  };
  for (const page of ['plogsrvd.1', 'strlogd.8', 'strerr.8']) {
    const s = section(page);
    for (const sig of Object.keys(DAEMON_SIGNALS)) assert.match(s, new RegExp(`\\b${sig}\\b`), `${page}: ${sig}`);
    assert.match(s, /SIGRTMIN to SIGRTMAX/, page);
    assert.match(s, /inspector/, page);
  }
  for (const page of ['plog.1', 'strlog.1', 'strtrace.8', 'strclean.8']) {
    assert.match(section(page), /SIGUSR1 ends[\s\S]*default action would[\s\S]*never opens Node's inspector/, page);
  }
});
