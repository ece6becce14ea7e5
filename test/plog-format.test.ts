// Logs in a machine format: plog --format csv|jsonl, request
// {0, 24}, the extras of src/proc/io.ts (I/O bytes, open fds, context
// switches), read back by the readers as they are.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countFds, ExtrasReader, parseCtxSwitches, parseIo } from '../src/proc/io.js';
import { ProcParseError } from '../src/proc/errors.js';
import { decodeProc, ProcessReader } from '../src/proc/reader.js';
import { CLK_TCK, pageSizeKb } from '../src/proc/system.js';
import { EXTRA_FIELDS, machineHead, machineLine, machineSample, logSuffix } from '../src/plog/log/machine-format.js';
import { decodeRequest, encodeLogFormat, encodeReply, decodeReply, OP_LOG_FORMAT, UNRECOGNIZED } from '../src/plog/protocol.js';
import { parseLog } from '../src/plog/log/logread.js';
import { readLog } from '../src/plog/log/readlog.js';
import { EXPORT_FIELDS } from '../src/plog/log/fields.js';
import { assertLength, fakeServer, lines, NOBODY, plog, Server, spawnSleep, tempDir, waitLines } from './helpers/plog.js';

const FIX = new URL('../../test/fixtures/proc/', import.meta.url);
const fixture = (name: string): string => decodeProc(readFileSync(new URL(name, FIX)));

describe('parseIo', () => {
  test('a process io file', () => {
    assert.deepEqual(parseIo(fixture('target.io')), {
      rchar: 1948372,
      wchar: 20481,
      syscr: 412,
      syscw: 37,
      readBytes: 1245184,
      writeBytes: 4096,
      cancelledWriteBytes: 0,
    });
  });
  test('this process, live', () => {
    const io = parseIo(readFileSync('/proc/self/io', 'latin1'));
    assert.ok(io.rchar > 0);
  });
  for (const [name, why] of [
    ['malformed-truncated.io', /no write_bytes: line/],
    ['malformed-badvalue.io', /wchar is not a number/],
    ['malformed-garbage.io', /bad line/],
  ] as const) {
    test(`${name} is refused: ${why}`, () => {
      assert.throws(
        () => parseIo(fixture(name)),
        (e: unknown) => e instanceof ProcParseError && why.test(e.message),
      );
    });
  }
  test('empty', () => assert.throws(() => parseIo(''), ProcParseError));
  test('a number too long for a counter', () => {
    assert.throws(() => parseIo(fixture('target.io').replace('412', '1'.repeat(21))), /syscr is not a number/);
  });
});

describe('parseCtxSwitches', () => {
  test('init.status', () => assert.deepEqual(parseCtxSwitches(fixture('init.status')), { voluntary: 314, nonvoluntary: 25 }));
  test('missing or bad lines are refused', () => {
    const text = fixture('init.status');
    assert.throws(() => parseCtxSwitches(text.replace(/^nonvoluntary_ctxt_switches:.*$/m, '')), /no nonvoluntary_ctxt_switches: line/);
    assert.throws(() => parseCtxSwitches(text.replace('voluntary_ctxt_switches:\t314', 'voluntary_ctxt_switches:\t3x4')), /voluntary_ctxt_switches is not a number/);
    assert.throws(() => parseCtxSwitches(''), ProcParseError);
  });
});

