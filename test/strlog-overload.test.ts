// Overload: a logger that does not keep up loses messages, the driver drops
// the oldest of its queue, and the gaps in what the logger wrote are
// exactly the messages it lost, as strlogd counts them. The sender is never
// held up. Real strlogd, strtrace (its stdout a pipe the test stops
// reading) and strerr (stopped with SIGSTOP).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { SL_ERROR, SL_TRACE, StrlogClient, type LoggerStats } from '../src/strlog/index.js';
import { Driver, errorLog, parseErrLine, parseTraceLine, startStrerr, startStrtrace, tempDir, waitFor } from './helpers/strlog.js';

const ROUND = 10_000;

/**
 * Send rounds of messages `text i` (i counting from 0) until the driver
 * says the logger `pid` dropped some; never waiting on the driver. Returns
 * how many were sent and the slowest strlog() call.
 */
async function overload(d: Driver, c: StrlogClient, pid: number, flags: number): Promise<{ sent: number; slowest: number }> {
  let sent = 0;
  let slowest = 0;
  for (let round = 0; round < 12; round++) {
    for (let i = 0; i < ROUND; i++) {
      const t = performance.now();
      assert.equal(c.strlog(9, 9, 0, flags, 'overload %d', sent++), 1);
      slowest = Math.max(slowest, performance.now() - t);
      // About 20,000 a second: a logger that reads keeps up even on a busy
      // machine; one that does not read falls behind all the same.
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 10));
    }
    await c.flush();
    await waitFor('the driver to take every message', async () => (await d.stats()).records === sent, { timeout: 30_000 });
    const l = await d.logger(pid);
    if (l && l.dropped > 0) return { sent, slowest };
  }
  throw new Error('the logger never fell behind');
}

function checkGaps(seqs: number[], texts: string[], last: number, l: LoggerStats): string {
  assert.ok(l.dropped > 0);
  // In order, no number twice, each line the message of its number.
  for (let i = 0; i < seqs.length; i++) {
    if (i > 0) assert.ok(seqs[i]! > seqs[i - 1]!, `seq ${seqs[i]} after ${seqs[i - 1]}`);
    assert.equal(texts[i], `overload ${seqs[i]! - 1}`);
  }
  assert.equal(seqs.at(-1), last, 'the newest message is never the one dropped');
  let missing = 0;
  let gaps = 0;
  let prev = 0;
  for (const s of seqs) {
    if (s !== prev + 1) {
      gaps++;
      missing += s - prev - 1;
    }
    prev = s;
  }
  assert.ok(gaps >= 1);
  // Every loss is a gap, and no gap without a loss.
  assert.equal(missing, l.dropped, `${missing} missing numbers in ${gaps} gaps, ${l.dropped} dropped by strlogd`);
  assert.equal(seqs.length + l.dropped, last);
  assert.equal(l.written + l.dropped, l.enqueued);
  return `${seqs.length} lines, ${gaps} gap(s), ${missing} numbers missing, ${l.dropped} dropped by strlogd, last seq ${last}`;
}

test('a tracer whose output nobody reads: its gaps are exactly its drops; the sender never waits', async (t) => {
  // Queues big enough for any burst: the drops come from the reader that
  // stopped, not from the rate (a tracer that reads loses nothing).
  const d = await Driver.start({ args: ['-n', '-q', '1m'] });
  const tracer = await startStrtrace(d);
  // The control: a strtrace writing to /dev/null, which keeps up.
  const control = await startStrtrace(d, [], { stdout: 'ignore' });
  const out = tracer.child.stdout as Readable;
  out.pause();
  const c = new StrlogClient({ rundir: d.dir, queueBytes: 64 << 20 });
  try {
    const { sent, slowest } = await overload(d, c, tracer.pid, SL_TRACE);
    assert.equal(c.dropped, 0, 'no loss before the driver');
    assert.ok(slowest < 2000, `a strlog() call took ${slowest.toFixed(1)} ms (a waiting sender would hang)`);
    const last = (await d.stats()).seq.trace;
    assert.equal(last, sent);
    out.resume();
    await waitFor(`strtrace to print seq ${last}`, () => tracer.stdout.includes(` overload ${last - 1}\n`), { timeout: 30_000 });
    const l = (await d.logger(tracer.pid))!;
    const p = tracer.lines().map(parseTraceLine);
    t.diagnostic(
      checkGaps(
        p.map((x) => x.seq),
        p.map((x) => x.text),
        last,
        l,
      ),
    );
    const ok = (await d.logger(control.pid))!;
    assert.deepEqual([ok.enqueued, ok.dropped], [last, 0], 'the tracer that keeps up lost nothing');
  } finally {
    c.close();
  }
});

test('a stopped strerr: the gaps in its file are exactly what strlogd dropped for it; strerr adds none', async (t) => {
  const d = await Driver.start({ args: ['-n', '-q', '512k'] });
  const logdir = tempDir();
  const strerr = await startStrerr(d, logdir);
  strerr.child.kill('SIGSTOP');
  const c = new StrlogClient({ rundir: d.dir, queueBytes: 64 << 20 });
  try {
    const { sent } = await overload(d, c, strerr.pid, SL_ERROR);
    assert.equal(c.dropped, 0);
    const last = (await d.stats()).seq.error;
    assert.equal(last, sent);
    strerr.child.kill('SIGCONT');
    await waitFor(
      `strerr to write seq ${last}`,
      () =>
        errorLog(logdir)
          .at(-1)
          ?.endsWith(` overload ${last - 1}`),
      { timeout: 30_000 },
    );
    const l = (await d.logger(strerr.pid))!;
    const p = errorLog(logdir).map(parseErrLine);
    t.diagnostic(
      checkGaps(
        p.map((x) => x.seq),
        p.map((x) => x.text),
        last,
        l,
      ),
    );
  } finally {
    c.close();
  }
});
