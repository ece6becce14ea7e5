// The plog web benchmark: 500 processes logged every second by a real
// plogsrvd, `plog web` serving them, and headless Chromium on its list.
//
//   npx tsc -p . && node dist/bench/web.js [--logs N] [--interval MS] [--window SECONDS] [--loads N] [--settle SECONDS] [--warmup SECONDS]
//
// - Targets: `sleep` processes, registered as root, one request at a time;
//   the logs run for a warm-up of --warmup seconds (default 20) before
//   anything is measured, so that each has a history.
// - The list page's load: from the navigation's start to the list on the
//   screen, by the page's clock: its first frame, presented (the page's
//   first contentful paint; nothing is drawn before list.js has put in the
//   rows of the first screen, the others follow that frame, and when every
//   row is in is shown too). The document brings the rows; list.js applies
//   them. First as the very first page of a
//   browser just started (its own start-up in it); then as a person opens
//   it, in a browser that is running (it showed another page first), in a
//   fresh tab each time, --loads times (default 5): the first of those is
//   the page's cold load there. PLOG_BENCH_TIMING=1 prints each load's
//   navigation and resource timings; PLOG_BENCH_TRACE=FILE writes
//   Chromium's trace of the just-started browser's load (chrome://tracing,
//   Perfetto).
// - plog web's CPU: the scheduler's ns clock of its process (every thread)
//   over --window seconds (default 30), three windows, while the page is
//   open and receiving every update (500 rows a second); as a share of one
//   core. They begin --settle seconds (default 10) after the loads, whose
//   pages and streams are being torn down then (that time's share is shown
//   apart). Memory: VmRSS at the end, VmHWM (the peak, start-up included).
// - The browser keeping up: per update event, the time the page took to
//   apply it; the page's long tasks (over 50 ms) as a share of the window;
//   and, for every row that got a new sample, how old that sample was (by
//   its own time in the log) when the page showed it: the goal is within
//   one interval plus 1 s. A text log's times have whole seconds, so this
//   age is up to 1 s more than the true one: an upper bound.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { BrowserContext } from 'playwright-core';
import {
  atExit,
  bin,
  cpuUs,
  fmtSpread,
  lineCount,
  machine,
  note,
  numOpt,
  privateTmpSockets,
  quantile,
  register,
  say,
  sleep,
  spread,
  startServer,
  statusKb,
  stopServer,
  table,
  tempDir,
  waitFor,
} from './lib.js';

const LOGS = numOpt('logs', 500);
const INTERVAL = numOpt('interval', 1000);
const WINDOW = numOpt('window', 30);
const LOADS = numOpt('loads', 5);
/** Seconds after the loads before the CPU windows: the five loads' pages and streams gone, their code paths compiled. */
const SETTLE = numOpt('settle', 10);
/** Seconds the logs run before plog web starts (their age when it is measured: this plus the loads and the settling). */
const WARMUP = numOpt('warmup', 20);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => existsSync(c));

interface PageStats {
  events: number;
  rowsApplied: number;
  maxApplyMs: number;
  applyMs: number;
  ages: number[];
  longTaskMs: number;
  rows: number;
}

