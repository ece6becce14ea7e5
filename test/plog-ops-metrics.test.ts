// plogsrvd --metrics ADDR:PORT (issue 7): the latest sample of every logged
// process over HTTP, OpenMetrics when asked for, Prometheus text otherwise;
// checked by promtool (Debian package prometheus) when it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { escapeLabel } from '../src/plog/metrics.js';
import { killChild, plog, PLOGSRVD, run, Server, sleep, spawnChild, spawnSleep, tempDir, waitFor } from './helpers/plog.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;

function get(port: number, path: string, accept?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: accept ? { Accept: accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function started(extra: string[] = []): Promise<{ srv: Server; port: number }> {
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v', '--metrics', '127.0.0.1:0', ...extra] });
  const m = /serving metrics on 127\.0\.0\.1:(\d+)/.exec(await srv.waitOutput('stdout', /serving metrics on 127\.0\.0\.1:\d+/));
  return { srv, port: Number(m![1]) };
}

function promtoolCheck(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('escapeLabel', () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

test('--metrics: OpenMetrics with labels pid, name, log for every logged process, the latest sample, # EOF; promtool check metrics', async () => {
  const { srv, port } = await started();
  let r = await get(port, '/metrics', 'application/openmetrics-text; version=1.0.0,text/plain;q=0.5');
  assert.equal(r.status, 200);
  assert.match(r.type, /^application\/openmetrics-text; version=1\.0\.0/);
  assert.match(r.body, /^plog_logs 0$/m);
  assert.ok(r.body.endsWith('# EOF\n'));
  // A process with an awkward name (quote, backslash, space) and a plain one.
  const sl = spawnSleep();
  const odd2 = spawnChild(process.execPath, ['-e', `process.title = 'we"ird\\\\ name'; setTimeout(() => {}, 300000)`]);
  await sleep(200);
  for (const p of [sl.pid, odd2.pid!]) {
    const l = await plog(['-d', srv.dir, '-p', String(p), '-i', '100ms']);
    assert.equal(l.code, 0, l.stderr);
  }
  await sleep(300);
  r = await get(port, '/metrics', 'application/openmetrics-text');
  const body = r.body;
  assert.match(body, /^plog_logs 2$/m);
  const rss = new RegExp(`^plog_resident_memory_bytes\\{pid="${sl.pid}",name="sleep",log="sleep\\.${sl.pid}"\\} (\\d+)$`, 'm').exec(body);
  assert.ok(rss, body);
  const statm = spawnSync('cat', [`/proc/${sl.pid}/statm`], { encoding: 'utf8' }).stdout.split(' ');
  assert.equal(Number(rss[1]), Number(statm[1]) * 4096);
  assert.match(body, new RegExp(`^plog_cpu_seconds_total\\{pid="${sl.pid}",[^}]*\\} [0-9.]+$`, 'm'));
  // comm 'we"ird\ name': quote and backslash escaped in the label; the log's name has _ for the space.
  const prefix = `plog_threads{pid="${odd2.pid}",name="we\\"ird\\\\ name",log="we\\"ird\\\\_name.${odd2.pid}"} `;
  assert.ok(body.split('\n').some((l) => l.startsWith(prefix)), `${prefix} in ${body}`);
  // Structure: every family has TYPE before its samples, counters' samples end in _total, one # EOF at the end.
  const typed = new Map<string, string>();
  for (const line of body.trimEnd().split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) typed.set(t[1], t[2]);
    else if (!line.startsWith('#')) {
      const name = line.split(/[{ ]/)[0];
      const fam = typed.has(name) ? name : name.replace(/_total$/, '');
      assert.ok(typed.has(fam), `${name} before its TYPE`);
      assert.equal(typed.get(fam) === 'counter', name.endsWith('_total'), line);
    }
  }
  assert.equal(body.match(/^# EOF$/gm)?.length, 1);
  // Samples follow the process: a new sample replaces the latest.
  const ts = (b: string) => Number(new RegExp(`^plog_sample_timestamp_seconds\\{pid="${sl.pid}"[^}]*\\} ([0-9.]+)$`, 'm').exec(b)![1]);
  await sleep(300);
  assert.ok(ts((await get(port, '/metrics', 'application/openmetrics-text')).body) > ts(body));
  // Without OpenMetrics in Accept: Prometheus text 0.0.4.
  const prom = await get(port, '/metrics');
  assert.match(prom.type, /^text\/plain; version=0\.0\.4/);
  assert.ok(!prom.body.includes('# EOF'));
  assert.equal((await get(port, '/nothing')).status, 404);
  if (promtool) {
    const p = promtoolCheck(prom.body);
    assert.equal(p.status, 0, p.out);
    // promtool 2.x reads the classic text format: OpenMetrics' counter
    // families (TYPE x, samples x_total) are all it may say about ours.
    const o = promtoolCheck(body);
    assert.notEqual(o.status, 1, o.out);
    for (const l of o.out.trim().split('\n').filter(Boolean)) assert.match(l, /^plog_\w+_total no help text$/, o.out);
  }
  // A process that ends leaves the metrics.
  await killChild(odd2);
  await waitFor('plog_logs 1', async () => /^plog_logs 1$/m.test((await get(port, '/metrics')).body));
  await srv.kill();
});

test('promtool check metrics', { skip: promtool ? false : 'promtool is not installed (Debian package prometheus)' }, async () => {
  const { srv, port } = await started();
  const sl = spawnSleep();
  assert.equal((await plog(['-d', srv.dir, '-p', String(sl.pid), '-i', '1s'])).code, 0);
  const p = promtoolCheck((await get(port, '/metrics')).body);
  assert.equal(p.status, 0, p.out);
  // And it can fail: a broken exposition is refused.
  assert.notEqual(promtoolCheck('plog_threads{pid="1"} x\n').status, 0);
  await srv.kill();
});

test('--metrics on an address in use: the start fails (status 7) and says why', async () => {
  const { srv, port } = await started();
  const r = await run(process.execPath, [PLOGSRVD, '-f', '-m', 'world', '-d', tempDir(), '--metrics', `127.0.0.1:${port}`]);
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stderr, /--metrics 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  await srv.kill();
});
