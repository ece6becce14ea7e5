// strlogd end to end: registrations, the three sequence numbers, the class
// bits, pri per class, trace filters, user and module interfaces, malformed
// submissions, the console backlog and console forwarding to syslog. Real
// strlogd, strerr and strtrace processes; in-process clients and loggers
// (plogkit/strlog) where the test must see log_ctl fields no line shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { UnixSocket } from '../src/native.js';
import { LOG_CRIT, LOG_DEBUG, LOG_ERR, LOG_INFO, LOG_KERN, LOG_LOCAL3, LOG_NOTICE, LOG_USER, LOG_WARNING } from '../src/syslog/constants.js';
import { expand, LogStream, SL_CONSOLE, SL_ERROR, SL_FATAL, SL_NOTE, SL_NOTIFY, SL_TRACE, SL_WARN, StrlogClient } from '../src/strlog/index.js';
import { STRLOG } from '../src/strlog/exitcodes.js';
import { encodeData, encodeRegister, encodeSubmission, frame, FrameReader, F_REGISTER, F_REPLY, F_STATS, F_STATS_REPLY, IFACE_MODULE, ROLE_TRACE } from '../src/strlog/wire.js';
import { AS_NOBODY, Driver, parseErrLine, parseTraceLine, startStrerr, startStrtrace, strlogCmd, SyslogSink, tempDir, waitFor, waitErrorLog, type Prefix } from './helpers/strlog.js';

const { EBUSY, EINVAL } = osConstants.errno;

test('each class numbers from 1; no error number is used while no error logger is registered', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const c = d.client();
  // No logger at all: ERROR and TRACE are cleared, nothing logged.
  const a0 = await c.strlogWait(1, 2, 0, SL_ERROR | SL_TRACE, 'nobody takes this');
  assert.deepEqual([a0?.result, a0?.flags, a0?.seq], [0, 0, { error: 0, trace: 0, console: 0 }]);
  // CONSOLE always has a taker (the backlog here).
  for (let i = 1; i <= 3; i++) {
    const a = await c.strlogWait(1, 2, 0, SL_ERROR | SL_CONSOLE, 'console %d', i);
    assert.deepEqual([a?.result, a?.flags, a?.seq], [1, SL_CONSOLE, { error: 0, trace: 0, console: i }]);
  }
  const logdir = tempDir();
  const strerr = await startStrerr(d, logdir);
  const a1 = await c.strlogWait(1, 2, 0, SL_ERROR, 'first error');
  assert.deepEqual(a1?.seq, { error: 1, trace: 0, console: 0 });
  const tracer = await startStrtrace(d, ['all', 'all', 'all']);
  const a2 = await c.strlogWait(1, 2, 0, SL_TRACE, 'first trace');
  assert.deepEqual(a2?.seq, { error: 0, trace: 1, console: 0 });
  const a3 = await c.strlogWait(1, 2, 0, SL_TRACE | SL_ERROR | SL_CONSOLE, 'all three');
  assert.deepEqual(a3?.seq, { error: 2, trace: 2, console: 4 });
  const lines = (await waitErrorLog(logdir, 2)).map(parseErrLine);
  assert.deepEqual(
    lines.map((l) => [l.seq, l.text]),
    [
      [1, 'first error'],
      [2, 'all three'],
    ],
  );
  const traced = (await tracer.waitLines(2)).map(parseTraceLine);
  assert.deepEqual(
    traced.map((l) => [l.seq, l.text]),
    [
      [1, 'first trace'],
      [2, 'all three'],
    ],
  );
  // A new strerr after the first one went: the numbers go on, never reset.
  await strerr.stop();
  await waitFor('strerr gone', async () => !(await d.logger(strerr.pid)));
  const a4 = await c.strlogWait(1, 2, 0, SL_ERROR, 'lost: nobody');
  assert.deepEqual([a4?.result, a4?.seq.error], [0, 0]);
  await startStrerr(d, logdir);
  const a5 = await c.strlogWait(1, 2, 0, SL_ERROR, 'third error');
  assert.equal(a5?.seq.error, 3);
  const l3 = parseErrLine((await waitErrorLog(logdir, 3))[2]!);
  assert.deepEqual([l3.seq, l3.text], [3, 'third error']);
});

