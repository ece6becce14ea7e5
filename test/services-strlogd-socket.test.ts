// strlogd under socket activation, as systemd/strlogd.socket starts it:
// the service manager binds DIR/submit and DIR/logger and passes them
// (LISTEN_FDS=2, LISTEN_PID), strlogd serves on them instead of binding its
// own, and leaves them in place when it stops, so that what is sent while
// no strlogd runs waits for the next one, credentials included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../src/native.js';
import { driverStats } from '../src/strlog/client.js';
import * as S from './helpers/strlog.js';

/** DIR/submit and DIR/logger bound as strlogd.socket binds them (mode 0666,
 * root's; the datagram socket with SO_PASSCRED, as PassCredentials=yes),
 * held by the test as the service manager holds them. */
function serviceManagerSockets(dir: string, mode = 0o666): { submit: UnixSocket; logger: UnixSocket } {
  const mask = process.umask(~mode & 0o777);
  try {
    const submit = new UnixSocket();
    submit.bind(join(dir, 'submit'));
    const logger = new UnixSocket({ stream: true });
    logger.bind(join(dir, 'logger'));
    S.atEnd(() => {
      submit.close();
      logger.close();
    });
    return { submit, logger };
  } finally {
    process.umask(mask);
  }
}

/** Send one message with plogkit/strlog's strlog(), as nobody, and return its pid. */
async function strlogAsNobody(dir: string, text: string): Promise<number> {
  const r = await S.runAsNobody(
    `import { configureStrlog, strlog, strlogDropped, SL_ERROR } from '@/src/strlog/index.js';
const c = configureStrlog({ rundir: process.argv[1] });
if (strlog(0, 0, 0, SL_ERROR, '%s', process.argv[2]) !== 1) throw new Error('not handed to the driver: ' + strlogDropped());
await c.close();
process.stdout.write(String(process.pid));`,
    [dir, text],
  );
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout);
}

test("strlogd -f on the sockets a service manager passed (in either order): it takes what was sent before it ran, with the sender's credentials, serves loggers, and leaves the sockets to the next one", async () => {
  const dir = S.tempDir(0o755);
  const logdir = S.tempDir();
  const { submit, logger } = serviceManagerSockets(dir);
  // Sent while no strlogd runs: it waits in the socket.
  const early = await strlogAsNobody(dir, 'before the driver');

  const d = await S.Driver.start({ dir, passed: [logger.fd, submit.fd] });
  assert.match(d.stdout, /started on .*; sockets passed by the service manager\n/);
  let st = await d.stats();
  assert.equal(st.pid, d.pid);
  // With credentials (a datagram without them would be malformed), as nobody: a user's message.
  assert.deepEqual([st.records, st.malformed], [1, 0]);
  const e = await S.startStrerr(d, logdir);
  const pid = await strlogAsNobody(dir, 'from nobody');
  const lines = await S.waitErrorLog(logdir, 1);
  assert.match(lines[0]!, new RegExp(` 44 ${pid} from nobody$`));
  assert.notEqual(pid, early);

  assert.deepEqual(await d.stop(), { code: 0, signal: null });
  await e.exit;
  for (const s of ['submit', 'logger']) assert.ok(lstatSync(join(dir, s)).isSocket(), `${s} left in place`);
  assert.equal(d.stderr, '');

  // Stopped: a message and a request wait for the next strlogd on the same sockets.
  await strlogAsNobody(dir, 'while stopped');
  const asked = driverStats(dir, 30_000);
  const again = await S.Driver.start({ dir, passed: [submit.fd, logger.fd] });
  st = await asked;
  assert.equal(st.pid, again.pid);
  assert.ok(st.records >= 1 && st.malformed === 0, JSON.stringify(st));
  assert.deepEqual(await again.stop(), { code: 0, signal: null });
});

test('strlogd refuses passed sockets it cannot serve as its own (status 6): without -f, not two, not DIR/submit and DIR/logger, not mode 666', async () => {
  const dir = S.tempDir(0o755);
  const { submit, logger } = serviceManagerSockets(dir);
  const elsewhere = serviceManagerSockets(S.tempDir(0o755));
  const cramped = S.tempDir(0o755);
  const closed = serviceManagerSockets(cramped, 0o600);
  const cases: Array<[string, string[], number[], RegExp]> = [
    ['in the background', ['-d', dir], [submit.fd, logger.fd], /sockets passed by the service manager need -f/],
    ['one socket', ['-f', '-d', dir], [submit.fd], /1 sockets passed, 2 expected \(DIR\/submit and DIR\/logger\)/],
    [
      "another directory's",
      ['-f', '-d', dir],
      [elsewhere.submit.fd, elsewhere.logger.fd],
      new RegExp(`the sockets passed, 3 \\(/tmp/\\S+/submit\\), 4 \\(/tmp/\\S+/logger\\), are not ${dir}/submit and ${dir}/logger`),
    ],
    ['two the same', ['-f', '-d', dir], [submit.fd, submit.fd], /are not .*\/submit and .*\/logger/],
    ['mode 600', ['-f', '-d', cramped], [closed.submit.fd, closed.logger.fd], /submit has mode 600, not 666/],
  ];
  for (const [why, args, fds, says] of cases) {
    const r = await S.run('sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=${fds.length} exec "$@"`, 'sh', process.execPath, S.STRLOGD, ...args], {
      env: { PLOG_SYSLOG_SOCKET: join(dir, 'no-syslog') },
      extraFds: fds,
    });
    assert.equal(r.code, 6, `${why}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, says, why);
  }
  // Nothing of the service manager's was removed.
  for (const d of [dir, cramped]) for (const s of ['submit', 'logger']) assert.ok(existsSync(join(d, s)));
});

test('systemd/strlogd.socket binds what strlogd serves on /run/strlog, as strlogd would make it; strlogd.service keeps /run/strlog (and the sockets) when it stops', () => {
  const sock = readFileSync(join(S.ROOT, 'systemd/strlogd.socket'), 'utf8');
  assert.match(sock, /^ListenDatagram=\/run\/strlog\/submit$/m);
  assert.match(sock, /^ListenStream=\/run\/strlog\/logger$/m);
  assert.match(sock, /^SocketMode=0666$/m);
  assert.match(sock, /^PassCredentials=yes$/m);
  const svc = readFileSync(join(S.ROOT, 'systemd/strlogd.service'), 'utf8');
  assert.match(svc, /^Requires=strlogd\.socket$/m);
  assert.match(svc, /^ExecStart=strlogd -f$/m);
  assert.match(svc, /^RuntimeDirectory=strlog$/m);
  assert.match(svc, /^RuntimeDirectoryPreserve=yes$/m);
  assert.match(svc, /^Also=strlogd\.socket$/m);
});
