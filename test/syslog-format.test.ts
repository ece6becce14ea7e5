// The pure message builders, byte for byte, and the constants against
// glibc's <syslog.h> values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../src/syslog/index.js';
import { headerField, sdName, perrorLine, consoleLine } from '../src/syslog/format.js';

// Local time is part of the formats: pin the zone (Node re-reads TZ).
process.env.TZ = 'Europe/Paris';

// 2024-11-05 09:03:01.123456 in Paris (UTC+1 in November).
const T = Date.UTC(2024, 10, 5, 8, 3, 1) + 123.456;

const msg = (over: Partial<S.SyslogMessage> = {}): S.SyslogMessage => ({
  pri: S.LOG_DAEMON | S.LOG_ERR,
  time: T,
  ident: 'plogsrvd',
  pid: 4242,
  msg: 'hello',
  ...over,
});

test('constants have glibc values', () => {
  assert.deepEqual([S.LOG_EMERG, S.LOG_ALERT, S.LOG_CRIT, S.LOG_ERR, S.LOG_WARNING, S.LOG_NOTICE, S.LOG_INFO, S.LOG_DEBUG], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(
    [S.LOG_KERN, S.LOG_USER, S.LOG_MAIL, S.LOG_DAEMON, S.LOG_AUTH, S.LOG_SYSLOG, S.LOG_LPR, S.LOG_NEWS, S.LOG_UUCP, S.LOG_CRON, S.LOG_AUTHPRIV, S.LOG_FTP],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88],
  );
  assert.deepEqual([S.LOG_LOCAL0, S.LOG_LOCAL1, S.LOG_LOCAL2, S.LOG_LOCAL3, S.LOG_LOCAL4, S.LOG_LOCAL5, S.LOG_LOCAL6, S.LOG_LOCAL7], [128, 136, 144, 152, 160, 168, 176, 184]);
  assert.deepEqual([S.LOG_PID, S.LOG_CONS, S.LOG_ODELAY, S.LOG_NDELAY, S.LOG_NOWAIT, S.LOG_PERROR], [1, 2, 4, 8, 16, 32]);
  assert.equal(S.LOG_PRIMASK, 7);
  assert.equal(S.LOG_FACMASK, 0x3f8);
  assert.equal(S.LOG_MASK(S.LOG_ERR), 8);
  assert.equal(S.LOG_UPTO(S.LOG_ERR), 15);
  assert.equal(S.LOG_UPTO(S.LOG_DEBUG), 0xff);
  assert.equal(S.LOG_PRI(S.LOG_LOCAL3 | S.LOG_NOTICE), 5);
  assert.equal(S.LOG_FAC(S.LOG_LOCAL3 | S.LOG_NOTICE), 19);
  assert.equal(S.LOG_MAKEPRI(S.LOG_DAEMON, S.LOG_ERR), 27);
});

test('glibc local line: <PRI>Mmm dd hh:mm:ss tag: msg', () => {
  assert.equal(S.formatLocal(msg()), '<27>Nov  5 09:03:01 plogsrvd[4242]: hello');
  assert.equal(S.formatLocal(msg({ pid: undefined })), '<27>Nov  5 09:03:01 plogsrvd: hello');
  // Empty ident: glibc prints nothing where the tag goes.
  assert.equal(S.formatLocal(msg({ ident: '' })), '<27>Nov  5 09:03:01 [4242]: hello');
  assert.equal(S.formatLocal(msg({ ident: '', pid: undefined })), '<27>Nov  5 09:03:01 : hello');
  // Newlines go as they are, none is added.
  assert.equal(S.formatLocal(msg({ msg: 'a\nb\n' })), '<27>Nov  5 09:03:01 plogsrvd[4242]: a\nb\n');
  assert.equal(S.bsdTimestamp(Date.UTC(2024, 11, 25, 22, 59, 59, 999)), 'Dec 25 23:59:59');
});

test('RFC 3164 with a host name', () => {
  assert.equal(S.formatRfc3164(msg(), 'web1.example.org'), '<27>Nov  5 09:03:01 web1 plogsrvd[4242]: hello');
  // The TAG: letters, digits, - _ . / and at most 32 of them; the local line keeps the ident as glibc does.
  assert.equal(S.formatRfc3164(msg({ ident: 'my app é' }), 'web1'), '<27>Nov  5 09:03:01 web1 my_app__[4242]: hello');
  assert.equal(S.formatRfc3164(msg({ ident: 'y'.repeat(40), pid: undefined }), 'web1'), `<27>Nov  5 09:03:01 web1 ${'y'.repeat(32)}: hello`);
  assert.equal(S.formatLocal(msg({ ident: 'my app é' })), '<27>Nov  5 09:03:01 my app é[4242]: hello');
});