test('T and E: each letter only when the other class really had a taker', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  const tracer = await startStrtrace(d, ['12', '3', '2']);
  const c = d.client();
  await c.strlogWait(12, 3, 2, SL_ERROR | SL_TRACE, 'both took it');
  await c.strlogWait(12, 3, 3, SL_ERROR | SL_TRACE, 'level too high for the tracer');
  await c.strlogWait(12, 3, 0, SL_ERROR | SL_TRACE | SL_FATAL | SL_NOTIFY, 'fatal, notify, both');
  await c.strlogWait(12, 3, 0, SL_ERROR, 'error only');
  await c.strlogWait(12, 3, 0, SL_TRACE, 'trace only');
  const errs = (await waitErrorLog(logdir, 4)).map(parseErrLine);
  assert.deepEqual(
    errs.map((l) => [l.seq, l.flags, l.mid, l.sid, l.text]),
    [
      [1, '..T', 12, 3, 'both took it'],
      [2, '...', 12, 3, 'level too high for the tracer'],
      [3, 'FNT', 12, 3, 'fatal, notify, both'],
      [4, '...', 12, 3, 'error only'],
    ],
  );
  const tr = (await tracer.waitLines(3)).map(parseTraceLine);
  assert.deepEqual(
    tr.map((l) => [l.seq, l.level, l.flags, l.text]),
    [
      [1, 2, '..E', 'both took it'],
      [2, 0, 'FNE', 'fatal, notify, both'],
      [3, 0, '...', 'trace only'],
    ],
  );
});

test('trace filters: equal level passes, one more does not; -1 (all) matches anything; each tracer gets only its own', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const exact = await startStrtrace(d, ['12', '3', '2']);
  const anySid = await startStrtrace(d, ['12', 'all', '0', '99', '1', 'all']);
  const c = d.client();
  const sent: [number, number, number][] = [
    [12, 3, 2], // exact: level equal; anySid: no (level 2 > 0)
    [12, 3, 3], // exact: one more: no
    [12, 4, 0], // exact: other sid; anySid: yes
    [13, 3, 0], // nobody
    [99, 1, 127], // anySid: level all
    [99, 2, 0], // nobody
    [12, 3, -1], // both
  ];
  for (const [mid, sid, level] of sent) await c.strlogWait(mid, sid, level, SL_TRACE, '%d %d %d', mid, sid, level);
  await exact.waitLines(2);
  await anySid.waitLines(3);
  assert.deepEqual(
    exact.lines().map((l) => parseTraceLine(l).text),
    ['12 3 2', '12 3 -1'],
  );
  assert.deepEqual(
    anySid.lines().map((l) => parseTraceLine(l).text),
    ['12 4 0', '99 1 127', '12 3 -1'],
  );
  // Each tracer numbers what it takes: no gap without a loss.
  assert.deepEqual(
    exact.lines().map((l) => parseTraceLine(l).seq),
    [1, 2],
  );
  assert.deepEqual(
    anySid.lines().map((l) => parseTraceLine(l).seq),
    [1, 2, 3],
  );
  assert.equal((await d.stats()).seq.trace, 4, 'the driver counts the traced messages; those no tracer took are not counted');
});

