// Conformance with SVR4 and illumos, and losses that must show: sequence
// numbers per tracer, losses in the senders, strclean's order and exit
// codes, strtrace's columns and its triplets from standard input, ticks on
// a monotonic clock, strerr on a day whose file is not its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SL_ERROR, SL_TRACE, StrlogClient } from '../src/strlog/index.js';
import { chownSync, linkSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { STRCLEAN, STRTRACE as STRTRACE_CODES } from '../src/strlog/exitcodes.js';
import { faketimeEnv, LIBFAKETIME, NO_FAKETIME } from './helpers/faketime.js';
import {
  atEnd,
  Driver,
  node,
  parseErrLine,
  Proc,
  STRTRACE,
  testEnv,
  parseTraceLine,
  startStrerr,
  startStrtrace,
  STRCLEAN as STRCLEAN_BIN,
  tempDir,
  waitErrorLog,
  waitFor,
  waitLines,
} from './helpers/strlog.js';

test('several tracers: each numbers its own messages, so a gap is a loss (strtrace 1 2 3 beside strtrace all)', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const narrow = await startStrtrace(d, ['1', '2', '3']);
  const all = await startStrtrace(d);
  const c = d.client();
  await c.strlogWait(1, 2, 3, SL_TRACE, 'for both %d', 1);
  await c.strlogWait(9, 9, 0, SL_TRACE | SL_ERROR, 'for all only');
  await c.strlogWait(1, 2, 3, SL_TRACE, 'for both %d', 2);
  const n = (await narrow.waitLines(2)).map(parseTraceLine);
  const a = (await all.waitLines(3)).map(parseTraceLine);
  assert.deepEqual(
    n.map((l) => [l.seq, l.text]),
    [
      [1, 'for both 1'],
      [2, 'for both 2'],
    ],
  );
  assert.deepEqual(
    a.map((l) => [l.seq, l.text]),
    [
      [1, 'for both 1'],
      [2, 'for all only'],
      [3, 'for both 2'],
    ],
  );
  // A tracer that registers later starts at 1.
  const late = await startStrtrace(d, ['9', 'all', 'all']);
  await c.strlogWait(9, 9, 0, SL_TRACE, 'late');
  assert.deepEqual(
    (await late.waitLines(1)).map((l) => parseTraceLine(l).seq),
    [1],
  );
  assert.equal(parseTraceLine((await all.waitLines(4))[3]!).seq, 4);
});

test('losses in a sender reach the loggers with its next message: a line says how many, from whom', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  // A small queue in the process, and a driver that reads nothing for a while.
  const c = new StrlogClient({ rundir: d.dir, queueBytes: 4096 });
  atEnd(() => c.close());
  d.child.kill('SIGSTOP');
  let accepted = 0;
  try {
    for (let i = 0; i < 2000; i++) accepted += c.strlog(5, 6, 0, SL_ERROR, 'burst %d', i);
  } finally {
    d.child.kill('SIGCONT');
  }
  const lost = c.dropped;
  assert.ok(lost > 0 && accepted + lost === 2000, `${accepted} accepted, ${lost} dropped`);
  await c.flush();
  const a = await c.strlogWait(5, 6, 0, SL_ERROR, 'after the burst');
  assert.equal(a?.result, 1);
  const ls = (await waitErrorLog(logdir, accepted + 2)).map(parseErrLine);
  const notice = ls.filter((l) => l.mid === 44 && l.sid === 0);
  assert.equal(notice.length, 1, JSON.stringify(notice));
  assert.equal(notice[0]!.text, `strlogd: ${lost} messages from pid ${process.pid} (uid 0) dropped by the sender before they reached the driver`);
  assert.equal(ls.filter((l) => l.text.startsWith('burst ')).length, accepted);
  assert.equal(ls.at(-1)!.text, 'after the burst');
  // In sequence, no gap: the loss is a line, the messages got no number.
  assert.deepEqual(
    ls.map((l) => l.seq),
    ls.map((_, i) => i + 1),
  );
  assert.equal((await d.stats()).senderLost, lost);
});

