// Fuzz strlogd with 1,000,000 datagrams (FUZZ_COUNT) on DIR/submit: random
// bytes of 0 to 65535 bytes, headers whose length lies, several records in
// one datagram, valid records with random interfaces, flags, ids, levels,
// facilities and ack tokens (never answered: a datagram gets no answer),
// and mutated records (see fuzz.ts). An error logger and a trace logger for
// everything are registered meanwhile, reading as they should. strlogd must
// not crash, its memory must stay bounded, and afterwards a valid message
// is acknowledged and delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LogStream, SL_ERROR, SL_TRACE, StrlogClient } from '../../src/strlog/index.js';
import { atEnd, Driver } from '../helpers/strlog.js';
import { fuzz } from './fuzz.js';
import { fmt, running } from './lib.js';

const COUNT = Number(process.env.FUZZ_COUNT ?? 1_000_000);
const SENDERS = Number(process.env.FUZZ_SENDERS ?? 3);

test(`strlogd: ${COUNT} fuzzed datagrams from ${SENDERS} senders: no crash, bounded, still delivering`, { timeout: 3_600_000 }, async (t) => {
  const d = await Driver.start();
  let delivered = 0;
  const streams = [await LogStream.open('error', { rundir: d.dir }), await LogStream.open('trace', { rundir: d.dir, ids: [{ mid: -1, sid: -1, level: 127 }] })];
  for (const s of streams) {
    s.on('messages', (b: unknown[]) => (delivered += b.length));
    atEnd(() => s.close());
  }
  const before = await d.stats();
  const res = await fuzz({
    target: 'strlogd',
    socket: join(d.dir, 'submit'),
    pid: d.pid,
    count: COUNT,
    senders: SENDERS,
    seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
  });
  const after = await d.stats();
  const summary = {
    seed: res.seed,
    sent: res.sent,
    seconds: +(res.ms / 1000).toFixed(1),
    perSecond: Math.round(res.perSecond),
    eagain: res.eagain,
    bytes: res.bytes,
    acksReceived: res.replies,
    rssKb: res.rss,
    delivered,
    stats: {
      datagrams: after.datagrams,
      records: after.records,
      malformed: after.malformed,
      notLogged: after.notLogged,
      demoted: after.demoted,
      acks: after.acks,
      seq: after.seq,
      backlog: after.backlog,
      loggers: after.loggers,
    },
  };
  t.diagnostic(`FUZZ strlogd ${JSON.stringify(summary)}`);
  t.diagnostic(`${fmt(res.sent)} datagrams in ${(res.ms / 1000).toFixed(1)} s = ${fmt(res.perSecond)}/s; VmRSS ${fmt(res.rss.first)} -> max ${fmt(res.rss.max)} -> ${fmt(res.rss.last)} kB`);
  assert.equal(res.error, null, 'a sender failed (strlogd gone?)');
  assert.equal(res.sent, COUNT);
  assert.ok(res.alive && running(d.pid), 'strlogd died');
  assert.equal(d.child.exitCode, null);
  assert.ok((after.datagrams ?? 0) - (before.datagrams ?? 0) >= COUNT, JSON.stringify(summary));
  assert.ok(after.malformed > 0 && after.records > 0, 'both kinds were sent');
  assert.ok(res.rss.max - res.rss.first < 200_000, `VmRSS grew by ${res.rss.max - res.rss.first} kB`);
  assert.doesNotMatch(d.stderr, /internal error|TypeError|RangeError/, d.stderr.slice(0, 2000));
  // A valid message afterwards: acknowledged, numbered, delivered.
  const c = new StrlogClient({ rundir: d.dir });
  atEnd(() => c.close());
  const n = delivered;
  const ack = await c.strlogWait(7, 8, 0, SL_ERROR | SL_TRACE, 'after the fuzz: %d', 42);
  assert.ok(ack && ack.result === 1, `ack: ${JSON.stringify(ack)}`);
  const end = Date.now() + 5000;
  while (delivered < n + 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok(delivered >= n + 2, `delivered ${delivered - n} of 2 after the fuzz`);
});