test('one message to the error and trace loggers: its own seq and pri in each; the console pri from the flags', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const err = await d.open('error');
  const tr = await d.open('trace', [{ mid: -1, sid: -1, level: -1 }]);
  const con = await d.open('console');
  const c = d.client();
  await c.strlogWait(5, 6, 1, SL_TRACE, 'advance the trace sequence');
  await c.strlogWait(5, 6, 1, SL_ERROR | SL_TRACE | SL_CONSOLE | SL_WARN, 'to all three %s', 'classes');
  const [e] = await err.wait(1);
  const t = (await tr.wait(2))[1]!;
  const [k] = await con.wait(1);
  assert.deepEqual([e!.cls, e!.seq, e!.pri], ['error', 1, LOG_KERN | LOG_ERR]);
  assert.deepEqual([t.cls, t.seq, t.pri], ['trace', 2, LOG_KERN | LOG_DEBUG]);
  // ERROR comes before WARN in the console's order.
  assert.deepEqual([k!.cls, k!.seq, k!.pri], ['console', 1, LOG_KERN | LOG_ERR]);
  for (const m of [e!, t, k!]) {
    assert.deepEqual([m.mid, m.sid, m.level, m.flags, m.fmt, m.args], [5, 6, 1, SL_ERROR | SL_TRACE | SL_CONSOLE | SL_WARN, 'to all three %s', ['classes']]);
  }
  assert.ok(Math.abs(e!.ttime - Date.now() / 1000) < 60, 'ttime is now');
  assert.equal(e!.ltime, t.ltime);
  // Console priorities.
  const cases: [number, number][] = [
    [SL_CONSOLE | SL_FATAL | SL_ERROR, LOG_CRIT],
    [SL_CONSOLE | SL_ERROR, LOG_ERR],
    [SL_CONSOLE | SL_WARN | SL_NOTE, LOG_WARNING],
    [SL_CONSOLE | SL_NOTE, LOG_NOTICE],
    [SL_CONSOLE | SL_TRACE, LOG_DEBUG],
    [SL_CONSOLE, LOG_INFO],
  ];
  for (const [flags] of cases) await c.strlogWait(5, 6, 1, flags, 'pri');
  const got = (await con.wait(1 + cases.length)).slice(1);
  assert.deepEqual(
    got.map((m) => m.pri),
    cases.map(([, p]) => p),
  );
  assert.deepEqual(
    got.map((m) => m.seq),
    [2, 3, 4, 5, 6, 7],
  );
});

test('the user interface: mid 44, sid the pid, facility user; the module interface only for root and the module group', async () => {
  const gid = 4242;
  const d = await Driver.start({ args: ['-n', '-g', String(gid)] });
  const err = await d.open('error');
  // root, module interface: as given, kern.
  let r = await strlogCmd(d.dir, ['-m', '12', '-s', '3', 'as root']);
  assert.equal(r.code, 0, r.stderr);
  // root, user interface (no -m, -s): 44 and its pid, user.
  const u = await strlogCmd(d.dir, ['as a user process']);
  assert.equal(u.code, 0, u.stderr);
  // nobody asking for the module interface: treated as a user process.
  const n = await strlogCmd(d.dir, ['-m', '12', '-s', '3', 'nobody %s', 'tried'], { asNobody: true });
  assert.equal(n.code, 0, n.stderr);
  // a member of the module group (supplementary group): as given.
  const g = await strlogCmd(d.dir, ['-m', '77', '-s', '8', 'member'], { as: ['setpriv', '--reuid=65534', '--regid=65534', `--groups=${gid}`] });
  assert.equal(g.code, 0, g.stderr);
  // -p: another facility for every copy.
  r = await strlogCmd(d.dir, ['-p', 'local3', 'facility']);
  assert.equal(r.code, 0, r.stderr);
  const ms = await err.wait(5);
  assert.deepEqual(
    ms.map((m) => [m.mid, m.sid, m.pri, m.fmt]),
    [
      [12, 3, LOG_KERN | LOG_ERR, 'as root'],
      [44, u.pid, LOG_USER | LOG_ERR, 'as a user process'],
      [44, n.pid, LOG_USER | LOG_ERR, 'nobody %s'],
      [77, 8, LOG_KERN | LOG_ERR, 'member'],
      [44, ms[4]!.sid, LOG_LOCAL3 | LOG_ERR, 'facility'],
    ],
  );
  assert.equal((await d.stats()).demoted, 1);
  // Loggers: root and the module group only.
  const refused = await strlogCmd(d.dir, ['x'], { asNobody: true });
  assert.equal(refused.code, 0);
  const t = await startStrtraceAs(d, AS_NOBODY);
  assert.equal(t.code, 3, t.stderr);
  assert.match(t.stderr, /refused the tracer: I_TRCLOG: Operation not permitted/);
});

