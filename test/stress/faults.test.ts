// Faults that take long or need a compiler: a target with 100,000 mappings
// (vm.max_map_count raised for the test and restored), and targets exiting
// while they are being sampled (many, each with 3,000 mappings so that a
// sample takes long enough to be caught in the middle).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLogLine } from '../../src/plog/log/lineparse.js';
import { ints, killChild, lines, raw, Raw, Server, sockDir, spawnChild, tempDir, waitFor, waitLines } from '../helpers/plog.js';
import { plogStats, sleep } from './lib.js';

const TARGET_C = '/work/shared/bench/target.c';

function compileTarget(): string | null {
  if (!existsSync(TARGET_C)) return null;
  const out = join(tempDir(), 'target');
  try {
    execFileSync('cc', ['-O2', '-o', out, TARGET_C, '-lpthread']);
  } catch {
    return null;
  }
  return out;
}

function mapCount(pid: number): number {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n').length - 1;
  } catch {
    return 0;
  }
}

test('a target with 100,000 mappings: logged, Priv&Write complete, the server still answering meanwhile', { timeout: 300_000 }, async (t) => {
  const target = compileTarget();
  if (!target) return t.skip(`no ${TARGET_C} or no cc`);
  const old = readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim();
  try {
    if (Number(old) < 300_000) writeFileSync('/proc/sys/vm/max_map_count', '300000');
  } catch (err) {
    return t.skip(`cannot raise vm.max_map_count: ${(err as Error).message}`);
  }
  try {
    const srv = await Server.start({ foreground: true });
    const c = spawnChild(target, ['100000', '200']);
    await waitFor('100,000 mappings', () => mapCount(c.pid!) >= 100_000, { timeout: 120_000, interval: 500 });
    const maps = mapCount(c.pid!);
    const log = join(srv.dir, `target.${c.pid}`);
    const t0 = performance.now();
    assert.equal(await raw().ask(srv.dir, ints(0, 16, c.pid!, 1000), 30_000), `Log file: ${log}`);
    const firstMs = performance.now() - t0;
    // While it samples (each sample reads ~7 MB of maps), another client is answered.
    const lat: number[] = [];
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      const q0 = performance.now();
      assert.equal(await raw().ask(srv.dir, ints(0, 2), 10_000), String(srv.pid));
      lat.push(performance.now() - q0);
      await sleep(20);
    }
    const l = await waitLines(log, 7, { timeout: 30_000 });
    lat.sort((a, b) => a - b);
    const st = await plogStats(srv.dir, sockDir());
    const fig = { mapLines: maps, firstSampleMs: Math.round(firstMs), requestMs: { p50: Math.round(lat[lat.length >> 1]!), max: Math.round(lat.at(-1)!) }, lines: l.length, stats: st };
    t.diagnostic(`MAPPINGS ${JSON.stringify(fig)}`);
    for (const line of l.slice(2)) {
      const r = parseLogLine(line);
      assert.ok(r, line);
      assert.equal(typeof r.privWriteKb, 'number', `Priv&Write complete: ${line}`);
      assert.ok(r.privWriteKb! >= 200 * 1024, line);
      assert.ok(r.residentKb >= 200 * 1024, line);
    }
    // A sample blocks the server for its duration, not longer.
    assert.ok(fig.requestMs.max < 2000, JSON.stringify(fig));
    await killChild(c);
    await waitFor('the log to end', async () => (await plogStats(srv.dir, sockDir())).logs === 0);
  } finally {
    writeFileSync('/proc/sys/vm/max_map_count', old);
  }
  assert.equal(readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim(), old);
});

test('200 targets killed while sampled every 10 ms: each log stops with "pid N ended", no torn line, no error', { timeout: 300_000 }, async (t) => {
  const target = compileTarget();
  if (!target) return t.skip(`no ${TARGET_C} or no cc`);
  const srv = await Server.start({ foreground: true, args: ['-v', '-m', 'world'] });
  const N = 200;
  for (let i = 0; i < N; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = spawn(target, ['3000', '20'], { stdio: 'ignore' });
        await waitFor('its mappings', () => mapCount(c.pid!) >= 3000, { interval: 10 });
        const own = new Raw(); // one socket per client: the answers must not mix
        assert.match(await own.ask(srv.dir, ints(0, 16, c.pid!, 10)), /^Log file: /);
        own.close();
        await sleep(20 + Math.random() * 200);
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }),
    );
  }
  await waitFor('every log to end', async () => (await plogStats(srv.dir, sockDir())).logs === 0);
  const ended = srv.stdout.split('\n').filter((l) => /pid \d+ ended(?: \(zombie\))?; stopped logging target\.\d+$/.test(l)).length;
  assert.equal(
    ended,
    N,
    srv.stdout
      .split('\n')
      .filter((l) => !l.includes('now logging'))
      .join('\n'),
  );
  assert.equal(srv.stderr, '', 'no error for a process that ends while sampled');
  let samples = 0;
  let exiting = 0;
  for (const name of readdirSync(srv.dir).filter((n) => n.startsWith('target.'))) {
    const l = lines(join(srv.dir, name));
    assert.ok(readFileSync(join(srv.dir, name), 'utf8').endsWith('\n'), name);
    for (const line of l.slice(2)) {
      const r = parseLogLine(line);
      assert.ok(r, `${name}: ${line}`);
      samples++;
      if (r.virtualKb === 0 && r.state !== 'Z') exiting++;
    }
  }
  t.diagnostic(`EXITING ${JSON.stringify({ targets: N, samples, linesOfExitingProcess: exiting })}`);
});

test('a sample taken while the target exits is not written as a sample of 0 kB', async (t) => {
  const target = compileTarget();
  if (!target) return t.skip(`no ${TARGET_C} or no cc`);
  const srv = await Server.start({ foreground: true });
  let exiting = 0;
  for (let i = 0; i < 100 && exiting === 0; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = spawn(target, ['3000', '20'], { stdio: 'ignore' });
        await waitFor('its mappings', () => mapCount(c.pid!) >= 3000, { interval: 10 });
        const own = new Raw();
        await own.ask(srv.dir, ints(0, 16, c.pid!, 10));
        own.close();
        await sleep(20 + Math.random() * 200);
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }),
    );
    await sleep(100);
    for (const name of readdirSync(srv.dir).filter((n) => n.startsWith('target.'))) {
      for (const line of lines(join(srv.dir, name)).slice(2)) {
        const r = parseLogLine(line);
        if (r && r.virtualKb === 0 && r.state !== 'Z') exiting++;
      }
    }
  }
  assert.equal(exiting, 0, `${exiting} lines with every size 0 kB and a state other than Z`);
});
