// plogsrvd(1) end to end: its options, its socket modes, its signals and
// every exit code it can be made to return, with real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER } from '../src/plog/exitcodes.js';
import { groupId } from '../src/daemon/groups.js';
import { alive, AS_NOBODY, ROOT, PLOG, run, fdTarget, gone, isSocket, ints, plog, plogsrvd, raw, Server, silentSocket, spawnSleep, staleSocket, tempDir, VERSION, waitLines } from './helpers/plog.js';

const TRY = "Try 'plogsrvd --help'.\n";
const STAMP = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
/** stderr without the note of a foreground server that cannot create its
 * lock file plogsrvd.pid (a directory it may not write in): not what these
 * tests are about. */
const unlocked = (s: string): string => s.replace(/^\S+ \S+ plogsrvd\[\d+\]: not using the lock file .*\n/m, '');

test('plogsrvd -h and --help: exit 0, the version and every exit code', async () => {
  const expected = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15'];
  const table = Object.values(SERVER).map((c) => String(c.code));
  for (const code of expected) assert.ok(table.includes(code), `exit code ${code} missing from SERVER`);
  for (const opt of ['-h', '--help']) {
    const r = await plogsrvd([opt]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.startsWith(`plogsrvd ${VERSION} - `), r.stdout);
    for (const c of Object.values(SERVER)) {
      const esc = c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(r.stdout, new RegExp(`^\\s+${c.code}\\s+${esc}$`, 'm'), `${opt}: exit code ${c.code}`);
    }
    for (const o of ['-f', '-v', '-e WHERE', '-d DIR', '-m MODE']) assert.ok(r.stdout.includes(o), o);
  }
  // -h wins over everything else and starts nothing.
  const d = tempDir();
  const r = await plogsrvd(['-h', '-d', d]);
  assert.equal(r.code, 0);
  assert.equal(isSocket(join(d, 'plogd_sock')), false);
});

test('plogsrvd --version', async () => {
  const r = await plogsrvd(['--version']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `plogsrvd ${VERSION}\n`, '']);
});

test('plogsrvd exit 1: usage errors', async () => {
  const d = tempDir();
  const cases: Array<[string[], string]> = [
    [['-z'], "unknown option '-z'"],
    [['--verbose'], "unknown option '--verbose'"],
    [['--f'], "unknown option '--f'"],
    [['-m', 'world', '-m', 'owner'], 'option -m given more than once'],
    [['extra'], "unexpected argument 'extra': this program takes options only"],
    [['-f', '-d', d, 'extra'], "unexpected argument 'extra': this program takes options only"],
    [['-e', 'foo', '-d', d], "-e takes stderr, both or none, not 'foo'"],
    [['-e', '', '-d', d], "-e takes stderr, both or none, not ''"],
    [['-m', 'foo', '-d', d], "-m takes world or owner, not 'foo'"],
    [['-m', '777', '-d', d], "-m takes world or owner, not '777'"],
    [['-d'], "option '-d' needs a value"],
    [['-d', d, '-e'], "option '-e' needs a value"],
    [['-d', d, '-m'], "option '-m' needs a value"],
  ];
  for (const [args, msg] of cases) {
    const r = await plogsrvd(args);
    assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', `plogsrvd: ${msg}\n${TRY}`], JSON.stringify(args));
  }
  assert.equal(isSocket(join(d, 'plogd_sock')), false);
});

