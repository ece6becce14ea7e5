// strerr and strclean with a real strlogd: the line format, the file of the
// message's day (across midnight, by message time), mail for N messages
// only, a missing mailer, one strerr at a time, files never followed, and
// strclean's options, exit codes and own message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SL_CONSOLE, SL_ERROR, SL_FATAL, SL_NOTIFY, SL_TRACE } from '../src/strlog/index.js';
import { STRCLEAN, STRERR } from '../src/strlog/exitcodes.js';
import {
  Driver,
  node,
  parseErrLine,
  sleep,
  startStrerr,
  startStrtrace,
  STRCLEAN as STRCLEAN_BIN,
  STRERR as STRERR_BIN,
  strlogCmd,
  tempDir,
  waitFor,
  waitErrorLog,
  waitLines,
} from './helpers/strlog.js';

const two = (n: number): string => String(n).padStart(2, '0');
const fileOf = (ms: number): string => {
  const d = new Date(ms);
  return `error.${two(d.getMonth() + 1)}-${two(d.getDate())}`;
};
const today = (logdir: string): string => join(logdir, fileOf(Date.now()));

/** A fake sendmail: appends its arguments and its input to `out`. */
function fakeMailer(dir: string, name: string, out: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n{ echo "ARGS: $*"; cat; echo "--END--"; } >> '${out}'\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The mails the fake mailer wrote completely (one may be half written as we look). */
const mails = (out: string): string[] => {
  if (!existsSync(out)) return [];
  const parts = readFileSync(out, 'utf8').split('--END--\n');
  parts.pop(); // what follows the last end mark: nothing, or a mail still being written
  return parts;
};

test('strerr: one line per message, SEQ TIME TICKS FLAGS MID SID TEXT', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = join(tempDir(), 'new', 'streams'); // created, parents too
  const out = join(tempDir(), 'mail');
  await startStrerr(d, logdir, ['--mailer', fakeMailer(tempDir(), 'sm', out)]);
  await startStrtrace(d, ['7', 'all', 'all']);
  const c = d.client();
  const t0 = Date.now();
  const boot0 = Number(process.hrtime.bigint() / 10_000_000n);
  await c.strlogWait(7, 1, 0, SL_ERROR | SL_FATAL, 'disk %s: %d bad blocks at %#x', 'sda', 12, 4096);
  await c.strlogWait(-1, -32768, 0, SL_ERROR | SL_TRACE, 'negative ids, traced? %s', 'no');
  await c.strlogWait(7, 32767, 5, SL_ERROR | SL_TRACE | SL_NOTIFY | SL_CONSOLE, 'all letters %c%c', 70, 'N');
  await c.strlogWait(7, 2, 0, SL_ERROR, 'line\nbreak and \x1b escape\n');
  const ls = await waitErrorLog(logdir, 4);
  for (const l of ls) assert.match(l, /^\d{6} \d\d:\d\d:\d\d [0-9a-f]{8} [F.][N.][T.] -?\d+ -?\d+ /);
  const p = ls.map(parseErrLine);
  assert.deepEqual(
    p.map((x) => [x.seq, x.flags, x.mid, x.sid, x.text]),
    [
      [1, 'F..', 7, 1, 'disk sda: 12 bad blocks at 0x1000'],
      [2, '...', -1, -32768, 'negative ids, traced? no'],
      [3, '.NT', 7, 32767, 'all letters FN'],
      [4, '...', 7, 2, 'line^Jbreak and ^[ escape'],
    ],
  );
  const now = new Date(t0);
  const [h, m] = p[0]!.time.split(':').map(Number);
  const off = (h! * 60 + m! - (now.getHours() * 60 + now.getMinutes()) + 1440) % 1440;
  assert.ok(off <= 1 || off === 1439, `time ${p[0]!.time}`);
  const ticks = p.map((x) => parseInt(x.ticks, 16));
  assert.ok(
    ticks.every((t, i) => i === 0 || t >= ticks[i - 1]!),
    'ticks never go back',
  );
  const boot1 = Number(process.hrtime.bigint() / 10_000_000n);
  assert.ok(ticks[0]! >= boot0 % 2 ** 32 && ticks.at(-1)! <= boot1 % 2 ** 32, 'ticks since boot (100 per second), as lbolt');
  // Exactly the N message was mailed, to root, sendmail style.
  await waitFor('one mail', () => mails(out).length === 1);
  await sleep(200); // a second mail, for another message, would have come
  assert.equal(mails(out).length, 1);
  const [mail] = mails(out);
  assert.match(mail!, /^ARGS: root\nTo: root\nSubject: STREAMS error 000003 on \S+ \(mid 7 sid 32767\)\n\n000003 \d\d:\d\d:\d\d [0-9a-f]{8} \.NT 7 32767 all letters FN\n/);
});

