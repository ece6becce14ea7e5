// plog export (src/plog/log/export.ts, src/cli/plog-export.ts): ISO 8601 local
// times with their offset (Europe/Berlin: +01:00 in winter, +02:00 in
// summer), epoch milliseconds, bytes, '-' as empty/null, a line without
// Priv&Write, quoting; the command's options, output file, a closed pipe
// and exit codes.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseLog } from '../src/plog/log/logread.js';
import { EXPORT_FIELDS } from '../src/plog/log/fields.js';
import { csvCell, isoLocal, toCsv, toJsonl } from '../src/plog/log/export.js';
import { READER } from '../src/plog/readers/exitcodes.js';
import { series, textLog } from './helpers/logs.js';
import { assertLength, plog as runPlog, type RunResult } from './helpers/plog.js';

/** plog in a fixed time zone: the logs' local times are read the same anywhere. */
const plog = (args: string[]): Promise<RunResult> => runPlog(args, { env: { TZ: 'Europe/Berlin' } });

const PLOG = new URL('../src/cli/plog.js', import.meta.url).pathname;
const FIX = new URL('../../test/fixtures/logs/', import.meta.url).pathname;
const tmp = mkdtempSync('/tmp/plog-export-');
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('formats', () => {
  test('isoLocal: the local time with its offset; milliseconds only when not 0', () => {
    assert.equal(isoLocal(new Date(2024, 0, 5, 9, 7, 3).getTime()), '2024-01-05T09:07:03+01:00');
    assert.equal(isoLocal(new Date(2024, 6, 5, 9, 7, 3, 45).getTime()), '2024-07-05T09:07:03.045+02:00');
    assert.equal(isoLocal(Date.UTC(2024, 0, 1, 0, 0, 0)), '2024-01-01T01:00:00+01:00');
    // The same instant, read back.
    const ms = new Date(2024, 9, 27, 2, 30).getTime();
    assert.equal(Date.parse(isoLocal(ms)), ms);
  });

  test('csvCell quotes only when needed', () => {
    assert.equal(csvCell('S'), 'S');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(undefined), '');
    assert.equal(csvCell(12.5), '12.5');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  });

  const log = parseLog(readFileSync(join(FIX, 'dashes.plog'), 'utf8'), 'dashes.plog', { year: 2024 });
  test("CSV: a header of every field, a row per sample, bytes, empty cells for '-' and a left-out Priv&Write", () => {
    const csv = [...toCsv(log)].join('');
    const rows = csv.trimEnd().split('\n');
    assert.equal(rows[0], EXPORT_FIELDS.join(','));
    assert.equal(rows[0], 'time,epoch_ms,state,prio,cpu_seconds,cpu_percent,threads,min_flt,maj_flt,virtual_bytes,resident_bytes,share_percent,pss_bytes,swap_bytes,data_bytes,priv_write_bytes');
    const ms = new Date(2024, 5, 1, 12, 0, 0).getTime();
    assert.equal(rows[1], `2024-06-01T12:00:00+02:00,${ms},S,20,0,,1,100,0,${3600 * 1024},${900 * 1024},25,,,${720 * 1024},`);
    assert.equal(rows[2], `2024-06-01T12:00:10+02:00,${ms + 10_000},S,20,0,3,1,100,0,${3640 * 1024},${910 * 1024},25,,,${728 * 1024},`);
    assert.equal(rows[3], `2024-06-01T12:00:20+02:00,${ms + 20_000},S,20,0,2,1,100,0,${3680 * 1024},${920 * 1024},25,${800 * 1024},0,${736 * 1024},${700 * 1024}`);
    assert.equal(rows.length, 4);
  });

  test("JSON lines: the same fields, null for '-', priv_write_bytes left out where the log line left it out", () => {
    const lines = [...toJsonl(log)]
      .join('')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assertLength(lines, 3);
    assert.deepEqual(Object.keys(lines[0]), [...EXPORT_FIELDS]);
    assert.equal(lines[0].pss_bytes, null);
    assert.equal(lines[0].priv_write_bytes, null);
    assert.equal(lines[0].cpu_percent, null);
    assert.equal('priv_write_bytes' in lines[1], false);
    assert.equal(lines[2].resident_bytes, 920 * 1024);
    assert.equal(lines[2].time, '2024-06-01T12:00:20+02:00');
    assert.equal(lines[2].epoch_ms, new Date(2024, 5, 1, 12, 0, 20).getTime());
  });

  test('extra fields of a machine-format log are exported as further columns', () => {
    const csv =
      'time,epoch_ms,state,prio,cpu_seconds,cpu_percent,threads,min_flt,maj_flt,virtual_bytes,resident_bytes,share_percent,pss_bytes,swap_bytes,data_bytes,priv_write_bytes,fds,note\n' +
      '2024-06-01T12:00:00+02:00,1717236000000,S,20,1,,2,10,0,4096,2048,10,,,1024,,7,"x,y"\n';
    const l = parseLog(csv, 'x.csv');
    const out = [...toCsv(l)].join('');
    assert.match(out, /,priv_write_bytes,fds,note\n/);
    assert.match(out, /,7,"x,y"\n$/);
    assert.match([...toJsonl(l)].join(''), /"fds":7,"note":"x,y"/);
  });
});