test('plogsrvd exit 2: -d or $PLOGDIR too long; 96 bytes works', async () => {
  const long = '/tmp/' + 'a'.repeat(92); // 97 bytes
  const msg = (who: string): string => `plogsrvd: ${who} is too long: ${long}/plogd_sock must be under 108 bytes (the directory at most 96).\n`;
  for (const fg of [[], ['-f']]) {
    let r = await plogsrvd([...fg, '-d', long]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', msg('Runtime path')]);
    r = await plogsrvd(fg, { env: { PLOGDIR: long } });
    assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', msg('$PLOGDIR')]);
  }
  const base = tempDir();
  const d96 = join(base, 'c'.repeat(96 - base.length - 1));
  mkdirSync(d96);
  const srv = await Server.start({ dir: d96 });
  assert.equal(Buffer.byteLength(srv.sock), 107);
  assert.equal(await raw().ask(d96, ints(0, 3)), d96);
  // $PLOGDIR is used when there is no -d.
  await srv.kill();
  const r = await plogsrvd(['-m', 'world'], { env: { PLOGDIR: d96 } });
  assert.equal(r.code, 0, r.stderr);
  const again = await plog(['-d', d96, '-q', 'pid']);
  assert.equal(again.code, 0);
  process.kill(Number(again.stdout), 'SIGTERM');
  await gone(Number(again.stdout));
});

test('plogsrvd exit 3: missing directory, a file, no permission (as nobody)', async () => {
  const d = tempDir(0o700);
  const file = join(d, 'file');
  writeFileSync(file, '');
  for (const fg of [[], ['-f']]) {
    let r = await plogsrvd([...fg, '-d', join(d, 'missing')]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', `plogsrvd: Could not change directory to ${d}/missing: No such file or directory.\n`]);
    r = await plogsrvd([...fg, '-d', file]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', `plogsrvd: Could not change directory to ${file}: Not a directory.\n`]);
    r = await plogsrvd([...fg, '-d', d], { asNobody: true });
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, '', `plogsrvd: Could not change directory to ${d}: Permission denied.\n`]);
  }
});

test('plogsrvd exit 14: a relative directory', async () => {
  for (const fg of [[], ['-f']]) {
    let r = await plogsrvd([...fg, '-d', 'rel/dir']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [14, '', 'plogsrvd: rel/dir is not an absolute path, sorry.\n']);
    r = await plogsrvd(fg, { env: { PLOGDIR: 'tmp' } });
    assert.deepEqual([r.code, r.stdout, r.stderr], [14, '', 'plogsrvd: tmp is not an absolute path, sorry.\n']);
  }
});

test('plogsrvd -m: world 777, owner 700, default 770 with the group plog (and 0.1.0 words any, group)', async () => {
  const gid = groupId('plog');
  const cases: Array<[string[], number]> = [
    [['-m', 'world'], 0o777],
    [['-m', 'any'], 0o777],
    [['-m', 'owner'], 0o700],
    [[], 0o770],
    [['-m', 'group'], 0o770],
  ];
  for (const [args, mode] of cases) {
    const srv = await Server.start({ args });
    const st = lstatSync(srv.sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o7777, mode, `${args.join(' ')}: mode ${(st.mode & 0o7777).toString(8)}`);
    const warn =
      gid === null
        ? `plogsrvd: Could not set the group of ${srv.sock} to 'plog': no such group; uid 0 and the members of group 'root' (gid 0) can use it (-m world lets every user ask, -m owner only uid 0).\n`
        : '';
    // The warning comes on the launcher's stderr, before it detaches.
    assert.equal(srv.launch!.stderr, mode === 0o770 ? warn : '', args.join(' '));
    if (mode === 0o770 && gid !== null) assert.equal(st.gid, gid);
    await srv.kill();
  }
  // A setgid directory (Debian's /var/local: root:staff, 2775) gives the
  // socket its group: the warning names that group, the one that can use it.
  if (gid === null) {
    const d = tempDir(0o2775);
    chownSync(d, 0, 50);
    const srv = await Server.start({ dir: d, args: [] });
    assert.equal(lstatSync(srv.sock).gid, 50);
    assert.match(srv.launch!.stderr, /no such group; uid 0 and the members of group '\w+' \(gid 50\) can use it/);
    await srv.kill();
  }
  // In the foreground the warning is on stderr too.
  const fg = await Server.start({ foreground: true, args: [] });
  if (gid === null) await fg.waitOutput('stderr', `Could not set the group of ${fg.sock} to 'plog': no such group`);
  assert.equal(lstatSync(fg.sock).mode & 0o777, 0o770);
});

test('plogsrvd exit 0: SIGTERM, SIGINT and SIGQUIT remove the socket', async () => {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
    const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
    // Line by line: root's plogsrvd may say its descriptor limit first (plogsrvd(1), A WHOLE HOST).
    await srv.waitOutput('stdout', new RegExp(`^${STAMP} plogsrvd\\[${srv.pid}\\]: started on ${srv.sock} \\(mode 777\\), pid ${srv.pid}\n`, 'm'));
    srv.signal(sig);
    const end = await srv.ended();
    assert.deepEqual(end, { code: 0, signal: null }, sig);
    assert.equal(isSocket(srv.sock), false, `${sig}: socket left behind`);
    assert.match(srv.stdout, new RegExp(`plogsrvd\\[${srv.pid}\\]: caught ${sig}: shutting down\n`));
    assert.equal(srv.stderr, '');
  }
  // The same for a daemon.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
    const srv = await Server.start();
    srv.signal(sig);
    await srv.ended();
    assert.equal(isSocket(srv.sock), false, `daemon ${sig}: socket left behind`);
  }
});