describe('ExtrasReader on a fake /proc', () => {
  test('what parses is given, what does not is null', () => {
    const root = tempDir();
    mkdirSync(join(root, '42/fd'), { recursive: true });
    for (const n of ['0', '1', '2', '7']) writeFileSync(join(root, '42/fd', n), '');
    writeFileSync(join(root, '42/io'), fixture('target.io'));
    writeFileSync(join(root, '42/status'), fixture('init.status'));
    const r = new ExtrasReader(42, { procRoot: root });
    const x = r.read();
    assert.equal(x.fds, 4);
    assert.equal(x.io?.readBytes, 1245184);
    assert.deepEqual(x.ctx, { voluntary: 314, nonvoluntary: 25 });
    // Files turned malformed: read again from offset 0, null each.
    writeFileSync(join(root, '42/io'), fixture('malformed-garbage.io'));
    writeFileSync(join(root, '42/status'), 'Name:\tx\n');
    const y = r.read();
    assert.deepEqual([y.io, y.ctx, y.fds], [null, null, 4]);
    r.close();
    assert.deepEqual(r.read(), { io: null, fds: null, ctx: null });
    // Nothing there at all.
    const none = new ExtrasReader(43, { procRoot: root }).read();
    assert.deepEqual(none, { io: null, fds: null, ctx: null });
    assert.equal(countFds(join(root, '44')), null);
  });
  test('this process: fds as /proc/self/fd lists them', () => {
    const r = new ExtrasReader(process.pid);
    const x = r.read();
    r.close();
    assert.ok(x.io && x.io.rchar > 0);
    assert.ok(x.ctx && x.ctx.voluntary >= 0);
    // Our own listing opens one more descriptor than the reader's did, or the same: within 2.
    assert.ok(Math.abs(x.fds! - readdirSync(`/proc/${process.pid}/fd`).length) <= 2, String(x.fds));
  });
});

describe('request {0, 24}', () => {
  test('round trip and refusals', () => {
    const b = encodeLogFormat(1234, 250, 'jsonl');
    assert.equal(b.length, 17);
    assert.deepEqual(decodeRequest(b), { kind: 'log', pid: 1234, intervalMs: 250, legacy: false, format: 'jsonl' });
    assert.equal((decodeRequest(encodeLogFormat(1, 3_000_000_000, 'csv')) as { intervalMs: number }).intervalMs, 3_000_000_000);
    assert.equal(decodeRequest(b.subarray(0, 16)).kind, 'malformed');
    assert.equal(decodeRequest(Buffer.concat([b, Buffer.from([0])])).kind, 'malformed');
    const bad = Buffer.from(b);
    bad[16] = 9;
    assert.deepEqual(decodeRequest(bad), { kind: 'malformed', reason: 'unknown log format 9' });
    assert.equal(OP_LOG_FORMAT, 24);
  });
  test('file suffixes', () =>
    assert.deepEqual(
      ['text', 'csv', 'jsonl'].map((f) => logSuffix(f as 'csv')),
      ['', '.csv', '.jsonl'],
    ));
});

describe('machine lines read back as the readers read them', () => {
  const reader = ProcessReader.open(process.pid);
  const a = reader.sample();
  const b = reader.sample();
  reader.close();
  a.timeMs = 1_700_000_000_000;
  b.timeMs = 1_700_000_000_250; // a quarter second later
  const extras = { io: parseIo(fixture('target.io')), fds: 9, ctx: { voluntary: 5, nonvoluntary: 6 } };
  const opts = { pageKb: pageSizeKb(), clkTck: CLK_TCK };
  const s1 = machineSample(a, null, extras, opts);
  const s2 = machineSample(b, a, { io: null, fds: null, ctx: null }, opts);
  for (const format of ['csv', 'jsonl'] as const) {
    test(format, () => {
      const text = machineHead(format, 'node "x y"') + machineLine(format, s1) + machineLine(format, s2);
      const log = parseLog(text);
      assert.equal(log.format, format);
      assert.equal(log.command, 'node "x y"');
      assert.equal(log.badLineCount, 0);
      assertLength(log.samples, 2);
      const [r1, r2] = log.samples;
      assert.deepEqual([r1.timeMs, r2.timeMs], [1_700_000_000_000, 1_700_000_000_250]);
      assert.equal(r1.residentBytes, a.statm.resident * opts.pageKb * 1024);
      assert.equal(r1.cpuPercent, null);
      assert.equal(typeof r2.cpuPercent, 'number');
      assert.equal(r1.cpuSeconds, Math.round(((a.stat.utime + a.stat.stime) / CLK_TCK) * 100) / 100);
      assert.deepEqual(r1.extra, {
        read_bytes: 1245184,
        write_bytes: 4096,
        rchar: 1948372,
        wchar: 20481,
        open_fds: 9,
        voluntary_ctxt_switches: 5,
        nonvoluntary_ctxt_switches: 6,
      });
      assert.deepEqual(r2.extra, Object.fromEntries(EXTRA_FIELDS.map((k) => [k, null])));
      if (format === 'csv') assert.equal(text.split('\n')[1], [...EXPORT_FIELDS, ...EXTRA_FIELDS].join(','));
    });
  }
});