async function main(): Promise<void> {
  privateTmpSockets();
  const dir = tempDir('plog-bench-web-');
  const srv = await startServer(dir, ['-m', 'world']);
  atExit(() => srv.kill('SIGKILL'));
  note(`starting ${LOGS} targets`);
  const targets: ChildProcess[] = [];
  for (let i = 0; i < LOGS; i++) {
    const c = spawn('sleep', ['3600'], { stdio: 'ignore' });
    targets.push(c);
  }
  atExit(() => {
    for (const c of targets) c.kill('SIGKILL');
  });
  const logs: string[] = [];
  for (const c of targets) logs.push(await register(dir, c.pid!, INTERVAL));
  note(`${logs.length} logs every ${INTERVAL} ms; warming up ${WARMUP} s`);
  await sleep(WARMUP * 1000);

  // PLOG_BENCH_NODE_ARGS: options for plog web's node (--cpu-prof, say).
  const nodeArgs = (process.env.PLOG_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const web = spawn(process.execPath, [...nodeArgs, bin('plog'), 'web', '-d', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  atExit(() => web.kill('SIGKILL'));
  let out = '';
  web.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const started = performance.now();
  await waitFor('plog web to print its URL', () => /^http:\/\/\S+$/m.test(out));
  const startupMs = performance.now() - started;
  const url = /^(http:\/\/\S+)$/m.exec(out)![1]!;
  note(`plog web up in ${Math.round(startupMs)} ms: ${url.replace(/token=.*/, 'token=...')}`);

  const rows: string[][] = [];
  const loadMs: number[] = [];
  const loadParts: Array<{ doc: number; script: number; shown: number; apply: number; painted: number; all: number }> = [];
  const cpuPct: number[] = [];
  /** plog web's CPU over the next `secs` seconds, as a share of one core (%). */
  const cpuShare = async (secs: number): Promise<number> => {
    const c0 = cpuUs(web.pid!);
    const t0 = performance.now();
    await sleep(secs * 1000);
    return ((cpuUs(web.pid!) - c0) / ((performance.now() - t0) * 1000)) * 100;
  };
  let settlePct: number | null = null;
  let page: PageStats | null = null;
  let profile: string | null = null;
  let ctxClose: (() => Promise<void>) | null = null;
  let freshLoad: { ms: number; painted: number } | null = null;
  if (!CHROMIUM) {
    note('no Chromium (Debian package chromium): the browser figures are left out');
  } else {
    const { chromium } = await import('playwright-core');
    const launch = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'plog-bench-chromium-'));
      const c = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1400, height: 900 },
      });
      return { ctx: c, dir };
    };
    /** One load of the list in a fresh tab of c: the bench's time and the page's parts. */
    const load = async (c: BrowserContext, keep: boolean) => {
      const p = await c.newPage();
      const t0 = performance.now();
      await p.goto(url, { waitUntil: 'commit' });
      await p.waitForFunction(
        (n) => {
          const w = window as unknown as { plogList?: { rows: Map<string, unknown>; stats: { paintedAt: number } } };
          return document.body?.dataset.ready === '1' && (w.plogList?.rows.size ?? 0) >= n && w.plogList!.stats.paintedAt > 0;
        },
        LOGS,
        { polling: 'raf', timeout: 60_000 },
      );
      const ms = performance.now() - t0;
      // Where the time went, by the page's clock (from its navigation): the
      // document received, the snapshot applied, and the applying itself.
      const parts = await p.evaluate(() => {
        const w = window as unknown as { plogList: { stats: { scriptAt: number; snapshotAt: number; snapshotApplyMs: number; paintedAt: number; allRowsAt: number } } };
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        const s = w.plogList.stats;
        return { doc: nav.responseEnd, script: s.scriptAt, shown: s.snapshotAt, apply: s.snapshotApplyMs, painted: s.paintedAt, all: s.allRowsAt };
      });
      if (process.env.PLOG_BENCH_TIMING) {
        say(
          JSON.stringify(
            await p.evaluate(() => [
              (window as unknown as { plogList: { stats: unknown } }).plogList.stats,
              ...performance.getEntriesByType('paint').map((e) => e.toJSON() as object),
              ...performance.getEntriesByType('navigation').map((e) => ({ ...(e.toJSON() as object) })),
              ...performance.getEntriesByType('resource').map((e) => {
                const r = e as PerformanceResourceTiming;
                return { n: r.name.replace(/\?.*/, ''), s: Math.round(r.startTime), req: Math.round(r.requestStart), res: Math.round(r.responseStart), end: Math.round(r.responseEnd) };
              }),
            ]),
          ) + '\n',
        );
      }
      if (!keep) await p.close();
      return { ms, parts };
    };

    // A browser just started, the list its very first page: the browser's
    // own start (its first renderer, network service, font caches) is in it.
    // PLOG_BENCH_TRACE=FILE: Chromium's trace of that load, for
    // chrome://tracing or Perfetto.
    const fresh = await launch();
    const tracer = process.env.PLOG_BENCH_TRACE ? fresh.ctx.browser() : null;
    if (tracer) {
      await tracer.startTracing(undefined, {
        path: process.env.PLOG_BENCH_TRACE!,
        categories: [
          'devtools.timeline',
          'disabled-by-default-devtools.timeline',
          'v8.execute',
          'blink',
          'loading',
          'navigation',
          'toplevel',
          'benchmark',
          'renderer.scheduler',
          'content',
          'browser',
          'cc',
          'viz',
        ],
      });
    }
    const f = await load(fresh.ctx, false);
    if (tracer) await tracer.stopTracing();
    freshLoad = { ms: f.ms, painted: f.parts.painted };
    await fresh.ctx.close();
    rmSync(fresh.dir, { recursive: true, force: true });

    // Then as a person opens it: in a browser that is running (it showed
    // another page first), --loads times, each in a fresh tab; the first is
    // this page's first load there.
    const running = await launch();
    profile = running.dir;
    const ctx = running.ctx;
    ctxClose = () => ctx.close();
    const other = await ctx.newPage();
    await other.goto('data:text/html,<!doctype html><title>another page</title><p>Another page, shown first.</p>');
    await other.close();
    for (let i = 0; i < LOADS; i++) {
      const r = await load(ctx, i === LOADS - 1);
      loadMs.push(r.ms);
      loadParts.push(r.parts);
    }
    const p = ctx.pages().at(-1)!; // the last load's page, left open
    await p.evaluate(() => {
      const w = window as unknown as { plogLong: number; plogList: { stats: { events: number; rowsApplied: number; maxApplyMs: number; applyMs: number; ages: number[] } } };
      w.plogLong = 0;
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) w.plogLong += e.duration;
      }).observe({ type: 'longtask', buffered: false });
      Object.assign(w.plogList.stats, { events: 0, rowsApplied: 0, maxApplyMs: 0, applyMs: 0, ages: [] });
    });
    settlePct = await cpuShare(SETTLE);
    for (let k = 0; k < 3; k++) cpuPct.push(await cpuShare(WINDOW));
    page = await p.evaluate(() => {
      const w = window as unknown as { plogLong: number; plogList: { rows: Map<string, unknown>; stats: PageStats } };
      return { ...w.plogList.stats, longTaskMs: w.plogLong, rows: w.plogList.rows.size };
    });
  }
  if (!CHROMIUM) {
    for (let k = 0; k < 3; k++) cpuPct.push(await cpuShare(WINDOW));
  }
  const rss = statusKb(web.pid!, 'VmRSS') / 1024;
  // Of which the program's own memory (RssAnon) and the pages of files (RssFile: node's binary, shared).
  const anon = statusKb(web.pid!, 'RssAnon') / 1024;
  const file = statusKb(web.pid!, 'RssFile') / 1024;
  const hwm = statusKb(web.pid!, 'VmHWM') / 1024;
  const lines = logs.reduce((n, l) => n + lineCount(l), 0);
  await ctxClose?.();
  if (profile) rmSync(profile, { recursive: true, force: true });
  web.kill('SIGTERM');
  await new Promise((r) => web.once('exit', r));
  await stopServer(srv);

  say(`### plog web: ${LOGS} logs every ${INTERVAL} ms\n\n${machine()}\n\n`);
  say(
    `Command: \`node dist/bench/web.js --logs ${LOGS} --interval ${INTERVAL} --window ${WINDOW} --loads ${LOADS}\`; ${lines.toLocaleString('en')} lines in the logs at the end; plog web started (and read them all) in ${Math.round(startupMs)} ms.\n\n`,
  );
  if (settlePct !== null) rows.push([`plog web CPU in the ${SETTLE} s right after the loads (not counted)`, `${settlePct.toFixed(2)} %`, '', '']);
  rows.push([
    'plog web CPU, share of one core (3 windows of ' + WINDOW + ' s)',
    `${fmtSpread(spread(cpuPct), 2)} % (in order: ${cpuPct.map((x) => x.toFixed(2)).join(', ')})`,
    '< 5 %',
    spread(cpuPct).max < 5 ? 'yes' : 'no',
  ]);
  rows.push(['plog web memory: VmRSS at the end / VmHWM', `${rss.toFixed(1)} / ${hwm.toFixed(1)} MB`, '< 100 MB', hwm < 100 ? 'yes' : 'no']);
  rows.push(["of VmRSS: RssAnon (its own) / RssFile (node's binary and libraries, shared)", `${anon.toFixed(1)} / ${file.toFixed(1)} MB`, '', '']);
  if (loadMs.length) {
    // The load as a person sees it: from the navigation's start to the
    // first frame on the screen with the list (its first screen of rows:
    // the page's first contentful paint, rendering being blocked until the
    // rows are in), by the page's own clock; then to the moment every row is
    // in and drawn by the bench's clock, which adds the driver's round trips
    // to the browser (the navigation asked, the rows seen).
    const painted = loadParts.map((x) => x.painted);
    const shown = (ms: number[]): string => `${Math.round(ms[0]!)} ms; ${fmtSpread(spread(ms.length > 1 ? ms.slice(1) : ms), 0)} ms`;
    rows.push([
      `list page load in a running browser: navigation to the list on the screen (its first frame, a screen of the ${LOGS} rows), page's clock (first; then median and range of ${painted.length - 1})`,
      shown(painted),
      '< 1 s',
      Math.max(...painted) < 1000 ? 'yes' : 'no',
    ]);
    rows.push([`every one of the ${LOGS} rows in (the others after that first frame), page's clock`, shown(loadParts.map((x) => x.all)), '', '']);
    rows.push(["every row in and drawn, by the bench's clock (the driver's round trips included)", shown(loadMs), '', '']);
    if (freshLoad) {
      rows.push([
        "the same as a just-started browser's very first page (the browser's start in it), page's clock; bench's clock",
        `${Math.round(freshLoad.painted)}; ${Math.round(freshLoad.ms)} ms`,
        '',
        freshLoad.painted < 1000 ? 'under 1 s too' : 'over 1 s',
      ]);
    }
    const part = (k: 'doc' | 'script' | 'shown' | 'apply'): string => loadParts.map((x) => Math.round(x[k])).join(', ');
    rows.push(["of each load, by the page's clock: document received; list.js run; rows applied; applying them", `${part('doc')}; ${part('script')}; ${part('shown')}; ${part('apply')} ms`, '', '']);
  }
  if (page) {
    const win = 3 * WINDOW * 1000;
    const ages = page.ages;
    const p50 = quantile(ages, 0.5);
    const p99 = quantile(ages, 0.99);
    const max = Math.max(...ages);
    rows.push(['update events applied (rows)', `${page.events} (${page.rowsApplied.toLocaleString('en')}, ${Math.round(page.rowsApplied / (win / 1000))} a second)`, '', '']);
    rows.push(['time to apply one event: mean / max', `${(page.applyMs / Math.max(1, page.events)).toFixed(1)} / ${page.maxApplyMs.toFixed(1)} ms`, '', '']);
    rows.push(["page's long tasks, share of the time", `${((page.longTaskMs / win) * 100).toFixed(1)} %`, '', '']);
    rows.push([
      `age of a new sample when shown: p50 / p99 / max (${ages.length.toLocaleString('en')} samples)`,
      `${Math.round(p50)} / ${Math.round(p99)} / ${Math.round(max)} ms`,
      `< ${INTERVAL + 1000} ms`,
      max < INTERVAL + 1000 ? 'yes' : p99 < INTERVAL + 1000 ? 'p99: yes' : 'no',
    ]);
  }
  say(table(['figure', 'measured', 'goal', 'met?'], rows, ['---', '---:', '---:', '---']));
  say('\n');
  note(`done (${readdirSync(dir).length} files in the directory)`);
}

await main();
process.exit(0);
