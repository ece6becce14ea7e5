// plog web's HTTP front (src/web/http.ts) as a client or an attacker sees
// it: nothing without the token, on any path; no other host name (DNS
// rebinding); no cross-origin reads; a Content-Security-Policy and the
// other headers on every answer; GET only, no bodies, bounded headers,
// connections and event streams; log text escaped in what is sent; live
// updates as server-sent events; downloads equal to plog export's and plog
// plot's output. Another local user (nobody) connecting to the port gets
// nothing, and plog web run by nobody shows nothing nobody cannot read.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { readLog } from '../src/plog/log/readlog.js';
import { renderSvg } from '../src/plog/readers/chart-svg.js';
import { Engine } from '../src/web/engine.js';
import { hostAllowed, ROWS_IN_PAGE, tokenMatches, WebServer } from '../src/web/http.js';
import { Follower } from '../src/web/watch.js';
import { series, textLine, textLog } from './helpers/logs.js';
import { plog, run, tempDir, waitFor, PLOG } from './helpers/plog.js';
import { EventStream, get, startWeb } from './helpers/web.js';

const dir = tempDir(0o755);
const NOW = Date.now();
const start = new Date(NOW - 120_000);
const LEAK = join(dir, 'node.4242');
writeFileSync(
  LEAK,
  textLog(
    '/usr/bin/node server.js --port 8080',
    series(start, 1000, 100, (i) => 60_000 + i * 150),
  ),
);
const EVIL = join(dir, 'x<img src=y onerror=alert(1)>\u202e.7');
writeFileSync(
  EVIL,
  textLog(
    '<script>alert(1)</script>\x1b]0;pwned\x07 \u202eexe.txt',
    series(start, 1000, 5, () => 1000),
  ),
);
const TOKEN = 'a'.repeat(20) + 'B-_'.repeat(8);

let web: WebServer;
let port: number;
let engine: Engine;
let follower: Follower;

before(async () => {
  engine = new Engine({ dir, files: [] });
  engine.scan();
  engine.service();
  web = new WebServer({ engine, token: TOKEN, maxConnections: 12, maxEventClients: 3 });
  port = (await web.listen('127.0.0.1', 0)).port;
  follower = new Follower(engine, []);
  follower.start();
});
after(async () => {
  follower.stop();
  await web.close();
});

