// The local transport without rsyslog: receivers of the test's own (the
// native datagram socket, a Node stream server) for what rsyslog cannot
// show: the SOCK_STREAM fallback, a receiver that never reads, LOG_CONS,
// LOG_PERROR, oversized datagrams, and that an idle logger lets the process
// exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { UnixSocket } from '../src/native.js';
import { GlibcRef } from './helpers/rsyslog.js';
import { waitFor } from './helpers/wait.js';
import { faketimeEnv, LIBFAKETIME, NO_FAKETIME } from './helpers/faketime.js';
import * as S from '../src/syslog/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const indexJs = join(here, '..', 'src', 'syslog', 'index.js');
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'plog-syslog-local-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A SOCK_STREAM receiver on a unix path collecting NUL-terminated records. */
async function streamReceiver(path: string): Promise<{ records: () => string[]; close: () => Promise<void> }> {
  let data = Buffer.alloc(0);
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('data', (d) => (data = Buffer.concat([data, d])));
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    records: () => {
      const s = data.toString('utf8');
      const parts = s.split('\0');
      return parts.slice(0, -1); // only complete records
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Timestamps and process ids differ between runs; the rest may not. */
const norm = (rec: string) => rec.replace(/^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /, '<$1>TS ').replace(/\[\d+\]: /, '[PID]: ');
/** A local line without its timestamp: `<PRI>tag: message`. */
const noTime = (rec: string) => rec.replace(/^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /, '$1');

test('SOCK_STREAM receiver: falls back to a stream with NUL-terminated records, as glibc (a newline inside a record sent as \\n)', async (t) => {
  const path = join(dir, 'stream.sock');
  const rx = await streamReceiver(path);
  t.after(() => rx.close());
  const l = new S.Logger({ path, ident: 'streamer', option: S.LOG_PID, facility: S.LOG_LOCAL1 });
  l.syslog(S.LOG_INFO, 'one');
  l.syslog(S.LOG_ERR, 'two\nlines');
  l.syslog(S.LOG_DEBUG, '%s', 'x'.repeat(100000)); // larger than one socket write
  await l.flush();
  await waitFor('three records', () => rx.records().length === 3);
  const recs = rx.records();
  assert.match(recs[0]!, /^<142>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d streamer\[\d+\]: one$/);
  // Unlike glibc: a receiver that also frames on LF must not see two records.
  assert.equal(norm(recs[1]!), '<139>TS streamer[PID]: two\\nlines');
  assert.equal(norm(recs[2]!), '<143>TS streamer[PID]: ' + 'x'.repeat(100000));
  assert.equal(l.dropped, 0);
  await l.close();

  // glibc through the same kind of receiver, when its reference can run.
  const ref = GlibcRef.make(dir, 'streamref');
  if (typeof ref === 'string') {
    t.skip(`glibc comparison skipped: ${ref}`);
    return;
  }
  const path2 = join(dir, 'stream2.sock');
  const rx2 = await streamReceiver(path2);
  t.after(() => rx2.close());
  ref.run(path2, [
    ['o', 'streamer', String(S.LOG_PID), String(S.LOG_LOCAL1)],
    ['s', String(S.LOG_INFO), '0', 'one'],
    ['s', String(S.LOG_ERR), '0', 'two\nlines'],
    ['S', String(S.LOG_DEBUG), '0', '%s', 'x'.repeat(100000)],
  ]);
  await waitFor('three glibc records', () => rx2.records().length === 3);
  // The same records, but for the newline that glibc sends as it is.
  assert.deepEqual(
    rx2.records().map(norm),
    recs.map(norm).map((r) => r.replace('two\\nlines', 'two\nlines')),
  );
});

test('a receiver that never reads: the event loop runs on, drops are counted exactly', async () => {
  const path = join(dir, 'deaf.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const l = new S.Logger({ path, ident: 'flood', queueMessages: 200 });
    let ticks = 0;
    const iv = setInterval(() => ticks++, 1);
    const N = 5000;
    let worst = 0;
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const a = performance.now();
      l.syslog(S.LOG_INFO, 'message %d', i);
      worst = Math.max(worst, performance.now() - a);
      if (i % 250 === 249) await tick(); // let timers in between batches
    }
    // Keep going a while: the loop must stay responsive with the queue full.
    const ticksBefore = ticks;
    await sleep(50); // the window the 1 ms timer must fire in (waiting for it would not bound the stall)
    clearInterval(iv);
    assert.ok(ticks > ticksBefore, `timer fired ${ticks - ticksBefore} times during 50 ms`);
    // A send that blocked would never return (the receiver never reads): the
    // bounds only say "returned", generously, so that a loaded machine does
    // not fail the test. How fast syslog() is, bench/ measures.
    assert.ok(worst < 2000, `one syslog() call took ${worst} ms`);
    assert.ok(Date.now() - t0 < 30_000);
    assert.equal(l.queued, 200, 'the queue is full');
    assert.ok(l.droppedBy.overflow > 0);
    // Close: what is still queued is dropped too, and counted.
    l.destroy();
    let received = 0;
    const seen: number[] = [];
    for (let d = rx.recv(); d; d = rx.recv()) {
      received++;
      seen.push(Number(/message (\d+)$/.exec(d.data.toString())![1]));
    }
    assert.ok(received > 0);
    assert.equal(received + l.dropped, N, `received ${received} + dropped ${l.dropped} = ${N}`);
    assert.equal(l.droppedBy.overflow + l.droppedBy.closed, l.dropped);
    // Dropping the newest keeps what arrives a gapless prefix.
    assert.deepEqual(
      seen,
      Array.from({ length: received }, (_, i) => i),
    );
  } finally {
    rx.close();
  }
});

test('a slow receiver: the queue drains when it reads, nothing dropped', async () => {
  const path = join(dir, 'slow.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const l = new S.Logger({ path, ident: 'slow' });
    const N = 800;
    for (let i = 0; i < N; i++) l.syslog(S.LOG_INFO, 'm%d', i);
    assert.ok(l.queued > 0, 'the kernel queue filled up');
    const got: string[] = [];
    const done = l.flush();
    while (got.length < N) {
      for (let d = rx.recv(); d; d = rx.recv()) got.push(d.data.toString().replace(/^.*: /, ''));
      await sleep(1); // the receiver's pace: read what came, then let the logger send
    }
    await done;
    assert.equal(l.dropped, 0);
    assert.deepEqual(
      got,
      Array.from({ length: N }, (_, i) => `m${i}`),
    );
    await l.close();
  } finally {
    rx.close();
  }
});

test('openlog(ident, option, 0) makes LOG_KERN the default facility, as glibc since 2.34; an omitted facility keeps it', async () => {
  const path = join(dir, 'kern.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const l = new S.Logger({ path, ident: 'k' });
    l.syslog(S.LOG_INFO, 'user by default');
    l.openlog('k', 0, S.LOG_LOCAL0);
    l.syslog(S.LOG_INFO, 'local0');
    l.openlog('k', 0, 0);
    l.syslog(S.LOG_INFO, 'kern');
    l.syslog(S.LOG_KERN | S.LOG_NOTICE, 'no facility in the priority: the default, kern');
    l.openlog('k', S.LOG_PID);
    l.syslog(S.LOG_INFO, 'facility omitted: still kern');
    l.closelog();
    l.syslog(S.LOG_ERR, 'closelog keeps the facility');
    l.openlog('k', 0, 0x401);
    l.syslog(S.LOG_INFO, 'bits outside LOG_FACMASK: ignored');
    await l.close();
    const k = new S.Logger({ path, ident: 'k', facility: 0 });
    k.syslog(S.LOG_INFO, 'facility 0 in the options: kern');
    await k.close();
    const pris: number[] = [];
    for (let d = rx.recv(); d; d = rx.recv()) pris.push(Number(/^<(\d+)>/.exec(d.data.toString())![1]));
    assert.deepEqual(pris, [14, 134, 6, 5, 6, 3, 6, 6]);
  } finally {
    rx.close();
  }
});

test('closelog() and openlog() with a slow receiver: what was logged before closelog arrives first, in order', async () => {
  const path = join(dir, 'order.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const l = new S.Logger({ path, ident: 'order' });
    const want: string[] = [];
    for (let i = 0; i < 15; i++) {
      l.syslog(S.LOG_INFO, 'a%d', i);
      want.push(`<14>order: a${i}`);
    }
    assert.ok(l.queued > 0, 'the receiver is behind');
    l.closelog();
    l.openlog('order', S.LOG_NDELAY, S.LOG_LOCAL0);
    for (let i = 0; i < 15; i++) {
      l.syslog(S.LOG_INFO, 'b%d', i);
      want.push(`<134>order: b${i}`);
    }
    l.closelog();
    l.syslog(S.LOG_ERR, 'c');
    want.push('<131>order: c');
    const done = l.flush();
    const got: string[] = [];
    const deadline = Date.now() + 10_000;
    // Slowly: one message, then the event loop's turn, so that both the
    // old connection and the new one see room in the receiver's queue.
    while (got.length < want.length && Date.now() < deadline) {
      const d = rx.recv();
      if (d) got.push(noTime(d.data.toString()));
      await sleep(2); // one message, then the event loop's turn
    }
    await done;
    assert.deepEqual(got, want);
    assert.equal(l.dropped, 0);
    await l.close();
  } finally {
    rx.close();
  }
});

test('a priority that is not a whole number (a misspelled constant, NaN, null, a string) is reported as glibc reports bad bits, and the message goes at LOG_ERR, never LOG_EMERG', async () => {
  const path = join(dir, 'badpri.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const l = new S.Logger({ path, ident: 'bad', facility: S.LOG_LOCAL0 });
    const bad: Array<[unknown, string]> = [
      [undefined, 'undefined'],
      [Number.NaN, 'NaN'],
      [null, 'null'],
      ['warning', '"warning"'],
      ['3', '"3"'],
      [1.5, '1.5'],
      [Infinity, 'Infinity'],
      [2 ** 40, '1099511627776'],
      [3n, '3n'],
    ];
    for (const [i, [p]] of bad.entries()) l.syslog(p as number, 'message %d', i);
    l.log(undefined as unknown as number, 'from log()');
    // A valid priority is untouched.
    l.syslog(S.LOG_DEBUG, 'fine');
    const want: string[] = [];
    for (const [i, [, shown]] of bad.entries()) want.push(`<35>bad: syslog: unknown facility/priority: ${shown}`, `<131>bad: message ${i}`);
    want.push('<35>bad: syslog: unknown facility/priority: undefined', '<131>bad: from log()', '<135>bad: fine');
    const got: string[] = [];
    // Read as they come (the receiver's queue holds only a few).
    await waitFor('every message', () => {
      for (let d = rx.recv(); d; d = rx.recv()) got.push(noTime(d.data.toString()));
      return got.length >= want.length;
    });
    await l.close();
    assert.deepEqual(got, want);
    assert.equal(l.dropped, 0);
  } finally {
    rx.close();
  }
});

test('no receiver: undeliverable messages are counted, LOG_CONS writes them to the console', async () => {
  const consoleFile = join(dir, 'console');
  writeFileSync(consoleFile, '');
  const l = new S.Logger({ path: join(dir, 'nobody.sock'), ident: 'lonely', option: S.LOG_CONS | S.LOG_PID, console: consoleFile });
  l.syslog(S.LOG_CRIT, 'nobody %s', 'listens');
  l.syslog(S.LOG_CRIT, 'second');
  assert.equal(l.dropped, 2);
  assert.equal(l.droppedBy.undeliverable, 2);
  assert.equal(readFileSync(consoleFile, 'utf8'), `lonely[${process.pid}]: nobody listens\r\nlonely[${process.pid}]: second\r\n`);
  // Without LOG_CONS nothing goes there.
  const q = new S.Logger({ path: join(dir, 'nobody.sock'), ident: 'quiet', console: consoleFile });
  q.syslog(S.LOG_CRIT, 'not on the console');
  assert.equal(q.dropped, 1);
  assert.ok(!readFileSync(consoleFile, 'utf8').includes('not on the console'));
  await l.close();
  await q.close();
});

test('LOG_PERROR: ident[pid]: message and one newline on stderr', async () => {
  const out: string[] = [];
  const l = new S.Logger({ path: join(dir, 'nobody.sock'), ident: 'perr', option: S.LOG_PERROR | S.LOG_PID, stderr: { write: (s: string) => out.push(s) } });
  l.syslog(S.LOG_ERR, 'to stderr %d', 1);
  l.syslog(S.LOG_ERR, 'ends with newline\n');
  l.setlogmask(S.LOG_MASK(S.LOG_EMERG));
  l.syslog(S.LOG_ERR, 'masked: not on stderr either');
  assert.deepEqual(out, [`perr[${process.pid}]: to stderr 1\n`, `perr[${process.pid}]: ends with newline\n`]);
  await l.close();
});

test('LOG_PERROR goes to the real stderr of a process', async () => {
  const script = join(dir, 'perror.mjs');
  writeFileSync(script, `import * as S from ${JSON.stringify(indexJs)};\n` + `S.openlog('childp', S.LOG_PERROR, S.LOG_USER);\nS.syslog(S.LOG_WARNING, 'hello %s', 'stderr');\nS.closelog();\n`);
  const r = await runNode(script, { PLOG_SYSLOG_SOCKET: join(dir, 'nobody.sock') });
  assert.equal(r.stderr, 'childp: hello stderr\n');
  assert.equal(r.code, 0);
});

test('a datagram larger than the socket allows: EMSGSIZE, counted, the next one goes', async () => {
  const path = join(dir, 'big.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const l = new S.Logger({ path, ident: 'big' });
    l.syslog(S.LOG_INFO, '%s', 'h'.repeat(64 * 1024)); // fits
    l.syslog(S.LOG_INFO, '%s', 'H'.repeat(1024 * 1024)); // more than SO_SNDBUF
    l.syslog(S.LOG_INFO, 'after');
    await l.flush();
    assert.equal(l.dropped, 1);
    assert.equal(l.droppedBy.undeliverable, 1);
    const a = rx.recv(1 << 20)!;
    const b = rx.recv(1 << 20)!;
    // The addon's recv() buffer is 64 KiB + 1, so compare the datagram's real
    // size (MSG_TRUNC) where it reports one; the rsyslog test shows the whole
    // 64 KiB arriving.
    const header = a.data.toString().slice(0, a.data.indexOf(': ') + 2);
    assert.match(header, /^<14>.* big: $/);
    const size = (a as { size?: number }).size;
    if (size !== undefined) assert.equal(size, Buffer.byteLength(header) + 64 * 1024);
    assert.ok(b.data.toString().endsWith(': after'));
    assert.equal(rx.recv(), null);
    await l.close();
  } finally {
    rx.close();
  }
});

test('receiver replaced between two messages (new socket at the same path)', async () => {
  const path = join(dir, 'replaced.sock');
  let rx = new UnixSocket();
  rx.bind(path);
  const l = new S.Logger({ path, ident: 'rep' });
  l.syslog(S.LOG_INFO, 'first');
  assert.match(rx.recv()!.data.toString(), /first$/);
  rx.close();
  rmSync(path);
  rx = new UnixSocket();
  rx.bind(path);
  try {
    l.syslog(S.LOG_INFO, 'second');
    assert.match(rx.recv()!.data.toString(), /second$/);
    assert.equal(l.dropped, 0);
    await l.close();
  } finally {
    rx.close();
  }
});

test('an idle logger does not keep the process alive', async () => {
  const path = join(dir, 'idle.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const script = join(dir, 'idle.mjs');
    writeFileSync(
      script,
      `import { Logger, LOG_INFO, LOG_NDELAY } from ${JSON.stringify(indexJs)};\n` +
        `const l = new Logger({ path: ${JSON.stringify(path)}, ident: 'idle', option: LOG_NDELAY });\n` +
        `l.syslog(LOG_INFO, 'then nothing');\n`,
    );
    const t0 = Date.now();
    const r = await runNode(script);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 3000);
    assert.match(rx.recv()!.data.toString(), /idle: then nothing$/);
  } finally {
    rx.close();
  }
});

