// plog(1) end to end: its options, its usage errors, and every exit code it
// can be made to return, against real plogsrvd instances, sockets the test
// binds itself, and an emulation of an old (plog 0.1.0) server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants as osConstants, endianness } from 'node:os';
import { join } from 'node:path';
import { UnixSocket } from '../src/native.js';
import { CLIENT } from '../src/plog/exitcodes.js';
import { ints, plog, plogsrvd, Server, silentSocket, spawnSleep, staleSocket, tempDir, VERSION, waitFor, waitLines } from './helpers/plog.js';

const LE = endianness() === 'LE';
const TRY = "Try 'plog --help'.\n";
// MM-DD, the hour space-padded; seconds, and milliseconds for an interval that is not whole seconds
const DATE_MIN = /^\d\d-\d\d [ \d]\d:\d\d (?!\d)/;
const DATE_SEC = /^\d\d-\d\d [ \d]\d:\d\d:\d\d(\.\d\d\d)? /;

test('plog -h and --help: exit 0, the version and every exit code', async () => {
  // The spec's table (plog 0.1.0's codes) plus this project's 14 and 15.
  const expected = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '100+'];
  const table = Object.values(CLIENT).map((c) => (c.code === 100 ? '100+' : String(c.code)));
  for (const code of expected) assert.ok(table.includes(code), `exit code ${code} missing from CLIENT`);
  for (const opt of ['-h', '--help']) {
    const r = await plog([opt]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.startsWith(`plog ${VERSION} - `), r.stdout);
    for (const c of Object.values(CLIENT)) {
      const num = c.code === 100 ? '100\\+' : String(c.code);
      const esc = c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(r.stdout, new RegExp(`^\\s+${num}\\s+${esc}$`, 'm'), `${opt}: exit code ${c.code}`);
    }
    for (const o of ['-p PID', '-i INTERVAL', '-x PID', '-l', '-q pid|dir', '-d DIR', '-t SECONDS']) assert.ok(r.stdout.includes(o), o);
  }
});

test('plog --version', async () => {
  const r = await plog(['--version']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `plog ${VERSION}\n`, '']);
});

test('plog usage errors: exit 11 with a message and a hint', async () => {
  const notInterval = (v: string): string => `-i: not an interval: '${v}' (minutes, or with a unit: 500ms, 10s, 2m, 1h; at least 10ms)`;
  const exclusive = '-p/-i, -x, -l and -q exclude each other';
  const cases: Array<[string[], string]> = [
    [[], 'nothing to do: give -p PID -i INTERVAL, -x PID, -l or -q pid|dir (see plog --help)'],
    [['-z'], "unknown option '-z'"],
    [['--verbose'], "unknown option '--verbose'"],
    [['--p', '1', '-i', '1'], "unknown option '--p'"],
    [['-q', 'pid', '-q', 'dir'], 'option -q given more than once'],
    [['-p', '1', '-p', '2', '-i', '1'], 'option -p given more than once'],
    [['extra'], "unknown subcommand 'extra' (plog's subcommands: show, plot, report, export, run, web; requests to a server are options: -p, -n, -r, -x, -l, -q)"],
    [['-p', '1', '-i', '1', 'extra'], "unexpected argument 'extra': this program takes options only"],
    [['-p', '1'], '-p needs -i INTERVAL'],
    [['-i', '1'], '-i needs -p PID'],
    [['-p', 'abc', '-i', '1'], "-p: not a process id: 'abc'"],
    [['-p', '0', '-i', '1'], "-p: not a process id: '0'"],
    [['-p', '12x', '-i', '1'], "-p: not a process id: '12x'"],
    [['-p', '2147483648', '-i', '1'], "-p: not a process id: '2147483648'"],
    [['-p', '1', '-i', '0'], notInterval('0')],
    [['-p', '1', '-i', '0s'], notInterval('0s')],
    [['-p', '1', '-i', '9ms'], notInterval('9ms')],
    [['-p', '1', '-i', 'abc'], notInterval('abc')],
    [['-p', '1', '-i', '1x'], notInterval('1x')],
    [['-p', '1', '-i', '10 s s'], notInterval('10 s s')],
    [['-p', '1', '-i', ''], notInterval('')],
    [['-p', '1', '-i', '99999999999'], notInterval('99999999999')],
    [['-x', ''], "-x: a pid, a selection or a log, not ''"],
    [['-x', '0'], "-x: not a process id: '0'"],
    [['-q', 'foo'], "-q takes 'pid' or 'dir', not 'foo'"],
    [['-q', ''], "-q takes 'pid' or 'dir', not ''"],
    [['-t', '0', '-l'], "-t: the timeout is 1 to 300 seconds, not '0'"],
    [['-t', '301', '-l'], "-t: the timeout is 1 to 300 seconds, not '301'"],
    [['-t', '1.5', '-l'], "-t: the timeout is 1 to 300 seconds, not '1.5'"],
    [['-t', 'abc', '-l'], "-t: the timeout is 1 to 300 seconds, not 'abc'"],
    [['-t', '', '-l'], "-t: the timeout is 1 to 300 seconds, not ''"],
    // conflicting actions
    [['-l', '-q', 'pid'], exclusive],
    [['-p', '1', '-i', '1', '-l'], exclusive],
    [['-p', '1', '-i', '1', '-q', 'dir'], exclusive],
    [['-x', '1', '-l'], exclusive],
    [['-x', '1', '-p', '1', '-i', '1'], exclusive],
    [['-x', '1', '-i', '1'], exclusive],
    [['-x', '1', '-q', 'pid'], exclusive],
  ];
  for (const [args, msg] of cases) {
    const r = await plog(args);
    assert.deepEqual([r.code, r.stdout, r.stderr], [11, '', `plog: ${msg}\n${TRY}`], `plog ${JSON.stringify(args)}`);
  }
  // An option missing its value.
  for (const o of ['-p', '-i', '-x', '-q', '-d', '-t']) {
    const r = await plog(['-l', o].filter((x, i) => !(o === '-q' && i === 0)));
    assert.equal(r.code, 11, `plog ${o}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^plog: option '${o}' needs a value\n${TRY}$`));
  }
});

