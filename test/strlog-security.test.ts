// Attacks on strlogd and strerr by an unprivileged user (nobody, through
// setpriv) against real root daemons: floods bounded per uid with every
// loss said, text that would rewrite a terminal, answers sent where the
// attacker chose, sockets swapped under a chmod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { UnixSocket } from '../src/native.js';
import { driverStats } from '../src/strlog/index.js';
import { join } from 'node:path';
import { SL_ERROR, SL_NOTIFY } from '../src/strlog/index.js';
import {
  atEnd,
  Driver,
  errorLog,
  FLOOD_SCRIPT,
  node,
  parseErrLine,
  runAsNobody,
  spawnAsNobody,
  spawnProc,
  startStrerr,
  startStrtrace,
  STRERR,
  STRLOGD as STRLOGD_BIN,
  strlogCmd,
  tempDir,
  waitErrorLog,
  waitFor,
} from './helpers/strlog.js';

/** A fake sendmail: appends its arguments and its input to `out`. */
function fakeMailer(dir: string, out: string): string {
  const path = join(dir, 'sendmail');
  writeFileSync(path, `#!/bin/sh\n{ echo "ARGS: $*"; cat; echo "--END--"; } >> '${out}'\n`);
  chmodSync(path, 0o755);
  return path;
}

const mails = (out: string): string[] => {
  if (!existsSync(out)) return [];
  const parts = readFileSync(out, 'utf8').split('--END--\n');
  parts.pop();
  return parts;
};

const NOTICE = /^strlogd: (\d+) messages? from uid (\d+) \(pid (\d+)\) dropped: (\d+) over its rate limit \(200 a second, burst 1000\), (\d+) longer than 8192 bytes, (\d+) by the sender$/;

test('a flood from one uid: bounded in messages, text and mails; each loss counted and said (how many, from whom)', async (tc) => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  const out = join(tempDir(), 'mail');
  const strerr = await startStrerr(d, logdir, ['--mailer', fakeMailer(tempDir(), out)]);
  // 3,000 messages that expand to 32 KB each (32 %999d), then 3,000 short ones, flagged error|notify.
  const t0 = performance.now();
  const r = await runAsNobody(FLOOD_SCRIPT, [join(d.dir, 'submit'), '3000', '3000', String(SL_ERROR | SL_NOTIFY)]);
  assert.equal(r.code, 0, r.stderr);
  const sentIn = performance.now() - t0;
  const pid = Number(r.stdout);
  await waitFor('the driver to take every datagram', async () => (await d.stats()).records === 6000, { timeout: 30_000 });
  // What went through, and the driver's own lines about the rest.
  const tally = (): { accepted: number; said: number; notices: string[] } => {
    const ls = errorLog(logdir).map(parseErrLine);
    const notices = ls.filter((l) => l.mid === 44 && l.sid === 0).map((l) => l.text);
    const accepted = ls.filter((l) => l.sid === pid).length;
    const said = notices.reduce((n, t) => n + Number(NOTICE.exec(t)?.[1] ?? 0), 0);
    return { accepted, said, notices };
  };
  const t = await waitFor('every message logged or said lost', () => {
    const x = tally();
    return x.accepted + x.said === 6000 ? x : null;
  });
  for (const n of t.notices) {
    const m = NOTICE.exec(n);
    assert.ok(m, n);
    assert.equal(Number(m[2]), 65534);
    assert.equal(Number(m[3]), pid);
  }
  const s = (await d.stats()) as unknown as Record<string, number>;
  assert.equal(s.tooLong, 3000, 'every message of 32 KB refused');
  assert.equal(s.rateLimited, 3000 - t.accepted);
  assert.ok(t.accepted >= 1000 && t.accepted < 3000, `${t.accepted} accepted`);
  const bytes = errorLog(logdir).reduce((n, l) => n + l.length + 1, 0);
  assert.ok(bytes < 1 << 20, `${bytes} bytes written`);
  // At most 10 mails a minute while it lasts; the rest in one summary when strerr stops.
  await waitFor('the first mails', () => mails(out).length >= 10);
  assert.equal(mails(out).length, 10);
  await strerr.stop();
  const all = mails(out);
  assert.equal(all.length, 11);
  assert.match(all[10]!, new RegExp(`Subject: STREAMS errors on \\S+: ${t.accepted - 10} more messages\\n`));
  tc.diagnostic(
    `sent 6000 in ${(sentIn / 1000).toFixed(2)} s (process start included); accepted ${t.accepted}, rate-limited ${s.rateLimited}, too long ${s.tooLong}; ${t.notices.length} notice line(s); ${bytes} bytes in the log; ${all.length} mails`,
  );
});

test('text a user sends reaches no terminal or file as C1 controls or bidi overrides (strerr, strtrace)', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  const tr = await startStrtrace(d);
  const evil = 'next\u0085line \u009b2J\u009b31mred \u202eexe.txt \x1b[2J';
  const r = await strlogCmd(d.dir, ['-f', 'error,trace', 'user says %s', evil], { asNobody: true });
  assert.equal(r.code, 0, r.stderr);
  const [line] = await waitErrorLog(logdir, 1);
  const [tline] = await tr.waitLines(1);
  for (const l of [line!, tline!]) {
    assert.doesNotMatch(l, /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\x00-\x08\x0a-\x1f]/, JSON.stringify(l));
    assert.ok(l.endsWith('user says next\\x85line \\x9b2J\\x9b31mred \\u{202e}exe.txt ^[[2J'), JSON.stringify(l));
  }
});