test("strerr: the file of each message is chosen by its own time, across midnight, whatever strerr's clock says", async () => {
  // The driver's clock is moved (STRLOGD_CLOCK_OFFSET) so that its midnight,
  // two days from now, comes a few seconds after the start; strerr is
  // stopped across that midnight, so it writes both messages after it.
  for (const margin of [6000, 15000]) {
    const now = Date.now();
    const base = new Date(now);
    const midnight = new Date(base.getFullYear(), base.getMonth(), base.getDate() + 3).getTime();
    const offset = midnight - (now + margin);
    const d = await Driver.start({ args: ['-n'], env: { STRLOGD_CLOCK_OFFSET: String(offset / 1000) } });
    const logdir = tempDir();
    const strerr = await startStrerr(d, logdir);
    strerr.child.kill('SIGSTOP');
    const c = d.client();
    const a = await c.strlogWait(1, 1, 0, SL_ERROR, 'before midnight');
    if (Date.now() + offset > midnight - 500) {
      // Too slow a start to be sure A came before midnight: again, with more time.
      await strerr.stop('SIGKILL');
      await d.stop();
      continue;
    }
    assert.equal(a?.result, 1);
    await waitFor("the driver's midnight", () => Date.now() + offset > midnight + 200, { timeout: margin + 5000 });
    await c.strlogWait(1, 1, 0, SL_ERROR, 'after midnight');
    strerr.child.kill('SIGCONT');
    const before = join(logdir, fileOf(midnight - 1000));
    const after = join(logdir, fileOf(midnight + 1000));
    const [la] = await waitLines(before, 1);
    const [lb] = await waitLines(after, 1);
    assert.deepEqual([parseErrLine(la!).text, parseErrLine(la!).time, parseErrLine(la!).seq], ['before midnight', parseErrLine(la!).time, 1]);
    assert.match(parseErrLine(la!).time, /^23:59:5\d$/);
    assert.match(parseErrLine(lb!).time, /^00:00:\d\d$/);
    assert.deepEqual([parseErrLine(lb!).text, parseErrLine(lb!).seq], ['after midnight', 2]);
    assert.deepEqual(readdirSync(logdir).sort(), [fileOf(midnight - 1000), fileOf(midnight + 1000)].sort(), "nothing in today's file");
    return;
  }
  assert.fail("the machine was too slow to send a message before the driver's midnight");
});

test('strerr: only one at a time (ERROR: error logger already exists, status 1), also as a daemon', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  const r = await node(STRERR_BIN, ['--rundir', d.dir, '-d', logdir]);
  assert.deepEqual([r.code, r.stderr, r.stdout], [1, 'ERROR: error logger already exists\n', '']);
  const r2 = await node(STRERR_BIN, ['--rundir', d.dir, '-d', logdir, '--daemon']);
  assert.deepEqual([r2.code, r2.stderr], [1, 'ERROR: error logger already exists\n']);
});

test('strerr --daemon: returns once registered, logs in the background', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  const r = await node(STRERR_BIN, ['--rundir', d.dir, '-d', logdir, '--daemon'], { env: { PLOG_SYSLOG_SOCKET: join(d.dir, 'none') } });
  assert.deepEqual([r.code, r.stderr], [0, '']);
  const s = await d.stats();
  const strerr = s.loggers.find((l) => l.role === 'error');
  assert.ok(strerr, 'registered before the launcher returned');
  assert.notEqual(strerr.pid, r.pid);
  try {
    assert.equal((await strlogCmd(d.dir, ['from the shell'])).code, 0);
    assert.equal(parseErrLine((await waitErrorLog(logdir, 1))[0]!).text, 'from the shell');
  } finally {
    process.kill(strerr.pid, 'SIGTERM');
  }
  await waitFor('the daemon gone', async () => !(await d.stats()).loggers.length);
});

