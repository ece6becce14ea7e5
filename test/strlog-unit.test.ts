// The pure parts of strlog: formats, the wire codec (including malformed
// input), trace filters, the command-line parsers, the line formats, the
// credentials parsers, the mailer choice, and the engine's byte queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFormat, expand, messageBound, oneLine, type StrlogArg } from '../src/strlog/format.js';
import {
  ACK_SIZE,
  decodeAck,
  decodeData,
  decodeDelivery,
  decodeRecord,
  decodeRegister,
  encodeAck,
  encodeData,
  encodeDelivery,
  encodeRegister,
  encodeSubmission,
  F_DELIVERY,
  F_REGISTER,
  frame,
  FrameReader,
  encodeLossReport,
  IFACE_LOSS,
  IFACE_MODULE,
  IFACE_USER,
  SUB_HEADER,
} from '../src/strlog/wire.js';
import { matches, matchOne, parseTriples } from '../src/strlog/filter.js';
import { parseArg, parseBytes, parseFlags, parseInteger } from '../src/strlog/options.js';
import { errFlags, errLine, errorFileName, hms, seq6, ticks8, traceFlags, traceLine } from '../src/strlog/lines.js';
import { groupIdIn, Privileges } from '../src/strlog/creds.js';
import { findMailer, mailCall, parseMailer } from '../src/strlog/mailer.js';
import { ByteQueue, consoleLevel } from '../src/strlog/driver.js';
import { resolveRunDir, MAX_RUNDIR } from '../src/strlog/rundir.js';
import { encodeMessage } from '../src/strlog/index.js';
import { MAX_TEXT, SL_CONSOLE, SL_ERROR, SL_FATAL, SL_NOTE, SL_NOTIFY, SL_TRACE, SL_WARN, I_ERRLOG, I_TRCLOG, I_CONSLOG } from '../src/strlog/constants.js';

test('constants: SVR4 values', () => {
  assert.deepEqual([SL_FATAL, SL_NOTIFY, SL_ERROR, SL_TRACE, SL_CONSOLE, SL_WARN, SL_NOTE], [1, 2, 4, 8, 0x10, 0x20, 0x40]);
  assert.deepEqual([I_TRCLOG, I_ERRLOG, I_CONSLOG], [0x4c01, 0x4c02, 0x4c03]);
});

test('checkFormat: the strlog conversions and nothing else', () => {
  for (const [f, n] of [
    ['plain', 0],
    ['%d %i %u %o %x %X %c %s', 8],
    ['%ld %lu %lx %-8s %08d %+d % d %#x %.3s %5.2d', 10],
    ['%999d %.999s', 2],
    ['100%% sure', 0],
    ['%%d', 0],
  ] as const) {
    assert.deepEqual(checkFormat(f), { ok: true, conversions: n }, f);
  }
  for (const f of ['%f', '%e', '%g', '%a', '%p', '%n', '%m', '%*d', '%.*s', '%1$d', '%lld', '%hd', '%q', 'end %', '%-', '%1000d', '%.1000s', '%zu']) {
    const r = checkFormat(f);
    assert.equal(r.ok, false, f);
  }
  assert.match((checkFormat('x %f') as { error: string }).error, /no floating point/);
});

test('expand: glibc printf for int and long', () => {
  assert.equal(expand('%d|%5d|%-5d|%05d|%+d|% d', [42, 42, 42, 42, 42, 42]), '42|   42|42   |00042|+42| 42');
  assert.equal(expand('%u %x %X %o %#x %#o', [-1, 255, 255, 8, 255, 8]), '4294967295 ff FF 10 0xff 010');
  assert.equal(expand('%lu %lx', [-1, -1]), '18446744073709551615 ffffffffffffffff');
  assert.equal(expand('%c%c %s|%.2s|%6s', [65, 'bc', 'str', 'str', 'str']), 'Ab str|st|   str');
  assert.equal(expand('%d %s', []), '0 (null)');
  assert.equal(expand('%s', [42]), '42');
  assert.equal(expand('%ld', [9007199254740993n]), '9007199254740993');
  assert.equal(expand('50%% %d', [1]), '50% 1');
  // Not a strlog format: printed as it is, never interpreted.
  assert.equal(expand('%f %m', [1.5]), '%f %m');
});