test('strclean checks its directory before it logs (and so mails root): 3 for a missing one or a file, 4 for one it cannot use', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  const file = join(tempDir(), 'f');
  writeFileSync(file, '');
  const locked = tempDir(0o700);
  const cases: [string, number, RegExp, boolean][] = [
    [join(logdir, 'nosuch'), STRCLEAN.NOT_DIR.code, /nosuch: no such directory/, false],
    [file, STRCLEAN.NOT_DIR.code, /f is not a directory/, false],
    [locked, STRCLEAN.ACCESS.code, /cannot access the directory .*: permission denied/i, true],
  ];
  for (const [dir, code, re, nobody] of cases) {
    const r = await node(STRCLEAN_BIN, ['--rundir', d.dir, '-d', dir], { asNobody: nobody });
    assert.equal(r.code, code, `${dir}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  // Then one that works: its line is the first strerr got.
  const ok = await node(STRCLEAN_BIN, ['--rundir', d.dir, '-d', tempDir()]);
  assert.equal(ok.code, 0, ok.stderr);
  const ls = (await waitErrorLog(logdir, 1)).map(parseErrLine);
  assert.deepEqual(
    ls.map((l) => [l.seq, l.flags, l.text]),
    [[1, '.N.', 'strclean - removing log files more than 3 days old']],
  );
});

test('strtrace prints the level as %2d, as SVR4 and illumos strace do', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const tr = await startStrtrace(d);
  await startStrerr(d, tempDir());
  const c = d.client();
  await c.strlogWait(1, 2, 3, SL_TRACE | SL_ERROR, 'level three');
  await c.strlogWait(1, 2, 42, SL_TRACE, 'level forty-two');
  const [a, b] = await tr.waitLines(2);
  assert.match(a!, /^000001 \d\d:\d\d:\d\d [0-9a-f]{8}  3 \.\.E 1 2 level three$/);
  assert.match(b!, /^000002 \d\d:\d\d:\d\d [0-9a-f]{8} 42 \.\.\. 1 2 level forty-two$/);
});

/** CLOCK_MONOTONIC (since boot) in ticks of 1/100 s: lbolt's clock. */
const bootTicks = (): number => Number(process.hrtime.bigint() / 10_000_000n);

test('ltime is ticks since boot on a monotonic clock, as lbolt: a step of the wall clock back does not move it', { skip: LIBFAKETIME ? false : NO_FAKETIME }, async () => {
  // strlogd's wall clock follows the offset file (CLOCK_MONOTONIC is left alone).
  const offset = join(tempDir(), 'offset');
  writeFileSync(offset, '+0\n');
  const d = await Driver.start({ args: ['-n'], env: faketimeEnv(offset) });
  const err = await d.open('error');
  const c = d.client();
  const t0 = bootTicks();
  await c.strlogWait(1, 1, 0, SL_ERROR, 'before the step');
  const t1 = bootTicks();
  writeFileSync(offset, '-1h\n');
  await c.strlogWait(1, 1, 0, SL_ERROR, 'after the step');
  const t2 = bootTicks();
  const [a, b] = await err.wait(2);
  assert.ok(a!.ltime >= t0 && a!.ltime <= t1, `ltime ${a!.ltime} is not the boot ticks ${t0}..${t1}`);
  assert.ok(b!.ltime >= a!.ltime && b!.ltime <= t2, `after a step back: ltime ${b!.ltime}, before it ${a!.ltime}, boot ticks ${t2}`);
  // The wall clock did step: ttime an hour back.
  assert.ok(a!.ttime - b!.ttime > 3500, `ttime ${a!.ttime} then ${b!.ttime}`);
});

test('strerr restarted on a day whose file has a second link or another owner: it writes to a new name and says so, losing nothing', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const c = d.client();
  for (const how of ['link', 'owner'] as const) {
    const logdir = tempDir();
    const first = await startStrerr(d, logdir);
    await c.strlogWait(1, 1, 0, SL_ERROR, 'before the restart');
    const [before] = await waitErrorLog(logdir, 1);
    await first.stop();
    const name = readdirSync(logdir).find((f) => /^error\.\d\d-\d\d$/.test(f))!;
    const today = join(logdir, name);
    if (how === 'link') linkSync(today, join(tempDir(), 'elsewhere'));
    else chownSync(today, 65534, 65534);
    const s = await startStrerr(d, logdir);
    for (let i = 1; i <= 3; i++) await c.strlogWait(1, 1, 0, SL_ERROR, 'after the restart %d', i);
    const alt = join(logdir, `${name}.1`);
    const got = await waitLines(alt, 3);
    assert.deepEqual(
      got.map((l) => parseErrLine(l).text),
      ['after the restart 1', 'after the restart 2', 'after the restart 3'],
      how,
    );
    assert.deepEqual(readFileSync(today, 'utf8'), `${before}\n`, `${how}: the day's file is not written to`);
    await waitFor('the report', () => s.stderr.includes(alt));
    assert.match(s.stderr, new RegExp(`cannot use ${today}: (it has other links|owned by uid 65534); this day's messages go to ${alt}`));
    await s.stop();
  }
});

test('strtrace - reads its triplets from standard input, as illumos strace does, then the rest of the command line', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const child = spawn(process.execPath, [STRTRACE, '--rundir', d.dir, '-', '12', 'all', '0'], { stdio: ['pipe', 'pipe', 'pipe'], env: testEnv() });
  const p = new Proc(child);
  child.stdin.end('1 2 3\n\t9 all\n5\n');
  const l = await d.waitLogger(p.pid, 'trace');
  assert.deepEqual(l.ids, [
    { mid: 1, sid: 2, level: 3 },
    { mid: 9, sid: -1, level: 5 },
    { mid: 12, sid: -1, level: 0 },
  ]);
  const c = d.client();
  await c.strlogWait(9, 4, 5, SL_TRACE, 'from stdin');
  assert.match((await p.waitLines(1))[0]!, / 9 4 from stdin$/);
  await p.stop();
  // A malformed triplet on standard input is a usage error, as on the command line.
  const bad = spawn(process.execPath, [STRTRACE, '--rundir', d.dir, '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: testEnv() });
  const b = new Proc(bad);
  bad.stdin.end('1 2 x\n');
  assert.equal((await b.exit).code, STRTRACE_CODES.USAGE.code, b.stderr);
  assert.match(b.stderr, /bad level 'x'/);
});