const T = (path: string, token = TOKEN): string => `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
const PATHS = [
  '/',
  '/log/node.4242',
  '/static/list.js',
  '/static/uPlot.js',
  '/api/logs',
  '/api/events',
  '/api/log/node.4242',
  '/api/log/node.4242/series',
  '/log/node.4242/download?format=log',
  '/nowhere',
];

function assertHeaders(h: Record<string, unknown>): void {
  assert.match(String(h['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self'/);
  assert.match(String(h['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.equal(h['cross-origin-resource-policy'], 'same-origin');
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['access-control-allow-origin'], undefined);
}

describe('who may see anything', () => {
  test('without the token, or with a wrong one, every path answers 403 and nothing of the logs', async () => {
    const wrong = [null, '', TOKEN.slice(0, -1) + 'x', TOKEN.slice(1), TOKEN + 'x', TOKEN.toUpperCase(), 'x'.repeat(2000)];
    for (const p of PATHS) {
      for (const w of wrong) {
        const r = await get(port, w === null ? p : T(p, w));
        assert.equal(r.status, 403, `${p} with ${String(w).slice(0, 20)}`);
        assert.doesNotMatch(r.body, /node|4242|script|server\.js/);
        assertHeaders(r.headers);
      }
      // The token under another name does not count either.
      assert.equal((await get(port, `${p}${p.includes('?') ? '&' : '?'}tok=${TOKEN}`)).status, 403);
    }
  });

  test('with the token: pages, files, the API', async () => {
    for (const p of [
      '/',
      '/log/node.4242',
      '/static/list.js',
      '/static/log.js',
      '/static/common.js',
      '/static/app.css',
      '/static/uPlot.js',
      '/static/uPlot.css',
      '/api/logs',
      '/api/log/node.4242',
      '/api/log/node.4242/series',
    ]) {
      const r = await get(port, T(p));
      assert.equal(r.status, 200, p);
      assertHeaders(r.headers);
    }
    const page = await get(port, T('/'));
    assert.match(page.headers['content-type']!, /^text\/html/);
    assert.ok(page.body.includes(`/static/list.js?token=${TOKEN}`));
    assert.equal((await get(port, T('/static/../package.json'))).status, 404);
    assert.equal((await get(port, T('/api/log/nothing'))).status, 404);
  });

  test('the token is compared whole, in constant time', () => {
    assert.equal(tokenMatches(TOKEN, TOKEN), true);
    assert.equal(tokenMatches(TOKEN + '\0', TOKEN), false);
    assert.equal(tokenMatches(null, TOKEN), false);
  });

  test('Host: addresses and localhost only (a rebound DNS name is refused before the token is looked at)', async () => {
    for (const h of ['evil.example', `evil.example:${port}`, 'plog.localhost.evil', '127.0.0.1.nip.io', 'xn--e1a.example', '[::1', '1.2.3']) {
      const r = await get(port, T('/api/logs'), { Host: h });
      assert.ok(r.status === 421 || r.status === 400, `${h}: ${r.status}`);
      assert.doesNotMatch(r.body, /node/);
    }
    for (const h of ['localhost', `localhost:${port}`, 'localhost:8080', `127.0.0.1:${port}`, '[::1]:8080', '10.1.2.3:80']) {
      assert.equal((await get(port, T('/api/logs'), { Host: h })).status, 200, h);
    }
    // No Host at all (HTTP/1.0).
    const raw = connect(port, '127.0.0.1');
    let answer = '';
    raw.setEncoding('utf8').on('data', (d: string) => (answer += d));
    raw.write(`GET ${T('/api/logs')} HTTP/1.0\r\n\r\n`);
    await new Promise((r) => raw.once('close', r));
    assert.match(answer, /^HTTP\/1\.1 421 /);
    assert.equal(hostAllowed('box.example:8080', 'box.example'), true);
    assert.equal(hostAllowed('box.example.evil:8080', 'box.example'), false);
    assert.equal(hostAllowed(undefined), false);
  });

  test('no cross-origin access: another Origin, or a request another site made, is refused', async () => {
    assert.equal((await get(port, T('/api/logs'), { Origin: 'http://evil.example' })).status, 403);
    assert.equal((await get(port, T('/api/logs'), { Origin: 'null' })).status, 403);
    assert.equal((await get(port, T('/api/logs'), { Origin: `http://127.0.0.1:${port}` })).status, 200);
    assert.equal((await get(port, T('/static/list.js'), { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' })).status, 403);
    assert.equal((await get(port, T('/'), { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' })).status, 200);
  });

  test('GET only; no body; headers bounded', async () => {
    const post = await get(port, T('/api/logs'), {}, 'POST', 'x=1');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await get(port, T('/api/logs'), { 'Content-Length': '3' }, 'GET', 'abc')).status, 413);
    const big = await get(port, T('/api/logs'), { 'X-Pad': 'y'.repeat(10_000) });
    assert.equal(big.status, 431);
  });
});

describe('bounds', () => {
  test('event streams: at most maxEventClients; the next is told to come back', async () => {
    const streams = [0, 1, 2].map(() => new EventStream(port, T('/api/events')));
    assert.deepEqual(await Promise.all(streams.map((s) => s.ready)), [200, 200, 200]);
    const r = await get(port, T('/api/events'));
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '10');
    for (const s of streams) s.close();
    await waitFor('streams to close', () => web.eventClients === 0);
    const again = new EventStream(port, T('/api/events'));
    assert.equal(await again.ready, 200);
    again.close();
  });

  test('a client that does not read its event stream is cut off once its unsent bytes pass the bound', async () => {
    const d = tempDir();
    const path = join(d, 'fast.77');
    writeFileSync(
      path,
      textLog(
        'fast',
        series(new Date(NOW - 30 * 86_400_000), 1000, 10, () => 1000),
      ),
    );
    const eng = new Engine({ dir: d, files: [] });
    eng.scan();
    eng.service();
    const w = new WebServer({ engine: eng, token: TOKEN, maxUnsent: 64 << 10 });
    const p = (await w.listen('127.0.0.1', 0)).port;
    const f = new Follower(eng, [], { settleMs: 10 });
    f.start();
    // Asks for the log's samples and never reads them.
    const s = connect(p, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.pause();
    s.write(`GET ${T('/api/log-events?id=fast.77')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => {});
    // Samples keep coming (500 lines every 50 ms: fewer than the 5,000 a
    // flush that make it a reset instead) until the server gives up on the reader.
    let t = NOW - 29 * 86_400_000;
    const feed = setInterval(() => {
      let text = '';
      for (const x of series(new Date(t), 1000, 500, (i) => 1000 + i)) text += textLine(x, true);
      t += 500_000;
      appendFileSync(path, text);
    }, 50);
    try {
      await waitFor('the slow reader to be cut off', () => w.refused.slow >= 1, { timeout: 30_000 });
      // Read what had come: then the end of the connection.
      let ended = false;
      void closed.then(() => (ended = true));
      s.resume();
      await waitFor('the connection to end', () => ended);
    } finally {
      clearInterval(feed);
      s.destroy();
      f.stop();
      await w.close();
    }
    assert.equal(w.eventClients, 0);
  });

  test('connections: at most maxConnections; the next is closed unanswered', async () => {
    const socks: Socket[] = [];
    for (let i = 0; i < 12; i++) {
      const s = connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      socks.push(s);
    }
    await waitFor('the server to count them', async () => (await new Promise<number>((r) => web.server.getConnections((_e, n) => r(n)))) >= 12);
    const extra = connect(port, '127.0.0.1');
    let data = '';
    extra.setEncoding('utf8').on('data', (d: string) => (data += d));
    extra.write(`GET ${T('/api/logs')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await new Promise((r) => extra.once('close', r));
    assert.equal(data, '');
    for (const s of socks) s.destroy();
    await waitFor('a free connection again', async () => (await get(port, T('/api/logs'))).status === 200);
  });
});

describe('what is sent', () => {
  test('log text escaped (escapeText) in the JSON; in a page only as inert JSON with no markup', async () => {
    const r = await get(port, T('/api/logs'));
    const rows = (JSON.parse(r.body) as { rows: Array<{ id: string; command: string; file: string; name: string; pid: number | null }> }).rows;
    const evil = rows.find((x) => x.command.includes('script'))!;
    assert.equal(evil.command, '<script>alert(1)</script>\\x1b]0;pwned\\x07 \\u{202e}exe.txt');
    assert.equal(evil.name, 'x<img src=y onerror=alert(1)>\\u{202e}');
    // No raw control or bidi character anywhere in what is sent.
    assert.doesNotMatch(r.body, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    // The log page holds no log text; the list holds the list as it was
    // served, as JSON inside <script type="application/json"> (never run),
    // every '<' of it written \u003c: no log text can close the element.
    const logPage = await get(port, T('/log/node.4242'));
    assert.doesNotMatch(logPage.body, /script>alert|onerror|server\.js/);
    const list = await get(port, T('/'));
    assert.doesNotMatch(list.body, /<script>alert|<img|<\/script>\\x1b/);
    const m = /<script type="application\/json" id="snapshot">([^<]*)<\/script>/.exec(list.body);
    assert.ok(m, 'the snapshot element, with no "<" inside');
    assert.ok(m[1]!.includes('\\u003cscript>alert(1)\\u003c/script>'));
    // The list's first rows as the page first sorts them (by name, then pid), and how many there are.
    const page = JSON.parse(m[1]!) as { total: number; rows: Array<{ id: string; command: string }> };
    assert.equal(page.total, rows.length);
    const byName = (x: { name: string; pid: number | null; id: string }): string => `${x.name}\u0000${String(x.pid ?? '').padStart(10, '0')}\u0000${x.id}`;
    const sorted = [...rows].sort((a, b) => (byName(a) < byName(b) ? -1 : 1));
    assert.deepEqual(
      page.rows.map((x) => [x.id, x.command]),
      sorted.slice(0, ROWS_IN_PAGE).map((x) => [x.id, x.command]),
    );
  });

  test('downloads: the log as it is; CSV and JSON lines as plog export writes them; the SVG as plog plot draws it', async () => {
    const raw = await get(port, T('/log/node.4242/download?format=log'));
    assert.equal(raw.body, readFileSync(LEAK, 'utf8'));
    assert.equal(raw.headers['content-disposition'], `attachment; filename="node.4242"; filename*=UTF-8''node.4242`);
    for (const f of ['csv', 'jsonl']) {
      const mine = await get(port, T(`/log/node.4242/download?format=${f}`));
      const theirs = await plog(['export', `--${f}`, LEAK]);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(mine.body, theirs.stdout, f);
    }
    const svg = await get(port, T('/log/node.4242/download?format=svg'));
    assert.equal(svg.headers['content-type'], 'image/svg+xml; charset=utf-8');
    assert.equal(svg.body, renderSvg([readLog(LEAK)]));
    const evilName = encodeURIComponent(EVIL.slice(dir.length + 1));
    const e = await get(port, T(`/log/${evilName}/download?format=log`));
    assert.match(e.headers['content-disposition']!, /^attachment; filename="x_img_src_y_onerror_alert_1___.7"; filename\*=UTF-8''x%3Cimg/);
  });

  test('live: a sample appended reaches the list stream and the log stream', async (t) => {
    const list = new EventStream(port, T('/api/events'));
    const one = new EventStream(port, T('/api/log-events?id=node.4242'));
    assert.equal(await list.ready, 200);
    assert.equal(await one.ready, 200);
    const snap = await list.next<{ rows: Array<{ id: string; samples: number }> }>('snapshot');
    assert.equal(snap.data.rows.find((r) => r.id === 'node.4242')!.samples, 100);
    await one.next('hello');
    const line = textLine(series(new Date(NOW), 1000, 1, () => 99_000)[0]!, true);
    const wrote = performance.now();
    appendFileSync(LEAK, line);
    const row = await list.next<{ rows: Array<{ id: string; samples: number; rss: number }> }>('rows', (d) => d.rows.some((r) => r.id === 'node.4242' && r.samples === 101));
    const s = await one.next<{ id: string; t: number[]; rss: number[] }>('samples');
    assert.equal(s.data.rss[0], readLog(LEAK).samples[100]!.residentBytes);
    t.diagnostic(`list after ${Math.round(row.at - wrote)} ms, log after ${Math.round(s.at - wrote)} ms`);
    // Updates after the first hold what changed: not the command, which did not.
    appendFileSync(LEAK, textLine(series(new Date(NOW + 1000), 1000, 1, () => 98_000)[0]!, true));
    const next = await list.next<{ rows: Array<{ id: string; samples: number; command?: string; rss?: number }> }>('rows', (d) => d.rows.some((r) => r.id === 'node.4242' && r.samples === 102));
    const upd = next.data.rows.find((r) => r.id === 'node.4242')!;
    assert.equal(upd.command, undefined);
    assert.equal(upd.rss, readLog(LEAK).samples[101]!.residentBytes);
    list.close();
    one.close();
  });
});

describe('other users', () => {
  test("nobody connecting to the port of root's plog web gets 403 without the token, and nothing else", async () => {
    const w = await startWeb(['-d', dir]);
    const probe = `const http=require('http');let n=0;const out=[];for(const p of ${JSON.stringify(PATHS)})http.get({host:'127.0.0.1',port:${w.port},path:p},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{out.push(r.statusCode+' '+b);if(++n===${PATHS.length})console.log(JSON.stringify(out))})})`;
    const r = await run(process.execPath, ['-e', probe], { asNobody: true });
    assert.equal(r.code, 0, r.stderr);
    const answers = JSON.parse(r.stdout) as string[];
    assert.equal(answers.length, PATHS.length);
    for (const a of answers) {
      assert.match(a, /^403 /);
      assert.doesNotMatch(a, /node|4242/);
    }
    w.child.kill('SIGTERM');
    assert.deepEqual(await w.exit, { code: 0, signal: null });
  });

  test('plog web run by nobody shows only what nobody may read', async () => {
    const d = tempDir(0o755);
    writeFileSync(
      join(d, 'open.1'),
      textLog(
        'readable by all',
        series(start, 1000, 5, () => 1000),
      ),
    );
    writeFileSync(
      join(d, 'secret.2'),
      textLog(
        'root only: secret',
        series(start, 1000, 5, () => 2000),
      ),
    );
    chmodSync(join(d, 'secret.2'), 0o600);
    const w = await startWeb(['-d', d], { asNobody: true });
    const r = await get(w.port, `/api/logs?token=${w.token}`);
    const rows = (JSON.parse(r.body) as { rows: Array<{ id: string; status: string; samples: number; command: string; rss: number | null }> }).rows;
    const open = rows.find((x) => x.id === 'open.1')!;
    assert.equal(open.samples, 5);
    const secret = rows.find((x) => x.id === 'secret.2')!;
    assert.equal(secret.status, 'unreadable');
    assert.equal(secret.samples, 0);
    assert.equal(secret.rss, null);
    assert.doesNotMatch(r.body, /root only/);
    const dl = await get(w.port, `/log/secret.2/download?format=log&token=${w.token}`);
    assert.equal(dl.status, 404);
    w.child.kill('SIGTERM');
    await w.exit;
    assert.ok(PLOG);
  });
});
