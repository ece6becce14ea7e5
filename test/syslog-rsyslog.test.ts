// plogkit/syslog against a real rsyslogd (test/helpers/rsyslog.ts): what the
// library sends must come out of rsyslog as what glibc's syslog() sends does.
// The glibc side is test/fixtures/syslog/ref.c run with /dev/log pointing at
// rsyslog's socket (GlibcRef); util-linux logger -u is a second reference
// that needs no namespace. Both sides go through the same receiver and the
// parsed fields (%pri%, %syslogtag%, %programname%, %procid%, %msg%) are
// compared, with only the process ids made equal.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import { findRsyslogd, hasGtls, makeCerts, Rsyslog, GlibcRef, type Parsed } from './helpers/rsyslog.js';
import * as S from '../src/syslog/index.js';
import { waitFor } from './helpers/wait.js';
import { tcpSockets } from './helpers/signals.js';

const skip = findRsyslogd() ? false : 'rsyslogd is not installed (Debian package rsyslog)';

type Cmd = string[];

/** The same commands as ref.c, on a fresh Logger. */
async function runLibrary(socket: string, commands: Cmd[]): Promise<S.Logger> {
  const l = new S.Logger({ path: socket });
  for (const c of commands) {
    const [op, a, b, c3, d] = c;
    switch (op) {
      case 'o':
        l.openlog(a === '@null' ? null : a!, Number(b), Number(c3));
        break;
      case 'm':
        l.setlogmask(Number(a));
        break;
      case 's':
        l.vsyslog(Number(a), c3!, [], Number(b));
        break;
      case 'S':
        l.vsyslog(Number(a), c3!, [d], Number(b));
        break;
      case 'd':
        l.vsyslog(Number(a), b!, [Number(c3)]);
        break;
      case 'c':
        l.closelog();
        break;
      default:
        throw new Error(`bad command ${op}`);
    }
  }
  await l.close();
  return l;
}

/** Process ids differ between the two sides; nothing else may. */
function normalize(p: Parsed): string {
  const pid = /^\d+$/.test(p.procid) ? 'PID' : p.procid;
  // A line rsyslog cannot parse (a PRI out of range) is kept whole as the
  // message, its timestamp too: the two senders may straddle a second.
  const msg = p.msg.replace(/^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /, '$1TIME ');
  return [p.pri, p.syslogtag.replace(/\[\d+\]:$/, '[PID]:'), p.programname, pid, msg].join('|');
}

