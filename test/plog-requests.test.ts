// The wire protocol, spoken by the test itself: 8-byte host-order int32
// pairs as the C client of plog 0.1.0 sends them, this project's extension
// requests, and malformed and random datagrams, against a real plogsrvd.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../src/native.js';
import { alive, blockFor, ints, lines, plog, Raw, Server, sleep, spawnSleep, text, VERSION, waitFor, waitLines } from './helpers/plog.js';

let srv: Server;
let r: Raw;
const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
const INVALID = (ms: number): string => `Invalid interval (${ms} ms): it must be from 10ms to 4294967295 ms, or whole minutes.`;

before(async () => {
  srv = await Server.start({ foreground: true, args: ['-m', 'world'] });
  r = new Raw();
});

/** The log files in the server's directory. */
function logs(): string[] {
  return readdirSync(srv.dir)
    .filter((n) => n !== 'plogd_sock' && n !== 'plogsrvd.pid' && n !== 'plogsrvd.state')
    .sort();
}

test('{pid, minutes}: "Log file: DIR/NAME", sent from the server socket, the first sample already written', async () => {
  const child = spawnSleep();
  await r.send(srv.sock, ints(child.pid, 1));
  const d = await r.recv();
  assert.ok(d);
  assert.equal(text(d), `Log file: ${srv.dir}/sleep.${child.pid}`);
  // NUL-terminated, nothing after it.
  assert.equal(d.data.length, Buffer.byteLength(`Log file: ${srv.dir}/sleep.${child.pid}`) + 1);
  assert.equal(d.data[d.data.length - 1], 0);
  assert.equal(d.path, srv.sock);
  assert.equal(d.uid, 0);
  assert.equal(d.pid, srv.pid);
  // The log has its command line, header and first sample before the reply.
  const l = lines(join(srv.dir, `sleep.${child.pid}`));
  assert.equal(l.length, 3, JSON.stringify(l));
  assert.equal(l[0], 'sleep 300');
});

test('"No such process (PID)." for pids that do not exist (also -1, 0x7fffffff)', async () => {
  for (const pid of [pidMax, -1, -2147483648, 0x7fffffff]) {
    assert.equal(await r.ask(srv.dir, ints(pid, 1)), `No such process (${pid}).`);
  }
  // The extension request the same way, pid 0 included.
  for (const pid of [0, -5, pidMax]) {
    assert.equal(await r.ask(srv.dir, ints(0, 16, pid, 1000)), `No such process (${pid}).`);
  }
  assert.deepEqual(
    logs().filter((n) => !n.startsWith('sleep.')),
    [],
  );
});

test('{0,2} the pid, {0,3} the directory', async () => {
  assert.equal(await r.ask(srv.dir, ints(0, 2)), String(srv.pid));
  assert.equal(await r.ask(srv.dir, ints(0, 3)), srv.dir);
});

test('{0,1} the list: one datagram per log, then "0000"; more than 10 all arrive', async () => {
  const fresh = await Server.start({ args: ['-m', 'world'] });
  assert.deepEqual(await r.list(fresh.dir), []);
  let p = await plog(['-d', fresh.dir, '-l']);
  assert.deepEqual([p.code, p.stdout, p.stderr], [0, '', '']);
  const child = spawnSleep();
  const names: string[] = [];
  for (let n = 1; n <= 14; n++) {
    const name = `sleep.${child.pid}${n === 1 ? '' : `.${n}`}`;
    assert.equal(await r.ask(fresh.dir, ints(child.pid, 5)), `Log file: ${fresh.dir}/${name}`);
    names.push(name);
  }
  // Ask, then read nothing for a while: the client's queue (10 datagrams)
  // overflows and the server must wait for room instead of dropping.
  r.take();
  await r.send(fresh.sock, ints(0, 1));
  blockFor(500);
  const got: string[] = [];
  for (;;) {
    const d = await r.recv(5000);
    assert.ok(d, `list ended early: ${JSON.stringify(got)}`);
    assert.equal(d.path, fresh.sock);
    if (text(d) === '0000') break;
    got.push(text(d));
  }
  assert.deepEqual(got, names);
  p = await plog(['-d', fresh.dir, '-l']);
  assert.deepEqual([p.code, p.stdout, p.stderr], [0, names.map((n) => n + '\n').join(''), '']);
});

test('{0,other}: "Unrecognized request."', async () => {
  for (const op of [0, 4, 5, 15, 23, 25, 99, -1, 0x7fffffff]) {
    assert.equal(await r.ask(srv.dir, ints(0, op)), 'Unrecognized request.', `{0,${op}}`);
  }
});

test('malformed datagrams: short, 9 bytes, 65535 bytes, wrong extension sizes', async () => {
  for (let n = 0; n <= 7; n++) {
    assert.equal(await r.ask(srv.dir, Buffer.alloc(n, 0)), `Malformed request: short request (${n} bytes).`, `${n} bytes`);
  }
  // plog 0.1.0 read the first 8 bytes of a request: a ninth byte is ignored.
  assert.equal(await r.ask(srv.dir, Buffer.concat([ints(0, 2), Buffer.from([7])])), String(srv.pid));
  assert.equal(await r.ask(srv.dir, Buffer.concat([ints(0, 16), Buffer.from([7])])), 'Malformed request: bad size 9 for a log request.');
  const child = spawnSleep();
  assert.equal(await r.ask(srv.dir, ints(0, 16, child.pid)), 'Malformed request: bad size 12 for a log request.');
  assert.equal(await r.ask(srv.dir, ints(0, 16, child.pid, 1000, 0)), 'Malformed request: bad size 20 for a log request.');
  assert.equal(await r.ask(srv.dir, ints(0, 17)), 'Malformed request: bad size 8 for a stop request.');
  assert.equal(await r.ask(srv.dir, ints(0, 17, child.pid, 0)), 'Malformed request: bad size 16 for a stop request.');
  // 65535 bytes: a log request that long is refused; zeros are {0,0}.
  const big = Buffer.alloc(65535, 0);
  ints(child.pid, 1).copy(big);
  assert.equal(await r.ask(srv.dir, big), 'Malformed request: long request (65535 bytes).');
  assert.equal(await r.ask(srv.dir, Buffer.alloc(65535, 0)), 'Unrecognized request.');
  assert.equal(logs().filter((n) => n.startsWith(`sleep.${child.pid}`)).length, 0, 'no log for a malformed request');
  assert.equal(await r.ask(srv.dir, ints(0, 2)), String(srv.pid));
});