test('oneLine: one trailing newline dropped, control characters shown, tab kept', () => {
  assert.equal(oneLine('text\n'), 'text');
  assert.equal(oneLine('a\nb\r\x1b[2J\x7f\tc\n\n'), 'a^Jb^M^[[2J^?\tc^J');
  assert.equal(oneLine('\0'), '^@');
  // What a terminal would obey beyond C0: escapeText()'s escapes.
  assert.equal(oneLine('a\u0085b\u009b2Jc\u202eexe.txt\u2066'), 'a\\x85b\\x9b2Jc\\u{202e}exe.txt\\u{2066}');
  assert.equal(oneLine('café ☃ 😀'), 'café ☃ 😀');
});

test('wire: data part round trip', () => {
  const args = ['héllo', 0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 2n ** 63n - 1n, -(2n ** 63n), ''];
  const b = encodeData('%s %d %d %ld %ld %ld %ld %s', args);
  const d = decodeData(b);
  assert.ok(d);
  assert.equal(d.fmt, '%s %d %d %ld %ld %ld %ld %s');
  assert.deepEqual(d.args, ['héllo', 0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 2n ** 63n - 1n, -(2n ** 63n), '']);
  // Unsigned 64-bit values travel as their two's complement and print back.
  assert.equal(expand('%lu', decodeData(encodeData('%lu', [2n ** 64n - 1n]))!.args), '18446744073709551615');
});

test('wire: encodeData refuses what C could not send', () => {
  assert.throws(() => encodeData('%d', [1.5]), TypeError);
  assert.throws(() => encodeData('%d', [{}]), TypeError);
  assert.throws(() => encodeData('%d', [null]), TypeError);
  assert.throws(() => encodeData('%d', [2n ** 64n]), RangeError);
  assert.throws(() => encodeData('x', new Array(33).fill(1)), RangeError);
  assert.throws(() => encodeData('x'.repeat(1025), []), RangeError);
  assert.throws(() => encodeData('%s', ['x'.repeat(1025)]), RangeError);
});

test('wire: malformed data parts are refused, never thrown', () => {
  const good = encodeData('%d %s', [7, 'ab']);
  assert.ok(decodeData(good));
  for (let cut = 0; cut < good.length; cut++) assert.equal(decodeData(good.subarray(0, cut)), null, `cut at ${cut}`);
  assert.equal(decodeData(Buffer.concat([good, Buffer.from([0])])), null, 'trailing byte');
  const badType = Buffer.from(good);
  badType[2 + 5 + 1] = 9; // first argument's type
  assert.equal(decodeData(badType), null);
  assert.equal(decodeData(encodeData('%f', [])), null, 'not a strlog format');
  const many = Buffer.from(encodeData('x', []));
  many[2 + 1] = 200; // argument count over the limit
  assert.equal(decodeData(many), null);
  // Random bytes: never a throw.
  for (let i = 0; i < 2000; i++) {
    const r = Buffer.from(Array.from({ length: Math.floor(Math.random() * 40) }, () => Math.floor(Math.random() * 256)));
    decodeData(r);
    decodeRecord(r, 0);
    decodeDelivery(r);
    decodeRegister(r);
    decodeAck(r);
  }
});

test('wire: submission records, several in one datagram, and bad ones among them', () => {
  const a = encodeSubmission({ iface: IFACE_MODULE, flags: SL_ERROR, mid: -32768, sid: 32767, level: -128, facility: 16, token: 0xffffffff }, encodeData('a %d', [1]));
  const b = encodeSubmission({ iface: IFACE_USER, flags: SL_TRACE, mid: 1, sid: 2, level: 127, facility: 0, token: 0 }, encodeData('b', []));
  const bad = Buffer.from(a);
  bad[2] = 9; // version
  const dg = Buffer.concat([a, bad, b]);
  const r1 = decodeRecord(dg, 0);
  assert.ok(r1.ok);
  assert.deepEqual({ ...r1.sub, data: undefined }, { iface: 1, flags: 4, mid: -32768, sid: 32767, level: -128, facility: 16, token: 0xffffffff, bound: 4 + 24, data: undefined });
  assert.deepEqual(decodeData(r1.sub.data), { fmt: 'a %d', args: [1] });
  const r2 = decodeRecord(dg, r1.next);
  assert.deepEqual(r2, { ok: false, next: r1.next + bad.length });
  const r3 = decodeRecord(dg, r2.next);
  assert.ok(r3.ok && r3.next === dg.length && r3.sub.iface === IFACE_USER);
  // A length running past the end: the rest cannot be split.
  const long = Buffer.from(a);
  long.writeUInt16LE(a.length + 1, 0);
  assert.deepEqual(decodeRecord(long, 0), { ok: false, next: -1 });
  assert.deepEqual(decodeRecord(Buffer.from([1]), 0), { ok: false, next: -1 });
  const short = Buffer.alloc(SUB_HEADER);
  short.writeUInt16LE(SUB_HEADER, 0);
  assert.deepEqual(decodeRecord(short, 0), { ok: false, next: -1 });
  const iface = Buffer.from(a);
  iface[3] = 4;
  assert.equal(decodeRecord(iface, 0).ok, false);
  // A loss report: not a message; the count in the token field.
  const loss = decodeRecord(encodeLossReport(333_333, SL_ERROR | SL_NOTIFY), 0);
  assert.ok(loss.ok);
  assert.deepEqual([loss.sub.iface, loss.sub.token, loss.sub.flags], [IFACE_LOSS, 333_333, SL_ERROR | SL_NOTIFY]);
});

