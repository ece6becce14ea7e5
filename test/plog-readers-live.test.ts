// The readers on a live log: a real plogsrvd logs a real process whose
// memory grows (1 MiB every 100 ms), every 100 ms; while the daemon appends,
// the log is read in-process in a tight loop and by plog show, report,
// export and plot, again and again: every read must succeed, see only
// whole samples, in time order, never fewer than the read before. Then the
// finished log: the report sees RSS grow steadily (too short a log for a
// leak verdict), export and plot agree with it, and show -f follows it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { readLog } from '../src/plog/log/readlog.js';
import type { Log } from '../src/plog/log/sample.js';
import { buildReport } from '../src/plog/readers/report.js';
import { exited, plog, PLOG, run, Server, sleep, spawnChild, tempDir, waitFor, waitLines, type RunResult } from './helpers/plog.js';

let srv: Server;
before(async () => {
  srv = await Server.start();
});

/** A process that grows by 1 MiB (touched, so resident) every 100 ms, up to `mib`, then idles. */
const GROWER = `const a = []; const t = setInterval(() => { const b = Buffer.alloc(1 << 20, 7); a.push(b); if (a.length >= Number(process.argv[1])) clearInterval(t); }, 100); setInterval(() => {}, 1000);`;

function checkLog(log: Log, prev: Log | null, where: string): void {
  assert.equal(log.format, 'text', where);
  assert.equal(log.badLineCount, 0, `${where}: ${JSON.stringify(log.badLines)}`);
  assert.match(log.command, /-e const a = \[\]/, where);
  for (let i = 1; i < log.samples.length; i++) {
    assert.ok(log.samples[i]!.timeMs >= log.samples[i - 1]!.timeMs, `${where}: time order at ${i}`);
  }
  if (prev) {
    assert.ok(log.samples.length >= prev.samples.length, `${where}: ${log.samples.length} after ${prev.samples.length}`);
    assert.deepEqual(log.samples.slice(0, prev.samples.length), prev.samples, `${where}: earlier samples unchanged`);
  }
}

