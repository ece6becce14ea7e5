// plog web's engine (src/web/tail.ts, stats.ts, engine.ts), without HTTP:
// the incremental reader gives exactly readLog()'s samples however the
// bytes arrive, reads only what was appended (never the file again from its
// start), survives a replaced or cut file, a line without end and a file
// that is not a log; the bounded running figures give plog report's own
// report (same verdict, same numbers) at any length; the directory scan
// keeps to logs (no symlink, FIFO, dot file, state file), follows a rotation
// without reading again, and escapes what it shows. Times in Europe/Berlin.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseLog } from '../src/plog/log/logread.js';
import { readLog } from '../src/plog/log/readlog.js';
import type { Log } from '../src/plog/log/sample.js';
import { buildReport, reportJson } from '../src/plog/readers/report.js';
import { toCsv, toJsonl } from '../src/plog/log/export.js';
import { FileTail } from '../src/web/tail.js';
import { MAX_LINE, TailParser, type Located } from '../src/web/tailparse.js';
import { LogStats, Moments } from '../src/web/stats.js';
import { Engine, parseLogName, type EngineEvent } from '../src/web/engine.js';
import { fitLine } from '../src/plog/readers/report.js';
import { series, textLine, textLog } from './helpers/logs.js';
import { assertLength } from './helpers/assert.js';

const tmp = mkdtempSync('/tmp/plog-web-engine-');
after(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const file = (name = 'node.4242'): string => join(tmp, `${++seq}`, name);

function dirFile(name: string): string {
  const p = file(name);
  execFileSync('mkdir', ['-p', join(p, '..')]);
  return p;
}

const START = new Date(2024, 0, 15, 9, 30, 0);
const leakText = (n: number, step = 10_000): string =>
  textLog(
    '/usr/bin/node server.js --port 8080',
    series(
      START,
      step,
      n,
      (i) => 60_000 + i * 150 + (i % 9) * 400,
      (i) => ({ swapKb: i > n / 2 ? (i - n / 2) * 40 : 0 }),
    ),
  );
const steadyText = (n: number): string =>
  textLog(
    '/usr/bin/node steady.js',
    series(START, 10_000, n, (i) => 62_000 + Math.min(i, 40) * 300 + (i % 7) * 300),
  );

/** Write text to a new file a few bytes at a time, reading after each write; returns what the reader gave. */
function growAndRead(path: string, text: string, maxStep: number, rnd: () => number): { got: Located[]; tail: FileTail } {
  writeFileSync(path, '');
  const tail = new FileTail(path);
  const got: Located[] = [];
  for (let pos = 0; pos < text.length;) {
    const n = 1 + Math.floor(rnd() * maxStep);
    appendFileSync(path, text.slice(pos, pos + n));
    pos += n;
    const r = tail.read(1 << 30);
    assert.equal(r.error, null);
    got.push(...r.samples);
  }
  return { got, tail };
}

/** A small deterministic generator (the same cuts on every run). */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
}

const strip = (l: Log) => l.samples.map((s) => ({ ...s }));

