// plog show (src/plog/readers/chart-term.ts, src/cli/plog-show.ts): columns of
// time, bars, axes; fitting the width; plain ASCII into a pipe or with
// NO_COLOR, Unicode and colour on a terminal (under script(1)'s pty);
// options, --help and exit codes; -f following a growing log.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { parseLog } from '../src/plog/log/logread.js';
import { buildReport } from '../src/plog/readers/report.js';
import { barChart, columnValues, renderShow, wrap } from '../src/plog/readers/chart-term.js';
import { READER } from '../src/plog/readers/exitcodes.js';
import { series, textLine, textLog } from './helpers/logs.js';
import { hasScript, runOnTerminal } from './helpers/terminal.js';
import { assertLength, plog as runPlog, type RunResult } from './helpers/plog.js';

/** plog with no NO_COLOR or COLUMNS of the caller's, plus env. */
const plog = (args: string[], env: Record<string, string> = {}): Promise<RunResult> => runPlog(args, { env: { NO_COLOR: undefined, COLUMNS: undefined, ...env } });

const PLOG = new URL('../src/cli/plog.js', import.meta.url).pathname;
const FIX = new URL('../../test/fixtures/logs/', import.meta.url).pathname;
const tmp = mkdtempSync('/tmp/plog-show-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const START = new Date(2024, 9, 8, 10, 0, 0);
const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string): string => s.replace(ANSI, '');

function leakLog(n = 240, stepMs = 15_000) {
  const s = series(
    START,
    stepMs,
    n,
    (i) => 80_000 + i * 200,
    (i) => ({ swapKb: i > n / 2 ? (i - n / 2) * 30 : 0 }),
  );
  return parseLog(textLog('/opt/app/bin/server --config /etc/app.conf', s), '/var/local/plog/server.777', { year: 2024 });
}

describe('columns', () => {
  const t0 = START.getTime();
  test('each column a slice of time: the max for memory, the mean for CPU', () => {
    const times = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => t0 + i * 1000);
    const v = [1, 5, 2, 2, 3, 9, 4, 4];
    assert.deepEqual(columnValues(times, v, 4, 'max'), [5, 2, 9, 4]);
    assert.deepEqual(columnValues(times, v, 4, 'mean'), [3, 2, 6, 4]);
  });
  test('fewer samples than columns: the value carries over; across a gap, nothing', () => {
    const times = [0, 10, 20, 100, 110].map((s) => t0 + s * 1000);
    const c = columnValues(times, [1, 2, 3, 4, 5], 22, 'max');
    assert.equal(c[0], 1);
    assert.equal(c[1], 1); // carried
    assert.equal(c[10], null); // 20..100 s is a gap (more than 3 intervals of 10 s)
    assert.equal(c[21], 5);
  });
  test("null values ('-') are skipped; one sample fills the chart", () => {
    assert.deepEqual(columnValues([t0, t0 + 1000], [null, null], 3, 'max'), [null, null, null]);
    assert.deepEqual(columnValues([t0], [7], 3, 'mean'), [7, 7, 7]);
  });
  test('wrap', () => {
    assert.deepEqual(wrap('aa bb cc dd', 5, ' '), ['aa bb', ' cc', ' dd']);
  });
});

describe('barChart', () => {
  test('ASCII: labels at the top and middle, bars of # from 0, a time axis with labels', () => {
    const times = Array.from({ length: 60 }, (_, i) => START.getTime() + i * 60_000);
    const values = times.map((_, i) => i);
    const lines = barChart({ times, values, agg: 'max', label: (v) => String(v), ticks: [0, 30, 60], colorCode: 34, withSeconds: false }, 70, 4, false, false);
    assertLength(lines, 6);
    assert.match(lines[0], /^60 \+/);
    assert.match(lines[2], /^30 \+/);
    assert.match(lines[4], /^ {3}\+[-+]{66}$/);
    assert.match(lines[5], /10:00 .*10:10 .*10:20/);
    assert.ok(lines[3].endsWith('#'), 'the bottom row is full at the end');
    assert.ok(
      lines.every((l) => l.length <= 70),
      lines.join('\n'),
    );
  });
});