test('an attacker cannot make strlogd answer, with tokens it chose, at an address another user holds by then', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const name = `@strlog-victim-${process.pid}`;
  // The driver reads nothing while the attacker sends from the name and gives it up.
  d.child.kill('SIGSTOP');
  try {
    const r = await runAsNobody(
      `
import { UnixSocket } from '@/src/native.js';
import { encodeData, encodeSubmission } from '@/src/strlog/wire.js';
const [path, name] = process.argv.slice(1);
const s = new UnixSocket();
s.bind(name);
for (let i = 0; i < 5; i++) {
  const rec = encodeSubmission({ iface: 2, flags: 0x10, mid: 0, sid: 0, level: 0, facility: 0, token: 0x41414141 + i }, encodeData('forged %d', [i]));
  if (s.trySend(rec, path) < 0) process.exit(3);
}
s.close();
`,
      [join(d.dir, 'submit'), name],
    );
    assert.equal(r.code, 0, r.stderr);
  } finally {
    d.child.kill('SIGCONT');
  }
  // The name is root's now (another user's, for the attacker).
  const victim = new UnixSocket();
  victim.bind(name);
  atEnd(() => victim.close());
  await waitFor('the five records', async () => (await d.stats()).records === 5);
  // The driver answers STATS after it has handled the datagrams (one event loop).
  assert.equal(victim.recv(64), null, "an answer reached the socket now at the attacker's old address");
});

/** A fake strlogd as nobody in a directory it may write to: it answers every submission and registration with success. */
const FAKE_DRIVER = `
import { createServer } from 'node:net';
import { UnixSocket } from '@/src/native.js';
import { decodeRecord, encodeAck, encodeReply, frame, FrameReader } from '@/src/strlog/wire.js';
const [dir] = process.argv.slice(1);
const ack = (token) => encodeAck({ token, result: 1, iface: 1, flags: 0x10, mid: 1, sid: 1, seq: { error: 0, trace: 0, console: 7 } });
const d = new UnixSocket();
d.bind(dir + '/submit');
d.setReadable(() => {
  for (let g; (g = d.recv()); ) {
    const r = decodeRecord(g.data, 0);
    if (r.ok && g.path) try { d.trySend(ack(r.sub.token), g.path); } catch {}
  }
});
createServer((c) => {
  const fr = new FrameReader(1 << 20);
  c.on('error', () => {});
  c.on('data', (b) => {
    for (const f of fr.push(b)) {
      if (f.type === 1) c.write(encodeReply(0));
      else if (f.type === 3) { const r = decodeRecord(f.body, 0); if (r.ok) c.write(frame(0x84, ack(r.sub.token))); }
    }
  });
}).listen(dir + '/logger', () => process.stdout.write('ready\\n'));
`;

test('clients take answers only from the real strlogd: not from sockets another user planted in the runtime directory', async () => {
  const dir = tempDir(0o1777);
  const fake = spawnAsNobody(FAKE_DRIVER, [dir]);
  await waitFor('the fake driver', () => fake.stdout.includes('ready'));
  const r = await strlogCmd(dir, ['-f', 'console', 'for the driver only']);
  assert.equal(r.code, 3, `strlog took the fake's answer: ${r.code} ${r.stderr}`);
  assert.match(r.stderr, /uid 65534.*not strlogd/);
  const e = await node(STRERR, ['--rundir', dir, '-d', tempDir()]);
  assert.equal(e.code, 3, `strerr registered with the fake: ${e.code} ${e.stderr}`);
  assert.match(e.stderr, /uid 65534.*not strlogd/);
  await fake.stop();
});

test("strlogd's sockets are born with their mode: no chmod by name (strace), checked through an O_PATH descriptor", async () => {
  const dir = tempDir(0o755);
  const out = join(tempDir(), 'trace');
  const p = spawnProc('strace', ['-f', '-qq', '-o', out, '-e', 'trace=chmod,fchmodat,chown,fchownat,lchown', process.execPath, STRLOGD_BIN, '-f', '-n', '-d', dir]);
  await waitFor('strlogd under strace', async () => {
    if (p.child.exitCode !== null) throw new Error(`strace exited: ${p.stderr}`);
    return driverStats(dir).then(
      () => true,
      () => false,
    );
  });
  for (const name of ['submit', 'logger']) assert.equal(statSync(join(dir, name)).mode & 0o777, 0o666, name);
  // strlogd itself (strace would detach and leave it running): its pid is in its lock file.
  process.kill(Number(readFileSync(join(dir, 'strlogd.pid'), 'utf8')), 'SIGTERM');
  await p.exit;
  const calls = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => /submit|logger/.test(l));
  assert.deepEqual(calls, [], 'no chmod or chown by name');
});

test("one uid holds at most 16 connections to DIR/logger; root's logger still registers", async () => {
  const d = await Driver.start({ args: ['-n'] });
  const r = await runAsNobody(
    `
import { createConnection } from 'node:net';
const [path] = process.argv.slice(1);
// 40 connections; wait (10 s at most) until the driver closed all but 16.
let closed = 0;
let done;
const enough = new Promise((r) => (done = r));
const socks = [];
for (let i = 0; i < 40; i++) {
  const s = createConnection(path);
  s.on('error', () => {});
  s.on('close', () => ++closed >= 24 && done());
  socks.push(s);
}
await Promise.race([enough, new Promise((r) => setTimeout(r, 10_000))]);
process.stdout.write(String(closed));
for (const s of socks) s.destroy();
`,
    [join(d.dir, 'logger')],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(Number(r.stdout), 24, 'closed: all but 16');
  assert.equal(((await d.stats()) as unknown as Record<string, number>).connectionsRefused, 24);
  await d.open('error');
});
