// The native addon (native/plog_native.c through src/native.ts): errors
// surface where they happen, a socket's poll survives an error, a closed
// socket refuses to be used, each thread has its own receive buffer,
// openPath() never follows a link (openPathStat() tells what it found, as
// fstat would), recv() can receive into a buffer of the caller's, and
// readAt() reads one name of a directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { closeFd, openPath, openPathStat, readAt, SystemError, UnixSocket, type Datagram } from '../src/native.js';
import { ROOT, tempDir, waitFor } from './helpers/plog.js';

const NATIVE = JSON.stringify(join(ROOT, 'dist/src/native.js'));

test('a throw in a readable callback is an uncaught exception at once, not an error of the next unrelated call', () => {
  const script = `
    import { UnixSocket } from ${NATIVE};
    const dir = process.argv[1];
    const a = new UnixSocket(); a.bind(dir + '/a');
    const b = new UnixSocket(); b.bind(dir + '/b');
    process.on('uncaughtException', (err) => { console.log('uncaught ' + err.message); process.exit(0); });
    a.setReadable(() => { a.recv(); throw new Error('boom'); });
    b.trySend(Buffer.from('x'), dir + '/a');
    setTimeout(() => {
      try { b.trySend(Buffer.from('y'), dir + '/b'); console.log('no error'); } catch (err) { console.log('later: ' + err.message); }
      process.exit(0);
    }, 300);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, tempDir()], { encoding: 'utf8' });
  assert.equal(r.stdout, 'uncaught boom\n', r.stderr);
});

test('after an error on a socket (POLLERR) its poll can be armed again and delivers', async () => {
  const d = tempDir();
  const [pa, pb, pc] = ['a', 'b', 'c'].map((n) => join(d, n)) as [string, string, string];
  const a = new UnixSocket();
  const b = new UnixSocket();
  const c = new UnixSocket();
  try {
    a.bind(pa);
    b.bind(pb);
    c.bind(pc);
    a.connect(pb);
    b.connect(pa);
    const got: string[] = [];
    const errors: string[] = [];
    const onReadable = (): void => {
      for (let m: Datagram | null; (m = b.recv());) got.push(m.data.toString());
    };
    b.setErrorHandler((err) => errors.push(err.code));
    b.setReadable(onReadable);
    // a leaves b for c with b's datagram unread: the kernel drops it and
    // sets ECONNRESET on b (unix(7) datagram pairs), which polls as POLLERR.
    assert.ok(b.trySend(Buffer.from('lost'), pa) > 0);
    a.connect(pc);
    await waitFor('the error', () => errors.length > 0);
    // Read the error out, arm again, and a datagram from a must arrive.
    assert.throws(() => b.recv(), /ECONNRESET|Connection reset/);
    b.setReadable(onReadable);
    assert.ok(a.trySend(Buffer.from('after'), pb) > 0);
    await waitFor('the datagram after the error', () => got.includes('after'), { timeout: 3000 });
  } finally {
    for (const s of [a, b, c]) s.close();
  }
});

test('a closed socket refuses to send, receive, bind or connect, even when its number names another descriptor by then', () => {
  const d = tempDir();
  const rx = new UnixSocket();
  rx.bind(join(d, 'rx'));
  const s = new UnixSocket();
  s.close();
  // The lowest free number is the one just closed: another socket takes it.
  const other = new UnixSocket();
  try {
    assert.equal(other.fd, s.fd, 'the descriptor number was reused');
    assert.throws(() => s.trySend(Buffer.from('x'), join(d, 'rx')), { code: 'EBADF' });
    assert.equal(rx.recv(), null, 'sent through the other socket');
    assert.throws(() => s.recv(), { code: 'EBADF' });
    assert.throws(() => s.bind(join(d, 'x')), { code: 'EBADF' });
    assert.throws(() => s.connect(join(d, 'rx')), { code: 'EBADF' });
  } finally {
    other.close();
    rx.close();
  }
});

test('worker threads each receive into their own buffer: 2 threads x 20,000 datagrams of 60 kB, every byte right', async () => {
  const code = `
    import { workerData, parentPort } from 'node:worker_threads';
    import { UnixSocket } from ${NATIVE};
    const { dir, id, n } = workerData;
    const rx = new UnixSocket(); rx.bind(dir + '/rx' + id);
    const tx = new UnixSocket();
    let bad = 0, got = 0, sent = 0;
    const size = 60000;
    const w = new Int32Array(new SharedArrayBuffer(4));
    while (got < n) {
      if (sent < n) {
        const b = Buffer.alloc(size, (id * 97 + sent) & 255);
        if (tx.trySend(b, dir + '/rx' + id) > 0) sent++;
      }
      for (let d; (d = rx.recv(65536)); got++) {
        const v = d.data[0];
        if (d.data.length !== size || d.data[size - 1] !== v || d.data[size >> 1] !== v || v !== ((id * 97 + got) & 255)) bad++;
      }
      Atomics.wait(w, 0, 0, 0.01);
    }
    rx.close(); tx.close();
    parentPort.postMessage({ got, bad });
  `;
  const dir = tempDir();
  const run = (id: number): Promise<{ got: number; bad: number }> =>
    new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { dir, id, n: 20_000 }, type: 'module' } as never);
      w.once('message', resolve);
      w.once('error', reject);
    });
  const [x, y] = await Promise.all([run(1), run(2)]);
  assert.deepEqual(
    [x, y],
    [
      { got: 20_000, bad: 0 },
      { got: 20_000, bad: 0 },
    ],
  );
});

test('openPath: a descriptor of the file itself, never through a symlink on the way', () => {
  const d = tempDir();
  mkdirSync(join(d, 'real'));
  const s = new UnixSocket();
  s.bind(join(d, 'real', 'sock'));
  symlinkSync(join(d, 'real'), join(d, 'linkdir'));
  symlinkSync(join(d, 'real', 'sock'), join(d, 'linksock'));
  try {
    const fd = openPath(join(d, 'real', 'sock'));
    assert.equal(fstatSync(fd).isSocket(), true);
    closeSync(fd);
    assert.throws(() => openPath(join(d, 'linkdir', 'sock')), { code: /ELOOP|ENOTDIR/ });
    // A link as the last component: a descriptor of the link, not of its target.
    const l = openPath(join(d, 'linksock'));
    assert.equal(fstatSync(l).isSymbolicLink(), true);
    closeSync(l);
    assert.throws(() => openPath('relative/path'), { code: 'EINVAL' });
  } finally {
    s.close();
  }
});

test('openPathStat: the descriptor and what fstat says of it, in one call; links and relative paths as openPath', () => {
  const d = tempDir();
  mkdirSync(join(d, 'real'));
  const s = new UnixSocket();
  s.bind(join(d, 'real', 'sock'));
  writeFileSync(join(d, 'file'), 'x');
  symlinkSync(join(d, 'real'), join(d, 'linkdir'));
  symlinkSync(join(d, 'real', 'sock'), join(d, 'linksock'));
  try {
    for (const [name, socket, link] of [
      ['real/sock', true, false],
      ['file', false, false],
      ['linksock', false, true],
    ] as const) {
      const st = openPathStat(join(d, name));
      const want = fstatSync(st.fd);
      assert.deepEqual(
        { isSocket: st.isSocket, isSymbolicLink: st.isSymbolicLink, uid: st.uid, dev: st.dev, ino: st.ino },
        { isSocket: socket, isSymbolicLink: link, uid: want.uid, dev: want.dev, ino: want.ino },
        name,
      );
      closeFd(st.fd);
      assert.throws(() => fstatSync(st.fd), { code: 'EBADF' }, `${name}: closeFd closed it`);
    }
    assert.throws(() => openPathStat(join(d, 'linkdir', 'sock')), { code: /ELOOP|ENOTDIR/ });
    assert.throws(() => openPathStat(join(d, 'none')), { code: 'ENOENT' });
    assert.throws(() => openPathStat('relative/path'), { code: 'EINVAL' });
  } finally {
    s.close();
  }
});

test("recv into a buffer of the caller's: the data a view of it, cut at maxlen with the real size; a buffer shorter than maxlen refused", () => {
  const d = tempDir();
  const a = new UnixSocket();
  const b = new UnixSocket();
  a.bind(join(d, 'a'));
  b.bind(join(d, 'b'));
  try {
    const into = Buffer.alloc(8, 0xff);
    b.trySend(Buffer.from('hello'), join(d, 'a'));
    const g = a.recv(8, into)!;
    assert.equal(g.data.toString(), 'hello');
    assert.equal(g.size, 5);
    assert.equal(g.data.buffer, into.buffer, 'a view of the buffer given, not a copy');
    assert.equal(g.path, join(d, 'b'));
    assert.deepEqual([g.uid, g.gid, g.pid], [process.getuid!(), process.getgid!(), process.pid]);
    b.trySend(Buffer.from('0123456789'), join(d, 'a'));
    const cut = a.recv(4, into)!;
    assert.equal(cut.data.toString(), '0123');
    assert.equal(cut.size, 10);
    assert.equal(a.recv(8, into), null, 'nothing waiting: null');
    assert.throws(() => a.recv(9, into), { code: 'EINVAL' });
  } finally {
    a.close();
    b.close();
  }
});

test('readAt: a file read whole through a directory descriptor; one name only, no link followed; a short buffer says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plog-readat-'));
  try {
    writeFileSync(join(dir, 'small'), 'hello\n');
    writeFileSync(join(dir, 'big'), 'x'.repeat(10_000));
    symlinkSync(join(dir, 'small'), join(dir, 'link'));
    const dfd = openPath(dir);
    try {
      const buf = Buffer.alloc(4096);
      assert.equal(readAt(dfd, 'small', buf, false), 6);
      assert.equal(buf.subarray(0, 6).toString(), 'hello\n');
      // All of the buffer: perhaps not all of the file (the caller grows it and asks again).
      assert.equal(readAt(dfd, 'big', buf, false), 4096);
      assert.equal(readAt(dfd, 'big', Buffer.alloc(20_000), true), 10_000);
      const fail = (name: string, code: string): void => {
        assert.throws(
          () => readAt(dfd, name, buf, false),
          (e: unknown) => e instanceof SystemError && e.code === code,
          `${name}: ${code}`,
        );
      };
      fail('link', 'ELOOP');
      fail('missing', 'ENOENT');
      fail('../small', 'EINVAL');
      fail('', 'EINVAL');
      fail('a\0b', 'EINVAL');
      // Through /proc/PID: this process's own stat, in one read.
      const pfd = openPath(`/proc/${process.pid}`);
      try {
        const n = readAt(pfd, 'stat', buf, true);
        assert.match(buf.subarray(0, n).toString('latin1'), new RegExp(`^${process.pid} \\(`));
      } finally {
        closeSync(pfd);
      }
    } finally {
      closeSync(dfd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