test('read while plogsrvd writes it, by every reader; then the whole log', async (t) => {
  const child = spawnChild(process.execPath, ['-e', GROWER, '60']);
  const pid = child.pid!;
  const r = await plog(['-d', srv.dir, '-p', String(pid), '-i', '100ms']);
  assert.equal(r.code, 0, r.stderr);
  const path = /^Log file: (.*)$/m.exec(r.stdout)![1];
  assert.equal(path, join(srv.dir, `node.${pid}`));

  // In-process: read as fast as we can while samples arrive.
  let prev: Log | null = null;
  let reads = 0;
  const end = Date.now() + 2500;
  while (Date.now() < end) {
    const log = readLog(path);
    checkLog(log, prev, `read ${reads}`);
    prev = log;
    reads++;
    if (reads % 50 === 0) await sleep(1); // the reader's pace: the event loop's turn every 50 reads
  }
  assert.ok(prev!.samples.length >= 10, `${prev!.samples.length} samples after 2.5 s at 100 ms`);

  // The commands, while it is still being written.
  const out = tempDir();
  let lastRows = 0;
  for (let round = 0; round < 4; round++) {
    const [show, report, csv, plot] = await Promise.all([
      plog(['show', path]),
      plog(['report', '--json', path]),
      plog(['export', '--csv', path]),
      plog(['plot', '-o', join(out, `r${round}.svg`), path]),
    ]);
    const results: [string, RunResult][] = [
      ['show', show],
      ['report', report],
      ['export', csv],
      ['plot', plot],
    ];
    for (const [name, x] of results) {
      assert.equal(x.code, 0, `round ${round}, ${name}: ${x.stderr}`);
      assert.doesNotMatch(x.stderr, /not understood/, `${name}: ${x.stderr}`);
    }
    assert.match(show.stdout, /^RSS {2}peak/m);
    const rep = JSON.parse(report.stdout) as { samples: number };
    assert.ok(rep.samples >= 10);
    const rows = csv.stdout.trimEnd().split('\n').length - 1;
    assert.ok(rows >= lastRows, `export rows ${rows} after ${lastRows}`);
    lastRows = rows;
    assert.match(readFileSync(join(out, `r${round}.svg`), 'utf8'), /<path d="M/);
  }

  // plog show -f follows it: the count of samples it shows goes up.
  const f = spawn(process.execPath, [PLOG, 'show', '-f', path], { stdio: ['ignore', 'pipe', 'ignore'] });
  let fout = '';
  f.stdout.setEncoding('utf8').on('data', (d: string) => (fout += d));
  try {
    const counts = (): number[] => [...fout.matchAll(/: (\d+) samples,/g)].map((m) => Number(m[1]));
    await waitFor(
      'show -f to redraw with more samples',
      () => {
        const c = counts();
        return c.length >= 2 && c.at(-1)! > c[0]!;
      },
      { timeout: 10_000 },
    );
  } finally {
    f.kill();
  }

  // Let it grow to its 60 MiB, then stop the log and the process.
  await waitFor(
    'the process to grow by 55 MiB',
    () => {
      // (10 samples and more: checked above)
      const l = readLog(path);
      return l.samples.at(-1)!.residentBytes - l.samples[0]!.residentBytes > 55 * 1024 * 1024;
    },
    { timeout: 20_000, interval: 100 },
  );
  const stop = await plog(['-d', srv.dir, '-x', String(pid)]);
  assert.equal(stop.code, 0, stop.stderr);
  child.kill('SIGKILL');
  await exited(child);

  const log = readLog(path);
  checkLog(log, prev, 'final');
  assert.equal(log.partialTail, null);
  assert.equal(log.withSeconds, true);
  assert.equal(log.yearSource, 'mtime');
  // The times are now (the year from the file's mtime).
  const last = log.samples.at(-1)!;
  assert.ok(Math.abs(last.timeMs - Date.now()) < 60_000, `last sample at ${new Date(last.timeMs).toString()}`);
  const rep = buildReport(log);
  const rss = rep.figures.find((x) => x.key === 'rss')!;
  assert.ok(rss.last - rss.first > 50 * 1024 * 1024, `RSS grew ${rss.last - rss.first}`);
  assert.ok(rss.fit!.r2! > 0.8, `r² ${rss.fit!.r2}`);
  t.diagnostic(`${reads} reads while written; ${log.samples.length} samples; RSS +${rss.last - rss.first} B, r² ${rss.fit!.r2}; verdict ${rep.verdict.kind}`);
  // Growth that has not stopped is steady; over seconds, too short to call a leak.
  if (rss.steady) {
    assert.equal(rep.verdict.kind, 'grows-short');
    assert.ok(rep.verdict.figures.includes('rss'));
  } else {
    // The process stopped growing at 60 MiB before the log was stopped: the later half is flat.
    assert.ok(rss.lateFit!.slopePerHour < rss.fit!.slopePerHour, 'flattened at the end');
  }

  // The CLI on the finished log agrees with the in-process reading.
  const csv = await plog(['export', '--csv', path]);
  assert.equal(csv.stdout.trimEnd().split('\n').length - 1, log.samples.length);
  const jr = JSON.parse((await plog(['report', '--json', path])).stdout) as { samples: number; memory: { rss: { peak_bytes: number } } };
  assert.equal(jr.samples, log.samples.length);
  assert.equal(jr.memory.rss.peak_bytes, rss.peak);
  const lines = await waitLines(path, log.samples.length + 2);
  assert.equal(lines.length, log.samples.length + 2);
  // A copy with a half-written line appended reads the same.
  const copy = join(out, 'copy');
  const text = readFileSync(path, 'utf8');
  await run('sh', ['-c', `cat "$1" > "$2"; printf '%s' "$3" >> "$2"`, 'sh', path, copy, text.split('\n').at(-2)!.slice(0, 40)]);
  const cut = readLog(copy);
  assert.deepEqual(
    cut.samples.map((s) => s.residentBytes),
    log.samples.map((s) => s.residentBytes),
  );
  assert.ok(cut.partialTail !== null);
});