test('plog -t: 1 and 300 are accepted, the default is 3 s', async () => {
  const d = tempDir();
  const none = `plog: No plog server found: no socket ${d}/plogd_sock.\n`;
  for (const t of ['1', '3', '300']) {
    const r = await plog(['-t', t, '-d', d, '-q', 'pid']);
    assert.deepEqual([r.code, r.stderr], [4, none], `-t ${t}`);
  }
  // The default timeout: a server that never answers, no -t.
  const s = tempDir();
  silentSocket(join(s, 'plogd_sock'));
  const start = Date.now();
  const r = await plog(['-d', s, '-q', 'pid']);
  const took = Date.now() - start;
  assert.deepEqual([r.code, r.stderr], [8, `plog: No answer from ${s}/plogd_sock within 3s: request timed out.\n`]);
  assert.ok(took >= 2900 && took < 15_000, `took ${took} ms`);
});

test('plog -i: bare minutes and units; the log follows the interval', async () => {
  const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
  const child = spawnSleep();
  const cases: Array<[string, string, boolean]> = [
    ['1', '1m', false],
    ['2', '2m', false],
    ['2m', '2m', false],
    ['1h', '1h', false],
    ['1.5', '90s', true], // not whole minutes: seconds too
    ['10s', '10s', true],
    ['500ms', '500ms', true],
  ];
  let n = 0;
  for (const [arg, words, withSeconds] of cases) {
    n++;
    const name = `sleep.${child.pid}${n === 1 ? '' : `.${n}`}`;
    const start = Date.now();
    const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', arg]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${srv.dir}/${name}\n`, ''], `-i ${arg}`);
    await srv.waitOutput('stdout', `now logging ${name} (pid ${child.pid}, every ${words}, for uid 0)`);
    const l = await waitLines(join(srv.dir, name), 3);
    assert.equal(l[0], `sleep 300`);
    assert.match(l[2]!, withSeconds ? DATE_SEC : DATE_MIN, `-i ${arg}: ${l[2]}`);
    if (arg === '500ms') {
      // Four samples need at least three intervals, and come well within 10 s.
      await waitLines(join(srv.dir, name), 6, { timeout: 10_000 });
      assert.ok(Date.now() - start >= 1400, `4 samples at 500ms after ${Date.now() - start} ms`);
    }
    if (arg === '10s') {
      // No second sample before 10 s.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(readFileSync(join(srv.dir, name), 'utf8').split('\n').length - 1, 3);
    }
  }
});

