// parseLogLineQuick against parseLogLine, the reference: for every line it
// reads, the same record; for the lines plogsrvd writes, it reads them
// (it does not leave them all to parseLogLine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogLine, parseLogLineQuick, type DateOrder } from '../src/plog/log/lineparse.js';

/** A small deterministic generator (the same lines on every run). */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
}

const GOOD: string[][] = [
  ['12-04', '01-31', '31-12', '02-29', '10-10'],
  ['5:06', '23:59:59', '0:00:00.000', '12:30:15.250', '09:07'],
  ['S', 'R', 'D', 'Z', 'I'],
  ['20', '-2', '0', '-0', '139', '007'],
  ['0s', '59s', '1:05', '59:59', '2:00:01', '123:45:06', '10000s'],
  ['-', '0.0', '12.3', '100.0', '250.7', '0.1'],
  ['1', '16', '1024'],
  ['0', '12345', '999999999999999'],
  ['0', '7', '4242'],
  ['0kB', '4095kB', '4.00MB', '1.50MB', '4095.99MB', '4.00GB', '123.45GB', '1.01MB', '0.29MB'],
  ['0kB', '3172kB', '12.34MB', '2.00GB'],
  ['0.0', '12.5', '100.0', '87.5~', '33.3*', '0.1~'],
  ['-', '0kB', '812kB', '1.21GB', '3.33MB'],
  ['-', '0kB', '4kB', '5.55MB'],
  ['0kB', '180kB', '1.07MB', '9.99GB'],
  ['-', '0kB', '96kB', '7.77MB'],
  ['1', '12'],
];
/** Near misses: what a damaged or foreign line may have in a field. */
const BAD = [
  '',
  '-',
  '*',
  '~',
  'x',
  '1',
  '12-4',
  '13-01',
  '00-00',
  '24:00',
  '5:6',
  '5:60',
  '5:06:60',
  '5:06:07.12',
  '5:06.123',
  '+3',
  '1.',
  '.5',
  '1.23',
  '12kb',
  '1.5MB',
  '1.234MB',
  'MB',
  'kB',
  '1:5',
  '1:2:34',
  ':05',
  's',
  '1e3',
  '12.3*',
  '5kB*',
  '-*',
  'n/a',
  'SS',
  '1234567890123456',
  '12345678901234567kB',
  '1234567890123.45MB',
  '12345678901234.45MB',
  '123456789012345.6',
  '99999999999999.9',
  '\t1',
  '1\r',
  'é',
];

test('parseLogLineQuick: the record parseLogLine gives, or leaves the line to it; lines as plogsrvd writes them read quickly', () => {
  const rnd = rng(11);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  let read = 0;
  let plain = 0;
  for (let k = 0; k < 60_000; k++) {
    const n = pick([15, 16, 16, 16, 17]);
    const damaged = rnd() < 0.5;
    const f: string[] = [];
    for (let i = 0; i < n; i++) f.push(damaged && rnd() < 0.15 ? pick(BAD) : pick(GOOD[i]!));
    // The Proportion and Swap marks together, as plogsrvd writes them.
    if (!damaged && f[12]!.endsWith('*') !== f[13]!.endsWith('*')) f[13] = f[12]!.endsWith('*') ? '0kB*' : '0kB';
    if (!damaged && rnd() < 0.2 && f[12] !== '-' && f[13] !== '-') {
      f[12] += '*';
      f[13] += '*';
    }
    let line = f.map((x, i) => (i === 0 ? x : ' '.repeat(damaged && rnd() < 0.05 ? 0 : 1 + Math.floor(rnd() * 3)) + x)).join('');
    if (damaged && rnd() < 0.05) line = pick([' ', '\n', '  ', '\r']) + line;
    if (damaged && rnd() < 0.05) line += pick([' ', '\n', '\r', ' x', '  ']);
    const order: DateOrder = rnd() < 0.8 ? 'month-day' : 'day-month';
    const ref = parseLogLine(line, { order });
    const quick = parseLogLineQuick(line, order);
    if (quick !== undefined) {
      read++;
      assert.deepEqual(quick, ref, line);
    }
    if (!damaged) {
      plain++;
      if (ref !== null) assert.notEqual(quick, undefined, `a plain line left to parseLogLine: ${line}`);
    }
  }
  assert.ok(read > plain / 2, `${read} read of ${plain} plain lines`);
});
