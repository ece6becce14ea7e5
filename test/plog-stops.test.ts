// When logging stops: the process ends, the log is deleted,
// the pid is reused, `plog -x`, the server ends.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, killChild, lines, plog, Server, sleep, spawnChild, spawnSleep, waitFor, waitLines, waitStable } from './helpers/plog.js';

let srv: Server;
before(async () => {
  srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
});

async function listed(name: string, server = srv): Promise<boolean> {
  const r = await plog(['-d', server.dir, '-l']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').includes(name);
}

test('the process ends: the log stops, -l no longer lists it, -v says so', async () => {
  const child = spawnSleep();
  const name = `sleep.${child.pid}`;
  const log = join(srv.dir, name);
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms'])).code, 0);
  await waitLines(log, 5);
  assert.equal(await listed(name), true);
  await killChild(child);
  await srv.waitOutput('stdout', `pid ${child.pid} ended; stopped logging ${name}\n`);
  const n = await waitStable(log, 1000);
  assert.ok(n >= 5);
  assert.equal(await listed(name), false);
  assert.ok(existsSync(log), 'the log is kept');
});

test("the log is deleted: logging stops, reported as Can't find log", async () => {
  const child = spawnSleep();
  const name = `sleep.${child.pid}`;
  const log = join(srv.dir, name);
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms'])).code, 0);
  await waitLines(log, 4);
  unlinkSync(log);
  await srv.waitOutput('stderr', new RegExp(`plogsrvd\\[${srv.pid}\\]: Can't find log ${log}\n`));
  await waitFor(`${name} to leave the list`, async () => !(await listed(name)));
  await sleep(600); // three 200 ms intervals: the log would have been made again
  assert.equal(existsSync(log), false, 'the log must not be created again');
  assert.ok(alive(child.pid), 'the process is left alone');
});

test('the pid is reused by a new process: the new one is not logged in the old log', async (t) => {
  if (!existsSync('/proc/sys/kernel/ns_last_pid')) return t.skip('no /proc/sys/kernel/ns_last_pid');
  // Other processes on the machine may take the pid first: try a few times.
  for (let attempt = 1; attempt <= 10; attempt++) {
    const child = spawnSleep();
    const pid = child.pid;
    const name = `sleep.${pid}`;
    const log = join(srv.dir, name);
    assert.equal((await plog(['-d', srv.dir, '-p', String(pid), '-i', '1s'])).code, 0);
    // Right after a periodic sample, so that the next one comes after the reuse.
    await waitLines(log, 4, { interval: 10 });
    const before = lines(log).length;
    await killChild(child);
    try {
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    } catch (err) {
      return t.skip(`cannot write ns_last_pid: ${(err as Error).message}`);
    }
    const next = spawnChild('sleep', ['302']);
    if (next.pid !== pid) {
      await killChild(next);
      await waitFor(`${name} to end`, async () => !(await listed(name)));
      continue;
    }
    // The server samples again within a second and must see another process.
    const out = await srv.waitOutput('stdout', new RegExp(`pid ${pid} (was reused by another process|ended); stopped logging ${name}\n`));
    // (With /proc/PID/stat kept open the server sees the old process end;
    // the start-time guard would catch a reuse otherwise.)
    t.diagnostic(`attempt ${attempt}: ${out.split('\n').find((l) => l.includes(`pid ${pid} `) && l.includes('stopped'))}`);
    await sleep(1500); // one and a half 1 s intervals: the new process would have been sampled
    assert.equal(lines(log).length, before, `the new process was sampled into ${name}`);
    assert.equal(await listed(name), false);
    assert.ok(alive(pid), 'the new process still runs');
    await killChild(next);
    return;
  }
  t.skip('the pid was taken by another process 10 times');
});

test('plog -x PID: stops logging, keeps the log; then "Not logging PID."', async () => {
  const child = spawnSleep();
  const name = `sleep.${child.pid}`;
  const log = join(srv.dir, name);
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms'])).code, 0);
  await waitLines(log, 4);
  let r = await plog(['-d', srv.dir, '-x', String(child.pid)]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Stopped logging to ${log}\n`, '']);
  await srv.waitOutput('stdout', `stopped logging ${name} on request of uid 0\n`);
  const n = lines(log).length;
  await sleep(800); // four 200 ms intervals: a sample would have come
  assert.equal(lines(log).length, n, 'the log grew after -x');
  assert.ok(existsSync(log));
  assert.equal(await listed(name), false);
  assert.ok(alive(child.pid));
  r = await plog(['-d', srv.dir, '-x', String(child.pid)]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: Not logging ${child.pid}.\n`]);
  // Two logs of one process: -x stops both, and says so for each.
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1'])).code, 0);
  assert.equal((await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '2s'])).code, 0);
  r = await plog(['-d', srv.dir, '-x', String(child.pid)]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Stopped logging to ${log}.2\nStopped logging to ${log}.3\n`, '']);
  assert.equal(await listed(`${name}.2`), false);
  assert.equal(await listed(`${name}.3`), false);
});

test('the server ends: every log stops', async () => {
  const own = await Server.start({ args: ['-m', 'world'] });
  const child = spawnSleep();
  const log = join(own.dir, `sleep.${child.pid}`);
  assert.equal((await plog(['-d', own.dir, '-p', String(child.pid), '-i', '200ms'])).code, 0);
  await waitLines(log, 4);
  own.signal('SIGTERM');
  await own.ended();
  const n = lines(log).length;
  await sleep(800); // four 200 ms intervals: a sample would have come
  assert.equal(lines(log).length, n);
});
