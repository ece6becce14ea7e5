// Logs written by plog 0.1.0, the C plogsrvd (test/fixtures/plog-0.1.0/,
// byte for byte as it wrote them): argv[0] as line 1, its own header,
// right-aligned columns, month-day dates with a space-padded hour, Share
// with '%' ('-nan%' for a zombie), Proportion 'n/a', kB below 4096 kB and MB
// above, a '\n' before each line and none at the end, user time only. Every
// reader (show, plot, report, export) reads them and says which columns they
// lack; a line that 0.1.0 garbled is skipped with a warning.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLog } from '../src/plog/log/logread.js';
import { readLog } from '../src/plog/log/readlog.js';
import { parseLogLine010 } from '../src/plog/log/lineparse.js';
import { buildReport } from '../src/plog/readers/report.js';
import { READER } from '../src/plog/readers/exitcodes.js';
import { assertLength, plog } from './helpers/plog.js';

const FIX = new URL('../../test/fixtures/plog-0.1.0/', import.meta.url).pathname;
const tmp = mkdtempSync('/tmp/plog-010-');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** 4 December (the fixtures' day), the year they were written in, as their mtime says. */
const YEAR = 2025;
const D = (h: number, mi: number): number => new Date(YEAR, 11, 4, h, mi).getTime();
const MB = 1024 * 1024;

/** A copy of a fixture (or of text) with the mtime of the day it was written. */
function copy(name: string, text?: string): string {
  const p = join(tmp, `${name}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, text ?? readFileSync(join(FIX, name)));
  const mtime = new Date(YEAR, 11, 4, 5, 23);
  utimesSync(p, mtime, mtime);
  return p;
}

describe('reading them', () => {
  test('threads.log: every line a sample, month-day dates, MB and kB sizes, the last line without its newline', () => {
    const raw = readFileSync(join(FIX, 'threads.log'), 'latin1');
    assert.ok(!raw.endsWith('\n') && raw.includes('\n12-04  5:06'), 'the fixture as 0.1.0 wrote it');
    const log = readLog(copy('threads.log'));
    assert.equal(log.format, 'text');
    assert.equal(log.dialect, 'plog-0.1.0');
    assert.equal(log.command, './threads');
    assert.equal(log.badLineCount, 0);
    assert.equal(log.partialTail, null);
    assertLength(log.samples, 16);
    assert.equal(log.withSeconds, false);
    const t = log.samples.map((s) => s.timeMs);
    assert.equal(t[0], D(5, 6));
    assert.equal(t[1], D(5, 8));
    assert.equal(t[15], D(5, 22));
    const [a, b] = log.samples;
    assert.deepEqual([a.state, a.prio, a.threads, a.minFlt, a.majFlt], ['S', 20, 5, 121, 0]);
    assert.equal(a.virtualBytes, Math.round(34.43 * 1024) * 1024);
    assert.equal(a.residentBytes, 1344 * 1024);
    assert.equal(a.sharePercent, 89.9);
    assert.equal(a.pssBytes, 144 * 1024);
    assert.equal(a.dataBytes, Math.round(32.35 * 1024) * 1024);
    assert.equal(a.privWriteBytes, Math.round(32.35 * 1024) * 1024);
    // no Swap column
    assert.equal(a.swapBytes, null);
    // __Utime__: user time only; CPU% computed from it between lines (25 s in 2 min)
    assert.equal(a.cpuSeconds, 0);
    assert.equal(b.cpuSeconds, 25);
    assert.equal(a.cpuPercent, null);
    assert.equal(b.cpuPercent, 20.8);
    assert.equal(log.samples[15].cpuSeconds, 5 * 60 + 44);
    assert.deepEqual(
      log.lacks.map((x) => x.split(' ')[0]),
      ['CPU%', 'system', 'Swap'],
    );
    assert.ok(log.samples[15].residentBytes < 2 * MB);
  });

  test('zombie.log: Z lines with -nan% Share and n/a Proportion', () => {
    const log = readLog(copy('zombie.log'));
    assert.equal(log.command, 'sleep');
    assertLength(log.samples, 14);
    assert.equal(log.badLineCount, 0);
    const [first, z] = log.samples;
    assert.equal(first.state, 'S');
    assert.equal(first.sharePercent, 94.2);
    assert.equal(first.pssBytes, 140 * 1024);
    assert.equal(z.state, 'Z');
    assert.equal(z.sharePercent, null);
    assert.equal(z.pssBytes, null);
    assert.equal(z.privWriteBytes, 0);
    assert.equal(log.samples[13].timeMs, D(5, 22));
  });

  test('a log that has only its header so far (0.1.0 writes the newline before the next line) is a log, empty', () => {
    const raw = readFileSync(join(FIX, 'zombie.log'), 'latin1');
    const head = raw.slice(0, raw.indexOf('\n12-04'));
    const log = readLog(copy('zombie.log', head));
    assert.equal(log.samples.length, 0);
    assert.equal(log.partialTail, null);
  });

  test('garbled lines (a name with a space and a parenthesis shifts the fields) are skipped, counted, never a crash', () => {
    const raw = readFileSync(join(FIX, 'threads.log'), 'latin1');
    const lines = raw.split('\n');
    const garbled = [
      // stat split at the first ')': the state is a letter of the name, the rest shifted
      '12-04  5:07   b     20         0s      0     34.43MB     1344kB 89.9%      144kB    32.35MB    32.35MB         121       0',
      // the rest of the name as a field of its own: one field too many
      '12-04  5:07   S  prog)     20         0s      5    34.43MB     1344kB 89.9%      144kB    32.35MB    32.35MB         121       0',
      // a number that is not one
      '12-04  5:07   S     20         0s      5    34.43MB     1344kB 89.9%      144kB    32.35MB    32.35MB         1x1       0',
      // a size that is not one
      '12-04  5:07   S     20         0s      5    34.43XB     1344kB 89.9%      144kB    32.35MB    32.35MB         121       0',
    ];
    const text = [...lines.slice(0, 3), ...garbled, ...lines.slice(3)].join('\n');
    const log = readLog(copy('threads.log', text));
    assert.equal(log.samples.length, 16);
    assert.equal(log.badLineCount, 4);
    assert.deepEqual(
      log.badLines.map((b) => b.line),
      [4, 5, 6, 7],
    );
    for (const g of garbled) assert.equal(parseLogLine010(g), null, g);
    // Random damage to every line: never a throw.
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let k = 0; k < 3000; k++) {
      const chars = [...raw];
      for (let j = 0; j < 1 + rnd(6); j++) {
        const at = rnd(chars.length);
        const what = rnd(4);
        if (what === 0) chars.splice(at, 1);
        else if (what === 1) chars.splice(at, 0, ' ()\n%-.:0aZ'[rnd(12)]!);
        else if (what === 2) chars[at] = String.fromCharCode(rnd(256));
        else chars.splice(at, rnd(40));
      }
      const l = parseLog(chars.join(''), '-', { year: YEAR });
      assert.ok(l.samples.length <= 16 + 1);
      buildReport(l);
    }
  });
});

describe('the readers on them', () => {
  test('plog report: the samples, the columns it lacks, no "no sample in it yet"', async () => {
    const p = copy('threads.log');
    const r = await plog(['report', p]);
    assert.equal(r.code, READER.OK.code, r.stderr);
    assert.match(r.stdout, /^samples: {3}16, from 12-04 5:06 to 5:22 \(16 min\), every 1 min/m);
    assert.match(r.stdout, /^command: {3}\.\/threads$/m);
    assert.match(r.stdout, /^note: .*plog 0\.1\.0.*no CPU%.*no system time.*no Swap/m);
    assert.match(r.stdout, /^RSS +1\.31 MiB/m);
    assert.doesNotMatch(r.stdout, /^Swap /m);
    assert.match(
      r.stderr,
      /plog report: .*threads\.log\.\w+: a log of plog 0\.1\.0, which has no CPU% \(computed from __Utime__ between lines\); no system time \(CPU time is user time only, its __Utime__\); no Swap\n/,
    );
    const j = JSON.parse((await plog(['report', '--json', p])).stdout) as { samples: number; lacks: string[] };
    assert.equal(j.samples, 16);
    assert.equal(j.lacks.length, 3);
  });

  test('plog export: every line, Share and Proportion empty where 0.1.0 had none; read back the same', async () => {
    const p = copy('zombie.log');
    const csv = await plog(['export', '--csv', p]);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n');
    assertLength(rows, 15, 'a header and 14 samples');
    assert.match(csv.stderr, /a log of plog 0\.1\.0, which has no CPU%/);
    const cols = rows[0].split(',');
    // A row's values by the header's names.
    const record = (row: string): Record<string, string | undefined> => {
      const values = row.split(',');
      return Object.fromEntries(cols.map((c, i) => [c, values[i]]));
    };
    const z = record(rows[2]);
    assert.equal(z.state, 'Z');
    assert.equal(z.share_percent, '');
    assert.equal(z.pss_bytes, '');
    assert.equal(z.swap_bytes, '');
    assert.equal(z.time, `${YEAR}-12-04T05:10:00+01:00`);
    const first = record(rows[1]);
    assert.equal(first.resident_bytes, String(1788 * 1024));
    assert.equal(first.share_percent, '94.2');
    const back = join(tmp, 'zombie.csv');
    writeFileSync(back, csv.stdout);
    const again = readLog(back);
    assertLength(again.samples, 14);
    assert.equal(again.badLineCount, 0);
    assert.equal(again.samples[1].sharePercent, null);
    const jl = await plog(['export', '--jsonl', copy('threads.log')]);
    assert.equal(jl.stdout.trim().split('\n').length, 16);
  });

  test('plog show and plog plot draw them', async () => {
    const p = copy('threads.log');
    const s = await plog(['show', '-w', '80', p], { env: { NO_COLOR: '1' } });
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /16 samples, 12-04 5:06 to 5:22/);
    assert.match(s.stdout, /^RSS {2}peak 1\.31 MiB/m);
    assert.match(s.stdout, /^CPU% {2}mean \d/m);
    assert.match(s.stdout, /note: a log of plog 0\.1\.0/);
    const svg = join(tmp, 'threads.svg');
    const pl = await plog(['plot', '-o', svg, p]);
    assert.equal(pl.code, 0, pl.stderr);
    assert.match(readFileSync(svg, 'utf8'), /<svg[\s\S]*\.\/threads[\s\S]*<\/svg>/);
    assert.match(pl.stderr, /a log of plog 0\.1\.0/);
  });
});