async function startStrtraceAs(d: Driver, as: Prefix): Promise<{ code: number | null; stderr: string }> {
  const { node, STRTRACE } = await import('./helpers/strlog.js');
  return node(STRTRACE, ['--rundir', d.dir], { as });
}

/** Raw frames on a logger connection: what the driver answers to each request. */
async function converse(dir: string, requests: Buffer[]): Promise<{ type: number; body: Buffer }[]> {
  const sock = createConnection(join(dir, 'logger'));
  const reader = new FrameReader(1 << 20);
  const got: { type: number; body: Buffer }[] = [];
  sock.on('data', (c: Buffer) => got.push(...reader.push(c)));
  await new Promise((r) => sock.once('connect', r));
  for (const q of requests) {
    const before = got.length;
    sock.write(q);
    await waitFor('an answer', () => got.length > before);
  }
  sock.destroy();
  return got;
}

const errnoOf = (f: { type: number; body: Buffer }): number => {
  assert.equal(f.type, F_REPLY);
  return f.body.readInt32LE(0);
};

test('registration: EBUSY for a second one on a connection, EINVAL without complete trace_ids or for unknown requests', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const r1 = await converse(d.dir, [encodeRegister('console'), encodeRegister('console'), encodeRegister('error')]);
  assert.deepEqual(r1.map(errnoOf), [0, EBUSY, EBUSY]);
  // 8 bytes of trace_ids: not a whole one (12 bytes each).
  const partial = frame(F_REGISTER, Buffer.concat([Buffer.from([ROLE_TRACE]), Buffer.alloc(8)]));
  const r2 = await converse(d.dir, [
    encodeRegister('trace', []),
    partial,
    frame(99),
    encodeRegister('trace', [{ mid: -1, sid: -1, level: -1 }]),
    encodeRegister('trace', [{ mid: -1, sid: -1, level: -1 }]),
  ]);
  assert.deepEqual(r2.map(errnoOf), [EINVAL, EINVAL, EINVAL, 0, EBUSY]);
  // A second error logger, on another connection.
  const first = await d.open('error');
  await assert.rejects(LogStream.open('error', { rundir: d.dir }), (e: NodeJS.ErrnoException) => e.code === 'EBUSY');
  first.close();
  await waitFor('the error logger gone', async () => (await d.stats()).loggers.length === 0);
  const again = await d.open('error');
  again.close();
  // STATS on a connection: JSON, and the connection can still register.
  const r3 = await converse(d.dir, [frame(F_STATS), encodeRegister('console')]);
  assert.equal(r3[0]!.type, F_STATS_REPLY);
  assert.equal((JSON.parse(r3[0]!.body.toString()) as { pid: number }).pid, d.pid);
  assert.equal(errnoOf(r3[1]!), 0);
  // Not this protocol: the connection is closed, the driver lives on.
  const bad = createConnection(join(d.dir, 'logger'));
  await new Promise((r) => bad.once('connect', r));
  bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]));
  await new Promise((r) => bad.once('close', r));
  assert.ok((await d.stats()).pid === d.pid);
});

