// plogsrvd --metrics ADDR:PORT: the latest sample of every logged process
// over HTTP, OpenMetrics when asked for, Prometheus text otherwise, gzip
// when accepted; labels that hold for a process's life; the memory cgroups
// over each process; the logs stopped for an error. Checked by promtool
// (Debian package prometheus) when it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { escapeLabel, startLabel } from '../src/plog/ops/metrics.js';
import { ancestors, parseProcCgroup } from '../src/proc/cgroup.js';
import { assertLength, killChild, plog, PLOGSRVD, run, spawnChild, spawnSleep, tempDir, waitFor } from './helpers/plog.js';
import { find, get, memoryCgroups, metricsServer, NO_PROMTOOL, OM, promtool, promtoolCheck, samples } from './helpers/fleet.js';

test('escapeLabel', () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

test('startLabel: boot time plus ticks, to the hundredth, the same text each time', () => {
  const btime = Number(/\nbtime (\d+)\n/.exec(readFileSync('/proc/stat', 'utf8'))![1]);
  assert.equal(startLabel(0), `${btime}.00`);
  assert.equal(startLabel(12345), `${btime + 123}.45`);
  assert.equal(startLabel(7), `${btime}.07`);
});

test('parseProcCgroup: v1 memory line, else the v2 line; two candidates, or a path out of the namespace, give none', () => {
  assert.deepEqual(parseProcCgroup('12:pids:/a\n4:memory:/system.slice/x.service\n0::/system.slice/x.service\n'), { version: 1, path: '/system.slice/x.service' });
  assert.deepEqual(parseProcCgroup('5:cpu,memory:/m\n'), { version: 1, path: '/m' });
  assert.deepEqual(parseProcCgroup('0::/user.slice/user-1000.slice/a:b.scope\n'), { version: 2, path: '/user.slice/user-1000.slice/a:b.scope' });
  // A cgroup named with a newline and a line of its own (the kernel does not escape it).
  assert.equal(parseProcCgroup('0::/user.slice/x\n0::/system.slice/other\n'), null);
  assert.equal(parseProcCgroup('4:memory:/a\n9:memory:/b\n'), null);
  assert.equal(parseProcCgroup('0::/../../outside\n'), null);
  assert.equal(parseProcCgroup('0::relative\n'), null);
  assert.equal(parseProcCgroup(''), null);
  assert.deepEqual(ancestors('/a/b/c'), ['/a/b/c', '/a/b', '/a']);
  assert.deepEqual(ancestors('/'), []);
});

test('--metrics: OpenMetrics with labels pid, name, start, log for every logged process, the latest sample, # EOF; promtool check metrics', async () => {
  const { srv, port } = await metricsServer();
  const r = await get(port, '/metrics', OM);
  assert.equal(r.status, 200);
  assert.match(r.type, /^application\/openmetrics-text; version=1\.0\.0/);
  assert.match(r.body, /^plog_logs 0$/m);
  assert.ok(r.body.endsWith('# EOF\n'));
  // A process with an awkward name (quote, backslash, space) and a plain one.
  const sl = spawnSleep();
  const odd2 = spawnChild(process.execPath, ['-e', `process.title = 'we"ird\\\\ name'; setTimeout(() => {}, 300000)`]);
  await waitFor('the odd name', () => readFileSync(`/proc/${odd2.pid}/comm`, 'utf8').startsWith('we"'));
  for (const p of [sl.pid, odd2.pid!]) {
    const l = await plog(['-d', srv.dir, '-p', String(p), '-i', '100ms']);
    assert.equal(l.code, 0, l.stderr);
  }
  // After the name in parentheses: state (field 3) first.
  const stat = readFileSync(`/proc/${sl.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const start = startLabel(Number(stat[19]));
  // (An exposition may be reused for up to 100 ms: wait for the new one.)
  const body = await until(port, OM, (b) => /^plog_logs 2$/m.test(b));
  const rss = find(body, 'plog_resident_memory_bytes', { pid: String(sl.pid) });
  assertLength(rss, 1, body);
  assert.deepEqual(rss[0].labels, { pid: String(sl.pid), name: 'sleep', start, log: `sleep.${sl.pid}` });
  const statm = readFileSync(`/proc/${sl.pid}/statm`, 'utf8').split(' ');
  assert.equal(Number(rss[0].value), Number(statm[1]) * 4096);
  assert.equal(find(body, 'plog_cpu_seconds_total', { pid: String(sl.pid) }).length, 1);
  // comm 'we"ird\ name': quote and backslash escaped in the label; the log's name has _ for the space.
  const prefix = `plog_threads{pid="${odd2.pid}",name="we\\"ird\\\\ name",start="`;
  assert.ok(
    body.split('\n').some((l) => l.startsWith(prefix) && l.includes(`,log="we\\"ird\\\\_name.${odd2.pid}"} `)),
    `${prefix} in ${body}`,
  );
  // Not a tree log: no plog_processes.
  assert.equal(find(body, 'plog_processes').length, 0);
  // Structure: every family has TYPE before its samples, counters' samples end in _total, one # EOF at the end.
  const typed = new Map<string, string>();
  for (const line of body.trimEnd().split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) typed.set(t[1]!, t[2]!);
    else if (!line.startsWith('#')) {
      const name = line.split(/[{ ]/)[0]!;
      const fam = typed.has(name) ? name : name.replace(/_(total|info)$/, '');
      assert.ok(typed.has(fam), `${name} before its TYPE`);
      assert.equal(typed.get(fam) === 'counter', name.endsWith('_total'), line);
    }
  }
  assert.equal(body.match(/^# EOF$/gm)?.length, 1);
  // Samples follow the process: a new sample replaces the latest.
  const ts = (b: string) => Number(find(b, 'plog_sample_timestamp_seconds', { pid: String(sl.pid) })[0]?.value);
  await waitFor('a newer sample', async () => ts((await get(port, '/metrics', OM)).body) > ts(body));
  // Without OpenMetrics in Accept: Prometheus text 0.0.4.
  const prom = await get(port, '/metrics');
  assert.match(prom.type, /^text\/plain; version=0\.0\.4/);
  assert.ok(!prom.body.includes('# EOF'));
  assert.equal((await get(port, '/nothing')).status, 404);
  if (promtool) {
    const p = promtoolCheck(prom.body);
    assert.equal(p.status, 0, p.out);
    assert.equal(p.out.trim(), '', 'no lint');
  }
  // A process that ends leaves the metrics.
  await killChild(odd2);
  await waitFor('plog_logs 1', async () => /^plog_logs 1$/m.test((await get(port, '/metrics')).body));
  assert.ok(!(await get(port, '/metrics')).body.includes(`pid="${odd2.pid}"`));
  await srv.kill();
});

test('--metrics: gzip when the scraper accepts it (as Prometheus does), the same exposition', async () => {
  const { srv, port } = await metricsServer();
  const sl = spawnSleep();
  assert.equal((await plog(['-d', srv.dir, '-p', String(sl.pid), '-i', '1h'])).code, 0);
  const z = await get(port, '/metrics', { ...OM, 'Accept-Encoding': 'gzip' });
  assert.equal(z.encoding, 'gzip');
  const plain = await get(port, '/metrics', OM);
  assert.equal(plain.encoding, '');
  // Logged every hour: nothing changed in between.
  assert.equal(z.body, plain.body);
  assert.equal((await get(port, '/metrics', { 'Accept-Encoding': 'gzip;q=0, identity' })).encoding, '');
  await srv.kill();
});

test('--metrics: the name label stays the one the log began with when the process renames itself', async () => {
  const { srv, port } = await metricsServer();
  const c = spawnChild(process.execPath, ['-e', `process.title = 'before'; process.on('SIGUSR2', () => { process.title = 'after'; }); setTimeout(() => {}, 300000)`]);
  await waitFor('its name', () => readFileSync(`/proc/${c.pid}/comm`, 'utf8') === 'before\n');
  assert.equal((await plog(['-d', srv.dir, '-p', String(c.pid), '-i', '100ms'])).code, 0);
  const first = find(await until(port, {}, (b) => b.includes(`pid="${c.pid}"`)), 'plog_threads', { pid: String(c.pid) });
  assertLength(first, 1);
  assert.equal(first[0].labels.name, 'before');
  process.kill(c.pid!, 'SIGUSR2');
  await waitFor('the new name', () => readFileSync(`/proc/${c.pid}/comm`, 'utf8') === 'after\n');
  // A few samples after the rename: still one series, the same labels.
  const [seen] = find((await get(port)).body, 'plog_sample_timestamp_seconds', { pid: String(c.pid) });
  assert.ok(seen, 'a sample timestamp');
  await waitFor('samples after the rename', async () => {
    const [now] = find((await get(port)).body, 'plog_sample_timestamp_seconds', { pid: String(c.pid) });
    return now !== undefined && now.value !== seen.value;
  });
  const later = find((await get(port)).body, 'plog_threads', { pid: String(c.pid) });
  assert.deepEqual(
    later.map((s) => s.labels),
    first.map((s) => s.labels),
  );
  await killChild(c);
  await srv.kill();
});

/** The exposition once cond holds for it. */
function until(port: number, headers: Record<string, string>, cond: (body: string) => boolean): Promise<string> {
  return waitFor('the exposition', async () => {
    const b = (await get(port, '/metrics', headers)).body;
    return cond(b) ? b : null;
  });
}

/** Write ns_last_pid so that the next process gets pid; false where the kernel refuses. */
function nextPid(pid: number): boolean {
  try {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    return true;
  } catch {
    return false;
  }
}

test('--metrics: a pid taken again by another process (same name, same log name) is a new series, the old one gone', async (t) => {
  if (process.getuid?.() !== 0 || !nextPid(Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8')) + 1)) {
    t.skip('needs root and a writable /proc/sys/kernel/ns_last_pid');
    return;
  }
  const { srv, port } = await metricsServer();
  const a = spawnSleep();
  const pid = a.pid;
  assert.equal((await plog(['-d', srv.dir, '-p', String(pid), '-i', '100ms'])).code, 0);
  const before = find(await until(port, {}, (b) => b.includes(`pid="${pid}"`)), 'plog_resident_memory_bytes', { pid: String(pid) });
  assertLength(before, 1);
  await killChild(a);
  await waitFor('the end of its log', async () => find((await get(port)).body, 'plog_resident_memory_bytes', { pid: String(pid) }).length === 0);
  // Its log removed: the new process's log gets the very same name.
  unlinkSync(`${srv.dir}/sleep.${pid}`);
  let b: ReturnType<typeof spawnSleep> | null = null;
  for (let i = 0; i < 50 && !b; i++) {
    nextPid(pid);
    const c = spawnSleep();
    if (c.pid === pid) b = c;
    else await killChild(c);
  }
  if (!b) {
    t.skip(`pid ${pid} was taken by others 50 times`);
    await srv.kill();
    return;
  }
  assert.equal((await plog(['-d', srv.dir, '-p', String(pid), '-i', '100ms'])).code, 0);
  const after = find(await until(port, {}, (b) => b.includes(`pid="${pid}"`)), 'plog_resident_memory_bytes', { pid: String(pid) });
  assertLength(after, 1);
  assert.equal(after[0].labels.log, before[0].labels.log);
  assert.equal(after[0].labels.name, before[0].labels.name);
  assert.notEqual(after[0].labels.start, before[0].labels.start, 'the start label tells them apart');
  await killChild(b);
  await srv.kill();
});

test('--metrics: a log stopped for an error is counted, and shown with its error for an hour; a normal end is not', async () => {
  const { srv, port } = await metricsServer();
  const a = spawnSleep();
  const b = spawnSleep();
  for (const p of [a.pid, b.pid]) assert.equal((await plog(['-d', srv.dir, '-p', String(p), '-i', '100ms'])).code, 0);
  await killChild(b); // ends: not an error
  await waitFor('the end of b', async () => /^plog_logs 1$/m.test((await get(port)).body));
  let body = (await get(port, '/metrics', OM)).body;
  assert.match(body, /^plog_log_errors_total 0$/m);
  // Deleting the log ends it, and plogsrvd reports that as an error.
  unlinkSync(`${srv.dir}/sleep.${a.pid}`);
  await srv.waitOutput('stderr', `Can't find log ${srv.dir}/sleep.${a.pid}`);
  // (An exposition may be reused for up to 100 ms.)
  body = await waitFor('the error counted', async () => {
    const b = (await get(port, '/metrics', OM)).body;
    return /^plog_log_errors_total 1$/m.test(b) ? b : null;
  });
  const e = find(body, 'plog_log_error_timestamp_seconds');
  assertLength(e, 1, body);
  assert.equal(e[0].labels.pid, String(a.pid));
  assert.equal(e[0].labels.log, `sleep.${a.pid}`);
  assert.equal(e[0].labels.error, `Can't find log ${srv.dir}/sleep.${a.pid}`);
  assert.ok(Math.abs(Number(e[0].value) - Date.now() / 1000) < 60);
  assert.equal(find(body, 'plog_resident_memory_bytes', { pid: String(a.pid) }).length, 0);
  if (promtool) {
    const p = promtoolCheck((await get(port)).body);
    assert.equal(p.status, 0, p.out);
  }
  await killChild(a);
  await srv.kill();
});

test('--metrics: the memory cgroup limits over a process: its own and the one above, with use and inactive cache', async (t) => {
  const cg = memoryCgroups('plog-test-metrics', 256 * 2 ** 20);
  if (typeof cg === 'string') {
    t.skip(cg);
    return;
  }
  const { srv, port } = await metricsServer();
  const inner = spawnSleep();
  const outer = spawnSleep();
  const free = spawnSleep();
  const inner2 = spawnSleep();
  const limitedDir = `${cg.outer.dir}/limited`;
  try {
    cg.outer.add(outer.pid);
    cg.inner.add(inner.pid);
    for (const p of [inner.pid, outer.pid, free.pid]) assert.equal((await plog(['-d', srv.dir, '-p', String(p), '-i', '100ms'])).code, 0);
    let body = await until(port, OM, (b) => /^plog_logs 3$/m.test(b));
    // Only the outer one has a limit: both processes are under it, the free one under none.
    assert.deepEqual(
      find(body, 'plog_cgroup_memory_max_bytes').map((s) => [s.labels.cgroup, s.value]),
      [[cg.outer.path, String(256 * 2 ** 20)]],
    );
    const use = find(body, 'plog_cgroup_memory_current_bytes');
    assert.deepEqual(
      use.map((s) => s.labels.cgroup),
      [cg.outer.path],
    );
    assert.ok(Number(use[0]!.value) >= 0);
    assert.equal(find(body, 'plog_cgroup_memory_inactive_file_bytes', { cgroup: cg.outer.path }).length, 1);
    const links = find(body, 'plog_process_cgroup_info');
    assert.deepEqual(
      links.map((s) => [s.labels.pid, s.labels.cgroup]).sort(),
      [
        [String(inner.pid), cg.outer.path],
        [String(outer.pid), cg.outer.path],
      ].sort(),
    );
    assert.equal(links.find((s) => s.labels.pid === String(inner.pid))!.labels.log, `sleep.${inner.pid}`);
    // A cgroup with a limit of its own inside the outer one: both limits count.
    const limitFile = cg.inner.dir.startsWith('/sys/fs/cgroup/memory/') ? 'memory.limit_in_bytes' : 'memory.max';
    mkdirSync(limitedDir);
    writeFileSync(`${limitedDir}/${limitFile}`, String(128 * 2 ** 20));
    writeFileSync(`${limitedDir}/cgroup.procs`, String(inner2.pid));
    assert.equal((await plog(['-d', srv.dir, '-p', String(inner2.pid), '-i', '100ms'])).code, 0);
    body = await until(port, OM, (b) => b.includes(`pid="${inner2.pid}"`));
    const l2 = find(body, 'plog_process_cgroup_info', { pid: String(inner2.pid) });
    assert.deepEqual(
      l2.map((s) => s.labels.cgroup),
      [`${cg.outer.path}/limited`, cg.outer.path],
    );
    assert.equal(find(body, 'plog_cgroup_memory_max_bytes', { cgroup: `${cg.outer.path}/limited` })[0]?.value, String(128 * 2 ** 20));
    if (promtool) {
      const p = promtoolCheck((await get(port)).body);
      assert.equal(p.status, 0, p.out);
      assert.equal(p.out.trim(), '');
    }
  } finally {
    for (const c of [inner, outer, free, inner2]) await killChild(c);
    await srv.kill();
    try {
      rmdirSync(limitedDir);
    } catch {
      /* not made */
    }
    cg.inner.remove();
    cg.outer.remove();
  }
});

test('promtool check metrics: a broken exposition is refused', { skip: promtool ? false : NO_PROMTOOL }, () => {
  assert.notEqual(promtoolCheck('plog_threads{pid="1"} x\n').status, 0);
});

test('samples(): the test parser reads escaped label values', () => {
  const s = samples('# x\nm{a="q\\"\\\\\\n",b="2"} 1\nn 2\n');
  assert.deepEqual(s, [
    { name: 'm', labels: { a: 'q"\\\n', b: '2' }, value: '1' },
    { name: 'n', labels: {}, value: '2' },
  ]);
});

test('--metrics on an address in use: the start fails (status 7) and says why', async () => {
  const { srv, port } = await metricsServer();
  const r = await run(process.execPath, [PLOGSRVD, '-f', '-m', 'world', '-d', tempDir(), '--metrics', `127.0.0.1:${port}`]);
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stderr, /--metrics 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  await srv.kill();
});

test('attack: a local client asking for /metrics without pause gets the same exposition again, not one built for each request', async () => {
  const { srv, port } = await metricsServer();
  const sl = spawnSleep();
  // A sample every 10 ms: every request would find something new.
  assert.equal((await plog(['-d', srv.dir, '-p', String(sl.pid), '-i', '10ms'])).code, 0);
  await until(port, {}, (b) => b.includes(`pid="${sl.pid}"`));
  const t0 = performance.now();
  const bodies: string[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 25; i++) bodies.push((await get(port)).body);
    }),
  );
  const ms = performance.now() - t0;
  const distinct = new Set(bodies).size;
  console.log(`# ${bodies.length} requests in ${ms.toFixed(0)} ms: ${distinct} expositions`);
  // Built again at most every 100 ms (while they take under 10 ms to build).
  assert.ok(distinct <= Math.ceil(ms / 100) + 1, `${distinct} expositions for ${bodies.length} requests in ${ms.toFixed(0)} ms`);
  assert.ok(distinct >= 1);
  await killChild(sl);
  await srv.kill();
});