test('a stuck receiver keeps the process alive at most stallTimeout, then drops are counted', async () => {
  const path = join(dir, 'stuck.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  try {
    const script = join(dir, 'stuck.mjs');
    writeFileSync(
      script,
      `import { Logger, LOG_INFO } from ${JSON.stringify(indexJs)};\n` +
        `const l = new Logger({ path: ${JSON.stringify(path)}, ident: 'stuck', stallTimeout: 300 });\n` +
        `for (let i = 0; i < 100; i++) l.syslog(LOG_INFO, 'm%d', i);\n` +
        `process.on('exit', () => console.log(JSON.stringify({ dropped: l.dropped, by: l.droppedBy })));\n`,
    );
    const t0 = Date.now();
    const r = await runNode(script);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took >= 250 && took < 4000, `exited after ${took} ms`);
    // logger.dropped, and logger.droppedBy's counts by reason
    const { dropped, by } = JSON.parse(r.stdout) as { dropped: number; by: { stalled: number } };
    let received = 0;
    while (rx.recv()) received++;
    assert.equal(received + dropped, 100);
    assert.equal(by.stalled, dropped);
  } finally {
    rx.close();
  }
});

test('PLOG_SYSLOG_SOCKET and unix:// URLs choose the socket', async () => {
  const path = join(dir, 'env.sock');
  const rx = new UnixSocket();
  rx.bind(path);
  const old = process.env.PLOG_SYSLOG_SOCKET;
  try {
    process.env.PLOG_SYSLOG_SOCKET = path;
    assert.equal(S.defaultSocketPath(), path);
    const a = new S.Logger({ ident: 'envsock' });
    a.syslog(S.LOG_INFO, 'via env');
    const b = new S.Logger({ ident: 'urlsock', url: `unix://${path}`, path: '/ignored' });
    b.syslog(S.LOG_INFO, 'via url');
    assert.match(rx.recv()!.data.toString(), /envsock: via env$/);
    assert.match(rx.recv()!.data.toString(), /urlsock: via url$/);
    delete process.env.PLOG_SYSLOG_SOCKET;
    assert.equal(S.defaultSocketPath(), '/dev/log');
    await a.close();
    await b.close();
  } finally {
    if (old === undefined) delete process.env.PLOG_SYSLOG_SOCKET;
    else process.env.PLOG_SYSLOG_SOCKET = old;
    rx.close();
  }
});