test('expandedBound: never below the real size; 32 %999d is over the cap', () => {
  const cases: [string, unknown[]][] = [
    ['plain', []],
    ['%d %i %u %o %x %X', [-1, -(2 ** 53), 2 ** 53, -1n, 0xffffffffffffffffn, -1]],
    ['%#lo %+d % d', [-1n, 5, 5]],
    ['%-20s|%5.2s|%.0s|%s', ['é€😀', 'abcdef', 'x', 12345]],
    ['%c%c %5c', [65, 'ü', 0x1f600]],
    ['%s %d missing', []],
    ['%999d %.999x', [1, 1]],
    ['%10s', ['😀😀😀']],
  ];
  for (const [fmt, args] of cases) {
    const real = Buffer.byteLength(expand(fmt, args as StrlogArg[]));
    assert.ok(messageBound(fmt, args) >= real, `${fmt}: bound ${messageBound(fmt, args)} < ${real}`);
  }
  assert.ok(messageBound('%999d'.repeat(32), Array(32).fill(7)) > MAX_TEXT);
  assert.ok(messageBound('disk %s failed (%d retries)', ['sda', 3]) < 100);
  assert.throws(() => encodeMessage({ flags: SL_ERROR }, '%999d'.repeat(9), Array(9).fill(1)), /can expand to \d+ bytes, more than 8192/);
});

test('encodeMessage checks ranges and the format', () => {
  assert.ok(encodeMessage({ mid: 32767, sid: -32768, level: 127, flags: 0xffff }, 'x', []));
  assert.throws(() => encodeMessage({ mid: 32768, flags: SL_ERROR }, 'x', []), RangeError);
  assert.throws(() => encodeMessage({ sid: -32769, flags: SL_ERROR }, 'x', []), RangeError);
  assert.throws(() => encodeMessage({ level: 128, flags: SL_ERROR }, 'x', []), RangeError);
  assert.throws(() => encodeMessage({ flags: 0x10000 }, 'x', []), RangeError);
  assert.throws(() => encodeMessage({ flags: SL_ERROR }, '%f', [1]), /unsupported conversion %f/);
  assert.throws(() => encodeMessage({ flags: SL_ERROR, facility: 3 }, 'x', []), RangeError);
});

test('wire: acknowledgements', () => {
  const a = { token: 77, result: 1 as const, iface: 2, flags: 0x14, mid: 44, sid: 4000000, seq: { error: 1, trace: 0, console: 0xffffffff } };
  const b = encodeAck(a);
  assert.equal(b.length, ACK_SIZE);
  assert.deepEqual(decodeAck(b), a);
  assert.equal(decodeAck(b.subarray(1)), null);
  const bad = Buffer.from(b);
  bad[2] = 3; // results are 0, 1 and 2 (dropped by a limit)
  assert.equal(decodeAck(bad), null);
});