test('malformed submissions are dropped silently and counted; good records around them go through', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const err = await d.open('error');
  const sock = new UnixSocket();
  const to = join(d.dir, 'submit');
  const rec = (text: string): Buffer => encodeSubmission({ iface: IFACE_MODULE, flags: SL_ERROR, mid: 1, sid: 1, level: 0, facility: 0, token: 0 }, encodeData(text, []));
  const badVersion = rec('bad version');
  badVersion[2] = 7;
  const badFormat = encodeSubmission({ iface: IFACE_MODULE, flags: SL_ERROR, mid: 1, sid: 1, level: 0, facility: 0, token: 0 }, encodeData('%f', [1]));
  const sends = [
    Buffer.alloc(0),
    Buffer.from('garbage that is not a record at all'),
    rec('cut').subarray(0, 10),
    Buffer.concat([rec('one'), badVersion, rec('two'), badFormat, rec('three')]),
    Buffer.concat([rec('four'), Buffer.from([0xff])]),
    Buffer.alloc(70_000, 1), // longer than any datagram the driver reads
  ];
  const send = (b: Buffer): Promise<unknown> => waitFor("room in the driver's queue", () => sock.trySend(b, to) >= 0, { timeout: 5000, interval: 2 });
  for (const b of sends) await send(b);
  for (let i = 0; i < 200; i++) await send(Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 80) }, () => Math.floor(Math.random() * 256))));
  await send(rec('last'));
  const ms = await err.wait(5);
  assert.deepEqual(
    ms.map((m) => m.fmt),
    ['one', 'two', 'three', 'four', 'last'],
  );
  assert.deepEqual(
    ms.map((m) => m.seq),
    [1, 2, 3, 4, 5],
    'malformed submissions take no number',
  );
  const s = await d.stats();
  assert.ok(s.malformed >= 6, `malformed ${s.malformed}`);
  assert.ok(s.records >= 5);
  sock.close();
});

test('console backlog: kept for the first console logger, bounded, dropping its oldest (a gap)', async () => {
  const d = await Driver.start({ args: ['-n', '-b', '1k'] });
  const c = d.client();
  for (let i = 1; i <= 40; i++) c.strlog(3, 4, 0, SL_CONSOLE, 'backlog %03d', i);
  await waitFor('40 records', async () => (await d.stats()).records === 40);
  const s = await d.stats();
  assert.ok(s.backlog.dropped > 0, 'the backlog overflowed');
  assert.equal(s.backlog.frames + s.backlog.dropped, 40);
  const first = await d.open('console');
  const got = await first.wait(s.backlog.frames);
  // The newest are kept, in order; the gap before them is exactly the drops.
  assert.deepEqual(
    got.map((m) => m.seq),
    Array.from({ length: s.backlog.frames }, (_, i) => s.backlog.dropped + 1 + i),
  );
  assert.equal(got.at(-1)!.fmt, 'backlog %03d');
  assert.deepEqual(got.at(-1)!.args, [40]);
  // The second console logger gets no backlog, only what comes next.
  const second = await d.open('console');
  await c.strlogWait(3, 4, 0, SL_CONSOLE, 'after');
  await second.wait(1);
  await first.wait(s.backlog.frames + 1);
  assert.deepEqual(
    second.messages.map((m) => [m.seq, m.fmt]),
    [[41, 'after']],
  );
  assert.equal((await d.stats()).backlog.frames, 0);
});

test('console messages are forwarded to syslog with their priority (strlogd as the console logger)', async () => {
  const dir = tempDir(0o755);
  const sink = new SyslogSink(join(dir, 'syslog'));
  const d = await Driver.start({ dir, env: { PLOG_SYSLOG_SOCKET: sink.path } });
  const con = await d.open('console');
  const c = d.client();
  await c.strlogWait(12, 3, 0, SL_CONSOLE | SL_FATAL, 'TMUX driver (minor:%d) suffers resource shortage.', 3);
  await c.strlogWait(12, 3, 0, SL_CONSOLE | SL_WARN, 'two\nlines');
  await c.strlogWait(12, 3, 0, SL_ERROR, 'not a console message');
  const u = await strlogCmd(d.dir, ['-f', 'console,note', 'from a user'], { asNobody: true });
  assert.equal(u.code, 0, u.stderr);
  const texts = await sink.wait(3);
  const re = (pri: number, rest: string): RegExp => new RegExp(`^<${pri}>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d strlog: ${rest}$`);
  assert.match(texts[0]!, re(LOG_KERN | LOG_CRIT, 'mid 12 sid 3: TMUX driver \\(minor:3\\) suffers resource shortage\\.'));
  assert.match(texts[1]!, re(LOG_KERN | LOG_WARNING, 'mid 12 sid 3: two\\^Jlines'));
  assert.match(texts[2]!, re(LOG_USER | LOG_NOTICE, `mid 44 sid ${u.pid}: from a user`));
  // An external console logger gets them too, and strlogd keeps no backlog.
  await con.wait(3);
  const s = await d.stats();
  assert.deepEqual([s.forwarded, s.backlog.frames, s.seq.console], [3, 0, 3]);
});

