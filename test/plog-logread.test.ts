// Reading logs back (src/plog/log/logread.ts, readlog.ts): fixture logs in test/fixtures/logs
// (kB/MB/GB sizes, '-' values, a line without Priv&Write, a damaged line, a
// cut last line, midnight and new year), every cut of a last line, a log
// growing between polls, year and daylight-saving placement, and the
// machine formats read back. Times are checked in Europe/Berlin, a zone
// with an offset and DST.
process.env.TZ = 'Europe/Berlin';

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { parseLog } from '../src/plog/log/logread.js';
import { LogError, LogFollower, readLog } from '../src/plog/log/readlog.js';
import { splitCsv } from '../src/plog/log/fields.js';
import { assignTimes } from '../src/plog/log/logtime.js';
import { parseLogLine } from '../src/plog/log/lineparse.js';
import { toCsv, toJsonl } from '../src/plog/log/export.js';
import { series, textLine, textLog } from './helpers/logs.js';
import { assertLength } from './helpers/assert.js';

const FIX = new URL('../../test/fixtures/logs/', import.meta.url).pathname;
const tmp = mkdtempSync('/tmp/plog-read-');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a fixture with its mtime set (the anchor of the year). */
function fixture(name: string, mtime: Date): string {
  const p = join(tmp, `${name}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, readFileSync(join(FIX, name)));
  utimesSync(p, mtime, mtime);
  return p;
}

const D = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => new Date(y, mo - 1, d, h, mi, s).getTime();
const MB = 1024 * 1024;

describe('text logs', () => {
  test('basic: command, header, kB/MB/GB sizes in bytes, CPU% "-" first, whole-minute times', () => {
    const log = readLog(fixture('basic.plog', new Date(2024, 0, 5, 10, 10, 30)));
    assert.equal(log.format, 'text');
    assert.equal(log.command, '/usr/bin/python3 -u crunch.py --input /data/big\\x20file.csv');
    assert.equal(log.withSeconds, false);
    assert.equal(log.samples.length, 4);
    assert.equal(log.badLineCount, 0);
    assert.equal(log.partialTail, null);
    assert.equal(log.yearSource, 'mtime');
    assertLength(log.samples, 4);
    const [a, b, c, d] = log.samples;
    assert.deepEqual(
      log.samples.map((s) => s.timeMs),
      [D(2024, 1, 5, 9, 7), D(2024, 1, 5, 9, 8), D(2024, 1, 5, 9, 9), D(2024, 1, 5, 10, 10)],
    );
    assert.deepEqual(
      log.samples.map((s) => s.line),
      [3, 4, 5, 6],
    );
    assert.equal(a.cpuPercent, null);
    assert.equal(a.residentBytes, 3000 * 1024);
    assert.equal(a.virtualBytes, Math.round(11.71 * 1024) * 1024);
    assert.equal(b.residentBytes, Math.round(4.88 * 1024) * 1024);
    assert.equal(b.cpuPercent, 12.5);
    assert.equal(b.cpuSeconds, 7);
    assert.equal(c.residentBytes, 1536 * MB);
    assert.equal(c.virtualBytes, 6 * 1024 * MB);
    assert.equal(c.cpuPercent, 250);
    assert.equal(c.cpuSeconds, 157);
    assert.equal(c.majFlt, 3);
    assert.equal(c.swapBytes, 12 * 1024);
    assert.equal(d.residentBytes, 4.5 * 1024 * MB);
    assert.equal(d.pssBytes, Math.round(4.39 * 1024 * 1024) * 1024);
    assert.equal(d.cpuSeconds, 3725);
    assert.equal(d.state, 'R');
    assert.equal(d.prio, 39);
    assert.equal(d.threads, 9);
    assert.equal(d.sharePercent, 25);
  });

  test("'-' values and a line without Priv&Write (short read of maps)", () => {
    const log = readLog(fixture('dashes.plog', new Date(2024, 5, 1, 12, 0, 21)));
    assert.equal(log.command, '[kworker/0:1H]');
    assert.equal(log.withSeconds, true);
    assertLength(log.samples, 3);
    const [a, b, c] = log.samples;
    assert.equal(a.pssBytes, null);
    assert.equal(a.swapBytes, null);
    assert.equal(a.privWriteBytes, null);
    assert.equal(b.privWriteBytes, undefined);
    assert.equal(b.pssBytes, null);
    assert.equal(c.pssBytes, 800 * 1024);
    assert.equal(c.swapBytes, 0);
    assert.equal(c.privWriteBytes, 700 * 1024);
    assert.equal(c.timeMs, D(2024, 6, 1, 12, 0, 20));
  });

  test('a damaged line in the middle is counted and skipped; a cut last line is left out', () => {
    const log = readLog(fixture('damaged.plog', new Date(2024, 1, 28, 8, 0, 41)));
    assert.equal(log.samples.length, 3);
    assert.deepEqual(
      log.samples.map((s) => s.line),
      [3, 4, 6],
    );
    assert.equal(log.badLineCount, 1);
    assertLength(log.badLines, 1);
    assert.equal(log.badLines[0].line, 5);
    assert.match(log.badLines[0].text, /^28-02 8:00:2x/);
    assert.ok(log.partialTail !== null && log.partialTail.startsWith('28-02 8:00:40'));
  });

  test('midnight: the date of each line carries the day over', () => {
    const log = readLog(fixture('midnight.plog', new Date(2024, 2, 15, 0, 0, 31)));
    const t = log.samples.map((s) => s.timeMs);
    assert.deepEqual(
      t,
      [0, 1, 2, 3, 4].map((i) => D(2024, 3, 14, 23, 59, 30) + i * 15000),
    );
  });

  test('new year: 31-12 -> 01-01 starts the next year; the year from the mtime, a later copy, or --year', () => {
    const expect = (y: number): number[] => [0, 1, 2, 3, 4].map((i) => D(y, 12, 31, 23, 58) + i * 60000);
    // mtime just after the last sample.
    assert.deepEqual(
      readLog(fixture('newyear.plog', new Date(2025, 0, 1, 0, 2, 40))).samples.map((s) => s.timeMs),
      expect(2024),
    );
    // A copy made months later: still the latest new year before it.
    assert.deepEqual(
      readLog(fixture('newyear.plog', new Date(2025, 7, 20))).samples.map((s) => s.timeMs),
      expect(2024),
    );
    // mtime a little before the last sample (clock skew): within a day, same year.
    assert.deepEqual(
      readLog(fixture('newyear.plog', new Date(2025, 0, 1, 0, 1))).samples.map((s) => s.timeMs),
      expect(2024),
    );
    // --year: the year of the first sample.
    const y = readLog(fixture('newyear.plog', new Date(2030, 0, 1)), { year: 2019 });
    assert.equal(y.yearSource, 'option');
    assert.deepEqual(
      y.samples.map((s) => s.timeMs),
      expect(2019),
    );
  });

  test('a leap day is placed in a leap year', () => {
    const log = parseLog(textLog('x', [{ t: new Date(2024, 1, 29, 12, 0), rssKb: 100 }], false), '-', { anchorMs: D(2024, 3, 1, 0, 0) });
    assertLength(log.samples, 1);
    assert.equal(log.samples[0].timeMs, D(2024, 2, 29, 12, 0));
  });

  test('daylight saving time: the repeated hour (clocks back) and the missing hour (clocks forward)', () => {
    // 27-10-2024 in Berlin: 3:00 CEST becomes 2:00 CET; samples every 10 min from 1:50 CEST.
    const start = D(2024, 10, 27, 1, 50);
    const back = Array.from({ length: 14 }, (_, i) => ({ t: new Date(start + i * 600_000), rssKb: 100 }));
    const text = textLog('x', back, false);
    assert.match(text, /10-27  2:50[\s\S]*10-27  2:00/); // the wall clock does go back
    const log = parseLog(text, '-', { anchorMs: start + 14 * 600_000 });
    assert.deepEqual(
      log.samples.map((s) => s.timeMs - start),
      back.map((_, i) => i * 600_000),
    );
    // 31-03-2024: 2:00 CET becomes 3:00 CEST.
    const s2 = D(2024, 3, 31, 1, 40);
    const fwd = Array.from({ length: 5 }, (_, i) => ({ t: new Date(s2 + i * 600_000), rssKb: 100 }));
    assert.match(textLog('x', fwd, false), /03-31  1:50[^\n]*\n03-31  3:00/);
    const log2 = parseLog(textLog('x', fwd, false), '-', { anchorMs: s2 + 3_600_000 });
    assert.deepEqual(
      log2.samples.map((s) => s.timeMs - s2),
      fwd.map((_, i) => i * 600_000),
    );
  });

  test('assignTimes: a clock set back a few minutes stays in the same year', () => {
    const recs = ['01-05 9:07', '01-05 9:08', '01-05 9:04', '01-05 9:05'].map((d) => parseLogLine(`${d} S 20 0s - 1 1 0 1kB 1kB 1.0 1kB 0kB 1kB 1kB`)!);
    const t = assignTimes(recs, { year: 2024 });
    assert.deepEqual(t, [D(2024, 1, 5, 9, 7), D(2024, 1, 5, 9, 8), D(2024, 1, 5, 9, 4), D(2024, 1, 5, 9, 5)]);
  });

  test('CRLF line ends are read', () => {
    const text = textLog(
      'x',
      series(new Date(2024, 0, 1, 10, 0), 10_000, 3, () => 500),
    ).replace(/\n/g, '\r\n');
    const log = parseLog(text, '-', { year: 2024 });
    assert.equal(log.samples.length, 3);
    assert.equal(log.command, 'x');
    assert.equal(log.badLineCount, 0);
  });
});

describe('a truncated last line, at every possible cut', () => {
  const samples = series(new Date(2024, 4, 2, 10, 0), 10_000, 3, (i) => 4000 + i * 1500);
  for (const [name, last] of [
    ['with Priv&Write', { t: new Date(2024, 4, 2, 10, 0, 30), rssKb: 1234567, pssKb: 1100000, swapKb: 4321, privKb: 98765 }],
    ['without Priv&Write', { t: new Date(2024, 4, 2, 10, 0, 30), rssKb: 7777, privKb: 'absent' as const }],
  ] as const) {
    test(name, () => {
      const head = textLog('prog --arg', samples);
      const line = textLine(last, true);
      const full = parseLog(head + line, '-', { year: 2024 });
      assert.equal(full.samples.length, 4);
      for (let cut = 0; cut <= line.length; cut++) {
        const log = parseLog(head + line.slice(0, cut), '-', { year: 2024 });
        const got = log.samples.length;
        if (cut === line.length) {
          assert.equal(got, 4, 'the whole line with its newline');
          assert.equal(log.partialTail, null);
        } else if (cut === line.length - 1 && last.privKb !== 'absent') {
          // Without its '\n', a line with all 16 fields is provably whole.
          assert.equal(got, 4, `cut ${cut}: whole but for the newline`);
          assert.deepEqual(log.samples[3], { ...full.samples[3] });
        } else {
          assert.equal(got, 3, `cut at ${cut}: ${JSON.stringify(line.slice(0, cut))}`);
          assert.equal(log.partialTail, cut === 0 ? null : line.slice(0, cut), `cut ${cut}`);
        }
        // Never a wrong value from a cut line.
        assert.deepEqual(log.samples.slice(0, 3), full.samples.slice(0, 3));
        assert.equal(log.badLineCount, 0);
      }
    });
  }
});

describe('files', () => {
  test('missing, a directory, unreadable: LogError read; not a log, empty: not-a-log', () => {
    const err = (f: () => unknown): LogError => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof LogError);
        return e;
      }
      assert.fail('no error');
    };
    let e = err(() => readLog(join(tmp, 'nope')));
    assert.equal(e.kind, 'read');
    assert.match(e.message, /nope: No such file or directory$/);
    const d = join(tmp, 'adir');
    mkdirSync(d);
    e = err(() => readLog(d));
    assert.equal(e.kind, 'read');
    assert.match(e.message, /Is a directory/);
    const other = join(tmp, 'passwd');
    writeFileSync(other, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n');
    assert.equal(err(() => readLog(other)).kind, 'not-a-log');
    const empty = join(tmp, 'empty');
    writeFileSync(empty, '');
    assert.equal(err(() => readLog(empty)).kind, 'not-a-log');
  });

  test('a log just created (command line and header, or half the header) has no samples but is a log', () => {
    const p = join(tmp, 'new.1');
    writeFileSync(p, textLog('sleep 9', []));
    const log = readLog(p);
    assert.equal(log.samples.length, 0);
    assert.equal(log.command, 'sleep 9');
    writeFileSync(p, textLog('sleep 9', []).slice(0, 30));
    assert.equal(readLog(p).samples.length, 0);
  });

  test('a log larger than one read chunk (1 MiB), with a line across the chunk boundary', () => {
    const p = join(tmp, 'big.1');
    const n = 12_000; // ~150 bytes a line: ~1.8 MB
    writeFileSync(
      p,
      textLog(
        'big',
        series(new Date(2024, 0, 1, 0, 0), 1000, n, (i) => 1000 + (i % 3000)),
      ),
    );
    const log = readLog(p, { year: 2024 });
    assert.equal(log.samples.length, n);
    assert.equal(log.badLineCount, 0);
    assert.equal(log.samples.at(-1)!.residentBytes, (1000 + ((n - 1) % 3000)) * 1024);
    assert.ok(log.samples.every((s, i) => s.residentBytes === (1000 + (i % 3000)) * 1024));
  });

  test('LogFollower: appended pieces at any boundary, polled in between, give the same samples', () => {
    const p = join(tmp, 'grow.1');
    const text = textLog(
      'grower',
      series(new Date(2024, 0, 1, 12, 0), 500, 60, (i) => 2000 + 7 * i),
      true,
    );
    writeFileSync(p, '');
    const f = new LogFollower(p, { year: 2024 });
    let pos = 0;
    let seen = 0;
    let step = 1;
    while (pos < text.length) {
      const next = Math.min(text.length, pos + step);
      appendFileSync(p, text.slice(pos, next));
      pos = next;
      step = ((step * 7 + 3) % 97) + 1;
      const { log } = f.poll();
      assert.ok(log.samples.length >= seen, 'never fewer samples');
      seen = log.samples.length;
      assert.equal(log.badLineCount, 0, `no bad line at ${pos}`);
      // Every sample read so far is exactly the one in the full text.
      const whole = parseLog(text, p, { year: 2024 });
      assert.deepEqual(log.samples, whole.samples.slice(0, log.samples.length));
    }
    const { log, changed } = f.poll();
    assert.equal(changed, false);
    assert.equal(log.samples.length, 60);
    // Replaced by a shorter file: read again from the start.
    writeFileSync(
      p,
      textLog(
        'other',
        series(new Date(2024, 0, 1, 13, 0), 500, 2, () => 1),
      ),
    );
    const again = f.poll();
    assert.equal(again.changed, true);
    assert.equal(again.log.command, 'other');
    assert.equal(again.log.samples.length, 2);
  });
});

describe('machine formats read back', () => {
  const text = readFileSync(join(FIX, 'dashes.plog'), 'utf8') + textLine({ t: new Date(2024, 5, 1, 12, 0, 30), rssKb: 5 * 1024 * 1024, cpuPct: 99.9 }, true);
  const log = parseLog(text, 'dashes.plog', { year: 2024 });
  for (const [fmt, gen] of [
    ['csv', toCsv],
    ['jsonl', toJsonl],
  ] as const) {
    test(`${fmt}: the same samples`, () => {
      const back = parseLog([...gen(log)].join(''), `x.${fmt}`);
      assert.equal(back.format, fmt);
      assert.equal(back.badLineCount, 0);
      assert.deepEqual(
        back.samples.map((s) => ({ ...s, line: 0 })),
        log.samples.map((s) => ({ ...s, line: 0, ...(fmt === 'csv' && s.privWriteBytes === undefined ? { privWriteBytes: null } : {}) })),
      );
    });
  }

  test('csv: extra columns are kept; a comment line may carry the command; a cut last row is left out', () => {
    const csv =
      '# command: /bin/app -x\ntime,epoch_ms,state,prio,cpu_seconds,cpu_percent,threads,min_flt,maj_flt,virtual_bytes,resident_bytes,share_percent,pss_bytes,swap_bytes,data_bytes,priv_write_bytes,io_read_bytes,fds\n' +
      '2024-06-01T12:00:00+02:00,1717236000000,S,20,1,,2,10,0,4096,2048,10.0,,,1024,,123,"7"\n' +
      '2024-06-01T12:00:01+02:00,1717236001000,S,20,1,5.0,2,10,0,4096,2048,10.0,1000,0,1024,512,456,8\n' +
      '2024-06-01T12:00:02+02:00,1717236002000,S,20,1,5.0,2,10,0,4096,2048,10.0,1000,0,1024,512,4';
    const back = parseLog(csv, 'x.csv');
    assert.equal(back.format, 'csv');
    assert.equal(back.command, '/bin/app -x');
    assertLength(back.samples, 2);
    assert.deepEqual(back.samples[0].extra, { io_read_bytes: 123, fds: 7 });
    assert.equal(back.samples[0].pssBytes, null);
    assert.equal(back.samples[1].privWriteBytes, 512);
    assert.ok(back.partialTail?.startsWith('2024-06-01T12:00:02'));
  });

  test('jsonl: a cut last line is left out, a whole one without newline kept; a bad line counted', () => {
    const lines = [...toJsonl(log)].join('').split('\n').filter(Boolean);
    const cut = parseLog(lines.join('\n').slice(0, -5), 'x.jsonl');
    assert.equal(cut.samples.length, lines.length - 1);
    assert.ok(cut.partialTail !== null);
    const whole = parseLog(lines.join('\n'), 'x.jsonl');
    assert.equal(whole.samples.length, lines.length);
    const bad = parseLog(`${lines[0]}\n{"time": 1}\n${lines[1]}\n`, 'x.jsonl');
    assert.equal(bad.samples.length, 2);
    assert.equal(bad.badLineCount, 1);
  });

  test('splitCsv: quotes, doubled quotes, empty cells', () => {
    assert.deepEqual(splitCsv('a,"b,c","d""e",,f'), ['a', 'b,c', 'd"e', '', 'f']);
    assert.deepEqual(splitCsv(''), ['']);
    assert.equal(splitCsv('"open'), null);
  });
});
