// Names another user takes before root's programs do: a fake server at
// DIR/plogd_sock while no plogsrvd runs, and the client socket names in
// /tmp. An unprivileged user (nobody, under setpriv) must not be able to
// feed root's plog a forged answer, keep root's plogsrvd from its own
// directory, make plog run copy a file it names, or stop anyone's plog.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AS_NOBODY, fakeServer, ints, plog, plogsrvd, raw, ROOT, run, Server, staleSocket, tempDir, waitFor } from './helpers/plog.js';

const kids = new Set<ChildProcess>();
after(() => {
  for (const k of kids) k.kill('SIGKILL');
});

/** nobody binds DIR/plogd_sock and answers every request with `answer`. */
async function squatter(dir: string, answer: string): Promise<ChildProcess> {
  const script = `
    import { UnixSocket } from ${JSON.stringify(join(ROOT, 'dist/src/native.js'))};
    import { chmodSync } from 'node:fs';
    const s = new UnixSocket(); s.bind(process.argv[1] + '/plogd_sock'); chmodSync(process.argv[1] + '/plogd_sock', 0o777);
    s.setReadable(() => { for (let d; (d = s.recv(300)); ) if (d.path) try { s.trySend(Buffer.from(process.argv[2] + '\\0'), d.path); } catch {} });
    console.log('ready');
  `;
  const c = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-e', script, dir, answer], { stdio: ['ignore', 'pipe', 'inherit'] });
  kids.add(c);
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await waitFor('the squatter to bind', () => out.includes('ready'));
  return c;
}

test("a fake server of nobody in a sticky root directory: root's plog does not believe it (exit 4, in words)", async () => {
  const dir = tempDir(0o1777);
  await squatter(dir, '-99998');
  const q = await plog(['-d', dir, '-q', 'pid']);
  assert.deepEqual([q.code, q.stdout], [4, '']);
  assert.equal(q.stderr, `plog: Not asking ${dir}/plogd_sock: it belongs to uid 65534, who is neither root, you (uid 0) nor the owner of the directory (uid 0); no plogsrvd of theirs is believed.\n`);
  // nobody's own plog may use it: it is theirs.
  const mine = await plog(['-d', dir, '-q', 'pid'], { asNobody: true });
  assert.deepEqual([mine.code, mine.stdout], [0, '-99998\n']);
});

test("root's plogsrvd takes its directory back from the fake server, says so, and answers", async () => {
  const dir = tempDir(0o1777);
  const fake = await squatter(dir, '-99998');
  const srv = await Server.start({ dir, foreground: true, args: ['-m', 'world'] });
  assert.match(srv.stderr, new RegExp(`Removed ${dir}/plogd_sock: it belongs to uid 65534, who is neither root, you \\(uid 0\\) nor the owner of the directory \\(uid 0\\)`));
  const q = await plog(['-d', dir, '-q', 'pid']);
  assert.deepEqual([q.code, q.stdout, q.stderr], [0, `${srv.pid}\n`, '']);
  assert.equal(statSync(join(dir, 'plogd_sock')).uid, 0);
  fake.kill('SIGKILL');
});

test('plog run copies only a log made for it in the directory it asked: a server naming another file gets nothing copied', async () => {
  // A root-owned server (trusted by root) that lies: every log request is
  // answered with a secret file outside its directory.
  const secretDir = tempDir(0o700);
  const secret = join(secretDir, 'secret');
  writeFileSync(secret, 'root only\n', { mode: 0o600 });
  const dir = tempDir(0o755);
  const sock = fakeServer(dir, (req) => (req.kind === 'hello' ? 'plogsrvd 9.9.9 ext 2' : req.kind === 'log' ? `Log file: ${secret}` : 'Unrecognized request.'));
  try {
    const out = join(tempDir(0o755), 'out.log');
    const r = await plog(['run', '-o', out, '--', 'true'], { env: { PLOGDIR: dir } });
    assert.match(r.stderr, new RegExp(`the server named "${secret}", which is not a log in ${dir}`));
    assert.equal(existsSync(out) ? readFileSync(out, 'utf8') : '', '', 'the secret was copied');
  } finally {
    sock.close();
  }
});

test("nobody creates /tmp/.plog, .plog-2 ... .plog-25 as files and stale sockets: root's plog and plogsrvd's restart work", async () => {
  const t = tempDir(0o1777);
  const squat = await run(AS_NOBODY[0], [
    ...AS_NOBODY.slice(1),
    process.execPath,
    '--input-type=module',
    '-e',
    `
    import { UnixSocket } from ${JSON.stringify(join(ROOT, 'dist/src/native.js'))};
    import { writeFileSync } from 'node:fs';
    const t = process.argv[1];
    for (let n = 1; n <= 25; n++) writeFileSync(t + (n === 1 ? '/.plog' : '/.plog-' + n), '');
    for (let n = 0; n < 40; n++) { const s = new UnixSocket(); s.bind(t + '/.plog.squat' + n); s.close(); }
  `,
    t,
  ]);
  assert.equal(squat.code, 0, squat.stderr);
  const dir = tempDir(0o1777);
  // A crashed server's socket to query at start-up.
  staleSocket(join(dir, 'plogd_sock'));
  const srv = await Server.start({ dir, env: { PLOG_TMPDIR: t }, args: ['-m', 'world'] });
  const q = await plog(['-d', dir, '-q', 'pid'], { env: { PLOG_TMPDIR: t } });
  assert.deepEqual([q.code, q.stdout, q.stderr], [0, `${srv.pid}\n`, '']);
  const n = await plog(['-d', dir, '-q', 'pid'], { env: { PLOG_TMPDIR: t }, asNobody: true });
  assert.deepEqual([n.code, n.stdout], [0, `${srv.pid}\n`]);
  assert.equal(await raw().ask(dir, ints(0, 2)), String(srv.pid));
  const again = await plogsrvd(['-d', dir], { env: { PLOG_TMPDIR: t } });
  assert.equal(again.code, 12, 'already running');
});