describe('the incremental reader', () => {
  for (const [format, make] of [
    ['text', (t: string) => t],
    ['csv', (t: string) => [...toCsv(parseLog(t, 'x', { year: 2024 }))].join('')],
    ['jsonl', (t: string) => [...toJsonl(parseLog(t, 'x', { year: 2024 }))].join('')],
  ] as Array<[string, (t: string) => string]>) {
    test(`${format}: fed in random pieces, exactly readLog()'s samples, each read once, the file read once`, () => {
      const text = make(leakText(400));
      const path = dirFile(`node.1.${format}`);
      const { got, tail } = growAndRead(path, text, 300, rng(7));
      const log = readLog(path);
      assert.equal(got.length, 400);
      assert.deepEqual(
        got.map((l) => l.sample),
        strip(log),
      );
      // Every byte read once: the reads went on from where they were.
      assert.equal(tail.bytesRead, Buffer.byteLength(text));
      // Each sample's byte range is its line.
      const bytes = Buffer.from(text);
      for (const l of got.slice(0, 20)) assert.ok(!bytes.subarray(l.start, l.end).includes(10) && bytes[l.end] === 10);
    });
  }

  test("text, line by line, with what the quick reading of a line leaves to the parser: readLog()'s samples and bad lines, a range read again the same", () => {
    // Across the new year, a damaged line, a blank one, one ending in CR,
    // the header again, and a date going back (a clock set back) mid-log.
    const s = series(new Date(2023, 11, 31, 23, 58, 0), 10_000, 40, (i) => 50_000 + i * 10);
    const back = { ...s[25]!, t: new Date(s[25]!.t.getTime() - 60_000) };
    const head = textLog('/usr/bin/node a.js', s.slice(0, 10));
    const header = head.split('\n')[1];
    const text =
      head +
      'garbage line\n' +
      textLine(s[10]!, true) +
      '\n' +
      textLine(s[11]!, true).replace('\n', '\r\n') +
      s
        .slice(12, 20)
        .map((x) => textLine(x, true))
        .join('') +
      header +
      '\n' +
      s
        .slice(20, 25)
        .map((x) => textLine(x, true))
        .join('') +
      textLine(back, true) +
      s
        .slice(26)
        .map((x) => textLine(x, true))
        .join('');
    const path = dirFile('node.77');
    writeFileSync(path, '');
    const tail = new FileTail(path);
    const got: Located[] = [];
    // Written as the new year came: the year is placed by the file's time.
    const written = new Date(2024, 0, 1, 0, 30, 0);
    for (const line of text.split(/(?<=\n)/)) {
      appendFileSync(path, line);
      utimesSync(path, written, written);
      got.push(...tail.read(1 << 30).samples);
    }
    const log = readLog(path);
    assertLength(got, 40);
    assert.deepEqual(
      got.map((l) => l.sample),
      strip(log),
    );
    assert.equal(tail.parser.badLineCount, log.badLineCount);
    assert.deepEqual(tail.parser.badLines, log.badLines);
    // A range of sample lines read again (the verdicts' way): the same samples.
    const again = tail.readRange(got[26].start, got[39].end, got[26].sample.line);
    assert.deepEqual(
      again?.map((l) => l.sample),
      got.slice(26).map((l) => l.sample),
    );
  });

  test('a long log grown by a little: only the new bytes are read', () => {
    const path = dirFile('big.1');
    writeFileSync(path, leakText(8000, 1000));
    const tail = new FileTail(path);
    let r = tail.read(1 << 30);
    assert.equal(r.samples.length, 8000);
    const size = tail.bytesRead;
    const more = series(new Date(START.getTime() + 8_000_000), 1000, 3, () => 90_000)
      .map((s) => textLine(s, true))
      .join('');
    appendFileSync(path, more);
    r = tail.read(1 << 30);
    assertLength(r.samples, 3);
    assert.equal(tail.bytesRead - size, Buffer.byteLength(more));
    assert.equal(r.samples[0].sample.line, 8003);
  });

  test('a read has a budget: the rest waits (more), nothing is lost', () => {
    const path = dirFile('budget.1');
    writeFileSync(path, leakText(3000));
    const tail = new FileTail(path);
    let n = 0;
    let reads = 0;
    for (;;) {
      const r = tail.read(64 * 1024);
      n += r.samples.length;
      reads++;
      if (!r.more) break;
    }
    assert.equal(n, 3000);
    assert.ok(reads > 3, `${reads} reads`);
  });

  test('a last line without its newline: taken once when whole, not again when the newline comes', () => {
    const text = leakText(5);
    const path = dirFile('tail.1');
    const lastNl = text.lastIndexOf('\n', text.length - 2);
    writeFileSync(path, text.slice(0, text.length - 1)); // all but the final '\n'
    const tail = new FileTail(path);
    let r = tail.read(1 << 30);
    assert.equal(r.samples.length, 5, 'the whole last line counts');
    assert.equal(tail.parser.partialTail, false);
    appendFileSync(path, '\n');
    r = tail.read(1 << 30);
    assert.equal(r.samples.length, 0, 'not twice');
    // A cut line is left out until it is whole.
    const next = textLine(series(new Date(START.getTime() + 3_600_000), 1000, 1, () => 1000)[0]!, true);
    appendFileSync(path, next.slice(0, 20));
    r = tail.read(1 << 30);
    assert.equal(r.samples.length, 0);
    assert.equal(tail.parser.partialTail, true);
    appendFileSync(path, next.slice(20));
    r = tail.read(1 << 30);
    assert.equal(r.samples.length, 1);
    assert.ok(lastNl > 0);
  });

  test('reading a log leaves its access time (O_NOATIME: each read of a growing log would write the inode again under relatime)', () => {
    const path = dirFile('atime.1');
    writeFileSync(path, leakText(5));
    const old = new Date(Date.now() - 86_400_000);
    utimesSync(path, old, new Date());
    const atime = statSync(path).atimeMs;
    const tail = new FileTail(path);
    assert.equal(tail.read(1 << 30).samples.length, 5);
    assert.equal(statSync(path).atimeMs, atime, 'the first read set the access time');
    appendFileSync(path, textLine(series(new Date(START.getTime() + 7_200_000), 1000, 1, () => 1000)[0]!, true));
    assert.equal(tail.read(1 << 30).samples.length, 1);
    assert.equal(statSync(path).atimeMs, atime, 'a read of what was appended set the access time');
    tail.close();
  });

  test('a file cut shorter is read again from its start, said by reset; one replaced at its name too, once the name is checked', () => {
    const path = dirFile('swap.1');
    writeFileSync(path, leakText(10));
    const tail = new FileTail(path);
    assert.equal(tail.read(1 << 30).samples.length, 10);
    truncateSync(path, 0);
    writeFileSync(path, leakText(2));
    let r = tail.read(1 << 30);
    assert.equal(r.reset, true);
    assert.equal(r.samples.length, 2);
    // Replaced: the kept descriptor still reads the old file until the name
    // is checked (every 6 s, or when the engine's scan sees a new inode and closes it).
    writeFileSync(path + '.new', steadyText(4));
    renameSync(path + '.new', path);
    tail.close();
    r = tail.read(1 << 30);
    assert.equal(r.reset, true);
    assert.equal(r.samples.length, 4);
    tail.close();
  });

  test('the engine notices a log replaced at its name at its next scan', () => {
    const d = join(tmp, `repl${++seq}`);
    execFileSync('mkdir', ['-p', d]);
    writeFileSync(join(d, 'a.1'), leakText(10));
    const e = new Engine({ dir: d, files: [] });
    e.scan();
    e.service();
    assert.equal(e.get('a.1')!.stats.n, 10);
    writeFileSync(join(d, 'a.1.new'), steadyText(3));
    renameSync(join(d, 'a.1.new'), join(d, 'a.1'));
    e.scan();
    e.service();
    assert.equal(e.get('a.1')!.stats.n, 3);
  });

  test('a line without end is not held: skipped past 64 KiB, counted as bad, the log goes on', () => {
    const path = dirFile('long.1');
    const text = leakText(3);
    writeFileSync(path, text);
    const tail = new FileTail(path);
    tail.read(1 << 30);
    for (let i = 0; i < 40; i++) appendFileSync(path, 'x'.repeat(64 * 1024));
    tail.read(1 << 30);
    assert.equal(tail.parser.badLineCount, 1);
    assert.ok(MAX_LINE <= 64 * 1024);
    appendFileSync(path, '\n' + textLine(series(new Date(START.getTime() + 7_200_000), 1000, 1, () => 5000)[0]!, true));
    const r = tail.read(1 << 30);
    assert.equal(r.samples.length, 1);
  });

  test('not a log: given up after its first lines', () => {
    const p = new TailParser('x');
    p.push(Buffer.from('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\n'), Date.now());
    assert.equal(p.notALog, true);
    const q = new TailParser('y');
    q.push(Buffer.from('cmd\n'), Date.now());
    assert.equal(q.notALog, false, 'a command line alone: the header may come');
  });

  test('the header written again in the middle (plogsrvd --resume) does not cost a sample', () => {
    const s = series(START, 10_000, 6, (i) => 1000 + i);
    const head = textLog('cmd', s.slice(0, 3));
    const header = head.split('\n')[1];
    const text =
      head +
      header +
      '\n' +
      s
        .slice(3)
        .map((x) => textLine(x, true))
        .join('');
    const p = new TailParser('x');
    const got: Located[] = [];
    for (const line of text.split(/(?<=\n)/)) got.push(...p.push(Buffer.from(line), Date.now()));
    assert.equal(got.length, 6);
  });
});