test('strerr: a missing mailer is reported once and every line is kept; a mail-style mailer gets -s', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  const strerr = await startStrerr(d, logdir, ['--mailer', '/nonexistent/sendmail', '-a', 'ops']);
  const c = d.client();
  for (let i = 1; i <= 3; i++) await c.strlogWait(1, 1, 0, SL_ERROR | SL_NOTIFY, 'notify %d', i);
  const ls = await waitErrorLog(logdir, 3);
  assert.deepEqual(
    ls.map((l) => parseErrLine(l).text),
    ['notify 1', 'notify 2', 'notify 3'],
  );
  await waitFor('the report', () => strerr.stderr.includes('cannot be run'));
  await c.strlogWait(1, 1, 0, SL_ERROR | SL_NOTIFY, 'notify 4');
  await waitErrorLog(logdir, 4);
  await sleep(200); // a second report, for notify 4, would have come
  assert.equal(strerr.stderr.match(/mailer/g)?.length, 1, strerr.stderr);
  assert.match(strerr.stderr, /strerr\[\d+\]: mailer \/nonexistent\/sendmail cannot be run \(ENOENT\): N messages are not mailed to ops; they are kept in the log\n/);
  await strerr.stop();

  const out = join(tempDir(), 'mail');
  const mailDir = tempDir();
  await startStrerr(d, logdir, ['--mailer', `${fakeMailer(mailDir, 'mail', out)} -r strerr`, '-a', 'ops']);
  await c.strlogWait(1, 1, 0, SL_ERROR, 'not mailed');
  await c.strlogWait(1, 1, 0, SL_ERROR | SL_NOTIFY | SL_FATAL, 'mailed %s', 'once');
  await waitFor('a mail', () => mails(out).length === 1);
  assert.match(mails(out)[0]!, /^ARGS: -r strerr -s STREAMS error 000006 on \S+ \(mid 1 sid 1\) ops\n000006 \d\d:\d\d:\d\d [0-9a-f]{8} FN\. 1 1 mailed once\n/);
});