test('the strlog command: flags, numeric and string ARGs, exit codes', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const err = await d.open('error');
  let r = await strlogCmd(d.dir, ['-m', '1', '-s', '2', '-l', '-3', 'n=%d s=%s x=%x c=%c', '-42', 'word', '0x1f', '65']);
  assert.equal(r.code, STRLOG.OK.code, r.stderr);
  r = await strlogCmd(d.dir, ['-f', '0x06', '--', '-dash %s', '007']);
  assert.equal(r.code, 0, r.stderr);
  const ms = await err.wait(2);
  assert.deepEqual([ms[0]!.mid, ms[0]!.sid, ms[0]!.level, ms[0]!.args], [1, 2, -3, [-42, 'word', 31, 65]]);
  assert.deepEqual([ms[1]!.flags, ms[1]!.fmt, ms[1]!.args], [SL_ERROR | SL_NOTIFY, '-dash %s', [7]]);
  // Nothing takes it: 2.
  r = await strlogCmd(d.dir, ['-f', 'trace', 'no tracer']);
  assert.equal(r.code, STRLOG.NOT_LOGGED.code);
  assert.match(r.stderr, /not logged/);
  r = await strlogCmd(d.dir, ['-f', 'fatal,notify', 'no class']);
  assert.equal(r.code, STRLOG.NOT_LOGGED.code);
  // Usage errors: 1.
  for (const bad of [[], ['-f', 'loud', 'x'], ['-m', '40000', 'x'], ['-l', 'high', 'x'], ['%f', '1'], ['-x', 'y'], ['-p', 'nosuch', 'x'], ['-t', '0', 'x']]) {
    r = await strlogCmd(d.dir, bad);
    assert.equal(r.code, STRLOG.USAGE.code, bad.join(' '));
    assert.match(r.stderr, /Try 'strlog --help'/);
  }
  // No driver: 3.
  r = await strlogCmd(tempDir(), ['x']);
  assert.equal(r.code, STRLOG.NO_DRIVER.code);
  assert.match(r.stderr, /^strlog: no strlogd in \/tmp\/sl-\w+: \/tmp\/sl-\w+\/logger does not exist \(is strlogd running\?\)$/m);
  // A driver that does not answer (stopped): 4.
  process.kill(d.pid, 'SIGSTOP');
  try {
    r = await strlogCmd(d.dir, ['-t', '0.5', 'x']);
    assert.equal(r.code, STRLOG.NO_ANSWER.code, r.stderr);
  } finally {
    process.kill(d.pid, 'SIGCONT');
  }
  assert.equal(err.messages.length, 2);
});