describe('plog export', () => {
  const file = join(tmp, 'app.42');
  const n = 5000;
  writeFileSync(
    file,
    textLog(
      'app',
      series(new Date(2024, 0, 5, 9, 0), 1000, n, (i) => 1000 + (i % 2000)),
    ),
  );

  test('--csv and --jsonl to standard output; -o FILE', async () => {
    let r = await plog(['export', '--csv', '--year', '2024', file]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trimEnd().split('\n');
    assert.equal(rows.length, n + 1);
    assert.match(rows[1]!, /^2024-01-05T09:00:00\+01:00,/);
    r = await plog(['export', '--jsonl', '--year', '2024', file]);
    assert.equal(r.stdout.trimEnd().split('\n').length, n);
    const out = join(tmp, 'out.csv');
    r = await plog(['export', '--csv', '-o', out, file]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(out, 'utf8').trimEnd().split('\n').length, n + 1);
  });

  test('into a pipe closed early (| head -1): quiet, exit 0', () => {
    // ~1.7 MB of JSON: far more than a pipe holds, so the writer meets EPIPE.
    const r2 = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${PLOG}" export --jsonl "${file}" | head -n 1 >/dev/null`], { encoding: 'utf8' });
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(r2.stderr, '');
  });

  test('a cut last line: left out, with a warning', async () => {
    const r = await plog(['export', '--csv', join(FIX, 'damaged.plog')]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trimEnd().split('\n').length, 1 + 3);
    assert.match(r.stderr, /1 line not understood/);
    assert.match(r.stderr, /the last line is unfinished/);
  });

  test('usage errors exit 11, a missing log 16, not a log 17, an unwritable output 18', async () => {
    for (const args of [[file], ['--csv', '--jsonl', file], ['--csv'], ['--csv', file, file], ['--csv', '--year', 'x', file]]) {
      const r = await plog(['export', ...args]);
      assert.equal(r.code, READER.USAGE.code, args.join(' '));
      assert.match(r.stderr, /Try 'plog export --help'\./);
    }
    assert.equal((await plog(['export', '--csv', join(tmp, 'missing')])).code, READER.READ.code);
    assert.equal((await plog(['export', '--csv', '/etc/hostname'])).code, READER.NOT_A_LOG.code);
    const r = await plog(['export', '--csv', '-o', '/proc/version', file]);
    assert.equal(r.code, READER.OUTPUT.code);
    assert.match(r.stderr, /^plog export: \/proc\/version: /m);
  });

  test('--help lists the fields and the exit codes', async () => {
    const r = await plog(['export', '--help']);
    assert.equal(r.code, 0);
    for (const f of EXPORT_FIELDS) assert.ok(r.stdout.includes(f), f);
    for (const c of Object.values(READER)) assert.ok(r.stdout.includes(`  ${c.code}  ${c.meaning}`), c.meaning);
  });
});
