// The dates of text logs: month-day, as plog 0.1.0 writes them (`12-04  5:06`
// is 4 December), under a header whose `Date   Time` (three spaces, as
// 0.1.0's) says so; the logs of our versions before, day-month under
// `Date Time`, stay readable; a header in the middle of a log (plogsrvd
// --resume taking up a log a version before began) says the order of the
// lines after it.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLog } from '../src/plog/log/logread.js';
import { readLog } from '../src/plog/log/readlog.js';
import { formatHeader } from '../src/plog/log/logline.js';
import { dateOrderOfHeader } from '../src/plog/log/lineparse.js';
import { textLine, textLog } from './helpers/logs.js';
import { lines, plog, Server, spawnSleep, tempDir, waitFor } from './helpers/plog.js';

const tmp = mkdtempSync('/tmp/plog-dates-');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A log of a version before: `Date Time` and day-month dates (`04-12 5:06` on 4 December). */
function oldLog(command: string, dates: Array<[string, string]>): string {
  const line = (d: string, t: string): string =>
    `${d} ${t}${' '.repeat(Math.max(1, 10 - t.length))}S     20   0s       -      1       1         0       400kB     100kB      25.0  90kB       0kB       80kB      70kB\n`;
  return `${command}\nDate Time   State Prio CPU_time CPU%   Threads MinFlt    MajFlt  VirtualSz ResidentSz Share Proportion Swap      Dat+Stck  Priv&Write\n${dates.map(([d, t]) => line(d, t)).join('')}`;
}

const D = (y: number, mo: number, d: number, h: number, mi: number, s = 0, ms = 0): number => new Date(y, mo - 1, d, h, mi, s, ms).getTime();

describe('reading both orders', () => {
  test("the header tells: `Date   Time` month-day (ours now, and plog 0.1.0's), `Date Time` day-month (ours before)", () => {
    assert.deepEqual(dateOrderOfHeader(formatHeader(false)), { dialect: 'plog', order: 'month-day' });
    assert.deepEqual(dateOrderOfHeader(formatHeader('ms')), { dialect: 'plog', order: 'month-day' });
    assert.deepEqual(dateOrderOfHeader('Date Time   State Prio CPU_time CPU%'), { dialect: 'plog', order: 'day-month' });
    assert.deepEqual(dateOrderOfHeader('Date   Time State Prio  __Utime__ Threads VirtualSz ResidentSz Share Proportion Data+Stack Priv&Write MinorFaults MajFlts'), {
      dialect: 'plog-0.1.0',
      order: 'month-day',
    });
    assert.equal(dateOrderOfHeader('12-04  5:06 S 20'), null);
  });

  test('a log of ours before (day-month) and one of now (month-day) give the same times', () => {
    const old = parseLog(
      oldLog('x', [
        ['04-12', '5:06'],
        ['04-12', '5:07'],
        ['13-12', '23:59'],
      ]),
      '-',
      { year: 2025 },
    );
    assert.equal(old.badLineCount, 0);
    assert.deepEqual(
      old.samples.map((s) => s.timeMs),
      [D(2025, 12, 4, 5, 6), D(2025, 12, 4, 5, 7), D(2025, 12, 13, 23, 59)],
    );
    const now = parseLog(
      textLog(
        'x',
        [new Date(2025, 11, 4, 5, 6), new Date(2025, 11, 4, 5, 7), new Date(2025, 11, 13, 23, 59)].map((t) => ({ t, rssKb: 100 })),
        false,
      ),
      '-',
      { year: 2025 },
    );
    assert.match(now.command + '\n' + textLine({ t: new Date(2025, 11, 4, 5, 6), rssKb: 100 }, false), /\n12-04  5:06 S/);
    assert.equal(now.badLineCount, 0);
    assert.deepEqual(
      now.samples.map((s) => s.timeMs),
      old.samples.map((s) => s.timeMs),
    );
  });

  test('a header again in the middle says the order of the lines after it', () => {
    const before = oldLog('x', [
      ['04-12', '5:06'],
      ['04-12', '5:07'],
    ]);
    const after = formatHeader(false) + textLine({ t: new Date(2025, 11, 4, 5, 9), rssKb: 100 }, false) + textLine({ t: new Date(2025, 11, 5, 0, 1), rssKb: 100 }, false);
    const log = parseLog(before + after, '-', { year: 2025 });
    assert.equal(log.badLineCount, 0);
    assert.deepEqual(
      log.samples.map((s) => s.timeMs),
      [D(2025, 12, 4, 5, 6), D(2025, 12, 4, 5, 7), D(2025, 12, 4, 5, 9), D(2025, 12, 5, 0, 1)],
    );
  });

  test('no header (a piece of a log on standard input): month-day', () => {
    const body = [new Date(2025, 11, 4, 5, 6, 1), new Date(2025, 11, 4, 5, 6, 2)].map((t) => textLine({ t, rssKb: 100 }, true)).join('');
    const log = parseLog(`x\n${body}`, '-', { year: 2025 });
    assert.equal(log.badLineCount, 0);
    assert.deepEqual(
      log.samples.map((s) => s.timeMs),
      [D(2025, 12, 4, 5, 6, 1), D(2025, 12, 4, 5, 6, 2)],
    );
  });

  test('milliseconds: samples of one second told apart', () => {
    const head = `x\n${formatHeader('ms')}`;
    const l = (ms: number): string =>
      `12-04  5:06:01.${String(ms).padStart(3, '0')} S     20   0s       -      1       1         0       400kB     100kB      25.0  90kB       0kB       80kB      70kB\n`;
    const log = parseLog(head + l(0) + l(500) + l(999), '-', { year: 2025 });
    assert.equal(log.badLineCount, 0);
    assert.equal(log.withMillis, true);
    assert.deepEqual(
      log.samples.map((s) => s.timeMs - D(2025, 12, 4, 5, 6, 1)),
      [0, 500, 999],
    );
  });
});