test('plogsrvd -v: timestamped messages on stdout, trapped signals; none without -v', async () => {
  const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
  assert.equal(fdTarget(srv.pid, 'cwd'), srv.dir, 'a foreground server works in its directory too');
  srv.signal('SIGPIPE');
  await srv.waitOutput('stdout', new RegExp(`^${STAMP} plogsrvd\\[${srv.pid}\\]: trapped SIGPIPE$`, 'm'));
  const child = spawnSleep();
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1'])).code, 0);
  await srv.waitOutput('stdout', new RegExp(`^${STAMP} plogsrvd\\[${srv.pid}\\]: now logging sleep\\.${child.pid} \\(pid ${child.pid}, every 1m, for uid 0\\)$`, 'm'));
  assert.ok(alive(srv.pid));

  const quiet = await Server.start({ foreground: true, args: ['-m', 'world'] });
  assert.equal((await plog(['-d', quiet.dir, '-p', String(child.pid), '-i', '1'])).code, 0);
  quiet.signal('SIGPIPE');
  quiet.signal('SIGTERM');
  assert.deepEqual(await quiet.ended(), { code: 0, signal: null });
  assert.equal(quiet.stdout, '');
  assert.equal(quiet.stderr, '');
});

test('plogsrvd exit 6: the socket deleted (or replaced) ends the server with an error', async () => {
  // -f: -e stderr implied.
  let srv = await Server.start({ foreground: true });
  unlinkSync(srv.sock);
  assert.deepEqual(await srv.ended(), { code: 6, signal: null });
  assert.match(srv.stderr, new RegExp(`^${STAMP} plogsrvd\\[${srv.pid}\\]: ${srv.sock} is gone\\.\n$`));
  // Another file put in its place is not our socket either.
  srv = await Server.start({ foreground: true });
  const other = join(srv.dir, 'other');
  staleSocket(other);
  renameSync(other, srv.sock);
  assert.deepEqual(await srv.ended(), { code: 6, signal: null });
  assert.match(srv.stderr, new RegExp(`plogsrvd\\[${srv.pid}\\]: ${srv.sock} is gone\\.\n$`));
  assert.equal(isSocket(srv.sock), true, 'the stranger socket must not be removed');
  // -e none: no message at all, the same exit code.
  srv = await Server.start({ foreground: true, args: ['-e', 'none', '-m', 'world'] });
  unlinkSync(srv.sock);
  assert.deepEqual(await srv.ended(), { code: 6, signal: null });
  assert.equal(srv.stderr, '');
});