test('wire: registrations (EINVAL for no or partial trace_ids, data on I_ERRLOG, unknown roles)', () => {
  const body = (f: Buffer): Buffer => f.subarray(5);
  assert.deepEqual(decodeRegister(body(encodeRegister('error'))), { ok: true, role: 'error', ids: [] });
  assert.deepEqual(decodeRegister(body(encodeRegister('console'))), { ok: true, role: 'console', ids: [] });
  const ids = [
    { mid: -1, sid: 3, level: 2 },
    { mid: 12, sid: -1, level: -1 },
  ];
  assert.deepEqual(decodeRegister(body(encodeRegister('trace', ids))), { ok: true, role: 'trace', ids });
  assert.deepEqual(decodeRegister(body(encodeRegister('trace', []))), { ok: false, errno: 'EINVAL' });
  const partial = body(encodeRegister('trace', ids)).subarray(0, 1 + 12 + 5);
  assert.deepEqual(decodeRegister(partial), { ok: false, errno: 'EINVAL' });
  assert.deepEqual(decodeRegister(Buffer.from([2, 0])), { ok: false, errno: 'EINVAL' });
  assert.deepEqual(decodeRegister(Buffer.from([9])), { ok: false, errno: 'EINVAL' });
  assert.deepEqual(decodeRegister(Buffer.alloc(0)), { ok: false, errno: 'EINVAL' });
  assert.equal(encodeRegister('error')[4], F_REGISTER);
});

test('wire: deliveries round trip; frames split anywhere; bad lengths stop the reader', () => {
  const ctl = { cls: 'trace' as const, flags: SL_TRACE | SL_ERROR, mid: 44, sid: 123456, level: -3, pri: 15, seq: 4294967295, ltime: 0xdeadbeef, ttime: 1795220752 };
  const f = encodeDelivery(ctl, encodeData('x %s', ['y']));
  assert.equal(f[4], F_DELIVERY);
  const two = Buffer.concat([f, frame(0x81, Buffer.from([0, 0, 0, 0])), f]);
  for (let split = 0; split <= two.length; split++) {
    const r = new FrameReader(1 << 16);
    const frames = [...r.push(two.subarray(0, split)), ...r.push(two.subarray(split))];
    assert.equal(frames.length, 3, `split at ${split}`);
    assert.deepEqual(decodeDelivery(frames[2]!.body), { ...ctl, fmt: 'x %s', args: ['y'] });
    assert.equal(r.pending, 0);
  }
  const r = new FrameReader(100);
  const big = Buffer.alloc(8);
  big.writeUInt32LE(101, 0);
  assert.deepEqual(r.push(big), []);
  assert.match(r.error ?? '', /bad frame length 101/);
  const z = new FrameReader(100);
  z.push(Buffer.alloc(4));
  assert.ok(z.error);
});

test('trace filters: -1 wildcards, the level boundary', () => {
  const t = { mid: 12, sid: 3, level: 2 };
  assert.equal(matchOne(t, 12, 3, 2), true, 'equal level passes');
  assert.equal(matchOne(t, 12, 3, 3), false, 'one more does not');
  assert.equal(matchOne(t, 12, 3, -5), true);
  assert.equal(matchOne(t, 13, 3, 0), false);
  assert.equal(matchOne(t, 12, 4, 0), false);
  assert.equal(matchOne({ mid: -1, sid: -1, level: -1 }, 7, 8, 127), true);
  assert.equal(matchOne({ mid: 12, sid: -1, level: -1 }, 12, 99, 100), true);
  assert.equal(
    matches(
      [
        { mid: 1, sid: 1, level: 0 },
        { mid: 2, sid: -1, level: 5 },
      ],
      2,
      9,
      5,
    ),
    true,
  );
  assert.equal(matches([], 2, 9, 5), false);
});

test('parseTriples: all, numbers, malformed triples', () => {
  assert.deepEqual(parseTriples([]), { ok: true, ids: [{ mid: -1, sid: -1, level: -1 }] });
  assert.deepEqual(parseTriples(['12', 'all', '3', 'all', '5', '-1']), {
    ok: true,
    ids: [
      { mid: 12, sid: -1, level: 3 },
      { mid: -1, sid: 5, level: -1 },
    ],
  });
  for (const bad of [['1'], ['1', '2'], ['1', '2', '3', '4'], ['x', '1', '1'], ['1', '1', '1.5'], ['40000', '1', '1'], ['1', '1', '128'], ['-2', '1', '1'], ['ALL', '1', '1']]) {
    assert.equal(parseTriples(bad).ok, false, bad.join(' '));
  }
});