test('strlog() never waits: with no driver, or a stopped one, calls return at once and drops are counted', async () => {
  const c = new StrlogClient({ rundir: tempDir(), queueBytes: 4096 });
  const t0 = Date.now();
  for (let i = 0; i < 1000; i++) assert.equal(c.strlog(1, 1, 0, SL_ERROR, 'nobody %d', i), 0);
  // Returning at all is the point (a waiting sender would hang); the bound is
  // generous so that a loaded machine does not fail it.
  assert.ok(Date.now() - t0 < 20_000);
  assert.equal(c.dropped, 1000);
  assert.equal(c.strlog(1, 1, 0, SL_FATAL, 'no class'), 0);
  assert.equal(c.dropped, 1000, 'not a drop: nothing to log');
  c.close();

  const d = await Driver.start({ args: ['-n'] });
  const err = await d.open('error');
  const s = new StrlogClient({ rundir: d.dir, queueBytes: 8192, stallTimeout: 60_000 });
  process.kill(d.pid, 'SIGSTOP');
  let sent = 0;
  let slowest = 0;
  try {
    for (let i = 0; i < 3000; i++) {
      const t = performance.now();
      sent += s.strlog(1, 1, 0, SL_ERROR, 'while stopped %d', i);
      slowest = Math.max(slowest, performance.now() - t);
    }
  } finally {
    process.kill(d.pid, 'SIGCONT');
  }
  assert.ok(slowest < 2000, `a strlog() call took ${slowest} ms (a waiting sender would hang)`);
  assert.equal(sent + s.dropped, 3000);
  assert.ok(s.dropped > 0, 'the in-process queue is bounded');
  await s.flush();
  const ms = await err.wait(sent);
  // What reached the driver came in order and numbered without gaps: the
  // sender's drops happened before any number was given.
  assert.deepEqual(
    ms.map((m) => m.seq),
    Array.from({ length: sent }, (_, i) => i + 1),
  );
  const idx = ms.map((m) => m.args[0] as number);
  assert.ok(
    idx.every((v, i) => i === 0 || v > idx[i - 1]!),
    'in order',
  );
  s.close();
});

test('a client keeps working across a restart of strlogd (new socket, numbers from 1 again)', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const c = d.client();
  assert.equal((await c.strlogWait(1, 1, 0, SL_CONSOLE, 'before'))?.seq.console, 1);
  assert.equal((await c.strlogWait(1, 1, 0, SL_CONSOLE, 'before'))?.seq.console, 2);
  await d.stop();
  assert.equal(c.strlog(1, 1, 0, SL_CONSOLE, 'no driver'), 0);
  const d2 = await Driver.start({ dir: d.dir, args: ['-n'] });
  const con = await d2.open('console');
  const a = await c.strlogWait(1, 1, 0, SL_CONSOLE, 'after');
  // The message dropped while there was no driver is told first, in a line of the driver.
  assert.deepEqual([a?.result, a?.seq.console], [1, 2]);
  const [notice, after] = await con.wait(2);
  assert.deepEqual([notice!.mid, notice!.sid, notice!.seq], [44, 0, 1]);
  assert.equal(expand(notice!.fmt, notice!.args), `strlogd: 1 message from pid ${process.pid} (uid 0) dropped by the sender before they reached the driver`);
  assert.equal(after!.fmt, 'after');
  assert.equal((await d2.stats()).records, 1);
});

test('a token in a datagram is never answered (abstract or path address); a request on a connection is, there', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const rec = encodeSubmission({ iface: IFACE_MODULE, flags: SL_CONSOLE, mid: 1, sid: 1, level: 0, facility: 0, token: 42 }, encodeData('ack?', []));
  const bound = new UnixSocket();
  const path = join(tempDir(), 'me');
  bound.bind(path);
  assert.ok(bound.trySend(rec, join(d.dir, 'submit')) >= 0);
  const abstract = new UnixSocket();
  abstract.bind(`@strlog-test-${process.pid}`);
  assert.ok(abstract.trySend(rec, join(d.dir, 'submit')) >= 0);
  await waitFor('both records', async () => (await d.stats()).records === 2);
  // STATS is answered after the datagrams were handled: an answer would be there.
  assert.equal(bound.recv(64), null, 'no answer to a path');
  assert.equal(abstract.recv(64), null, 'no answer to an abstract address');
  assert.equal((await d.stats()).acks, 0);
  const a = await d.client().strlogWait(1, 1, 0, SL_CONSOLE, 'asked on a connection');
  assert.deepEqual([a?.result, a?.seq.console], [1, 3]);
  assert.equal((await d.stats()).acks, 1);
  bound.close();
  abstract.close();
});