function runNode(script: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

test('await close() over tcp:// and tls:// settles while the receiver keeps its side open; the code after it runs', async (t) => {
  const tls = await import('node:tls');
  const { makeCerts } = await import('./helpers/rsyslog.js');
  let certs: { ca: string; cert: string; key: string } | null = null;
  try {
    certs = makeCerts(mkdtempSync(join(dir, 'certs-')));
  } catch (err) {
    t.diagnostic(`no openssl, tls:// left out: ${String(err)}`);
  }
  // Receivers that read everything and never close a connection.
  const got: Record<string, string> = { tcp: '', tls: '' };
  const conns = new Set<net.Socket>();
  const keep =
    (proto: 'tcp' | 'tls') =>
    (c: net.Socket): void => {
      conns.add(c);
      c.setEncoding('utf8').on('data', (d: string) => (got[proto] += d));
      c.on('end', () => undefined); // allowHalfOpen: our side stays open
    };
  const tcpServer = net.createServer({ allowHalfOpen: true }, keep('tcp'));
  const tlsServer = certs ? tls.createServer({ allowHalfOpen: true, key: readFileSync(certs.key), cert: readFileSync(certs.cert) }, keep('tls')) : null;
  const listen = (srv: net.Server): Promise<number> => new Promise((res) => srv.listen(0, '127.0.0.1', () => res((srv.address() as net.AddressInfo).port)));
  try {
    const urls: Array<['tcp' | 'tls', string]> = [['tcp', `tcp://127.0.0.1:${await listen(tcpServer)}`]];
    if (tlsServer) urls.push(['tls', `tls://127.0.0.1:${await listen(tlsServer)}`]);
    for (const [proto, url] of urls) {
      const script = join(dir, `close-${proto}.mjs`);
      writeFileSync(
        script,
        `import { readFileSync } from 'node:fs';\n` +
          `import { Logger, LOG_ERR } from ${JSON.stringify(indexJs)};\n` +
          `const l = new Logger({ url: ${JSON.stringify(url)}, ident: 'closer', tls: ${certs ? `{ ca: readFileSync(${JSON.stringify(certs.ca)}), servername: 'localhost' }` : 'undefined'} });\n` +
          `l.syslog(LOG_ERR, 'before close');\n` +
          `await l.close();\n` +
          `console.log('after close, dropped', l.dropped);\n`,
      );
      const r = await runNode(script);
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'after close, dropped 0\n', ''], proto);
      assert.match(got[proto]!, / closer - - - before close$/, proto);
    }
  } finally {
    for (const c of conns) c.destroy();
    tcpServer.close();
    tlsServer?.close();
  }
});