test('a JSON-lines log with its command line only (just created) is a log, empty; the line is not a sample elsewhere', () => {
  const log = parseLog('{"command":"make -j4"}\n');
  assert.deepEqual([log.format, log.command, log.samples.length, log.badLineCount], ['jsonl', 'make -j4', 0, 0]);
  const file = join(tempDir(), 'make.1.jsonl');
  writeFileSync(file, '{"command":"make -j4"}\n');
  assert.equal(readLog(file).samples.length, 0, 'readLog takes it (not "not a plog log")');
  const later = parseLog('{"epoch_ms":1,"prio":0,"cpu_seconds":0,"threads":1,"min_flt":0,"maj_flt":0,"virtual_bytes":1,"resident_bytes":1,"share_percent":0,"data_bytes":1}\n{"command":"x"}\n');
  assert.deepEqual([later.command, later.samples.length, later.badLineCount], ['', 1, 1]);
});

// ---------------------------------------------------------------------------
// A real plogsrvd.

/** The targets of a process's descriptors. */
function fdTargets(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

test('plog --format csv and jsonl: own names, every field, sub-second times, the extras; the text log reads no io', async () => {
  // PSS at every sample: on a loaded machine the Safe PSS budget may leave
  // it out of some (tested in pss-budget.test.ts); here every field is wanted.
  const srv = await Server.start({ env: { PLOG_PSS_BUDGET: 'off' } });
  const child = spawnSleep();
  const pid = child.pid;
  const reg = async (format: string | null): Promise<string> => {
    const r = await plog(['-d', srv.dir, '-p', String(pid), '-i', '50ms', ...(format ? ['--format', format] : [])]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.replace(/^Log file: /, '').trim();
  };
  const text = await reg(null);
  // Only the text log so far: the server holds no /proc/PID/io.
  await waitLines(text, 4);
  assert.ok(!fdTargets(srv.pid).includes(`/proc/${pid}/io`), 'the text path does not read /proc/PID/io');
  const csv = await reg('csv');
  const csv2 = await reg('csv');
  const jsonl = await reg('jsonl');
  assert.deepEqual(
    [text, csv, csv2, jsonl],
    [`sleep.${pid}`, `sleep.${pid}.csv`, `sleep.${pid}.2.csv`, `sleep.${pid}.jsonl`].map((n) => join(srv.dir, n)),
  );
  assert.ok(fdTargets(srv.pid).includes(`/proc/${pid}/io`), 'a csv log reads /proc/PID/io');
  await waitLines(csv, 2 + 5);
  await waitLines(jsonl, 1 + 5);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  for (const path of [csv, jsonl]) {
    const log = readLog(path);
    assert.equal(log.format, path.endsWith('.csv') ? 'csv' : 'jsonl');
    assert.equal(log.command, 'sleep 300');
    assert.equal(log.badLineCount, 0);
    assert.ok(log.samples.length >= 5);
    // Times to the millisecond: 50 ms apart, no two alike.
    const times = log.samples.map((s) => s.timeMs);
    assert.equal(new Set(times).size, times.length);
    for (const s of log.samples) {
      assert.equal(s.extra?.open_fds, fds);
      assert.equal(typeof s.extra?.read_bytes, 'number');
      assert.equal(typeof s.extra?.wchar, 'number');
      assert.equal(typeof s.extra?.voluntary_ctxt_switches, 'number');
      assert.equal(typeof s.pssBytes, 'number');
    }
  }
  // CSV: the comment, the header, ISO 8601 with its offset (7 lines and more, waited for above).
  const csvLines = lines(csv);
  assert.equal(csvLines[0], '# command: sleep 300');
  assert.equal(csvLines[1], [...EXPORT_FIELDS, ...EXTRA_FIELDS].join(','));
  assert.match(csvLines[2]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?[+-]\d\d:\d\d,\d{13},S,/);
  assert.deepEqual(JSON.parse(lines(jsonl)[0]!), { command: 'sleep 300' });
  // The text log is plog 0.1.0's: no extras.
  assert.equal(readLog(text).format, 'text');
  assert.equal(readLog(text).samples[0]!.extra, undefined);
  // The readers take them as they are.
  const rep = await plog(['report', '--json', jsonl]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.equal((JSON.parse(rep.stdout) as { command: string }).command, 'sleep 300');
  const exp = await plog(['export', '--csv', jsonl]);
  assert.equal(exp.code, 0, exp.stderr);
  assert.match(exp.stdout.split('\n')[0]!, /,open_fds,voluntary_ctxt_switches,nonvoluntary_ctxt_switches$/);
  await plog(['-d', srv.dir, '-x', String(pid)]);
});

test("a server run by nobody logging root's process: io and fds unreadable, empty/null; context switches still there", async () => {
  const dir = join(tempDir(0o755), 'run');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  await Server.start({ dir, asNobody: true, foreground: true, args: ['-m', 'world'] });
  const child = spawnSleep();
  for (const format of ['csv', 'jsonl']) {
    const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '50ms', '--format', format]);
    assert.equal(r.code, 0, r.stderr);
  }
  const csv = await waitLines(join(dir, `sleep.${child.pid}.csv`), 4);
  const jsonl = await waitLines(join(dir, `sleep.${child.pid}.jsonl`), 3);
  const names = csv[1]!.split(',');
  const row = csv[2]!.split(',');
  const cell = (k: string): string => {
    const v = row[names.indexOf(k)];
    assert.ok(v !== undefined, `a column ${k}: ${csv[1]}`);
    return v;
  };
  assert.deepEqual(['read_bytes', 'write_bytes', 'rchar', 'wchar', 'open_fds', 'pss_bytes'].map(cell), ['', '', '', '', '', '']);
  assert.match(cell('voluntary_ctxt_switches'), /^\d+$/);
  const o = JSON.parse(jsonl[1]!) as Record<string, unknown>;
  assert.deepEqual([o.read_bytes, o.wchar, o.open_fds, o.pss_bytes], [null, null, null, null]);
  assert.equal(typeof o.nonvoluntary_ctxt_switches, 'number');
});

test("an old server answers 'Unrecognized request.': plog --format exits 14 saying it cannot write csv/jsonl", async () => {
  const dir = tempDir();
  // plog 0.1.0 knew only {pid, minutes} and {0, 1..3}.
  const sock = fakeServer(dir, (req) => (req.kind === 'log' && req.legacy ? 'Log file: /nowhere' : UNRECOGNIZED));
  try {
    const child = spawnSleep();
    const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '1', '--format', 'csv']);
    assert.equal(r.code, 14, r.stderr);
    assert.match(r.stderr, /cannot write csv\/jsonl/);
    // The same without --format goes as plog 0.1.0's request and works.
    const t = await plog(['-d', dir, '-p', String(child.pid), '-i', '1']);
    assert.deepEqual([t.code, t.stdout], [0, 'Log file: /nowhere\n']);
    assert.equal(decodeReply(encodeReply('x')), 'x');
  } finally {
    sock.close();
  }
});

test('plog --format: bad values and misplaced use are usage errors', async () => {
  let r = await plog(['-p', '1', '-i', '1', '--format', 'xml']);
  assert.equal(r.code, 11);
  assert.match(r.stderr, /--format takes text, csv, jsonl, not 'xml'/);
  r = await plog(['-l', '--format', 'csv']);
  assert.equal(r.code, 11);
  assert.match(r.stderr, /--format goes with -p PID -i INTERVAL/);
});