test('RFC 5424 header, NILVALUE, timestamp with six fractional digits', () => {
  assert.equal(S.rfc5424Timestamp(T), '2024-11-05T09:03:01.123456+01:00');
  assert.equal(S.rfc5424Timestamp(Date.UTC(2024, 6, 1, 0, 0, 0) + 0.25), '2024-07-01T02:00:00.000250+02:00');
  assert.equal(S.formatRfc5424(msg(), { hostname: 'web1' }), '<27>1 2024-11-05T09:03:01.123456+01:00 web1 plogsrvd 4242 - - hello');
  assert.equal(S.formatRfc5424(msg({ ident: '', pid: undefined, msg: '' }), { hostname: '' }), '<27>1 2024-11-05T09:03:01.123456+01:00 - - - - -');
  assert.equal(S.formatRfc5424(msg({ msgid: 'START' }), { hostname: 'web1', bom: true }), '<27>1 2024-11-05T09:03:01.123456+01:00 web1 plogsrvd 4242 START - \uFEFFhello');
  assert.deepEqual([...Buffer.from(S.formatRfc5424(msg(), { hostname: 'h', bom: true })).subarray(-8, -5)], [0xef, 0xbb, 0xbf]);
});

test('RFC 5424 field limits and character set', () => {
  assert.equal(headerField('my app', 48), 'my_app');
  assert.equal(headerField('x'.repeat(60), 48), 'x'.repeat(48));
  assert.equal(headerField('h'.repeat(300), 255).length, 255);
  assert.equal(headerField('caf\u00e9', 48), 'caf_');
  assert.equal(headerField('', 48), '-');
  const long = S.formatRfc5424(msg({ ident: 'a'.repeat(100), msgid: 'm'.repeat(40) }), { hostname: 'h' });
  assert.match(long, / a{48} 4242 m{32} - hello$/);
  assert.equal(sdName('ex ample="x"]@32473'), 'examplex@32473');
  assert.equal(sdName('y'.repeat(40)).length, 32);
});

test('RFC 5424 structured data escaping', () => {
  assert.equal(S.escapeParamValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  assert.equal(
    S.formatStructuredData({ 'exampleSDID@32473': { iut: 3, eventSource: 'App"li]ca\\tion' }, origin: { ip: ['10.0.0.1', '10.0.0.2'] } }),
    '[exampleSDID@32473 iut="3" eventSource="App\\"li\\]ca\\\\tion"][origin ip="10.0.0.1" ip="10.0.0.2"]',
  );
  assert.equal(S.formatStructuredData({}), '-');
  assert.equal(S.formatStructuredData(undefined), '-');
  assert.equal(S.formatStructuredData({ 'a b': { 'c=d': 'x' } }), '[ab cd="x"]');
  assert.equal(S.formatRfc5424(msg({ structuredData: { 'meta@1': { k: 'v' } } }), { hostname: 'h' }), '<27>1 2024-11-05T09:03:01.123456+01:00 h plogsrvd 4242 - [meta@1 k="v"] hello');
});

test('framings: octet counting counts bytes, NUL ends a stream record', () => {
  assert.equal(S.octetFrame(Buffer.from('abc')).toString(), '3 abc');
  assert.equal(S.octetFrame(Buffer.from('\u00e9')).toString(), '2 \u00e9');
  assert.deepEqual([...S.nulFrame(Buffer.from('ab'))], [0x61, 0x62, 0]);
});

test('LOG_PERROR and LOG_CONS lines', () => {
  assert.equal(perrorLine(msg()), 'plogsrvd[4242]: hello\n');
  assert.equal(perrorLine(msg({ msg: 'x\n' })), 'plogsrvd[4242]: x\n');
  assert.equal(consoleLine(msg()), 'plogsrvd[4242]: hello\r\n');
});

test('destination URLs', () => {
  assert.deepEqual(S.parseDestination('unix:///dev/log'), { protocol: 'unix', path: '/dev/log' });
  assert.deepEqual(S.parseDestination('udp://loghost'), { protocol: 'udp', host: 'loghost', port: 514 });
  assert.deepEqual(S.parseDestination('tcp://10.0.0.1:601'), { protocol: 'tcp', host: '10.0.0.1', port: 601 });
  assert.deepEqual(S.parseDestination('tcp://h'), { protocol: 'tcp', host: 'h', port: 601 });
  assert.deepEqual(S.parseDestination('tls://[::1]'), { protocol: 'tls', host: '::1', port: 6514 });
  assert.throws(() => S.parseDestination('http://x'), TypeError);
  assert.throws(() => S.parseDestination('/dev/log'), TypeError);
  assert.throws(() => new S.Logger({ url: 'nope' }), TypeError);
});

test('setlogmask, openlog facility rules and the default ident', () => {
  const l = new S.Logger({ path: '/nonexistent/sock' });
  assert.equal(l.setlogmask(S.LOG_UPTO(S.LOG_ERR)), 0xff);
  assert.equal(l.setlogmask(0), S.LOG_UPTO(S.LOG_ERR));
  assert.equal(l.setlogmask(0), S.LOG_UPTO(S.LOG_ERR));
  assert.equal(S.defaultIdent(), 'syslog-format.test');
  l.destroy();
});
