// plog web as a person uses it: headless Chromium (Debian's, driven by
// playwright-core, which brings no browser of its own) on the pages of a
// real `plog web` serving the logs of a real plogsrvd. The list shows every
// log; a sample written after the page loaded appears without a reload; a
// log registered later appears and one whose process ended is marked so;
// the chart of a log is drawn (a screenshot decoded: the RSS, PSS and CPU
// lines are there) and follows new samples; dragging over it zooms (the
// range shown narrows, its detail is fetched), the wheel too; two logs
// compare on one chart; log text that carries markup and control
// characters is shown as escaped text; the browser's console has no error;
// the page without the token is refused. Skipped, saying why, without
// Chromium. PLOG_WEB_SCREENSHOTS=DIR keeps the screenshots (docs/ has
// two for the README).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { series, textLine, textLog, type FixSample } from './helpers/logs.js';
import { plog, Server, spawnChild, spawnSleep, tempDir, waitFor, killChild } from './helpers/plog.js';
import { CHROMIUM, CHROMIUM_FLAGS, profileDir, startWeb, type WebProcess } from './helpers/web.js';
import { decodePng, pixelStats } from './helpers/png.js';

const skip = CHROMIUM ? false : 'chromium is not installed (Debian package chromium: apt-get install -y chromium fonts-dejavu-core)';
const SHOTS = process.env.PLOG_WEB_SCREENSHOTS;

