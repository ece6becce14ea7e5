// Conformance with SVR4 and illumos, and losses that must show: sequence
// numbers per tracer, losses in the senders, strclean's order and exit
// codes, strtrace's columns and its triplets from standard input, ticks on
// a monotonic clock, strerr on a day whose file is not its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SL_ERROR, SL_TRACE } from '../src/strlog/index.js';
import { Driver, parseTraceLine, startStrtrace } from './helpers/strlog.js';

test('several tracers: each numbers its own messages, so a gap is a loss (strtrace 1 2 3 beside strtrace all)', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const narrow = await startStrtrace(d, ['1', '2', '3']);
  const all = await startStrtrace(d);
  const c = d.client();
  await c.strlogWait(1, 2, 3, SL_TRACE, 'for both %d', 1);
  await c.strlogWait(9, 9, 0, SL_TRACE | SL_ERROR, 'for all only');
  await c.strlogWait(1, 2, 3, SL_TRACE, 'for both %d', 2);
  const n = (await narrow.waitLines(2)).map(parseTraceLine);
  const a = (await all.waitLines(3)).map(parseTraceLine);
  assert.deepEqual(n.map((l) => [l.seq, l.text]), [[1, 'for both 1'], [2, 'for both 2']]);
  assert.deepEqual(a.map((l) => [l.seq, l.text]), [[1, 'for both 1'], [2, 'for all only'], [3, 'for both 2']]);
  // A tracer that registers later starts at 1.
  const late = await startStrtrace(d, ['9', 'all', 'all']);
  await c.strlogWait(9, 9, 0, SL_TRACE, 'late');
  assert.deepEqual((await late.waitLines(1)).map((l) => parseTraceLine(l).seq), [1]);
  assert.equal(parseTraceLine((await all.waitLines(4))[3]!).seq, 4);
});