test("strerr: nothing planted at a log's name is written to (symlink, hard link)", async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  const victim = join(tempDir(), 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, today(logdir));
  const strerr = await startStrerr(d, logdir);
  const c = d.client();
  await c.strlogWait(1, 1, 0, SL_ERROR, 'must not land in the victim');
  await waitFor('the report', () => strerr.stderr.includes('cannot use'));
  assert.match(strerr.stderr, /cannot use \S+error\.\d\d-\d\d: a symbolic link \(not followed\); this day's messages go to \S+error\.\d\d-\d\d\.1\n/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  await strerr.stop();
  // A hard link to someone's file.
  const logdir2 = tempDir();
  linkSync(victim, today(logdir2));
  const s2 = await startStrerr(d, logdir2);
  await c.strlogWait(1, 1, 0, SL_ERROR, 'nor through a hard link');
  await waitFor('the report', () => s2.stderr.includes('other links'));
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('strerr: exit codes and messages (usage, no driver, log directory, driver gone, --help, --version)', async () => {
  let r = await node(STRERR_BIN, ['-x']);
  assert.equal(r.code, STRERR.USAGE.code);
  assert.match(r.stderr, /Try 'strerr --help'/);
  r = await node(STRERR_BIN, ['-a', '', '-d', tempDir()]);
  assert.equal(r.code, STRERR.USAGE.code);
  r = await node(STRERR_BIN, ['extra']);
  assert.equal(r.code, STRERR.USAGE.code);
  r = await node(STRERR_BIN, ['--rundir', tempDir(), '-d', tempDir()]);
  assert.equal(r.code, STRERR.NO_DRIVER.code);
  assert.match(r.stderr, /^strerr: no strlogd in \/tmp\/sl-\w+: \/tmp\/sl-\w+\/logger does not exist \(is strlogd running\?\)$/m);
  const file = join(tempDir(), 'file');
  writeFileSync(file, '');
  r = await node(STRERR_BIN, ['-d', file]);
  assert.equal(r.code, STRERR.LOGDIR.code);
  assert.match(r.stderr, /cannot use the log directory/);
  r = await node(STRERR_BIN, ['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /SEQ TIME TICKS FLAGS MID SID TEXT/);
  r = await node(STRERR_BIN, ['--version']);
  assert.match(r.stdout, /^strerr \d+\.\d+\.\d+\n$/);
  const d = await Driver.start({ args: ['-n'] });
  const strerr = await startStrerr(d, tempDir());
  await d.stop();
  const e = await strerr.exit;
  assert.equal(e.code, STRERR.DRIVER_GONE.code);
  assert.match(strerr.stderr, /strlogd closed the connection/);
});

test('strclean: removes error.* older than DAYS, logs (and mails) its own message first', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  const out = join(tempDir(), 'mail');
  await startStrerr(d, logdir, ['--mailer', fakeMailer(tempDir(), 'sm', out)]);
  const day = 86_400;
  const now = Date.now() / 1000;
  const files: [string, number][] = [
    ['error.x1', now - 3 * day - 3600], // older than 3 days: removed
    ['error.x2', now - 3 * day + 3600], // not yet
    ['error.x3', now - 10 * day],
    ['other.x1', now - 10 * day], // not error.*
  ];
  for (const [name, t] of files) {
    writeFileSync(join(logdir, name), 'x\n');
    utimesSync(join(logdir, name), t, t);
  }
  mkdirSync(join(logdir, 'error.dir'));
  utimesSync(join(logdir, 'error.dir'), now - 10 * day, now - 10 * day);
  const r = await node(STRCLEAN_BIN, ['--rundir', d.dir, '-d', logdir]);
  assert.deepEqual([r.code, r.stderr], [0, '']);
  // Left: the young one, the directory, the other file and strerr's own log.
  const left = readdirSync(logdir)
    .filter((f) => !/^error\.\d\d-\d\d$/.test(f))
    .sort();
  assert.deepEqual(left, ['error.dir', 'error.x2', 'other.x1']);
  const [line] = await waitErrorLog(logdir, 1);
  const p = parseErrLine(line!);
  assert.deepEqual([p.flags, p.mid, p.sid, p.text], ['.N.', 44, r.pid, 'strclean - removing log files more than 3 days old']);
  await waitFor('the mail', () => mails(out).length === 1);
  assert.match(mails(out)[0]!, /strclean - removing log files more than 3 days old/);
  // -a 5: only what is older than 5 days.
  const r5 = await node(STRCLEAN_BIN, ['--rundir', d.dir, '-d', logdir, '-a', '5']);
  assert.equal(r5.code, 0);
  assert.ok(existsSync(join(logdir, 'error.x2')));
  assert.equal(parseErrLine((await waitErrorLog(logdir, 2))[1]!).text, 'strclean - removing log files more than 5 days old');
});

test('strclean: exit codes 1 usage, 2 age below 1, 3 no directory, 4 cannot access; cleans without a driver', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  const cases: [string[], number, RegExp][] = [
    [['-a', '0'], STRCLEAN.AGE.code, /at least 1 day, not 0/],
    [['-a', '-3'], STRCLEAN.AGE.code, /at least 1 day, not -3/],
    [['-a', 'x'], STRCLEAN.USAGE.code, /-a takes a number of days/],
    [['-q'], STRCLEAN.USAGE.code, /Try 'strclean --help'/],
    [['-d', join(logdir, 'nosuch')], STRCLEAN.NOT_DIR.code, /no such directory/],
  ];
  const file = join(tempDir(), 'f');
  writeFileSync(file, '');
  cases.push([['-d', file], STRCLEAN.NOT_DIR.code, /is not a directory/]);
  for (const [args, code, re] of cases) {
    const r = await node(STRCLEAN_BIN, ['--rundir', d.dir, ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  // None of them logged anything (strlog-conformance: strclean checks first).
  // A directory it cannot read (as nobody).
  const locked = tempDir(0o700);
  const r = await node(STRCLEAN_BIN, ['--rundir', d.dir, '-d', locked], { asNobody: true });
  assert.equal(r.code, STRCLEAN.ACCESS.code, r.stderr);
  // No driver: it says so and cleans anyway.
  const solo = tempDir();
  writeFileSync(join(solo, 'error.x1'), '');
  utimesSync(join(solo, 'error.x1'), 0, 0);
  const r2 = await node(STRCLEAN_BIN, ['--rundir', tempDir(), '-d', solo, '-a', '1']);
  assert.equal(r2.code, 0);
  assert.match(r2.stderr, /could not log to strlogd .*cleaning anyway/);
  assert.deepEqual(readdirSync(solo), []);
  const h = await node(STRCLEAN_BIN, ['-h']);
  assert.equal(h.code, 0);
});