test('plog -d, $PLOGDIR and the default directory', async () => {
  const srv = await Server.start();
  let r = await plog(['-q', 'dir'], { env: { PLOGDIR: srv.dir } });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${srv.dir}\n`, '']);
  // -d wins over $PLOGDIR; a trailing slash names the same directory.
  r = await plog(['-q', 'dir', '-d', `${srv.dir}/`], { env: { PLOGDIR: '/nonexistent' } });
  assert.deepEqual([r.code, r.stdout], [0, `${srv.dir}\n`]);
  r = await plog(['-q', 'pid'], { env: { PLOGDIR: srv.dir } });
  assert.deepEqual([r.code, r.stdout], [0, `${srv.pid}\n`]);
  // Neither: /var/local/plog (no server there on a test machine).
  r = await plog(['-q', 'pid']);
  if (r.code !== 0) assert.deepEqual([r.code, r.stderr], [4, 'plog: No plog server found: no socket /var/local/plog/plogd_sock.\n']);
});

test('plog exit 1: -d or $PLOGDIR too long, or not absolute', async () => {
  const long = '/tmp/' + 'a'.repeat(92); // 97 bytes
  const msg = (who: string): string => `plog: ${who} is too long: ${long}/plogd_sock must be under 108 bytes (the directory at most 96).\n`;
  let r = await plog(['-d', long, '-l']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', msg('Runtime path')]);
  r = await plog(['-l'], { env: { PLOGDIR: long } });
  assert.deepEqual([r.code, r.stderr], [1, msg('$PLOGDIR')]);
  r = await plog(['-d', 'rel/dir', '-q', 'pid']);
  assert.deepEqual([r.code, r.stderr], [1, 'plog: rel/dir is not an absolute path, sorry.\n']);
  // 96 bytes is fine: DIR/plogd_sock is then 107 bytes, and works.
  const base = tempDir();
  const d96 = join(base, 'b'.repeat(96 - base.length - 1));
  assert.equal(Buffer.byteLength(d96), 96);
  mkdirSync(d96);
  r = await plog(['-d', d96, '-l']);
  assert.deepEqual([r.code, r.stderr], [4, `plog: No plog server found: no socket ${d96}/plogd_sock.\n`]);
  const srv = await Server.start({ dir: d96 });
  r = await plog(['-d', d96, '-q', 'dir']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${d96}\n`, '']);
  await srv.kill();
});

test('plog exit 3: the client socket cannot be bound ($PLOG_TMPDIR missing)', async () => {
  const srv = await Server.start();
  const t = join(tempDir(), 'missing');
  const r = await plog(['-d', srv.dir, '-q', 'pid'], { env: { PLOG_TMPDIR: t } });
  assert.deepEqual([r.code, r.stdout], [3, '']);
  assert.match(r.stderr, new RegExp(`^plog: Bind ${t}/\\.plog\\.[a-z0-9]{10} socket failed: No such file or directory\n$`));
});

test('plog exit 4: no socket; exit 5: a stale socket', async () => {
  const d = tempDir();
  let r = await plog(['-d', d, '-l']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [4, '', `plog: No plog server found: no socket ${d}/plogd_sock.\n`]);
  r = await plog(['-d', join(d, 'nodir'), '-p', '1', '-i', '1']);
  assert.deepEqual([r.code, r.stderr], [4, `plog: No plog server found: no socket ${d}/nodir/plogd_sock.\n`]);
  staleSocket(join(d, 'plogd_sock'));
  for (const args of [['-l'], ['-q', 'dir'], ['-p', '1', '-i', '10s'], ['-x', '1']]) {
    r = await plog(['-d', d, ...args]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [5, '', `plog: Stale socket ${d}/plogd_sock: no plogsrvd answers there (Connection refused).\n`], args.join(' '));
  }
});

test('plog exit 6: no permission on the socket (root server -m owner, client nobody)', async () => {
  const srv = await Server.start({ dir: tempDir(0o755), args: ['-m', 'owner'] });
  const r = await plog(['-d', srv.dir, '-q', 'pid'], { asNobody: true });
  assert.deepEqual([r.code, r.stdout, r.stderr], [6, '', `plog: Permission denied on ${srv.dir}/plogd_sock (the server's -m mode or group keeps you out).\n`]);
  // The default mode 770 keeps nobody out as well; -m world lets it in.
  const s770 = await Server.start({ dir: tempDir(0o755), args: [] });
  assert.equal((await plog(['-d', s770.dir, '-l'], { asNobody: true })).code, 6);
  const world = await Server.start({ dir: tempDir(0o755), args: ['-m', 'world'] });
  const ok = await plog(['-d', world.dir, '-q', 'pid'], { asNobody: true });
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, `${world.pid}\n`, '']);
});

test('plog exit 8: a socket that never answers (-t 1)', async () => {
  const d = tempDir();
  silentSocket(join(d, 'plogd_sock'));
  for (const args of [['-q', 'pid'], ['-l'], ['-p', String(process.pid), '-i', '1']]) {
    const start = Date.now();
    const r = await plog(['-t', '1', '-d', d, ...args]);
    const took = Date.now() - start;
    assert.deepEqual([r.code, r.stdout, r.stderr], [8, '', `plog: No answer from ${d}/plogd_sock within 1s: request timed out.\n`]);
    assert.ok(took >= 900 && took < 10_000, `took ${took} ms`);
  }
});