test('plogsrvd exit 9: bind denied (nobody in a root-owned 0755 directory), or the query socket', async () => {
  const d = tempDir(0o755);
  for (const fg of [[], ['-f']]) {
    const r = await plogsrvd([...fg, '-m', 'world', '-d', d], { asNobody: true });
    assert.deepEqual([r.code, r.stdout, unlocked(r.stderr)], [9, '', `plogsrvd: Bind ${d}/plogd_sock failed: Permission denied\n`], fg.join(''));
  }
  // The /tmp/.plog socket of the start-up query (asked of a socket that a
  // process is bound to: a stale one is removed without asking) cannot be bound.
  const s = tempDir();
  const held = silentSocket(join(s, 'plogd_sock'));
  const t = join(tempDir(), 'missing');
  const r = await plogsrvd(['-f', '-d', s], { env: { PLOG_TMPDIR: t } });
  assert.equal(r.code, 9);
  assert.match(r.stderr, new RegExp(`^plogsrvd: Bind ${t}/\\.plog\\.[a-z0-9]{10} socket failed: No such file or directory\n$`));
  held.close();
});

test('plogsrvd exit 11: a stale socket it may not remove (nobody, sticky root directory)', async () => {
  const d = tempDir(0o1777);
  staleSocket(join(d, 'plogd_sock'));
  chmodSync(join(d, 'plogd_sock'), 0o777);
  for (const fg of [[], ['-f']]) {
    const r = await plogsrvd([...fg, '-m', 'world', '-d', d], { asNobody: true });
    assert.deepEqual([r.code, r.stdout, unlocked(r.stderr)], [11, '', `plogsrvd: Could not remove stale socket ${d}/plogd_sock: Operation not permitted\n`]);
  }
  assert.equal(isSocket(join(d, 'plogd_sock')), true);
});

test('plogsrvd exit 12: already running; query of the existing server failed', async () => {
  const srv = await Server.start();
  for (const fg of [[], ['-f']]) {
    const r = await plogsrvd([...fg, '-m', 'world', '-d', srv.dir]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [12, '', `plogsrvd: Plogsrvd already running on ${srv.dir}/plogd_sock.\n`]);
  }
  assert.equal(await raw().ask(srv.dir, ints(0, 2)), String(srv.pid));
  // A root server with -m owner, and nobody tries to start one there.
  const owner = await Server.start({ dir: tempDir(0o1777), args: ['-m', 'owner'] });
  for (const fg of [[], ['-f']]) {
    const r = await plogsrvd([...fg, '-d', owner.dir], { asNobody: true });
    assert.deepEqual([r.code, r.stdout, unlocked(r.stderr)], [12, '', `plogsrvd: Query existing server failed: sendto(${owner.dir}/plogd_sock): Permission denied.\n`]);
  }
  assert.ok(alive(owner.pid));
  // A socket whose owner never answers.
  const d = tempDir();
  silentSocket(join(d, 'plogd_sock'));
  const r = await plogsrvd(['-f', '-d', d]);
  assert.deepEqual([r.code, r.stderr], [12, `plogsrvd: Query existing server failed: no answer from ${d}/plogd_sock.\n`]);
});