describe('the running figures', () => {
  function statsOf(text: string, cap: number): { st: LogStats; log: Log; path: string; tail: FileTail } {
    const path = dirFile(`s${cap}.1`);
    writeFileSync(path, text);
    const tail = new FileTail(path);
    const st = new LogStats(cap);
    for (const l of tail.read(1 << 30).samples) st.add(l.sample, l.start, l.end);
    // plog report's own reading, made when a test asks for it (not for the memory test's 20,000 lines).
    return {
      st,
      get log() {
        return readLog(path);
      },
      path,
      tail,
    };
  }
  const reread = (tail: FileTail) => (a: number, b: number, line: number) => tail.readRange(a, b, line)?.map((l) => l.sample) ?? null;

  test("a log of plog 0.1.0: plog report's report, what the log lacks included", () => {
    const text = readFileSync(new URL('../../test/fixtures/plog-0.1.0/threads.log', import.meta.url), 'utf8');
    const { st, log, tail } = statsOf(text, 16);
    assert.ok(log.lacks.length > 0 && st.count > 0);
    const mine = reportJson(st.report(log.path, log.command, reread(tail), { badLineCount: 0, partialTail: false, lacks: tail.parser.info?.lacks ?? [] }));
    assert.deepEqual(mine, reportJson(buildReport(log)));
  });

  for (const cap of [4, 16, 128]) {
    for (const [what, text] of [
      ['a leak', leakText(700)],
      ['a steady log', steadyText(500)],
    ] as const) {
      test(`${what}, ${cap} blocks: plog report's report, number for number`, () => {
        const { st, log, tail } = statsOf(text, cap);
        const mine = reportJson(st.report(log.path, log.command, reread(tail), { badLineCount: 0, partialTail: false, lacks: log.lacks }));
        const theirs = reportJson(buildReport(log));
        assert.deepEqual(mine, theirs);
        assert.ok(st.count <= cap);
      });
    }
  }

  test('memory held does not grow with the log', () => {
    const a = statsOf(leakText(2000, 1000), 32).st.heldBytes;
    const b = statsOf(leakText(20_000, 1000), 32).st.heldBytes;
    assert.ok(b <= a * 1.5 + 20_000, `${a} -> ${b} bytes`);
  });

  test('moments one point at a time: the fit of fitLine (values far from zero too)', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i / 7);
    const ys = xs.map((x) => 3 * x + Math.sin(x * 5) * 10 + 1e9);
    const all = new Moments();
    xs.forEach((x, i) => all.add(x, ys[i]!));
    const f = all.fit(0)!;
    const g = fitLine(
      xs.map((x) => x * 3_600_000),
      ys,
      0,
    )!;
    assert.ok(Math.abs(f.slopePerHour - g.slopePerHour) < 1e-6 * Math.abs(g.slopePerHour));
    assert.ok(Math.abs(f.r2! - g.r2!) < 1e-6);
    assert.equal(new Moments().fit(0), null);
  });

  test('the sparkline: highest RSS per step over the last hour, at most 60 points', () => {
    const { st, log } = statsOf(
      textLog(
        'c',
        series(START, 1000, 7200, (i) => (i === 7000 ? 900_000 : 1000)),
      ),
      128,
    );
    const sp = st.sparkline(60);
    assert.equal(sp.values.length, 60);
    assert.equal(sp.stepMs, 60_000);
    assert.equal(Math.max(...sp.values.map((v) => v ?? 0)), log.samples[7000]!.residentBytes);
    assert.ok(sp.fromMs >= st.lastMs - 3_600_000 - 60_000);
  });

  test('the sparkline changes (sparkVersion) every 5 s while a log is young (drawn by the second), then every 10 s', () => {
    const path = dirFile('young.1');
    writeFileSync(
      path,
      textLog(
        'c',
        series(START, 1000, 200, () => 1000),
      ),
    );
    const tail = new FileTail(path);
    const st = new LogStats(32);
    const changedAt: number[] = [];
    const samples = tail.read(1 << 30).samples;
    assert.equal(samples.length, 200);
    const t0 = samples[0]!.sample.timeMs;
    for (const l of samples) {
      const v = st.sparkVersion;
      st.add(l.sample, l.start, l.end);
      if (st.sparkVersion !== v) changedAt.push(Math.round((l.sample.timeMs - t0) / 1000));
    }
    const young = changedAt.filter((s) => s <= 60);
    const old = changedAt.filter((s) => s > 61);
    // The first sample, then one change in 5 s (a sample a second); the young log's sparkline is by the second.
    assert.equal(young[0], 0);
    for (let i = 1; i < young.length; i++) assert.ok(young[i]! - young[i - 1]! >= 5, `young: ${young.join(' ')}`);
    assert.ok(young.length >= 10, `young: ${young.join(' ')}`);
    for (let i = 1; i < old.length; i++) assert.equal(old[i]! - old[i - 1]!, 10, `old: ${old.join(' ')}`);
    assert.ok(old.length >= 12, `old: ${old.join(' ')}`);
  });
});