// Each test skipped by itself (not the suite): node's runner counts a skipped suite's tests as nothing.
describe('plog web in headless Chromium', () => {
  let srv: Server;
  let web: WebProcess;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  const sleeps: Array<{ pid: number; id: string }> = []; // two, started in before()
  let grower: { pid: number; id: string };
  const fixtures = tempDir(0o755);
  let writer: NodeJS.Timeout | null = null;

  // Logs with an hour of history that go on growing every 5 s while the
  // tests run (as plogsrvd would write them): sparklines and long charts.
  const STEP = 5000;
  const synthetic: Array<{ id: string; cmd: string; sample: (i: number) => Partial<FixSample> & { rssKb: number } }> = [
    {
      id: 'java.2001',
      cmd: '/usr/bin/java -Xmx2g -jar /srv/shop/shop.jar --spring.profiles.active=prod',
      sample: (i) => ({ rssKb: 900_000 + (i % 120) * 2500 + (i % 7) * 900, cpuPct: 20 + 15 * Math.sin(i / 9), threads: 48 }),
    },
    { id: 'postgres.2002', cmd: 'postgres: 15/main: checkpointer', sample: (i) => ({ rssKb: 150_000 + (i % 11) * 40, cpuPct: 1 + (i % 3), pssKb: 40_000 }) },
    {
      id: 'node.2003',
      cmd: '/usr/bin/node /srv/api/server.js --port 8080',
      sample: (i) => ({ rssKb: 180_000 + i * 160 + (i % 9) * 700, cpuPct: 6 + 4 * Math.sin(i / 5), swapKb: i > 500 ? (i - 500) * 30 : 0, threads: 11 }),
    },
  ];
  const HISTORY = 720;
  const OLD_THREADS = 'threads.4321';
  const OLD_ZOMBIE = 'zombie.4322';
  let tick = HISTORY;
  function writeSynthetic(dir: string): void {
    const t0 = Date.now() - HISTORY * STEP;
    for (const s of synthetic) {
      const rows = Array.from({ length: HISTORY }, (_, i) => ({ t: new Date(t0 + i * STEP), cpuS: Math.floor(i * 0.4), ...s.sample(i) }));
      writeFileSync(join(dir, s.id), textLog(s.cmd, rows));
    }
    writer = setInterval(() => {
      const i = tick++;
      for (const s of synthetic) appendFileSync(join(dir, s.id), textLine({ t: new Date(), cpuS: Math.floor(i * 0.4), ...s.sample(i) }, true));
    }, STEP);
  }

  async function register(pid: number, interval = '1s'): Promise<string> {
    const r = await plog(['-d', srv.dir, '-p', String(pid), '-i', interval]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().replace(/^Log file: .*\//, '');
  }

  function url(path: string, q = ''): string {
    return `http://127.0.0.1:${web.port}${path}?token=${web.token}${q}`;
  }

  async function shot(name: string, el?: string): Promise<Buffer> {
    const buf = el ? await page.locator(el).screenshot() : await page.screenshot();
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      writeFileSync(join(SHOTS, `${name}.png`), buf);
    }
    return buf;
  }

  before(async () => {
    if (skip) return;
    srv = await Server.start();
    for (let i = 0; i < 2; i++) {
      const c = spawnSleep();
      sleeps.push({ pid: c.pid, id: await register(c.pid) });
    }
    // A process whose memory grows: a chart with something to show.
    const g = spawnChild(process.execPath, ['-e', 'const k=[];setInterval(()=>{k.push(Buffer.alloc(256<<10,1));if(k.length>400)k.splice(0,200)},200)']);
    grower = { pid: g.pid!, id: await register(g.pid!) };
    // A long leaking run named on the command line (the badge), and a log with a hostile name and command line.
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    const leak = join(fixtures, 'server.1234');
    writeFileSync(
      leak,
      textLog(
        '/usr/bin/node server.js --port 8080',
        series(hourAgo, 30_000, 200, (i) => 80_000 + i * 400 + (i % 5) * 300),
      ),
    );
    writeFileSync(
      join(srv.dir, 'x<img src=y onerror=alert(1)>.99'),
      textLog(
        '<b>bold</b><script>alert(2)</script>\x1b]0;title\x07\u202eexe.txt',
        series(hourAgo, 60_000, 5, () => 1000),
      ),
    );
    writeSynthetic(srv.dir);
    // Logs of plog 0.1.0 (the C plogsrvd) as it wrote them: month-day dates, no CPU% column, no final newline.
    for (const [from, to] of [
      ['threads.log', OLD_THREADS],
      ['zombie.log', OLD_ZOMBIE],
    ] as const) {
      writeFileSync(join(fixtures, to), readFileSync(new URL(`../../test/fixtures/plog-0.1.0/${from}`, import.meta.url)));
    }
    web = await startWeb(['-d', srv.dir, leak, join(fixtures, OLD_THREADS), join(fixtures, OLD_ZOMBIE)]);
    profile = profileDir();
    const { chromium } = await import('playwright-core');
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1400, height: 820 },
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });

  after(async () => {
    if (skip) return;
    if (writer) clearInterval(writer);
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const rowCount = (id: string): Promise<number> =>
    page.evaluate((i) => (window as unknown as { plogList: { rows: Map<string, { data: { samples: number } }> } }).plogList.rows.get(i)?.data.samples ?? -1, id);

  test('the list shows every log of the server, running, with its pid, figures and verdict', { skip }, async () => {
    await page.goto(url('/'));
    await page.waitForSelector('body[data-ready="1"]');
    for (const s of [...sleeps, grower]) {
      const row = page.locator(`tr[data-id="${s.id}"]`);
      await row.waitFor();
      assert.equal(await row.locator('td').nth(2).textContent(), String(s.pid));
    }
    await waitFor('the sleeps to be running', async () => (await page.locator(`tr[data-id="${sleeps[0]!.id}"] .status`).textContent()) === 'running');
    assert.match((await page.locator(`tr[data-id="${sleeps[0]!.id}"]`).textContent())!, /sleep 300/);
    assert.equal(await page.locator('tr[data-id="server.1234"] .badge').textContent(), 'LEAK SUSPECT');
    assert.equal(await page.locator('tr[data-id="server.1234"] .status').textContent(), 'ended');
    // A table to assistive technology, though laid out as a grid: its head and a row a log.
    assert.equal(await page.getByRole('columnheader', { name: 'leak verdict' }).count(), 1);
    assert.equal(await page.getByRole('row').count(), (await page.locator('tbody tr').count()) + 1);
    // Sorted by name, filtered by name; a row filtered out is not drawn.
    await page.fill('#filter', 'sleep 300');
    await waitFor('the filter', async () => (await page.locator('tbody tr:not([hidden])').count()) === 2);
    assert.equal(await page.locator('tbody tr[hidden]').first().isVisible(), false);
    await page.fill('#filter', '');
    await page.click('th[data-key="rss"]');
    await page.click('th[data-key="rss"]');
    assert.equal(await page.locator('th[data-key="rss"]').getAttribute('aria-sort'), 'descending');
    // An hour of history: a sparkline drawn across its cell.
    const d = await page.locator('tr[data-id="node.2003"] svg.spark path').getAttribute('d');
    assert.ok((d ?? '').split('L').length > 50, `sparkline: ${d}`);
    // Whole numbers in a viewBox ten times the cell's size, from one end to the other.
    assert.match(d!, /^M0 \d+(L\d+ \d+)+$/);
    assert.match(d!, /L1200 \d+$/);
    // The time of the last sample: the age's title, made when the pointer comes to it.
    const ageCell = page.locator('tr[data-id="node.2003"] td').nth(6);
    await ageCell.hover();
    assert.match((await ageCell.getAttribute('title')) ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // A link to the log's page carries the token.
    assert.match((await page.locator('tr[data-id="node.2003"] td.name a').getAttribute('href'))!, /^\/log\/node\.2003\?token=[\w-]+$/);
    await page.click('th[data-key="name"]');
    await shot('web-list');
  });

  test('log text is shown as text: markup inert, control and bidi characters escaped', { skip }, async () => {
    const row = page.locator('tr[data-id^="x<img"]');
    await row.waitFor();
    assert.match((await row.locator('.cmd').textContent())!, /^<b>bold<\/b><script>alert\(2\)<\/script>\\x1b\]0;title\\x07\\u\{202e\}exe\.txt$/);
    assert.equal(await row.locator('td.name a').textContent(), 'x<img src=y onerror=alert(1)>');
    assert.equal(await page.locator('img, b, tbody script').count(), 0);
    assert.deepEqual(dialogs, []);
  });

  test('a sample written after the page loaded appears without a reload', { skip }, async (t) => {
    const id = sleeps[0]!.id;
    assert.ok((await rowCount(id)) > 0);
    const spark = page.locator(`tr[data-id="${id}"] svg.spark path`);
    const drawn = await spark.getAttribute('d');
    const file = join(srv.dir, id);
    // The next line reaching the file, then the page showing as many samples as the file has then.
    const size0 = statSync(file).size;
    const written = await waitFor('a new line in the log', () => (statSync(file).size > size0 ? performance.now() : 0), { interval: 5 });
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).length - 2;
    await page.waitForFunction(
      ([i, n]) => ((window as unknown as { plogList: { rows: Map<string, { data: { samples: number } }> } }).plogList.rows.get(i as string)?.data.samples ?? 0) >= (n as number),
      [id, lines],
      { polling: 'raf', timeout: 15_000 },
    );
    t.diagnostic(`shown ${Math.round(performance.now() - written)} ms after the line was written (interval 1 s)`);
    // Its sparkline is drawn again when the server sends a new one (a young log's every 5 s, as its points grow).
    await waitFor('its sparkline redrawn', async () => (await spark.getAttribute('d')) !== drawn, { timeout: 25_000 });
  });

  test('a log registered later appears; a log whose process ends is marked ended, and why', { skip }, async () => {
    const c = spawnSleep();
    const id = await register(c.pid);
    await page.locator(`tr[data-id="${id}"]`).waitFor({ timeout: 15_000 });
    await waitFor('its status to be running', async () => (await page.locator(`tr[data-id="${id}"] .status`).textContent()) === 'running');
    await killChild(c);
    await waitFor('its status to be ended', async () => (await page.locator(`tr[data-id="${id}"] .status`).textContent()) === 'ended', { timeout: 20_000 });
    assert.match((await page.locator(`tr[data-id="${id}"] .status`).getAttribute('title'))!, /ended/);
  });

  test('the chart of a log is drawn, live: RSS, PSS and CPU lines in the screenshot', { skip }, async () => {
    await page.goto(url(`/log/${grower.id}`));
    await page.waitForSelector('body[data-ready="1"]');
    const received = () => page.evaluate(() => (window as unknown as { plogChart: { state: { samplesReceived: number } } }).plogChart.state.samplesReceived);
    await waitFor('samples to arrive live', async () => (await received()) >= 2, { timeout: 15_000 });
    const mem = decodePng(await shot('web-log-memory', '#mem'));
    const ms = pixelStats(mem, ['#1f60c4', '#e8790c'], 30);
    assert.ok(ms.distinctColours > 20, `distinct colours ${ms.distinctColours}`);
    for (const [c, n] of Object.entries(ms.near)) assert.ok(n > 100, `${c}: ${n} pixels`);
    const cpu = pixelStats(decodePng(await page.locator('#cpu').screenshot()), ['#2a9d3a'], 30);
    assert.ok(cpu.near['#2a9d3a']! > 50, `CPU line: ${cpu.near['#2a9d3a']} pixels`);
    assert.match((await page.locator('#reports').textContent())!, /RSS.*PSS.*verdict|no steady|grows/s);
  });

  test('a log with an hour of history: the whole hour drawn, the leak in the report', { skip }, async () => {
    await page.goto(url('/log/node.2003'));
    await page.waitForSelector('body[data-ready="1"]');
    const [min, max] = await page.locator('#range').evaluate((e) => [(e as HTMLElement).dataset.min, (e as HTMLElement).dataset.max] as const);
    const [a, b] = [Number(min), Number(max)];
    assert.ok(b - a > 3500, `${b - a} s shown`);
    assert.match((await page.locator('#reports .verdict').textContent())!, /^LEAK SUSPECT: RSS grows by/);
    const img = pixelStats(decodePng(await page.locator('#mem').screenshot()), ['#1f60c4', '#e8790c', '#c4162a'], 30);
    for (const [c, n] of Object.entries(img.near)) assert.ok(n > 100, `${c}: ${n} pixels`);
    await shot('web-log');
  });

  test('zoom: dragging over the chart narrows the range shown and fetches its detail; the wheel too; "all" goes back', { skip }, async () => {
    const range = async (): Promise<[number, number]> => {
      const [a, b] = await page.locator('#range').evaluate((e) => [(e as HTMLElement).dataset.min, (e as HTMLElement).dataset.max]);
      return [Number(a), Number(b)];
    };
    await waitFor('a range of a few seconds', async () => {
      const [a, b] = await range();
      return b - a >= 4;
    });
    const [a0, b0] = await range();
    const box = (await page.locator('#mem .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 6 });
    await page.mouse.up();
    const [a1, b1] = await range();
    assert.ok(a1 > a0 && b1 < b0, `[${a0}, ${b0}] -> [${a1}, ${b1}]`);
    assert.ok(b1 - a1 < (b0 - a0) * 0.5);
    await waitFor('the detail of the range', () => page.evaluate(() => (window as unknown as { plogChart: { state: { detailFetches: number } } }).plogChart.state.detailFetches >= 1));
    assert.match((await page.locator('#range').textContent())!, /^showing \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to /);
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.wheel(0, 300);
    const [a2, b2] = await range();
    assert.ok(b2 - a2 > b1 - a1, 'the wheel zooms out');
    // Pan: earlier by the button, later by shift + wheel; the span shown stays.
    await page.click('#pan-left');
    const [a4, b4] = await range();
    assert.ok(a4 < a2 && b4 < b2, `[${a2}, ${b2}] -> [${a4}, ${b4}]`);
    assert.ok(Math.abs(b4 - a4 - (b2 - a2)) <= 1, 'the same span, earlier');
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.keyboard.down('Shift');
    await page.mouse.wheel(0, 300);
    await page.keyboard.up('Shift');
    const [a5, b5] = await range();
    assert.ok(a5 > a4 && b5 > b4, `[${a4}, ${b4}] -> [${a5}, ${b5}]`);
    await page.click('#all');
    const [a3, b3] = await range();
    assert.ok(a3 <= a0 && b3 >= b1);
  });

  test('two logs compared on one chart, chosen in the list', { skip }, async () => {
    await page.goto(url('/'));
    await page.waitForSelector('body[data-ready="1"]');
    await page.locator(`tr[data-id="${sleeps[0]!.id}"] input[type=checkbox]`).check();
    await page.locator(`tr[data-id="${grower.id}"] input[type=checkbox]`).check();
    await page.click('#compare');
    await page.waitForSelector('body[data-ready="1"]');
    assert.equal(await page.locator('#title').textContent(), '2 runs compared');
    assert.equal(await page.locator('#reports section').count(), 2);
    const img = pixelStats(decodePng(await page.locator('#mem').screenshot()), ['#1f60c4', '#c4162a'], 30);
    for (const [c, n] of Object.entries(img.near)) assert.ok(n > 60, `${c}: ${n} pixels`);
  });

  test('logs of plog 0.1.0 (month-day dates, no CPU% column): in the list, ended, with their figures; charted, with what they lack', { skip }, async () => {
    await page.goto(url('/'));
    await page.waitForSelector('body[data-ready="1"]');
    const row = page.locator(`tr[data-id="${OLD_THREADS}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.ok(cells.length >= 10, cells.join(' | '));
    // sel, name, pid, owner, interval, status, age, RSS, PSS, CPU%, spark, verdict
    assert.equal(cells[2], '4321');
    assert.equal(cells[4], '1 min');
    assert.equal(cells[5], 'ended');
    assert.match(cells[6]!, / ago$/);
    assert.equal(cells[7], '1.31 MiB');
    assert.equal(cells[8], '172 KiB');
    // CPU% computed from __Utime__ between lines, as plog report does.
    assert.match(cells[9]!, /^\d+\.\d$/, `CPU% ${cells[9]}`);
    assert.notEqual(await row.locator('.badge').textContent(), 'no samples');
    // Its date is this 4 December's (month-day), not the 12th of April.
    const last = await page.evaluate((i) => {
      const d = new Date((window as unknown as { plogList: { rows: Map<string, { data: { lastMs: number } }> } }).plogList.rows.get(i)!.data.lastMs);
      return [d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes()];
    }, OLD_THREADS);
    assert.deepEqual(last, [12, 4, 5, 22]);
    const zombie = page.locator(`tr[data-id="${OLD_ZOMBIE}"] .status`);
    assert.equal(await zombie.textContent(), 'ended');
    assert.match((await zombie.getAttribute('title'))!, /state Z/);
    await page.goto(url(`/log/${OLD_THREADS}`));
    await page.waitForSelector('body[data-ready="1"]');
    const [min, max] = await page.locator('#range').evaluate((e) => [(e as HTMLElement).dataset.min, (e as HTMLElement).dataset.max] as const);
    const [a, b] = [Number(min), Number(max)];
    assert.ok(b - a >= 15 * 60 - 60, `${b - a} s shown`);
    const mem = pixelStats(decodePng(await page.locator('#mem').screenshot()), ['#1f60c4', '#e8790c'], 30);
    for (const [c, n] of Object.entries(mem.near)) assert.ok(n > 100, `${c}: ${n} pixels`);
    const cpu = pixelStats(decodePng(await page.locator('#cpu').screenshot()), ['#2a9d3a'], 30);
    assert.ok(cpu.near['#2a9d3a']! > 50, `CPU line: ${cpu.near['#2a9d3a']} pixels`);
    assert.match((await page.locator('#reports').textContent())!, /system time/);
  });

  test('a list longer than a screen: the first screen drawn first, then every row, in order', { skip }, async () => {
    // 150 logs: more than one screen of rows (the page puts in a screen's first, the others after that frame).
    const many = tempDir();
    const hourAgo = new Date(Date.now() - 3_600_000);
    const names = Array.from({ length: 150 }, (_, i) => `app${String((i * 37) % 150).padStart(3, '0')}.${7000 + i}`);
    for (const [i, n] of names.entries())
      writeFileSync(
        join(many, n),
        textLog(
          `/usr/bin/app --n ${i}`,
          series(hourAgo, 60_000, 30, (k) => 1000 + k * i),
        ),
      );
    const w = await startWeb(['-d', many]);
    const p = await ctx.newPage();
    try {
      p.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
      await p.goto(w.url);
      await p.waitForSelector('body[data-ready="1"]');
      const st = await p.evaluate(() => (window as unknown as { plogList: { stats: { firstRows: number; snapshotAt: number; allRowsAt: number; paintedAt: number } } }).plogList.stats);
      assert.ok(st.firstRows > 0 && st.firstRows < 150, `first rows ${st.firstRows}`);
      assert.ok(st.allRowsAt >= st.snapshotAt && st.paintedAt > 0, JSON.stringify(st));
      const ids = await p.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.id));
      assert.deepEqual(ids, [...names].sort());
      assert.equal(await p.locator('#count').textContent(), '150 logs');
      // The filter reaches the rows put in after the first screen.
      await p.fill('#filter', 'app149');
      assert.equal(await p.locator('tbody tr:not([hidden])').count(), 1);
      assert.equal(await p.locator('#count').textContent(), '1 of 150 logs');
    } finally {
      await p.close();
      await killChild(w.child);
      rmSync(many, { recursive: true, force: true });
    }
  });

  test("no error in the browser's console (no CSP violation, no failed request, no exception)", { skip }, () => {
    assert.deepEqual(consoleErrors, []);
  });

  test('the page without the token is refused and shows nothing', { skip }, async () => {
    const p = await ctx.newPage();
    const r = await p.goto(`http://127.0.0.1:${web.port}/`);
    assert.equal(r!.status(), 403);
    const text = await p.locator('body').textContent();
    assert.doesNotMatch(text ?? '', /sleep|node|server/);
    const r2 = await p.goto(`http://127.0.0.1:${web.port}/log/${grower.id}`);
    assert.equal(r2!.status(), 403);
    await p.close();
  });
});