test('plogsrvd --resume of a log a version before began (day-month): its header again, then month-day lines; the readers read it in order', async () => {
  const dir = tempDir();
  let srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v'] });
  const child = spawnSleep();
  const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '1s']);
  assert.equal(r.code, 0, r.stderr);
  const log = join(dir, `sleep.${child.pid}`);
  await waitFor('3 samples', () => lines(log).length >= 5);
  srv.signal('SIGTERM');
  assert.equal((await srv.ended()).code, 0);
  // As a version before wrote it: `Date Time`, dates day-month. The same file (inode), rewritten.
  const l = lines(log);
  const ino = lstatSync(log).ino;
  const swapped = l.slice(2).map((x) => x.replace(/^(\d\d)-(\d\d) +(\d+:\S+) +/, (_m, mo: string, d: string, t: string) => `${d}-${mo} ${t}${' '.repeat(Math.max(1, 14 - 6 - t.length))}`));
  const old = [l[0], l[1]!.replace(/^Date {3}Time +/, 'Date Time      '), ...swapped];
  writeFileSync(log, old.join('\n') + '\n');
  assert.equal(lstatSync(log).ino, ino);
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 1 log');
  await waitFor('2 samples more', () => lines(log).length >= old.length + 3);
  await srv.kill();
  const all = lines(log);
  assert.deepEqual(all.slice(0, old.length), old);
  assert.match(all[old.length]!, /^Date {3}Time /, 'the header again before the new lines');
  assert.equal(all.filter((x) => x.startsWith('Date')).length, 2);
  const read = readLog(log);
  assert.equal(read.badLineCount, 0, JSON.stringify(read.badLines));
  assert.equal(read.samples.length, all.length - 3);
  const t = read.samples.map((s) => s.timeMs);
  for (let i = 1; i < t.length; i++) assert.ok(t[i]! >= t[i - 1]!, `sample ${i} before the one before it: ${new Date(t[i]!).toString()}`);
  // Within the last minutes, not months away.
  assert.ok(Date.now() - t[0]! < 600_000 && t.at(-1)! <= Date.now() + 1000, new Date(t[0]!).toString());
  // A second --resume of a log whose header is this version's: no header again.
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 1 log');
  const n = lines(log).length;
  await waitFor('a sample more', () => lines(log).length >= n + 1);
  await srv.kill();
  // The header at its top is still day-month: a header again, harmless, before each resumed part.
  assert.ok(lines(log).filter((x) => x.startsWith('Date')).length >= 2);
});

test('a log of now taken up by --resume: no second header', async () => {
  const dir = tempDir();
  let srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v'] });
  const child = spawnSleep();
  assert.equal((await plog(['-d', dir, '-p', String(child.pid), '-i', '1s'])).code, 0);
  const log = join(dir, `sleep.${child.pid}`);
  await waitFor('2 samples', () => lines(log).length >= 4);
  srv.signal('SIGTERM');
  await srv.ended();
  const n = lines(log).length;
  srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--resume'] });
  await srv.waitOutput('stdout', '--resume: resumed 1 log');
  await waitFor('a sample more', () => lines(log).length >= n + 1);
  await srv.kill();
  assert.equal(lines(log).filter((x) => x.startsWith('Date')).length, 1);
  assert.equal(readFileSync(log, 'utf8').split('\n')[1]?.slice(0, 12), 'Date   Time ');
});

test('plog run -i 500ms: the summary says every 500 ms or so, not every 1 s; the log it keeps has milliseconds', async () => {
  const out = join(tempDir(), 'run.log');
  const r = await plog(['run', '-i', '500ms', '-o', out, '-d', tempDir(), '--', 'sleep', '2.6'], { env: { TMPDIR: tempDir() } });
  assert.equal(r.code, 0, r.stderr);
  const m = /samples: +(\d+) over ([^,]+), every ([^\n]+)\n/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.match(m[3]!, /^\d{3} ms$/, r.stderr);
  const log = readLog(out);
  assert.equal(log.withMillis, true);
  assert.equal(new Set(log.samples.map((s) => s.timeMs)).size, log.samples.length, 'two samples at one time');
});
