// plogsrvd's waits run on a monotonic clock: a step of the wall clock (NTP,
// settimeofday, a resume) neither drops replies early nor holds them for as
// long as it stepped back, and --max-total keeps checking. The daemon runs
// under libfaketime, whose offset file is rewritten mid-run: only the
// daemon's wall clock steps (CLOCK_MONOTONIC is left alone), not the
// machine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ints, lines, raw, Server, silentSocket, sockDir, spawnSleep, tempDir, waitFor } from './helpers/plog.js';
import { faketimeEnv, LIBFAKETIME, NO_FAKETIME } from './helpers/faketime.js';
import { statsOf, type Stats } from './stress/lib.js';

const skip = LIBFAKETIME ? false : NO_FAKETIME;

/** A plogsrvd whose wall clock follows the offset written to the returned file. */
async function steppable(args: string[]): Promise<{ srv: Server; step: (offset: string) => void }> {
  const offset = join(tempDir(), 'offset');
  writeFileSync(offset, '+0\n');
  const srv = await Server.start({
    foreground: true,
    dir: tempDir(0o755),
    args: ['-m', 'world', '-v', ...args],
    env: faketimeEnv(offset),
  });
  return { srv, step: (o) => writeFileSync(offset, `${o}\n`) };
}

async function stats(dir: string): Promise<Stats> {
  const st = statsOf(await raw().ask(dir, ints(0, 19)));
  assert.ok(st);
  return st;
}

/** Logs enough that a list does not fit a client's receive queue (10). */
async function thirtyLogs(srv: Server): Promise<string> {
  let first = '';
  for (let i = 0; i < 30; i++) {
    const k = spawnSleep();
    const reply = await raw().ask(srv.dir, ints(0, 16, k.pid, 100));
    assert.match(reply, /^Log file: /);
    if (!first) first = reply.slice('Log file: '.length);
  }
  return first;
}

test('the wall clock steps an hour forward while a list waits for room: nothing is dropped early', { skip }, async () => {
  const { srv, step } = await steppable([]);
  const log = await thirtyLogs(srv);
  // A client that reads nothing until told.
  const client = silentSocket(join(sockDir(), `clock-${process.pid}-fwd`));
  assert.ok(client.trySend(ints(0, 1), srv.sock) >= 0);
  await waitFor('replies to wait for the client', async () => (await stats(srv.dir)).queued > 0);
  step('+1h');
  // The daemon has seen the step once a sample an hour ahead is written;
  // one more sample (100 ms) later its queue has been retried since.
  const hour = (l: string): number => Number(/^\d\d-\d\d +(\d+):/.exec(l)?.[1] ?? -1);
  const h0 = hour(lines(log).at(-1)!);
  let n = 0;
  await waitFor('a sample an hour ahead', () => {
    const l = lines(log);
    if (hour(l.at(-1)!) !== (h0 + 1) % 24) return false;
    n = n || l.length;
    return l.length > n;
  });
  const st = await stats(srv.dir);
  assert.equal(st.replies_dropped, 0, JSON.stringify(st));
  // The client reads now: the whole list.
  const got: string[] = [];
  await waitFor('the whole list', () => {
    for (let d; (d = client.recv(2048));) got.push(d.data.subarray(0, d.data.indexOf(0)).toString());
    return got.at(-1) === '0000';
  });
  assert.equal(got.length, 31);
  client.close();
});

test('the wall clock steps an hour back: a client that never reads is still given up after 5 s', { skip }, async () => {
  const { srv, step } = await steppable([]);
  await thirtyLogs(srv);
  const client = silentSocket(join(sockDir(), `clock-${process.pid}-back`));
  assert.ok(client.trySend(ints(0, 1), srv.sock) >= 0);
  await waitFor('replies to wait for the client', async () => (await stats(srv.dir)).queued > 0);
  step('-1h');
  const t0 = performance.now();
  await waitFor('the replies to be given up', async () => (await stats(srv.dir)).outboxes === 0, { timeout: 15_000 });
  assert.ok(performance.now() - t0 < 10_000);
  assert.match(srv.stderr, /the client does not read; \d+ replies dropped/);
  client.close();
});

test('the wall clock steps an hour back: --max-total still removes the oldest rotated logs', { skip }, async () => {
  const { srv, step } = await steppable(['--max-size', '1k', '--keep', '50', '--max-total', '8k']);
  // The first check at once, then the clock goes back: the next checks must
  // still come about every second.
  const k = spawnSleep();
  assert.match(await raw().ask(srv.dir, ints(0, 16, k.pid, 20)), /^Log file: /);
  await waitFor('a first rotation', () => readdirSync(srv.dir).some((n) => /\.r\d+$/.test(n)));
  step('-1h');
  const total = (): number =>
    readdirSync(srv.dir)
      .filter((n) => /\.r\d+$/.test(n))
      .reduce((s, n) => s + statSync(join(srv.dir, n)).size, 0);
  await waitFor('a removal after the step', () => /removed \S+\.r\d+ \(\d+ bytes\): the directory is over --max-total/.test(srv.stdout + srv.stderr), { timeout: 20_000 });
  await waitFor('the rotated logs to stay within 8k', () => total() <= 8192 + 2048, { timeout: 10_000 });
});