test('client socket names are random: /tmp/.plog, .plog-2 ... .plog-30 all taken changes nothing; -s takes 2 to 4095', async () => {
  const srv = await Server.start();
  const t = tempDir();
  for (let n = 1; n <= 30; n++) writeFileSync(join(t, n === 1 ? '.plog' : `.plog-${n}`), '');
  let r = await plog(['-d', srv.dir, '-q', 'pid'], { env: { PLOG_TMPDIR: t } });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${srv.pid}\n`, '']);
  for (const n of ['2', '4095']) {
    r = await plog(['-s', n, '-d', srv.dir, '-q', 'pid'], { env: { PLOG_TMPDIR: t } });
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${srv.pid}\n`, ''], `-s ${n}`);
  }
  for (const n of ['1', '4096', 'x']) {
    r = await plog(['-s', n, '-d', srv.dir, '-q', 'pid']);
    assert.deepEqual([r.code, r.stdout], [11, ''], `-s ${n}`);
    assert.match(r.stderr, new RegExp(`-s: the number of client socket names to try is 2 to 4095, not '${n}'`));
  }
});

test('plog exit 15: refused requests (no such process, not logging)', async () => {
  const srv = await Server.start();
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  let r = await plog(['-d', srv.dir, '-p', String(pidMax), '-i', '1']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: No such process (${pidMax}).\n`]);
  r = await plog(['-d', srv.dir, '-p', String(pidMax), '-i', '10s']);
  assert.deepEqual([r.code, r.stderr], [15, `plog: No such process (${pidMax}).\n`]);
  r = await plog(['-d', srv.dir, '-x', String(process.pid)]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: Not logging ${process.pid}.\n`]);
});

test('plog exit 100+errno: the server socket is a stream socket (EPROTOTYPE)', async () => {
  const d = tempDir();
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(join(d, 'plogd_sock'), r));
  try {
    const r = await plog(['-d', d, '-q', 'pid']);
    const code = 100 + osConstants.errno.EPROTOTYPE;
    assert.deepEqual([r.code, r.stdout, r.stderr], [code, '', `plog: sendto(${d}/plogd_sock) failed: Protocol wrong type for socket\n`]);
  } finally {
    await new Promise((r) => srv.close(r));
  }
});

/** A server that speaks only plog 0.1.0's protocol: it reads 8 bytes of
 * each request, answers the legacy requests and "Unrecognized request." to
 * anything else; it records what it received. */
function oldServer(dir: string): { got: Buffer[]; close: () => void } {
  const sock = new UnixSocket();
  // Bound as plog 0.1.0's server did it: chdir to the directory, bind the
  // relative name (so its replies come from "plogd_sock", not a full path).
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    sock.bind('plogd_sock');
  } finally {
    process.chdir(cwd);
  }
  const got: Buffer[] = [];
  const reply = (to: string, t: string): void => void sock.trySend(Buffer.from(t + '\0'), to);
  sock.setReadable(() => {
    for (;;) {
      const d = sock.recv(1024);
      if (!d) return;
      got.push(d.data.subarray(0, d.size));
      if (!d.path || d.size < 8) continue;
      const a = LE ? d.data.readInt32LE(0) : d.data.readInt32BE(0);
      const b = LE ? d.data.readInt32LE(4) : d.data.readInt32BE(4);
      if (a > 0) reply(d.path, `Log file: ${dir}/old.${a}`);
      else if (a === 0 && b === 1) {
        reply(d.path, `old.1`);
        reply(d.path, '0000');
      } else if (a === 0 && b === 2) reply(d.path, '4242');
      else if (a === 0 && b === 3) reply(d.path, dir);
      else reply(d.path, 'Unrecognized request.');
    }
  });
  return { got, close: () => sock.close() };
}