describe('plogkit/syslog through rsyslog', { skip }, () => {
  let r: Rsyslog;
  let ref: GlibcRef | string;
  let refDir: string;
  let seq = 0;

  before(async () => {
    // PLOG_TEST_NO_GTLS=1 exercises the node:tls fallback where gtls exists.
    r = await Rsyslog.start({ tls: hasGtls() && !process.env.PLOG_TEST_NO_GTLS });
    refDir = mkdtempSync(join(tmpdir(), 'plog-ref-'));
    // The reference binary gets the name the library's default ident has
    // here (the test file's base name), so "default ident" compares equal.
    ref = GlibcRef.make(refDir, S.defaultIdent());
  });

  after(async () => {
    await r?.stop();
    if (refDir) rmSync(refDir, { recursive: true, force: true });
  });

  /** Lines produced by `run`, up to a sentinel it is made to send last. */
  async function capture(run: (sentinel: Cmd[]) => unknown): Promise<Parsed[]> {
    const mark = `plog-sentinel-${process.pid}-${++seq}`;
    const before = r.lines().length;
    await run([
      ['m', '0xff'],
      ['s', String(S.LOG_USER | S.LOG_INFO), '0', mark],
    ]);
    await r.waitFor(mark);
    const lines = r.lines().slice(before);
    return lines.slice(
      0,
      lines.findIndex((l) => l.msg.includes(mark)),
    );
  }

  /** Compare glibc and the library on one list of commands; returns the lines. */
  async function compare(t: { skip(msg: string): void }, commands: Cmd[]): Promise<Parsed[] | null> {
    if (typeof ref === 'string') {
      t.skip(ref);
      return null;
    }
    const g = ref;
    const fromGlibc = await capture((end) => g.run(r.socket, [...commands, ...end]));
    const fromLib = await capture((end) => runLibrary(r.socket, [...commands, ...end]));
    assert.deepEqual(fromLib.map(normalize), fromGlibc.map(normalize));
    return fromLib;
  }

  test('default ident: the program name', async (t) => {
    const lines = await compare(t, [['s', '6', '0', 'hello from the default ident']]);
    if (lines) {
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.syslogtag, `${S.defaultIdent()}:`);
      assert.equal(lines[0]!.pri, S.LOG_USER | S.LOG_INFO);
    }
  });

  test('empty ident, with and without LOG_PID', async (t) => {
    const lines = await compare(t, [
      ['o', '', '0', '8'],
      ['s', '6', '0', 'empty ident'],
      ['o', '', String(S.LOG_PID), '8'],
      ['s', '6', '0', 'empty ident with pid'],
    ]);
    if (lines) assert.equal(lines.length, 2);
  });

  test('long idents', async (t) => {
    const lines = await compare(t, [
      ['o', 'x'.repeat(33), '0', '8'],
      ['s', '6', '0', '33'],
      ['o', 'y'.repeat(300), String(S.LOG_PID), '8'],
      ['s', '6', '0', '300 with pid'],
      ['o', 'with space', '0', '8'],
      ['s', '6', '0', 'space'],
    ]);
    if (lines) assert.equal(lines.length, 3);
  });

  test('LOG_PID and the default facility from openlog', async (t) => {
    const lines = await compare(t, [
      ['o', 'refpid', String(S.LOG_PID), String(S.LOG_DAEMON)],
      ['s', String(S.LOG_ERR), '0', 'daemon error'],
      ['s', String(S.LOG_MAIL | S.LOG_NOTICE), '0', 'explicit facility wins'],
      ['o', 'refpid', '0', String(S.LOG_LOCAL4)],
      ['s', String(S.LOG_INFO), '0', 'local4 now, no pid'],
      ['o', '@null', String(S.LOG_PID), '0x401'],
      ['s', String(S.LOG_INFO), '0', 'NULL ident keeps it, bad facility is ignored'],
      ['c'],
      ['s', String(S.LOG_INFO), '0', 'closelog forgets the ident'],
    ]);
    if (lines) {
      assert.equal(lines[0]!.pri, 27);
      assert.equal(lines[0]!.procid, String(process.pid));
      assert.equal(lines[2]!.pri, S.LOG_LOCAL4 | S.LOG_INFO);
    }
  });

  test('openlog with facility 0 makes LOG_KERN the default, as glibc since 2.34 (its tst-syslog)', async (t) => {
    const lines = await compare(t, [
      ['o', 'kern', '0', String(S.LOG_LOCAL0)],
      ['s', String(S.LOG_INFO), '0', 'local0 first'],
      ['c'],
      ['o', 'kern', '0', String(S.LOG_KERN)],
      ['s', String(S.LOG_INFO), '0', 'kern after openlog(..., 0)'],
      ['s', String(S.LOG_LOCAL7 | S.LOG_INFO), '0', 'an explicit facility still wins'],
      ['c'],
      ['s', String(S.LOG_ERR), '0', 'closelog keeps the facility'],
    ]);
    if (lines)
      assert.deepEqual(
        lines.map((l) => l.pri),
        [S.LOG_LOCAL0 | S.LOG_INFO, S.LOG_INFO, S.LOG_LOCAL7 | S.LOG_INFO, S.LOG_ERR],
      );
  });

  test('%m: the words of errno', async (t) => {
    const lines = await compare(t, [
      ['o', 'errs', '0', '8'],
      ['s', '3', '2', 'open: %m'],
      ['s', '3', '13', '%m at the start'],
      ['S', '3', '111', 'connect %s: %m', '127.0.0.1'],
      ['s', '3', '0', 'errno 0: %m'],
      ['s', '3', '4242', 'unknown: %m'],
      ['s', '3', '2', '100%% %m'],
    ]);
    if (lines) assert.equal(lines[0]!.msg.trim(), 'open: No such file or directory');
  });

  test('%m with width and precision, as %s: %.5m is Permi', async (t) => {
    const lines = await compare(t, [
      ['o', 'errs', '0', '8'],
      ['s', '3', '13', '[%.5m]'],
      ['s', '3', '1', '[%30m]'],
      ['s', '3', '1', '[%-30m]'],
      ['s', '3', '2', '[%12.4m]'],
      ['s', '3', '2', '[%-8.0m]'],
      ['s', '3', '1', '[%.5m|%.100m]'],
    ]);
    if (lines) assert.equal(lines[0]!.msg.trim(), '[Permi]');
  });

  test('%m from an Error argument (syslog) matches errno (glibc)', async () => {
    const before = r.lines().length;
    const l = new S.Logger({ path: r.socket, ident: 'errarg' });
    const err = Object.assign(new Error('x'), { code: 'ENOENT', errno: -2 });
    l.syslog(S.LOG_ERR, 'open %s: %m', '/nope', err);
    await l.close();
    const [line] = await r.waitLines(before, 1);
    assert.equal(line!.msg, ' open /nope: No such file or directory');
  });

  test('embedded and trailing newlines, empty message', async (t) => {
    await compare(t, [
      ['o', 'nl', '0', '8'],
      ['s', '6', '0', 'a\nb'],
      ['s', '6', '0', 'trailing\n'],
      ['s', '6', '0', 'two\n\n'],
      ['s', '6', '0', '\n'],
      ['s', '6', '0', ''],
      ['s', '6', '0', 'tab\there'],
    ]);
  });

  test('every facility and every level', async (t) => {
    const cmds: Cmd[] = [['o', 'every', '0', '8']];
    for (let f = 0; f < S.LOG_NFACILITIES; f++) {
      for (let l = 0; l <= S.LOG_DEBUG; l++) cmds.push(['s', String((f << 3) | l), '0', `f${f} l${l}`]);
    }
    const lines = await compare(t, cmds);
    if (lines) {
      assert.equal(lines.length, 24 * 8);
      // Facility 0 means "none" to syslog(): the default (LOG_USER) is
      // added: LOG_KERN only goes out as the default openlog() set.
      lines.forEach((p, i) => assert.equal(p.pri, i < 8 ? S.LOG_USER | i : i));
    }
  });

  test('mask filtering', async (t) => {
    const cmds: Cmd[] = [
      ['o', 'mask', '0', '8'],
      ['m', String(S.LOG_UPTO(S.LOG_WARNING))],
    ];
    for (let l = 0; l <= 7; l++) cmds.push(['s', String(l), '0', `level ${l}`]);
    cmds.push(['m', '0'], ['s', '7', '0', 'setlogmask(0) changed nothing']);
    cmds.push(['m', String(S.LOG_MASK(S.LOG_ERR))], ['s', '3', '0', 'only err'], ['s', '6', '0', 'not info']);
    cmds.push(['m', String(S.LOG_MASK(S.LOG_DEBUG) | S.LOG_MASK(S.LOG_EMERG))], ['s', String(S.LOG_LOCAL0 | 7), '0', 'debug'], ['s', '0', '0', 'emerg']);
    const lines = await compare(t, cmds);
    if (lines)
      assert.deepEqual(
        lines.map((l) => l.pri),
        [8, 9, 10, 11, 12, 11, 135, 8],
      );
  });

  test('invalid priority bits: reported at auth.err, then masked', async (t) => {
    const lines = await compare(t, [
      ['o', 'inv', '0', '8'],
      ['s', String(0x400 | 6), '0', 'bad bits'],
      ['s', '-1', '0', 'all bits'],
      ['m', String(S.LOG_MASK(S.LOG_INFO))],
      ['s', String(0x400 | 6), '0', 'report masked, message not'],
      ['m', String(S.LOG_MASK(S.LOG_ERR))],
      ['s', String(0x400 | 6), '0', 'message masked, report not'],
      ['m', '0xff'],
      ['o', 'inv', String(S.LOG_PID), '8'],
      ['s', String(0x800 | S.LOG_LOCAL1 | 3), '0', 'with pid'],
    ]);
    if (lines) {
      assert.equal(lines[0]!.pri, 35);
      assert.equal(lines[0]!.msg, ' syslog: unknown facility/priority: 406');
      assert.equal(lines[1]!.pri, 14);
    }
  });

  test('printf conversions', async (t) => {
    await compare(t, [
      ['o', 'fmt', '0', '8'],
      ['d', '6', '%5d|', '42'],
      ['d', '6', '%-5d|', '42'],
      ['d', '6', '%05x|', '42'],
      ['d', '6', '%+d', '42'],
      ['d', '6', '%#o', '42'],
      ['d', '6', '%u', '-1'],
      ['d', '6', '%x', '-1'],
      ['d', '6', '%.3d', '-7'],
      ['S', '6', '0', '%10s|', 'abc'],
      ['S', '6', '0', '%-10.2s|', 'abcdef'],
      ['S', '6', '0', '[%s]', 'a|b'],
    ]);
  });

  test('1 KB and 64 KB messages', async (t) => {
    const kb = 'k'.repeat(1024);
    let big = '';
    for (let i = 0; big.length < 65536; i++) big += `${i.toString(16).padStart(6, '0')}:`;
    big = big.slice(0, 65536);
    const lines = await compare(t, [
      ['o', 'big', String(S.LOG_PID), '8'],
      ['S', '6', '0', '%s', kb],
      ['S', '6', '0', '%s', big],
    ]);
    if (lines) {
      assert.equal(lines[0]!.msg, ' ' + kb);
      assert.equal(lines[1]!.msg, ' ' + big);
    }
  });

  test('same wire format as util-linux logger -u', async () => {
    // logger needs no namespace; it writes glibc's local format itself.
    const cases: { tag: string; pri: number; msg: string; pid: boolean }[] = [
      { tag: 'lgr', pri: S.LOG_DAEMON | S.LOG_ERR, msg: 'plain', pid: false },
      { tag: 'lgr', pri: S.LOG_LOCAL7 | S.LOG_DEBUG, msg: 'with pid', pid: true },
      { tag: 'lgr', pri: S.LOG_AUTHPRIV | S.LOG_NOTICE, msg: 'a\nb', pid: true },
      { tag: 'z'.repeat(40), pri: S.LOG_USER | S.LOG_WARNING, msg: 'long tag', pid: false },
    ];
    const facName = (p: number) => S.FACILITY_NAMES[S.LOG_FAC(p)]!;
    const lvlName = (p: number) => S.LEVEL_NAMES[S.LOG_PRI(p)]!;
    // Run each case through logger and the library and compare.
    for (const c of cases) {
      const mark = `plog-lgr-${++seq}`;
      const before = r.lines().length;
      execFileSync('logger', ['-u', r.socket, '-t', c.tag, ...(c.pid ? ['-i'] : []), '-p', `${facName(c.pri)}.${lvlName(c.pri)}`, '--', c.msg + mark]);
      const l = new S.Logger({ path: r.socket, ident: c.tag, option: c.pid ? S.LOG_PID : 0 });
      l.syslog(c.pri, '%s', c.msg + mark);
      await l.close();
      const got = await r.waitLines(before, 2);
      assert.equal(normalize(got[1]!), normalize(got[0]!), `${c.tag} ${c.msg}`);
    }
  });

  test('the receiver restarting between two messages', async () => {
    const l = new S.Logger({ path: r.socket, ident: 'restart', option: S.LOG_PID });
    l.syslog(S.LOG_ERR, 'before the restart');
    await r.waitFor('before the restart');
    await r.restart();
    l.syslog(S.LOG_ERR, 'after the restart');
    const line = await r.waitFor('after the restart');
    assert.equal(line.syslogtag, `restart[${process.pid}]:`);
    assert.equal(l.dropped, 0);
    await l.close();
  });

  test('the process-global functions and PLOG_SYSLOG_SOCKET', async () => {
    const old = process.env.PLOG_SYSLOG_SOCKET;
    process.env.PLOG_SYSLOG_SOCKET = r.socket;
    try {
      S.openlog('globalfn', S.LOG_PID, S.LOG_LOCAL5);
      assert.equal(S.setlogmask(S.LOG_UPTO(S.LOG_NOTICE)), 0xff);
      S.syslog(S.LOG_DEBUG, 'global debug is masked out');
      S.syslog(S.LOG_NOTICE, 'global %s %d', 'syslog', 7);
      S.vsyslog(S.LOG_WARNING, 'global vsyslog %s: %m', ['x'], 'EACCES');
      S.closelog();
      await S.defaultLogger().flush();
      const a = await r.waitFor('global syslog 7');
      const b = await r.waitFor('global vsyslog x: Permission denied');
      assert.equal(a.pri, S.LOG_LOCAL5 | S.LOG_NOTICE);
      assert.equal(b.syslogtag, `globalfn[${process.pid}]:`);
      assert.ok(!r.lines().some((p) => p.msg.includes('global debug')));
      S.setlogmask(0xff);
    } finally {
      if (old === undefined) delete process.env.PLOG_SYSLOG_SOCKET;
      else process.env.PLOG_SYSLOG_SOCKET = old;
    }
  });

  test("the daemons' use: plogsrvd PID: message at daemon.err", async () => {
    const logger = new S.Logger({ ident: 'plogsrvd', option: S.LOG_PID, facility: S.LOG_DAEMON, path: r.socket });
    logger.syslog(S.LOG_ERR, '%s', 'cannot open /proc/1/stat: Permission denied');
    await logger.close();
    const line = await r.waitFor('cannot open /proc/1/stat');
    assert.equal(line.pri, 27);
    assert.equal(line.syslogtag, `plogsrvd[${process.pid}]:`);
    assert.equal(line.programname, 'plogsrvd');
    assert.equal(line.procid, String(process.pid));
    assert.equal(line.msg, ' cannot open /proc/1/stat: Permission denied');
  });

  test('a NUL in an argument, the ident or structured data never ends a record: no forged record on a stream receiver', async () => {
    // glibc's strings end at a NUL, so glibc never sends one; on a stream
    // /dev/log a NUL ends glibc's record, and what follows it would be read
    // as a record of its own, with the priority and tag it claims.
    const forged = '<0>Nov  5 09:03:01 sshd[1]: Accepted password for root from 10.0.0.1 port 22';
    const mark = `nul-${Date.now()}`;
    const start = r.lines().length;
    const l = new S.Logger({ path: r.streamSocket, ident: `app\0${forged}`, facility: S.LOG_LOCAL2 });
    l.syslog(S.LOG_INFO, 'user %s logged in %s', `bob\0${forged}`, mark);
    l.vsyslog(S.LOG_INFO, `fmt\0${forged} %s`, [mark]);
    l.log(S.LOG_INFO, `raw\0${forged} ${mark}`, { structuredData: { 'x@1': { v: `a\0${forged}` } } });
    l.openlog('end');
    l.syslog(S.LOG_INFO, 'sentinel %s', mark);
    await l.close();
    assert.equal(l.dropped, 0);
    await r.waitFor(`sentinel ${mark}`);
    const got = r.lines().slice(start);
    assert.deepEqual(
      got.filter((p) => p.programname === 'sshd' || p.pri === 0),
      [],
      'forged records',
    );
    assert.equal(got.length, 4, JSON.stringify(got));
    // The NUL is written as the visible \x00, the rest of the text kept.
    const visible = forged.replace(/ +/g, ' ');
    for (const p of got.slice(0, 3)) {
      assert.equal(p.pri, S.LOG_LOCAL2 | S.LOG_INFO);
      assert.ok(`${p.syslogtag}${p.msg}`.replace(/ +/g, ' ').includes(`\\x00${visible}`), JSON.stringify(p));
    }
    assert.ok(got[0]!.msg.includes(`user bob\\x00<0>Nov`), got[0]!.msg);
    assert.ok(got[0]!.syslogtag.startsWith('app\\x00<0>Nov'), got[0]!.syslogtag);
  });

  test('a newline in the text never ends a record on a stream receiver that frames on LF: no forged record', async () => {
    const forged = '<0>Nov  5 09:03:01 sshd[1]: Accepted password for root from 10.0.0.1 port 22';
    const mark = `nl-${Date.now()}`;
    const start = r.lines().length;
    const l = new S.Logger({ path: r.streamSocket, ident: 'app', facility: S.LOG_LOCAL2 });
    l.syslog(S.LOG_INFO, 'user %s logged in %s', `bob\n${forged}`, mark);
    l.syslog(S.LOG_INFO, 'ends with a newline %s\n', mark);
    l.syslog(S.LOG_INFO, 'sentinel %s', mark);
    await l.close();
    await r.waitFor(`sentinel ${mark}`);
    const got = r.lines().slice(start);
    assert.deepEqual(
      got.filter((p) => p.programname === 'sshd' || p.pri === 0),
      [],
      'forged records',
    );
    assert.equal(got.length, 3, JSON.stringify(got));
    assert.ok(got[0]!.msg.includes(`user bob\\n<0>Nov`), got[0]!.msg);
    assert.ok(got[1]!.msg.endsWith(`ends with a newline ${mark}`), got[1]!.msg);
  });

  test('no NUL byte on any wire: local datagram, UDP, TCP in RFC 3164 and 5424', async () => {
    const dgram = await import('node:dgram');
    const net = await import('node:net');
    const rx = dgram.createSocket('udp4');
    let udp = Buffer.alloc(0);
    rx.on('message', (m) => (udp = Buffer.concat([udp, m])));
    await new Promise<void>((res) => rx.bind(0, '127.0.0.1', () => res()));
    let tcp = Buffer.alloc(0);
    const srv = net.createServer((c) => c.on('data', (d) => (tcp = Buffer.concat([tcp, d]))));
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    try {
      const sends = async (url: string, format: 'rfc3164' | 'rfc5424'): Promise<void> => {
        const l = new S.Logger({ url, format, ident: 'id\0ent', hostname: 'ho\0st' });
        l.syslog(S.LOG_INFO, 'a %s', 'b\0c');
        l.log(S.LOG_INFO, 'd\0e', { msgid: 'm\0id', structuredData: { 'i\0d@1': { 'n\0m': 'v\0w' } } });
        await l.close();
      };
      for (const format of ['rfc3164', 'rfc5424'] as const) {
        await sends(`udp://127.0.0.1:${rx.address().port}`, format);
        await sends(`tcp://127.0.0.1:${(srv.address() as import('node:net').AddressInfo).port}`, format);
      }
      await waitFor('four records over udp and tcp', () => udp.toString().split('<14>').length - 1 >= 4 && tcp.toString().split('<14>').length - 1 >= 4, { timeout: 10_000, interval: 20 });
      assert.equal(udp.indexOf(0), -1, JSON.stringify(udp.toString()));
      assert.equal(tcp.indexOf(0), -1, JSON.stringify(tcp.toString()));
      assert.ok(udp.toString().includes('a b\\x00c'));
    } finally {
      rx.close();
      srv.close();
    }
  });

  // ---- remote ----

  const remotes: ('udp' | 'tcp' | 'tls')[] = ['udp', 'tcp', 'tls'];
  for (const proto of remotes) {
    for (const fmt of ['rfc3164', 'rfc5424'] as const) {
      test(`remote ${proto}:// in ${fmt}`, async (t) => {
        if (proto === 'tls' && !r.certs) return tlsWithoutGtls(t, fmt);
        const port = proto === 'udp' ? r.udpPort : proto === 'tcp' ? r.tcpPort : r.tlsPort;
        const logger = new S.Logger({
          url: `${proto}://127.0.0.1:${port}`,
          format: fmt,
          hostname: 'plogtest-host.example.org',
          ident: 'remote',
          option: S.LOG_PID,
          facility: S.LOG_LOCAL2,
          tls: r.certs ? { ca: readFileSync(r.certs.ca), servername: 'localhost' } : undefined,
        });
        const mark = `${proto}-${fmt}-${Date.now()}`;
        logger.log(S.LOG_NOTICE, `first ${mark} caf\u00e9`, {
          msgid: 'ID47',
          structuredData: { 'exampleSDID@32473': { iut: 3, eventSource: 'App"li]ca\\tion' } },
        });
        logger.syslog(S.LOG_ERR, 'second %s %d', mark, 2);
        for (let i = 0; i < 50; i++) logger.syslog(S.LOG_DEBUG, 'burst %s %d', mark, i);
        await logger.close();
        assert.equal(logger.dropped, 0);
        const first = await r.waitFor(`first ${mark}`);
        const second = await r.waitFor(`second ${mark} 2`);
        await r.waitFor(`burst ${mark} 49`);
        assert.equal(first.pri, S.LOG_LOCAL2 | S.LOG_NOTICE);
        assert.equal(second.pri, S.LOG_LOCAL2 | S.LOG_ERR);
        assert.equal(first.procid, String(process.pid));
        assert.equal(first.programname, 'remote');
        if (fmt === 'rfc5424') {
          assert.equal(first.hostname, 'plogtest-host.example.org');
          assert.equal(first.appname, 'remote');
          assert.equal(first.msgid, 'ID47');
          assert.equal(first.sd, '[exampleSDID@32473 iut="3" eventSource="App\\"li\\]ca\\\\tion"]');
          assert.equal(first.msg, `first ${mark} caf\u00e9`);
        } else {
          assert.equal(first.hostname, 'plogtest-host');
          assert.equal(first.syslogtag, `remote[${process.pid}]:`);
          assert.equal(first.msg, ` first ${mark} caf\u00e9`);
        }
        // Every burst line arrived, in order.
        const bursts = r
          .lines()
          .filter((l) => l.msg.includes(`burst ${mark} `))
          .map((l) => Number(l.msg.trim().split(' ').pop()));
        assert.deepEqual(
          bursts,
          Array.from({ length: 50 }, (_, i) => i),
        );
      });
    }
  }

  test('remote RFC 3164: the TAG is cleaned as APP-NAME is (letters, digits, - _ . /, at most 32), the message arrives whole', async () => {
    const cases: Array<[string, string]> = [
      ['my app é', 'my_app__'],
      ['a:b[c] d', 'a_b_c__d'],
      ['x'.repeat(40), 'x'.repeat(32)],
      ['postfix/smtpd-1.x_y', 'postfix/smtpd-1.x_y'],
      ['évé', '_v_'],
    ];
    for (const [i, [ident, tag]] of cases.entries()) {
      const mark = `tag-${Date.now()}-${i}`;
      const l = new S.Logger({ url: `udp://127.0.0.1:${r.udpPort}`, format: 'rfc3164', hostname: 'h', ident, option: i % 2 ? S.LOG_PID : 0 });
      l.syslog(S.LOG_NOTICE, 'hello %s', mark);
      await l.close();
      const p = await r.waitFor(mark);
      assert.equal(p.syslogtag, i % 2 ? `${tag}[${process.pid}]:` : `${tag}:`, ident);
      assert.equal(p.msg, ` hello ${mark}`, ident);
    }
  });

  test('remote tcp:// reconnects after the receiver restarts', async () => {
    const logger = new S.Logger({ url: `tcp://127.0.0.1:${r.tcpPort}`, ident: 'tcprestart', format: 'rfc5424' });
    logger.syslog(S.LOG_ERR, 'tcp before');
    await r.waitFor('tcp before');
    await r.restart();
    // The close of the old connection has reached us, as it would in a daemon: the logger holds none to the port.
    const port = `:${r.tcpPort.toString(16).toUpperCase().padStart(4, '0')}`;
    await waitFor('the old connection to be closed', () => !tcpSockets(process.pid).some((s) => s.remote.endsWith(port)));
    logger.syslog(S.LOG_ERR, 'tcp after');
    await r.waitFor('tcp after');
    await logger.close();
    assert.equal(logger.dropped, 0);
  });
});

