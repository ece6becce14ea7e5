// format()'s shortcuts (formats taken apart once and cached; plain %d, %i
// and %s without the general machinery) print exactly what the general path
// prints: '%0d' and '%0s' take the general path and mean the same as '%d'
// and '%s' for every argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format } from '../src/syslog/printf.js';

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

const VALUES: unknown[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  2.9,
  -2.9,
  2 ** 53 - 1,
  -(2 ** 53) + 1,
  2 ** 53,
  2 ** 60,
  -(2 ** 63),
  1e21,
  1e300,
  NaN,
  Infinity,
  -Infinity,
  '',
  'x',
  '12',
  ' 7',
  'abc',
  'é',
  '😀',
  null,
  undefined,
  true,
  false,
  10n,
  -(2n ** 70n),
  { a: 1 },
  [1, 2],
  new Error('boom'),
];

test('plain %d %i %s against the general path, for every kind of argument', () => {
  const r = rng(9);
  const vals = [...VALUES];
  for (let k = 0; k < 2000; k++) vals.push((r() - 0.5) * 10 ** Math.floor(r() * 25));
  for (const v of vals) {
    assert.equal(format('%d', [v]), format('%0d', [v]), `%d of ${String(v)}`);
    assert.equal(format('%i', [v]), format('%0i', [v]), `%i of ${String(v)}`);
    assert.equal(format('%s', [v]), format('%0s', [v]), `%s of ${String(v)}`);
    assert.equal(format('a %d b %s c %i%%', [v, v, v]), format('a %0d b %0s c %0i%%', [v, v, v]));
  }
});

test('a cached format gives the same text again, with other arguments; missing arguments', () => {
  const f = 'bench message %d from %s: %s %5.2f %m %';
  const a = format(f, [1, 'x', 'ok', 3.14159], 'ENOENT');
  assert.equal(a, 'bench message 1 from x: ok  3.14 No such file or directory %');
  assert.equal(format(f, [1, 'x', 'ok', 3.14159], 'ENOENT'), a);
  assert.equal(format(f, [2, 'y', 'ko', 2.5], 0), 'bench message 2 from y: ko  2.50 Success %');
  assert.equal(format('%d %s', []), '0 (null)');
  assert.equal(format('%2$s %1$d', [5, 'z']), 'z 5');
  assert.equal(format('%*d|%-*d|', [4, 7, 3, 8]), '   7|8  |');
});