describe('the engine', () => {
  test('log names: NAME.PID, .N, .csv, .rK; anything else has no pid', () => {
    assert.deepEqual(parseLogName('node.4242'), { name: 'node', pid: 4242 });
    assert.deepEqual(parseLogName('my.app.4242.2.csv'), { name: 'my.app', pid: 4242 });
    assert.deepEqual(parseLogName('python3.11.4242'), { name: 'python3.11', pid: 4242 });
    assert.deepEqual(parseLogName('python3.11.42'), { name: 'python3.11', pid: 42 });
    assert.deepEqual(parseLogName('bash.99.jsonl.r3'), { name: 'bash', pid: 99 });
    assert.deepEqual(parseLogName('notes.txt'), { name: 'notes.txt', pid: null });
  });

  function dir(): string {
    const d = join(tmp, `dir${++seq}`);
    execFileSync('mkdir', ['-p', d]);
    return d;
  }

  test('a directory: logs only (no symlink, FIFO, dot file, state file, not-a-log); new, removed, renamed logs', () => {
    const d = dir();
    writeFileSync(join(d, 'node.1'), leakText(30));
    writeFileSync(join(d, '.hidden.2'), leakText(3));
    writeFileSync(join(d, 'plogsrvd.state'), '{"version":1,"registrations":[]}\n');
    writeFileSync(join(d, 'notes'), 'hello\nworld\n');
    symlinkSync('/etc/passwd', join(d, 'link.3'));
    execFileSync('mkfifo', [join(d, 'fifo.4')]);
    const events: EngineEvent[] = [];
    const e = new Engine({ dir: d, files: [], procComm: () => null, userName: () => 'someone' });
    e.subscribe((ev) => events.push(ev));
    e.scan();
    e.service();
    assert.deepEqual(e.ids(), ['node.1']);
    assert.deepEqual(
      e.rows().map((r) => r.id),
      ['node.1'],
    );
    // A new log; a rotation (renamed, its reader kept: nothing read again); a log deleted.
    writeFileSync(join(d, 'sleep.5'), steadyText(5));
    e.scan();
    e.service();
    const before = e.get('node.1')!.tail.bytesRead;
    renameSync(join(d, 'node.1'), join(d, 'node.1.r1'));
    e.scan();
    e.service();
    assert.ok(e.get('node.1.r1'));
    assert.equal(e.get('node.1.r1')!.tail.bytesRead, before);
    assert.equal(e.get('node.1.r1')!.stats.n, 30);
    unlinkSync(join(d, 'sleep.5'));
    e.scan();
    assert.deepEqual(e.ids(), ['node.1.r1']);
    assert.ok(events.some((x) => x.type === 'removed' && x.id === 'node.1'));
    assert.ok(events.some((x) => x.type === 'removed' && x.id === 'sleep.5'));
  });

  test("a list's verdict is made again at most every 30 s, and only when the log has new samples", () => {
    const d = dir();
    writeFileSync(join(d, 'node.1'), leakText(30));
    let mono = 1_000_000;
    const e = new Engine({ dir: d, files: [], monotonic: () => mono });
    e.scan();
    e.service();
    const entry = e.get('node.1')!;
    const first = e.verdictOf(entry);
    const more = (n: number): void => {
      writeFileSync(join(d, 'node.1'), leakText(n));
      e.touchAll();
      e.service();
    };
    more(60); // twice the samples
    mono += 29_000;
    assert.equal(e.verdictOf(entry), first, 'not again within 30 s, however many samples came');
    mono += 1_000;
    const second = e.verdictOf(entry);
    assert.notEqual(second, first, 'again after 30 s with new samples');
    mono += 60_000;
    assert.equal(e.verdictOf(entry), second, 'not again without new samples');
    more(61);
    assert.notEqual(e.verdictOf(entry), second);
  });

  test('at most maxLogs logs', () => {
    const d = dir();
    for (let i = 1; i <= 5; i++) writeFileSync(join(d, `p.${i}`), steadyText(2));
    const e = new Engine({ dir: d, files: [], maxLogs: 3 });
    e.scan();
    assert.equal(e.size, 3);
    assert.equal(e.overflow, 2);
  });

  test('status: running while samples come; ended, and why, when they stop', () => {
    const d = dir();
    const last = START.getTime() + 29 * 10_000;
    writeFileSync(join(d, 'node.77'), leakText(30));
    utimesSync(join(d, 'node.77'), new Date(last), new Date(last));
    let now = last + 5000;
    let comm: string | null = 'node';
    const e = new Engine({ dir: d, files: [], now: () => now, procComm: () => comm });
    e.scan();
    e.service();
    const x = e.get('node.77')!;
    assert.equal(e.statusOf(x).status, 'running');
    now = last + 60_000;
    assert.match(e.statusOf(x).why, /no sample since .*logging stopped/);
    comm = 'bash';
    assert.match(e.statusOf(x).why, /process 77 ended \(its pid is another process's now\)/);
    comm = null;
    const s = e.statusOf(x);
    assert.equal(s.status, 'ended');
    assert.match(s.why, /process 77 ended after the last sample/);
  });

  test('what a row shows of a log is escaped: command line and file name with escapes and bidi controls', () => {
    const d = dir();
    const name = 'evil\u202e\x1b[2J.5';
    writeFileSync(
      join(d, name),
      textLog(
        '<script>alert(1)</script>\x1b]0;pwned\x07 \u202eexe.txt',
        series(START, 1000, 3, () => 100),
      ),
    );
    const e = new Engine({ dir: d, files: [] });
    e.scan();
    e.service();
    const [row] = e.rows();
    assert.ok(row, 'a row for the log');
    assert.equal(row.command, '<script>alert(1)</script>\\x1b]0;pwned\\x07 \\u{202e}exe.txt');
    assert.equal(row.file, join(d, 'evil\\u{202e}\\x1b[2J.5'));
    assert.equal(row.name, 'evil\\u{202e}\\x1b[2J');
    assert.equal(row.id, name, 'the id stays the name (for URLs), never shown');
  });

  test('series: every sample of a short range; a long one thinned without losing its peak', () => {
    const d = dir();
    writeFileSync(
      join(d, 'peak.1'),
      textLog(
        'c',
        series(START, 1000, 12_000, (i) => (i === 12_345 - 4000 ? 5_000_000 : 1000 + (i % 50))),
      ),
    );
    const e = new Engine({ dir: d, files: [], blockCap: 64 });
    e.scan();
    while (e.service() > 0);
    const x = e.get('peak.1')!;
    const all = e.series(x, -Infinity, Infinity, 2000);
    assert.equal(all.exact, false);
    assert.ok(all.t.length <= 2000);
    const peak = readLog(x.path).samples[12_345 - 4000]!.residentBytes;
    assert.ok(peak > 4e9);
    assert.equal(Math.max(...all.rss.map((v) => v ?? 0)), peak);
    const t0 = x.stats.firstMs + 100_000; // the year is the file's (its mtime): not START's
    const part = e.series(x, t0, t0 + 59_000, 2000);
    assert.equal(part.exact, true);
    assert.equal(part.t.length, 60);
    assert.equal(part.t[0], t0);
  });
});
