// Safe PSS: the budget for reading a process's PSS (src/plog/engine/pss-budget.ts),
// the reader carrying the last values when it skips the read, the '*' mark
// on such lines and parseLogLine reading it, and a real plogsrvd under a
// tiny budget (PLOG_PSS_BUDGET) and with the budget off.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_PSS_BUDGET, nextPssRead, pssBudget, pssDue } from '../src/plog/engine/pss-budget.js';
import { formatLine, PSS_STALE, type LineOptions } from '../src/plog/log/logline.js';
import { parseLogLine } from '../src/plog/log/lineparse.js';
import { ProcessReader, type RawSample } from '../src/proc/reader.js';
import { Server, lines, plog, spawnSleep, waitFor } from './helpers/plog.js';
import { quietStat } from './helpers/logs.js';

describe('pssBudget / nextPssRead / pssDue', () => {
  test('PLOG_PSS_BUDGET: a percentage, off, or the default 1%', () => {
    assert.equal(DEFAULT_PSS_BUDGET, 0.01);
    assert.equal(pssBudget(undefined), 0.01);
    assert.equal(pssBudget(''), 0.01);
    assert.equal(pssBudget('5'), 0.05);
    assert.equal(pssBudget('0.5'), 0.005);
    assert.equal(pssBudget('100'), 1);
    assert.equal(pssBudget('off'), null);
    assert.equal(pssBudget(' OFF '), null);
    for (const bad of ['0', '-1', '101', 'x', 'NaN', 'Infinity']) assert.equal(pssBudget(bad), 0.01, bad);
  });
  test('the next read waits cost / budget after the last began; off: at once', () => {
    assert.equal(nextPssRead(1000, 12, 0.01), 2200);
    assert.equal(nextPssRead(1000, 0.05, 0.01), 1005);
    assert.equal(nextPssRead(1000, 12, null), -Infinity);
    assert.equal(pssDue({ smapsReadStart: 1000, smapsCostMs: 12 }, 0.01, 2199), false);
    assert.equal(pssDue({ smapsReadStart: 1000, smapsCostMs: 12 }, 0.01, 2200), true);
    assert.equal(pssDue({ smapsReadStart: -Infinity, smapsCostMs: 0 }, 0.01, 0), true, 'never read: due');
    assert.equal(pssDue({ smapsReadStart: 1000, smapsCostMs: 500 }, null, 1001), true, 'off: always');
  });
});

describe('a line whose PSS was not read again', () => {
  const OPTS: LineOptions = { withSeconds: true, pageKb: 4, clkTck: 100 };
  const sample = (stale: boolean): RawSample => ({
    timeMs: new Date(2024, 0, 5, 9, 7, 3).getTime(),
    stat: quietStat({ ppid: 0, minflt: 1 }),
    statm: { size: 25600, resident: 1000, shared: 250, text: 10, data: 900 },
    smaps: { rss: 4000, pss: 3000, swap: 12, sharedClean: 400, sharedDirty: 100, privateClean: 0, privateDirty: 0 },
    maps: { kb: 3500, complete: true },
    smapsStale: stale,
  });
  test("Share, Proportion and Swap carry a '*'; parseLogLine gives the values and pssStale", () => {
    assert.equal(PSS_STALE, '*');
    const l = formatLine(sample(true), null, OPTS);
    // Share from the same (carried) read of smaps_rollup: 500 of 4000 kB
    assert.equal(l, '01-05  9:07:03 S     20   0s       -      1       1         0       100.00MB  4000kB     12.5* 3000kB*    12kB*     3600kB    3500kB\n');
    const r = parseLogLine(l)!;
    assert.equal(r.pssStale, true);
    assert.equal(r.pssKb, 3000);
    assert.equal(r.swapKb, 12);
    assert.equal(r.dataKb, 3600);
    const fresh = parseLogLine(formatLine(sample(false), null, OPTS))!;
    assert.equal(fresh.pssStale, false);
    assert.equal(fresh.pssKb, 3000);
    // The mark on one of the two only, or anywhere else, is not a log line.
    assert.equal(parseLogLine(l.replace('12kB*', '12kB ')), null);
    assert.equal(parseLogLine(l.replace('3600kB ', '3600kB*')), null);
    // PSS unreadable: '-' as ever, never marked; Share from statm, marked '~'.
    const none = { ...sample(true), smaps: null };
    assert.match(formatLine(none, null, OPTS), / 25\.0~ - {10}- {9}3600kB/);
  });
});

describe('ProcessReader.sample(into, false)', () => {
  test('carries the last PSS read, marked; the first sample always reads; the cost of a read is kept', () => {
    const r = new ProcessReader(process.pid);
    try {
      assert.equal(r.smapsReadStart, -Infinity);
      const first = r.sample(undefined, false);
      assert.equal(first.smapsStale, false, 'never read: read');
      assert.ok(first.smaps && first.smaps.rss > 0);
      assert.ok(r.smapsCostMs > 0 && r.smapsReadStart > 0);
      const start = r.smapsReadStart;
      const carried = r.sample(undefined, false);
      assert.equal(carried.smapsStale, true);
      assert.deepEqual(carried.smaps, first.smaps);
      assert.notEqual(carried.smaps, first.smaps);
      assert.equal(r.smapsReadStart, start, 'not read again');
      const again = r.sample(carried, true);
      assert.equal(again, carried);
      assert.equal(again.smapsStale, false);
      assert.ok(r.smapsReadStart > start);
    } finally {
      r.close();
    }
  });
});

describe('plogsrvd with a PSS budget', () => {
  for (const [budget, marked] of [
    ['0.000001', true],
    ['off', false],
  ] as const) {
    test(`PLOG_PSS_BUDGET=${budget}: ${marked ? "every line after the first carries PSS, marked '*'" : 'PSS read at every sample'}`, async () => {
      const srv = await Server.start({ foreground: true, env: { PLOG_PSS_BUDGET: budget } });
      const kid = spawnSleep();
      try {
        const r = await plog(['-d', srv.dir, '-p', String(kid.pid), '-i', '50ms']);
        assert.equal(r.code, 0, r.stderr);
        const path = r.stdout.trim().replace(/^Log file: /, '');
        const ls = await waitFor('6 samples', () => {
          const l = lines(path).slice(2);
          return l.length >= 6 ? l : null;
        });
        const recs = ls.map((l) => parseLogLine(l));
        assert.ok(
          recs.every((x) => x !== null),
          'every line parses',
        );
        assert.equal(recs[0]!.pssStale, false, 'the first sample reads PSS');
        assert.ok(
          recs.slice(1).every((x) => x.pssStale === marked),
          ls.join('\n'),
        );
        assert.ok(recs.every((x) => x.pssKb !== null && x.pssKb > 0));
      } finally {
        kid.kill('SIGKILL');
      }
    });
  }
});