test('plog exit 14: an old server cannot log at seconds or stop a log; minutes work', async () => {
  const d = tempDir();
  const old = oldServer(d);
  try {
    let r = await plog(['-d', d, '-p', '1234', '-i', '10s']);
    assert.deepEqual(
      [r.code, r.stdout, r.stderr],
      [14, '', `plog: the plogsrvd on ${d} speaks only the plog 0.1.0 protocol: it cannot log at an interval of 10s. Give -i in whole minutes (e.g. -i 1).\n`],
    );
    assert.deepEqual(old.got.pop(), ints(0, 16, 1234, 10_000));
    r = await plog(['-d', d, '-p', '1234', '-i', '500ms']);
    assert.equal(r.code, 14);
    assert.match(r.stderr, /cannot log at an interval of 500ms\./);
    r = await plog(['-d', d, '-x', '1234']);
    assert.deepEqual(
      [r.code, r.stdout, r.stderr],
      [14, '', `plog: the plogsrvd on ${d} speaks only the plog 0.1.0 protocol: it cannot stop a log on request. Delete the log file to stop it (see plog -l).\n`],
    );
    assert.deepEqual(old.got.pop(), ints(0, 17, 1234));
    // Whole minutes travel as the legacy 8-byte request and work.
    r = await plog(['-d', d, '-p', '1234', '-i', '1']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${d}/old.1234\n`, '']);
    assert.deepEqual(old.got.pop(), ints(1234, 1));
    r = await plog(['-d', d, '-p', '1234', '-i', '2h']);
    assert.deepEqual([r.code, r.stdout], [0, `Log file: ${d}/old.1234\n`]);
    assert.deepEqual(old.got.pop(), ints(1234, 120));
    r = await plog(['-d', d, '-l']);
    assert.deepEqual([r.code, r.stdout], [0, 'old.1\n']);
    assert.deepEqual(old.got.pop(), ints(0, 1));
    r = await plog(['-d', d, '-q', 'pid']);
    assert.deepEqual([r.code, r.stdout], [0, '4242\n']);
    assert.deepEqual(old.got.pop(), ints(0, 2));
    r = await plog(['-d', d, '-q', 'dir']);
    assert.deepEqual([r.code, r.stdout], [0, `${d}\n`]);
    assert.deepEqual(old.got.pop(), ints(0, 3));
  } finally {
    old.close();
  }
});

test('plog ignores datagrams that do not come from the server', async () => {
  // A socket at DIR/plogd_sock that never answers, and a stranger that
  // sends plog's socket a fake reply: plog must still time out.
  const d = tempDir();
  silentSocket(join(d, 'plogd_sock'));
  const t = tempDir(0o1777);
  const p = plog(['-t', '2', '-d', d, '-q', 'pid'], { env: { PLOG_TMPDIR: t } });
  const stranger = new UnixSocket();
  try {
    await waitFor(
      'plog to bind its socket',
      () => {
        const name = readdirSync(t).find((n) => n.startsWith('.plog.'));
        try {
          return name !== undefined && stranger.trySend(Buffer.from('666\0'), join(t, name)) > 0;
        } catch {
          return false;
        }
      },
      { interval: 20 },
    );
  } finally {
    stranger.close();
  }
  const r = await p;
  assert.deepEqual([r.code, r.stdout], [8, '']);
});

test('clients racing for the /tmp/.plog names all succeed, and leave nothing behind', async () => {
  const srv = await Server.start();
  const t = tempDir(0o1777);
  const runs = await Promise.all(Array.from({ length: 16 }, (_, i) => plog(['-d', srv.dir, ...(i % 2 ? ['-q', 'pid'] : ['-l'])], { env: { PLOG_TMPDIR: t } })));
  runs.forEach((r, i) => assert.deepEqual([r.code, r.stdout, r.stderr], [0, i % 2 ? `${srv.pid}\n` : '', ''], `client ${i}`));
  assert.deepEqual(readdirSync(t), []);
});

test('a server bound at another spelling of its directory (DIR/, DIR//, DIR/., a symlinked directory) answers every spelling; a second plogsrvd says "already running"', async () => {
  const real = tempDir(0o755);
  const link = join(tempDir(0o755), 'link');
  symlinkSync(real, link);
  const spellings = [real, `${real}/`, `${real}//`, `${real}/.`, link, `${link}/`];
  for (const bound of [`${real}/`, link]) {
    const srv = await Server.start({ dir: bound, foreground: true });
    for (const asked of spellings) {
      const t0 = performance.now();
      const q = await plog(['-d', asked, '-q', 'pid']);
      assert.deepEqual([q.code, q.stdout, q.stderr], [0, `${srv.pid}\n`, ''], `bound at ${bound}, asked at ${asked}`);
      assert.ok(performance.now() - t0 < 2500, `asked at ${asked}: ${performance.now() - t0} ms`);
    }
    for (const again of [real, `${link}//`]) {
      const r = await plogsrvd(['-f', '-d', again]);
      assert.equal(r.code, 12, `${again}: ${r.stderr}`);
      assert.match(r.stderr, /already running/);
    }
    srv.signal('SIGTERM');
    await srv.ended();
  }
});