test('command-line parsers: flags, sizes, integers, ARGs', () => {
  assert.deepEqual(parseFlags('error'), { ok: true, flags: SL_ERROR });
  assert.deepEqual(parseFlags('error,trace,console,fatal,notify,warn,note'), { ok: true, flags: 0x7f });
  assert.deepEqual(parseFlags('Console, Warn'), { ok: true, flags: SL_CONSOLE | SL_WARN });
  assert.deepEqual(parseFlags('20'), { ok: true, flags: 20 });
  assert.deepEqual(parseFlags('0x14'), { ok: true, flags: 20 });
  assert.equal(parseFlags('errors').ok, false);
  assert.equal(parseFlags('').ok, false);
  assert.equal(parseFlags('70000').ok, false);
  assert.deepEqual([parseBytes('4096'), parseBytes('4k'), parseBytes('2M'), parseBytes('1.5k'), parseBytes('-1'), parseBytes('k')], [4096, 4096, 2 << 20, null, null, null]);
  assert.deepEqual([parseInteger('-5', -10, 10), parseInteger('+5', -10, 10), parseInteger('11', -10, 10), parseInteger('1e1', -10, 10)], [-5, 5, null, null]);
  assert.deepEqual(['42', '-7', '+3', '0x1f', '007', '1.5', 'abc', '', '18446744073709551615', '99999999999999999999'].map(parseArg), [
    42,
    -7,
    3,
    31,
    7,
    '1.5',
    'abc',
    '',
    2n ** 64n - 1n,
    '99999999999999999999',
  ]);
});

test('lines: strerr and strtrace formats', () => {
  const ttime = Math.floor(new Date(2026, 0, 2, 3, 4, 5).getTime() / 1000); // local time
  const m = { cls: 'error' as const, flags: SL_ERROR | SL_TRACE | SL_NOTIFY, mid: 12, sid: 3, level: 2, pri: 3, seq: 7, ltime: 0xabc, ttime, fmt: 'disk %s: %d\n', args: ['sda', 5] };
  assert.equal(errLine(m), '000007 03:04:05 00000abc .NT 12 3 disk sda: 5\n');
  assert.equal(traceLine({ ...m, flags: SL_FATAL | SL_ERROR | SL_TRACE }), '000007 03:04:05 00000abc  2 F.E 12 3 disk sda: 5\n');
  // The level as %2d, as SVR4's and illumos' strace print it.
  assert.equal(traceLine({ ...m, level: 12, flags: 0 }), '000007 03:04:05 00000abc 12 ... 12 3 disk sda: 5\n');
  assert.equal(traceLine({ ...m, level: -1, flags: 0 }), '000007 03:04:05 00000abc -1 ... 12 3 disk sda: 5\n');
  assert.equal(traceLine({ ...m, level: 127, flags: 0 }), '000007 03:04:05 00000abc 127 ... 12 3 disk sda: 5\n');
  assert.equal(errorFileName(ttime), 'error.01-02');
  assert.equal(errorFileName(Math.floor(new Date(2026, 11, 31, 23, 59, 59).getTime() / 1000)), 'error.12-31');
  assert.equal(hms(Math.floor(new Date(2026, 11, 31, 23, 59, 59).getTime() / 1000)), '23:59:59');
  assert.deepEqual([seq6(1), seq6(1234567), ticks8(0), ticks8(0xffffffff)], ['000001', '1234567', '00000000', 'ffffffff']);
  assert.deepEqual([errFlags(0), errFlags(SL_FATAL | SL_NOTIFY | SL_TRACE | SL_ERROR), traceFlags(SL_ERROR), traceFlags(SL_TRACE)], ['...', 'FNT', '..E', '...']);
});

test('credentials: /etc/group and /proc/PID/status parsers, the module group decision', () => {
  assert.equal(groupIdIn('root:x:0:\nadm:x:4:syslog,me\nstaff:x:50:\n', 'adm'), 4);
  assert.equal(groupIdIn('root:x:0:\n', 'adm'), null);
  assert.equal(groupIdIn('broken\nadm:x:notanumber:\n', 'adm'), null);
  const status = 'Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t4 27 1000 \n';

  let reads = 0;
  const p = new Privileges(4, 1000, (pid) => (reads++, pid === 10 ? status : pid === 11 ? status.replace(/Groups:.*/, 'Groups:\t27') : null));
  assert.equal(p.check({ uid: 0, gid: 0, pid: 1 }), true, 'root');
  assert.equal(p.check({ uid: 5, gid: 4, pid: 99 }), true, 'primary group');
  assert.equal(p.check({ uid: 1000, gid: 100, pid: 10 }, 0), true, 'supplementary group');
  assert.equal(p.check({ uid: 1000, gid: 100, pid: 10 }, 500), true);
  assert.equal(reads, 1, 'remembered');
  assert.equal(p.check({ uid: 1000, gid: 100, pid: 10 }, 2000), true);
  assert.equal(reads, 2, 'for a while only');
  assert.equal(p.check({ uid: 1000, gid: 100, pid: 11 }, 0), false, 'not a member');
  assert.equal(p.check({ uid: 1001, gid: 100, pid: 10 }, 0), false, 'a reused pid (another uid) is not the member');
  const bad = new Privileges(4, 1000, () => 'Uid:\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\n');
  assert.equal(bad.check({ uid: 1, gid: 1, pid: 12 }), false, 'a malformed status is not privileged');
  assert.equal(p.check({ uid: 1000, gid: 100, pid: 12 }, 0), false, 'gone');
  assert.equal(new Privileges(null).check({ uid: 5, gid: 4, pid: 10 }), false, 'no module group: root only');
});