for (const how of ['libfaketime', 'Date.now'] as const) {
  test(`a step of the wall clock shows in the next message, local and RFC 5424/3164 alike (${how})`, { skip: how === 'libfaketime' && !LIBFAKETIME ? NO_FAKETIME : false }, async () => {
    const STEP_MS = 36 * 3600_000;
    const sock = join(dir, `clock-${how}.sock`);
    const stepFile = join(dir, `clock-${how}.step`);
    writeFileSync(stepFile, '+0\n');
    const script = join(dir, `clock-${how}.mjs`);
    const native = join(here, '..', 'src', 'native.js');
    writeFileSync(
      script,
      `import { writeFileSync } from 'node:fs';\n` +
        `import dgram from 'node:dgram';\n` +
        `import { Logger, LOG_INFO } from ${JSON.stringify(indexJs)};\n` +
        `import { UnixSocket } from ${JSON.stringify(native)};\n` +
        `const rx = new UnixSocket(); rx.bind(${JSON.stringify(sock)});\n` +
        `const got = [];\n` +
        `const udp = dgram.createSocket('udp4'); udp.on('message', (m) => got.push(m.toString()));\n` +
        `await new Promise((r) => udp.bind(0, '127.0.0.1', r));\n` +
        `const url = 'udp://127.0.0.1:' + udp.address().port;\n` +
        `const ls = [new Logger({ path: ${JSON.stringify(sock)}, ident: 'clock' }), new Logger({ url, format: 'rfc5424', ident: 'clock' }), new Logger({ url, format: 'rfc3164', ident: 'clock' })];\n` +
        `for (const l of ls) l.syslog(LOG_INFO, 'before');\n` +
        `for (const l of ls) await l.flush();\n` +
        (how === 'libfaketime' ? `writeFileSync(${JSON.stringify(stepFile)}, '+36h\\n');\n` : `const real = Date.now; Date.now = () => real() + ${STEP_MS};\n`) +
        `for (const l of ls) l.syslog(LOG_INFO, 'after');\n` +
        `for (const l of ls) await l.close();\n` +
        `while (got.length < 4) await new Promise((r) => setTimeout(r, 10));\n` +
        `udp.close();\n` +
        `const local = [rx.recv().data.toString(), rx.recv().data.toString()];\n` +
        `console.log(JSON.stringify({ local, remote: got }));\n`,
    );
    const env: Record<string, string> = { TZ: 'UTC' };
    if (how === 'libfaketime') Object.assign(env, faketimeEnv(stepFile));
    const r = await runNode(script, env);
    assert.equal(r.code, 0, r.stderr);
    const { local, remote } = JSON.parse(r.stdout) as { local: string[]; remote: string[] };
    const pick = (lines: string[], re: RegExp, word: string): string => re.exec(lines.find((l) => l.endsWith(word) && re.test(l))!)![1]!;
    const bsd = /^<\d+>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) /;
    const iso = /^<\d+>1 (\S+) /;
    // A BSD timestamp has no year: the same one on both sides (a step over
    // New Year's Eve would be a year short, and is put right).
    const bsdMs = (ts: string): number => Date.parse(`${ts} 2001 UTC`);
    const step = (a: number, b: number): number => (((b - a) % (365 * 86_400_000)) + 365 * 86_400_000) % (365 * 86_400_000);
    const steps = {
      local: step(bsdMs(pick(local, bsd, 'before')), bsdMs(pick(local, bsd, 'after'))),
      rfc3164: step(bsdMs(pick(remote, bsd, 'before')), bsdMs(pick(remote, bsd, 'after'))),
      rfc5424: Date.parse(pick(remote, iso, 'after')) - Date.parse(pick(remote, iso, 'before')),
    };
    for (const [what, ms] of Object.entries(steps)) assert.ok(Math.abs(ms - STEP_MS) < 120_000, `${what}: the clock moved by ${ms / 3600_000} h between the messages, not 36 h: ${r.stdout}`);
  });
}

test('remote receivers that are not there: counted, never thrown, the process exits', async () => {
  // A port nobody listens on: bind one, note it, close it.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const tcp = new S.Logger({ url: `tcp://127.0.0.1:${port}`, ident: 'nobody' });
  for (let i = 0; i < 5; i++) tcp.syslog(S.LOG_ERR, 'lost %d', i);
  await tcp.flush();
  assert.equal(tcp.dropped, 5);
  assert.equal(tcp.droppedBy.undeliverable, 5);
  await tcp.close();
  const dns = new S.Logger({ url: 'udp://no-such-host.invalid:514', ident: 'nobody' });
  dns.syslog(S.LOG_ERR, 'lost');
  await dns.flush();
  assert.equal(dns.dropped, 1);
  await dns.close();
});