/** Without rsyslog's gtls driver (package rsyslog-gnutls): a node:tls
 * receiver of the test's own checks the octet-counted RFC 5425 stream. */
async function tlsWithoutGtls(t: { skip(msg: string): void; diagnostic(msg: string): void }, fmt: 'rfc3164' | 'rfc5424'): Promise<void> {
  if (spawnSync('openssl', ['version']).status !== 0) return t.skip('neither rsyslog-gnutls nor openssl is installed');
  t.diagnostic('rsyslog-gnutls is not installed: TLS checked against a node:tls receiver');
  const dir = mkdtempSync(join(tmpdir(), 'plog-tls-'));
  const certs = makeCerts(dir);
  let data = Buffer.alloc(0);
  const server = tls.createServer({ key: readFileSync(certs.key), cert: readFileSync(certs.cert) }, (c) => {
    c.on('data', (d) => (data = Buffer.concat([data, d])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as import('node:net').AddressInfo).port;
    const logger = new S.Logger({
      url: `tls://127.0.0.1:${port}`,
      format: fmt,
      hostname: 'plogtest-host',
      ident: 'remote',
      option: S.LOG_PID,
      facility: S.LOG_LOCAL2,
      tls: { ca: readFileSync(certs.ca), servername: 'localhost' },
    });
    logger.log(S.LOG_NOTICE, 'first caf\u00e9', { msgid: 'ID47', structuredData: { 'x@1': { a: 'q"]' } } });
    logger.syslog(S.LOG_ERR, 'second\nline');
    await logger.flush();
    const frames: string[] = [];
    const deadline = Date.now() + 5000;
    while (frames.length < 2 && Date.now() < deadline) {
      await sleep(10); // the poll of a wait for both frames (5 s at most)
      frames.length = 0;
      let rest = data;
      for (;;) {
        const sp = rest.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(rest.subarray(0, sp).toString());
        if (rest.length < sp + 1 + len) break;
        frames.push(rest.subarray(sp + 1, sp + 1 + len).toString());
        rest = rest.subarray(sp + 1 + len);
      }
    }
    await logger.close();
    assert.equal(frames.length, 2);
    const pid = process.pid;
    if (fmt === 'rfc5424') {
      assert.match(
        frames[0]!,
        new RegExp(`^<149>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}(Z|[+-]\\d\\d:\\d\\d) plogtest-host remote ${pid} ID47 \\[x@1 a="q\\\\"\\\\]"\\] first caf\u00e9$`),
      );
      assert.match(frames[1]!, new RegExp(`^<147>1 \\S+ plogtest-host remote ${pid} - - second\nline$`));
    } else {
      assert.match(frames[0]!, new RegExp(`^<149>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d plogtest-host remote\\[${pid}\\]: first caf\u00e9$`));
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
