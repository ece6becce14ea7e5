// plog report (src/plog/readers/report.ts): the least-squares fit, the statistics
// of each figure, the leak rule on shapes that are and are not leaks, the
// text and JSON forms, and the command's options and exit codes.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLog } from '../src/plog/log/logread.js';
import type { Log } from '../src/plog/log/sample.js';
import { buildReport, fitLine, formatReport, LEAK_RULE, reportJson } from '../src/plog/readers/report.js';
import { READER } from '../src/plog/readers/exitcodes.js';
import { formatSize } from '../src/plog/log/logline.js';
import { parseSize } from '../src/plog/log/lineparse.js';
import { series, textLog, type FixSample } from './helpers/logs.js';
import { plog as runPlog, type RunResult } from './helpers/plog.js';

const plog = (args: string[]): Promise<RunResult> => runPlog(args, { env: { NO_COLOR: '' } });

const tmp = mkdtempSync('/tmp/plog-report-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const START = new Date(2024, 4, 6, 14, 0, 0);
/** Bytes as a text log gives them back for a size in kB (MB and GB forms are rounded). */
const asLogged = (kb: number): number => parseSize(formatSize(kb)) * 1024;

/** A log with RSS (kB) from a function of the minute, one sample every stepS seconds for minutes. */
function logOf(minutes: number, stepS: number, rssKb: (min: number) => number, over: (min: number) => Partial<FixSample> = () => ({})): Log {
  const n = Math.floor((minutes * 60) / stepS) + 1;
  const s = series(
    START,
    stepS * 1000,
    n,
    (i) => rssKb((i * stepS) / 60),
    (i) => ({ pssKb: rssKb((i * stepS) / 60) * 0.9, ...over((i * stepS) / 60) }),
  );
  return parseLog(textLog('/usr/bin/app --serve', s), 'app.1234', { year: 2024 });
}

/** Deterministic noise in [-1, 1]. */
const noise = (x: number): number => Math.sin(x * 12.9898) * 0.5 + Math.sin(x * 78.233) * 0.5;

describe('fitLine', () => {
  test('a straight line: its slope per hour, r² 1', () => {
    const t = [0, 1, 2, 3].map((h) => h * 3_600_000);
    const f = fitLine(t, [10, 20, 30, 40])!;
    assert.equal(f.slopePerHour, 10);
    assert.equal(f.intercept, 10);
    assert.equal(f.r2, 1);
    assert.equal(f.n, 4);
  });
  test('flat: slope 0, r² null; one point or no span: no fit', () => {
    const f = fitLine([0, 60_000, 120_000], [5, 5, 5])!;
    assert.equal(f.slopePerHour, 0);
    assert.equal(f.r2, null);
    assert.equal(fitLine([0], [1]), null);
    assert.equal(fitLine([5, 5], [1, 2]), null);
  });
  test('a single step half way fits at r² 0.75 at most (below the rule)', () => {
    const t = Array.from({ length: 1000 }, (_, i) => i * 1000);
    const f = fitLine(
      t,
      t.map((_, i) => (i < 500 ? 0 : 1)),
    )!;
    assert.ok(f.r2! < LEAK_RULE.minR2 && f.r2! > 0.74, String(f.r2));
  });
});

describe('statistics', () => {
  test('first, last, min, peak and when, mean, growth per hour of each figure; CPU', () => {
    const log = logOf(60, 60, (m) => 100_000 + m * 1000); // +1000 kB a minute: 60000 kB/h
    const r = buildReport(log);
    const rss = r.figures.find((f) => f.key === 'rss')!;
    assert.equal(rss.n, 61);
    assert.equal(rss.first, asLogged(100_000));
    assert.equal(rss.peak, asLogged(160_000));
    assert.equal(rss.min, asLogged(100_000));
    assert.equal(rss.last, asLogged(160_000));
    assert.equal(rss.peakTimeMs, START.getTime() + 3_600_000);
    assert.ok(Math.abs(rss.fit!.slopePerHour / 1024 - 60_000) < 200, String(rss.fit!.slopePerHour / 1024)); // MB rounding
    assert.ok(rss.fit!.r2! > 0.999);
    assert.equal(r.samples, 61);
    assert.equal(r.spanMs, 3_600_000);
    assert.equal(r.intervalMs, 60_000);
    assert.ok(r.cpu.mean! > 4 && r.cpu.mean! < 6);
    assert.deepEqual(
      r.figures.map((f) => f.key),
      ['rss', 'pss', 'swap', 'virtual', 'data', 'privWrite'],
    );
  });

  test("'-' values do not count; a figure with none is left out", () => {
    const log = logOf(
      20,
      60,
      () => 5000,
      () => ({ pssKb: null, swapKb: null }),
    );
    const r = buildReport(log);
    assert.equal(
      r.figures.find((f) => f.key === 'pss'),
      undefined,
    );
    assert.equal(
      r.figures.find((f) => f.key === 'swap'),
      undefined,
    );
    assert.ok(r.figures.find((f) => f.key === 'rss'));
  });
});

describe('the leak rule', () => {
  test('steady growth over an hour: LEAK SUSPECT (RSS and PSS)', () => {
    const r = buildReport(logOf(60, 30, (m) => 200_000 + m * 300 + 2500 * noise(m)));
    assert.equal(r.verdict.kind, 'leak-suspect');
    assert.deepEqual(r.verdict.figures, ['rss', 'pss']);
    const rss = r.figures.find((f) => f.key === 'rss')!;
    assert.ok(rss.fit!.r2! > 0.8 && rss.fit!.r2! < 0.99, `noisy: r² ${rss.fit!.r2}`);
    assert.match(r.verdict.text, /^LEAK SUSPECT: RSS grows by 1[6-8](\.\d)? MiB\/h \(r² 0\.[89]\d, [\d.]+% of its mean an hour\)/);
  });

  test('flat with noise: no steady growth', () => {
    const r = buildReport(logOf(120, 30, (m) => 200_000 + 3000 * noise(m)));
    assert.equal(r.verdict.kind, 'steady');
    assert.deepEqual(r.verdict.figures, []);
  });

  test('a warm-up that levels off is not a leak, even when the whole fits well', () => {
    // Grows over the first 40 minutes, then flat for 20: r² of the whole is high.
    const r = buildReport(logOf(60, 30, (m) => 100_000 + Math.min(m, 40) * 2000));
    const rss = r.figures.find((f) => f.key === 'rss')!;
    assert.ok(rss.fit!.r2! >= LEAK_RULE.minR2, `whole r² ${rss.fit!.r2}`);
    assert.equal(rss.steady, false);
    assert.equal(r.verdict.kind, 'steady');
  });

  test('a single jump is not a leak', () => {
    const r = buildReport(logOf(60, 30, (m) => (m < 30 ? 100_000 : 180_000)));
    assert.equal(r.verdict.kind, 'steady');
  });

  test('too little growth: under 5 % of the mean, or under 1 MiB, or a crawl under 1 %/h', () => {
    // 3 % over an hour, perfectly straight.
    assert.equal(buildReport(logOf(60, 60, (m) => 100_000 + m * 50)).verdict.kind, 'steady');
    // A small process growing 60 % (600 kB < 1 MiB).
    assert.equal(buildReport(logOf(60, 60, (m) => 1000 + m * 10)).verdict.kind, 'steady');
    // 0.5 %/h over 20 hours: 10 % in all, but a crawl.
    assert.equal(buildReport(logOf(20 * 60, 600, (m) => 1_000_000 + (m / 60) * 5000)).verdict.kind, 'steady');
  });

  test('steady growth in a short log: "grows steadily" but too short to tell', () => {
    const r = buildReport(logOf(5, 5, (m) => 50_000 + m * 4000));
    assert.equal(r.verdict.kind, 'grows-short');
    assert.match(r.verdict.text, /too few to tell a leak from a warm-up: log at least 10 samples over 10 min/);
  });

  test('swap growing while RSS stays flat: a leak suspect in Swap', () => {
    const r = buildReport(
      logOf(
        60,
        60,
        () => 100_000,
        (m) => ({ swapKb: 1000 + m * 500 }),
      ),
    );
    assert.equal(r.verdict.kind, 'leak-suspect');
    assert.deepEqual(r.verdict.figures, ['swap']);
  });

  test('address space alone (Virtual, Data+stack) growing is not a leak verdict', () => {
    const r = buildReport(
      logOf(
        60,
        60,
        () => 100_000,
        (m) => ({ virtKb: 500_000 + m * 5000, dataKb: 200_000 + m * 5000 }),
      ),
    );
    assert.equal(r.figures.find((f) => f.key === 'virtual')!.steady, true);
    assert.equal(r.verdict.kind, 'steady');
  });

  test('no samples: empty', () => {
    const r = buildReport(parseLog(textLog('x', []), 'x', { year: 2024 }));
    assert.equal(r.verdict.kind, 'empty');
  });
});

describe('text and JSON', () => {
  const log = logOf(60, 30, (m) => 200_000 + m * 300);
  const r = buildReport(log);
  test('text: the command, the span, a row per figure, the verdict; ASCII on request', () => {
    const t = formatReport(r, log);
    assert.match(t, /^command: {3}\/usr\/bin\/app --serve$/m);
    assert.match(t, /^samples: {3}121, from 05-06 14:00:00 to 15:00:00 \(1 h\), every 30 s$/m);
    assert.match(t, /^memory +first +last +min +peak +peak at +mean +growth\/h +r² +steady$/m);
    assert.match(t, /^RSS +195 MiB +213 MiB +195 MiB +213 MiB +15:00:00 +204 MiB +\+17\.\d MiB +1\.00 +yes$/m);
    assert.match(t, /^verdict: {3}LEAK SUSPECT/m);
    const a = formatReport(r, log, { ascii: true });
    assert.ok(/^[\x00-\x7f]*$/.test(a), 'ASCII only');
    assert.match(a, / r2 /);
  });
  test('JSON: bytes, epoch ms and ISO 8601 with offset, the verdict', () => {
    const j = reportJson(r) as {
      samples: number;
      start: string;
      start_ms: number;
      memory: { rss: { first_bytes: number; slope_bytes_per_hour: number } };
      verdict: { kind: string };
    };
    assert.equal(j.samples, 121);
    assert.equal(j.start, '2024-05-06T14:00:00+02:00');
    assert.equal(j.start_ms, START.getTime());
    assert.equal(j.memory.rss.first_bytes, asLogged(200_000));
    assert.equal(typeof j.memory.rss.slope_bytes_per_hour, 'number');
    assert.equal(j.verdict.kind, 'leak-suspect');
  });
});

describe('plog report', () => {
  const leak = join(tmp, 'leak.1');
  const flat = join(tmp, 'flat.2');
  writeFileSync(
    leak,
    textLog(
      'leaker',
      series(START, 30_000, 121, (i) => 200_000 + i * 150),
    ),
  );
  writeFileSync(
    flat,
    textLog(
      'steady',
      series(START, 30_000, 121, () => 200_000),
    ),
  );

  test('reports each file; --fail-on-leak exits 19 for a leak suspect, 0 otherwise', async () => {
    const r = await plog(['report', '--year', '2024', leak, flat]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /command: {3}leaker[\s\S]*LEAK SUSPECT[\s\S]*command: {3}steady[\s\S]*no steady memory growth/);
    assert.equal((await plog(['report', '--fail-on-leak', leak])).code, READER.LEAK.code);
    assert.equal((await plog(['report', '--fail-on-leak', flat])).code, 0);
  });

  test('--json: one object a line', async () => {
    const r = await plog(['report', '--json', leak, flat]);
    assert.equal(r.code, 0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { command: string; verdict: { kind: string } });
    assert.deepEqual(
      lines.map((l) => [l.command, l.verdict.kind]),
      [
        ['leaker', 'leak-suspect'],
        ['steady', 'steady'],
      ],
    );
  });

  test('a missing file: reported, the others still done, exit 16; not a log: 17; usage: 11', async () => {
    const r = await plog(['report', join(tmp, 'nope'), flat]);
    assert.equal(r.code, READER.READ.code);
    assert.match(r.stderr, /^plog report: .*nope: No such file or directory$/m);
    assert.match(r.stdout, /command: {3}steady/);
    const notLog = join(tmp, 'notlog');
    writeFileSync(notLog, 'hello\nworld\n');
    assert.equal((await plog(['report', notLog])).code, READER.NOT_A_LOG.code);
    const u = await plog(['report']);
    assert.equal(u.code, READER.USAGE.code);
    assert.match(u.stderr, /Try 'plog report --help'/);
    assert.equal((await plog(['report', '--year', '12', flat])).code, READER.USAGE.code);
  });
});