test('mailer: choice, parsing and calls', () => {
  assert.deepEqual(
    findMailer('/bin:/usr/bin', (p) => p === '/usr/sbin/sendmail'),
    { command: '/usr/sbin/sendmail', args: ['-oi'], style: 'sendmail' },
  );
  assert.deepEqual(
    findMailer('/bin:/usr/bin', (p) => p === '/usr/bin/mail' || p === '/bin/mailx'),
    { command: '/usr/bin/mail', args: [], style: 'mail' },
  );
  assert.equal(
    findMailer('/bin:/usr/bin', () => false),
    null,
  );
  assert.deepEqual(parseMailer(' /opt/x/mailx  -r  me '), { command: '/opt/x/mailx', args: ['-r', 'me'], style: 'mail' });
  assert.deepEqual(parseMailer('msmtp -t'), { command: 'msmtp', args: ['-t'], style: 'sendmail' });
  assert.equal(parseMailer('   '), null);
  assert.deepEqual(mailCall({ command: 'mail', args: [], style: 'mail' }, 'root', 'S', 'body\n'), { args: ['-s', 'S', 'root'], input: 'body\n' });
  assert.deepEqual(mailCall({ command: 'sendmail', args: ['-oi'], style: 'sendmail' }, 'ops', 'S', 'body\n'), { args: ['-oi', 'ops'], input: 'To: ops\nSubject: S\n\nbody\n' });
});

test('engine: byte queue drops the oldest, and an oversized frame itself', () => {
  const q = new ByteQueue(10);
  const f = (n: number, v: number): Buffer => Buffer.alloc(n, v);
  assert.equal(q.push(f(4, 1)), 0);
  assert.equal(q.push(f(4, 2)), 0);
  assert.equal(q.push(f(4, 3)), 1, 'the oldest goes');
  assert.deepEqual([q.length, q.bytes], [2, 8]);
  assert.equal(q.push(f(11, 4)), 1, 'too big on its own');
  assert.deepEqual(
    q.take(5).map((b) => b[0]),
    [2],
  );
  assert.deepEqual(
    q.take(100).map((b) => b[0]),
    [3],
  );
  assert.deepEqual(q.take(100), []);
  assert.equal(q.push(f(10, 5)), 0);
  assert.equal(q.push(f(1, 6)), 1);
  for (let i = 0; i < 5000; i++) q.push(f(1, i & 0xff));
  assert.equal(q.length, 10);
});

test('console priorities: first of FATAL, ERROR, WARN, NOTE, TRACE, else INFO', () => {
  assert.deepEqual([SL_FATAL | SL_ERROR | SL_WARN, SL_ERROR | SL_WARN, SL_WARN | SL_NOTE, SL_NOTE | SL_TRACE, SL_TRACE, SL_CONSOLE, SL_NOTIFY].map(consoleLevel), [2, 3, 4, 5, 7, 6, 6]);
});

test('runtime directory: option, $STRLOGDIR, default, limits', () => {
  assert.deepEqual(resolveRunDir(undefined, {}), { ok: true, dir: '/run/strlog' });
  assert.deepEqual(resolveRunDir(undefined, { STRLOGDIR: '/tmp/x/' }), { ok: true, dir: '/tmp/x' });
  assert.deepEqual(resolveRunDir('/a', { STRLOGDIR: '/tmp/x' }), { ok: true, dir: '/a' });
  assert.equal(resolveRunDir('rel', {}).ok, false);
  assert.equal(resolveRunDir('/' + 'x'.repeat(MAX_RUNDIR - 1), {}).ok, true);
  assert.equal(resolveRunDir('/' + 'x'.repeat(MAX_RUNDIR), {}).ok, false);
  assert.match((resolveRunDir(undefined, { STRLOGDIR: 'x' }) as { message: string }).message, /\$STRLOGDIR/);
});