test('1000 random datagrams: the server still answers and still runs', async () => {
  const noisy = new Raw();
  for (let i = 0; i < 1000; i++) {
    const buf = randomBytes(randomInt(0, 80));
    // Half of them start with int 0 (queries and extensions, a quarter with
    // a small opcode); pids are kept away from real ones (a random request
    // must not start logging some process on this machine): setting a bit
    // in both end bytes makes the int >= 0x40000000 or negative in either
    // byte order.
    if (buf.length >= 4) {
      if (i % 2) buf.fill(0, 0, 4);
      else {
        buf[0]! |= 0x40;
        buf[3]! |= 0x40;
      }
    }
    if (buf.length >= 8 && i % 4 === 1) ints(0, randomInt(0, 20)).copy(buf);
    if (buf.length >= 12) {
      buf[8]! |= 0x40;
      buf[11]! |= 0x40;
    }
    await noisy.send(srv.sock, buf);
    if (i % 50 === 0) noisy.take();
  }
  // And some from a socket that is not bound (nowhere to answer).
  const unbound = new UnixSocket();
  try {
    for (let i = 0; i < 100; i++) unbound.trySend(randomBytes(randomInt(0, 20)), srv.sock);
    unbound.trySend(ints(0, 1), srv.sock);
  } finally {
    unbound.close();
  }
  noisy.close();
  assert.equal(await r.ask(srv.dir, ints(0, 2)), String(srv.pid));
  assert.equal(await r.ask(srv.dir, ints(0, 3)), srv.dir);
  assert.ok(alive(srv.pid));
  assert.equal(srv.child!.exitCode, null);
  assert.doesNotMatch(srv.stderr, /internal error|Poll\(\) failed/);
});

test('interval 0, negative or too small: an error reply and no log', async () => {
  const child = spawnSleep();
  const cases: Array<[Buffer, number]> = [
    [ints(child.pid, 0), 0],
    [ints(child.pid, -1), -60_000],
    [ints(child.pid, -2147483648), -2147483648 * 60_000],
    [ints(0, 16, child.pid, 0), 0],
    [ints(0, 16, child.pid, 9), 9],
  ];
  for (const [req, ms] of cases) assert.equal(await r.ask(srv.dir, req), INVALID(ms));
  assert.deepEqual(
    logs().filter((n) => n.startsWith(`sleep.${child.pid}`)),
    [],
  );
  assert.deepEqual(await r.list(srv.dir).then((l) => l.filter((n) => n.startsWith(`sleep.${child.pid}`))), []);
});

test('extensions: {0,16,pid,ms} logs in milliseconds, {0,17,pid} stops, {0,18} says hello', async () => {
  assert.equal(await r.ask(srv.dir, ints(0, 18)), `plogsrvd ${VERSION} ext 2`);
  const child = spawnSleep();
  const log = join(srv.dir, `sleep.${child.pid}`);
  const start = Date.now();
  assert.equal(await r.ask(srv.dir, ints(0, 16, child.pid, 250)), `Log file: ${log}`);
  const l = await waitLines(log, 7);
  assert.ok(Date.now() - start >= 4 * 250 - 50, `5 samples at 250 ms in ${Date.now() - start} ms`);
  assert.match(l[2]!, /^\d\d-\d\d [ \d]\d:\d\d:\d\d\.\d\d\d /);
  assert.equal(await r.ask(srv.dir, ints(0, 17, child.pid)), `Stopped logging to ${log}`);
  const n = lines(log).length;
  await sleep(800); // three 250 ms intervals: a sample would have come
  assert.equal(lines(log).length, n, 'the log grew after the stop');
  assert.equal(await r.ask(srv.dir, ints(0, 17, child.pid)), `Not logging ${child.pid}.`);
  // The largest interval the extension can carry (uint32 ms) is accepted.
  assert.equal(await r.ask(srv.dir, ints(0, 16, child.pid, 0xffffffff)), `Log file: ${log}.2`);
  assert.equal(lines(`${log}.2`).length, 3);
  // not whole minutes (nor whole seconds): times with seconds and milliseconds
  assert.match(lines(`${log}.2`)[2]!, /^\d\d-\d\d [ \d]\d:\d\d:\d\d\.\d\d\d /);
  assert.equal(await r.ask(srv.dir, ints(0, 17, child.pid)), `Stopped logging to ${log}.2`);
  // The largest legacy interval, INT32_MAX minutes, is accepted as plog 0.1.0 did.
  assert.equal(await r.ask(srv.dir, ints(child.pid, 0x7fffffff)), `Log file: ${log}.3`);
  assert.match(lines(`${log}.3`)[2]!, /^\d\d-\d\d [ \d]\d:\d\d (?!\d)/);
  assert.equal(await r.ask(srv.dir, ints(0, 17, child.pid)), `Stopped logging to ${log}.3`);
  await waitFor('the server to be idle', async () => (await r.list(srv.dir)).every((x) => !x.startsWith(`sleep.${child.pid}`)));
});