describe('renderShow', () => {
  const log = leakLog();
  const rep = buildReport(log);
  test('ASCII: 7-bit, no escapes, every line within the width, RSS/PSS/Swap/CPU% and the verdict', () => {
    for (const width of [30, 50, 80, 132, 250]) {
      const out = renderShow(log, rep, { width, height: 6, unicode: false, color: false });
      assert.ok(/^[\x20-\x7e\n]*$/.test(out), `width ${width}: plain ASCII`);
      for (const line of out.split('\n')) assert.ok(line.length <= width, `width ${width}: ${JSON.stringify(line)}`);
      if (width >= 80) {
        assert.match(out, /^RSS {2}peak 125 MiB at 10:59:45, last 125 MiB, \+46\.\d MiB\/h \(r2 1\.00\)$/m);
        assert.match(out, /^PSS {2}peak/m);
        assert.match(out, /^Swap {2}peak/m);
        assert.match(out, /^CPU% {2}mean/m);
        assert.match(out, /^verdict: LEAK SUSPECT/m);
        assert.match(out, /10:00 .* 10:30 /);
      }
    }
  });
  test('Unicode with colour: blocks, box drawing and ANSI colours; the visible width still fits', () => {
    const out = renderShow(log, rep, { width: 80, height: 6, unicode: true, color: true });
    assert.match(out, /[▁▂▃▄▅▆▇█]/);
    assert.match(out, /┤/);
    assert.match(out, /\x1b\[34m/); // RSS in blue
    for (const line of out.split('\n')) assert.ok(visible(line).length <= 80, JSON.stringify(line));
  });
  test('no Swap chart when the process never swapped; a one-sample log draws', () => {
    const l = parseLog(readFileSync(join(FIX, 'basic.plog'), 'utf8'), 'basic.plog', { year: 2024 });
    const out = renderShow(l, buildReport(l), { width: 80, height: 4, unicode: false, color: false });
    assert.match(out, /^Swap/m); // basic.plog does swap
    const flat = parseLog(
      textLog(
        'x',
        series(START, 1000, 20, () => 100),
      ),
      'x',
      { year: 2024 },
    );
    assert.doesNotMatch(renderShow(flat, buildReport(flat), { width: 80, height: 4, unicode: false, color: false }), /^Swap/m);
    const one = parseLog(
      textLog(
        'x',
        series(START, 1000, 1, () => 100),
      ),
      'x',
      { year: 2024 },
    );
    const o = renderShow(one, buildReport(one), { width: 60, height: 3, unicode: false, color: false });
    assert.match(o, /1 sample,/);
    assert.match(o, /CPU% {2}not known yet/);
  });
  test('days and a new year on the time axis', () => {
    const l = parseLog(
      textLog(
        'x',
        series(new Date(2024, 11, 30, 12, 0), 3_600_000, 60, (i) => 1000 + i),
      ),
      'x',
      { year: 2024 },
    );
    const out = renderShow(l, buildReport(l), { width: 100, height: 3, unicode: false, color: false });
    assert.match(out, /12-30 12:00:00 to 01-01 23:00:00 \(2 d 11 h\)/);
    assert.match(out, / 12-31 0:00 .* 01-01 0:00 /);
  });
});

describe('plog show', () => {
  const file = join(tmp, 'server.777');
  writeFileSync(
    file,
    textLog(
      '/opt/app/bin/server',
      series(START, 15_000, 120, (i) => 80_000 + i * 200),
    ),
  );

  test('into a pipe: plain ASCII, 80 columns, or $COLUMNS, or -w', async () => {
    let r = await plog(['show', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(/^[\x20-\x7e\n]*$/.test(r.stdout));
    assert.equal(Math.max(...r.stdout.split('\n').map((l) => l.length)), 80);
    r = await plog(['show', file], { COLUMNS: '60' });
    assert.equal(Math.max(...r.stdout.split('\n').map((l) => l.length)), 60);
    r = await plog(['show', '-w', '120', '--height', '4', file]);
    assert.equal(Math.max(...r.stdout.split('\n').map((l) => l.length)), 120);
    // Four rows a chart, labelled at the top and half way; then the time axis.
    assert.match(r.stdout, /^RSS .*\n200 MiB \+.*\n +\|.*\n100 MiB \+.*\n +\|.*\n +\+[-+]+\n/m);
  });

  test('--unicode in a pipe: Unicode without colour', async () => {
    const r = await plog(['show', '--unicode', file]);
    assert.match(r.stdout, /█/);
    assert.doesNotMatch(r.stdout, /\x1b/);
  });

  test('on a terminal: Unicode and colour at the terminal width; NO_COLOR: plain ASCII', { skip: hasScript ? false : 'script(1) not installed: no pty' }, async () => {
    const onTty = async (env: Record<string, string>): Promise<string> => {
      const e: NodeJS.ProcessEnv = { ...process.env, ...env };
      delete e.NO_COLOR;
      Object.assign(e, env);
      const cmd = `stty cols 100 rows 50; ${process.execPath} ${PLOG} show ${file}`;
      const r = await runOnTerminal(cmd, e);
      assert.equal(r.code, 0, r.output);
      return r.output;
    };
    const fancy = await onTty({});
    assert.match(fancy, /\x1b\[34m/);
    assert.match(fancy, /█/);
    for (const line of fancy.split(/\r?\n/)) assert.ok(visible(line).length <= 100, JSON.stringify(line));
    assert.ok(
      fancy.split(/\r?\n/).some((l) => visible(l).length > 90),
      'uses the terminal width',
    );
    const plain = await onTty({ NO_COLOR: '1' });
    assert.doesNotMatch(plain, /\x1b\[/);
    assert.ok(/^[\x20-\x7e\r\n]*$/.test(plain), 'plain ASCII');
  });

  test('several files; a missing one is reported and the others shown (exit 16)', async () => {
    const r = await plog(['show', file, join(tmp, 'gone.1'), join(FIX, 'dashes.plog')]);
    assert.equal(r.code, READER.READ.code);
    assert.match(r.stderr, /^plog show: .*gone\.1: No such file or directory$/m);
    assert.match(r.stdout, /\/opt\/app\/bin\/server[\s\S]*\[kworker\/0:1H\]/);
  });

  test('a damaged line and an unfinished last line: a warning and a note, the rest shown', async () => {
    const r = await plog(['show', join(FIX, 'damaged.plog')]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /damaged\.plog: 1 line not understood, left out \(line 5: '28-02 8:00:2x/);
    assert.match(r.stdout, /3 samples/);
    assert.match(r.stdout, /note: the last line is unfinished/);
  });

  test('standard input', () => {
    const r = spawnSync(process.execPath, [PLOG, 'show', '-'], { input: readFileSync(file), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^-: 120 samples/m);
  });

  test('--help lists the exit codes and exits 0; usage errors exit 11', async () => {
    const h = await plog(['show', '--help']);
    assert.equal(h.code, 0);
    for (const c of Object.values(READER)) assert.match(h.stdout, new RegExp(`^ +${c.code}  ${c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    for (const args of [[], ['--ascii', '--unicode', file], ['-w', '10', file], ['--height', '0', file], ['--nope', file], ['-f', file, file]]) {
      const r = await plog(['show', ...args]);
      assert.equal(r.code, READER.USAGE.code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^plog show: .*\nplog show: Try 'plog show --help'\.\n$/);
    }
    const notLog = await plog(['show', '/etc/hostname']);
    assert.equal(notLog.code, READER.NOT_A_LOG.code);
  });

  test('-f: redraws as the log grows', async () => {
    const live = join(tmp, 'live.9');
    const s = series(START, 1000, 40, (i) => 5000 + i * 10);
    writeFileSync(live, textLog('live', s.slice(0, 5)));
    const child = spawn(process.execPath, [PLOG, 'show', '-f', '--year', '2024', live], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const until = async (re: RegExp): Promise<void> => {
        const end = Date.now() + 10_000;
        while (!re.test(out)) {
          if (Date.now() > end) throw new Error(`no ${re} in ${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(/live\.9: 5 samples/);
      appendFileSync(
        live,
        s
          .slice(5, 20)
          .map((x) => textLine(x, true))
          .join('') + textLine(s[20]!, true).slice(0, 30),
      );
      await until(/live\.9: 20 samples/);
      assert.match(out, /note: the last line is unfinished/);
    } finally {
      child.kill();
    }
  });
});