test('plogsrvd exit 15: more than 25 stale client sockets of its own uid; those of other users do not count', async () => {
  const d = tempDir();
  staleSocket(join(d, 'plogd_sock'));
  const t = tempDir(0o1777);
  // 30 of another user: squatted names, not this server's business.
  const squat = await run(AS_NOBODY[0], [
    ...AS_NOBODY.slice(1),
    process.execPath,
    '--input-type=module',
    '-e',
    `
    import { UnixSocket } from ${JSON.stringify(join(ROOT, 'dist/src/native.js'))};
    for (let i = 0; i < 30; i++) { const s = new UnixSocket(); s.bind(process.argv[1] + '/.plog.nobody' + i); s.close(); }
  `,
    t,
  ]);
  assert.equal(squat.code, 0, squat.stderr);
  // 25 of its own, left by clients that died: "more than 25" is not reached.
  for (let n = 1; n <= 25; n++) staleSocket(join(t, `.plog.stale${n}`));
  const ok = await Server.start({ dir: d, env: { PLOG_TMPDIR: t } });
  ok.signal('SIGTERM');
  await ok.ended();
  staleSocket(join(d, 'plogd_sock'));
  staleSocket(join(t, '.plog.stale26'));
  for (const fg of [[], ['-f']]) {
    const r = await plogsrvd([...fg, '-d', d], { env: { PLOG_TMPDIR: t } });
    assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plogsrvd: 25+ ${t}/.plog sockets, exiting: 26 left by clients of uid 0 that died; remove them.\n`]);
  }
  // Without a socket to query, the names in /tmp do not matter.
  unlinkSync(join(d, 'plogd_sock'));
  const srv = await Server.start({ dir: d, env: { PLOG_TMPDIR: t } });
  assert.ok(alive(srv.pid));
});

test('a stale socket is recovered: a server killed with SIGKILL, then a new one', async () => {
  const old = await Server.start();
  old.signal('SIGKILL');
  await old.ended();
  assert.equal(isSocket(old.sock), true, 'SIGKILL leaves the socket');
  const r = await plog(['-d', old.dir, '-q', 'pid']);
  assert.equal(r.code, 5);
  const srv = await Server.start({ dir: old.dir, args: ['-v', '-m', 'world'], foreground: true });
  assert.notEqual(srv.pid, old.pid);
  const child = spawnSleep();
  const l = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms']);
  assert.deepEqual([l.code, l.stdout], [0, `Log file: ${srv.dir}/sleep.${child.pid}\n`]);
  await waitLines(join(srv.dir, `sleep.${child.pid}`), 5);
  // And a stale socket left by anything else.
  const d = tempDir();
  staleSocket(join(d, 'plogd_sock'));
  const s2 = await Server.start({ dir: d });
  assert.equal((await plog(['-d', d, '-q', 'pid'])).stdout, `${s2.pid}\n`);
});

test("the default mode 770 gives the socket the group 'plog': its members may ask, others may not", async (t) => {
  // A real group, made for this test when the machine has none (and removed
  // afterwards). Runs in this file only: the -m test above reads groupId too.
  let gid = groupId('plog');
  let made = false;
  if (gid === null) {
    const g = await run('groupadd', ['--system', 'plog']);
    if (g.code !== 0) return t.skip(`cannot create the group plog: ${g.stderr.trim()}`);
    made = true;
    gid = groupId('plog');
  }
  t.after(async () => {
    if (made) await run('groupdel', ['plog']);
  });
  assert.ok(gid !== null);
  const srv = await Server.start({ args: [], dir: tempDir(0o755) });
  assert.equal(srv.launch!.stderr, '', 'no warning when the group exists');
  const st = lstatSync(srv.sock);
  assert.equal(st.mode & 0o777, 0o770);
  assert.equal(st.gid, gid);
  const member = await run('setpriv', ['--reuid=65534', '--regid=65534', `--groups=${gid}`, process.execPath, PLOG, '-d', srv.dir, '-q', 'pid']);
  assert.equal(member.code, 0, member.stderr);
  assert.equal(member.stdout, `${srv.pid}\n`);
  const stranger = await plog(['-d', srv.dir, '-q', 'pid'], { asNobody: true });
  assert.equal(stranger.code, 6, stranger.stderr);
  assert.match(stranger.stderr, /^plog: Permission denied on \S+plogd_sock \(the server's -m mode or group keeps you out\)\.\n$/);
  // A directory the client cannot enter is a permission problem too (exit 6).
  chmodSync(srv.dir, 0o700);
  const outside = await run('setpriv', ['--reuid=65534', '--regid=65534', `--groups=${gid}`, process.execPath, PLOG, '-d', srv.dir, '-q', 'pid']);
  assert.equal(outside.code, 6, outside.stderr);
  assert.equal(outside.stderr, `plog: Permission denied on ${srv.sock} (its directory keeps you out).\n`);
  chmodSync(srv.dir, 0o755);
  await srv.kill();
});
