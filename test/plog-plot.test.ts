// plog plot (src/plog/readers/chart-svg.ts, src/cli/plog-plot.ts): the SVG's
// structure (well-formed, escaped, axes with units, title, legend, time
// zone), thinning of long logs without losing peaks, gaps, several runs;
// the command's options and exit codes; and the picture itself: rendered
// by headless Chromium, the screenshot decoded and checked not blank, with
// the lines' colours in it. Set PLOG_SCREENSHOTS=DIR to keep the PNGs.
process.env.TZ = 'Europe/Berlin';

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseLog } from '../src/plog/log/logread.js';
import type { Log } from '../src/plog/log/sample.js';
import { elapsedLabel, escapeXml, renderHtml, renderSvg, thin } from '../src/plog/readers/chart-svg.js';
import { READER } from '../src/plog/readers/exitcodes.js';
import { series, textLog, type FixSample } from './helpers/logs.js';
import { decodePng, pixelStats } from './helpers/png.js';
import { plog } from './helpers/plog.js';

const tmp = mkdtempSync('/tmp/plog-plot-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const START = new Date(2024, 0, 15, 9, 30, 0);
const CMD = `/usr/bin/node --max-old-space-size=4096 /srv/app/server.js --name "a<b>&c" --port 8080`;

function runLog(cmd: string, start: Date, n: number, rss: (i: number) => number, over: (i: number) => Partial<FixSample> = () => ({})): Log {
  const s = series(start, 10_000, n, rss, over);
  return parseLog(textLog(cmd, s), `/var/local/plog/node.${n}`, { year: start.getFullYear() });
}

const leak = runLog(
  CMD,
  START,
  360,
  (i) => 60_000 + i * 150 + (i % 9) * 400,
  (i) => ({ swapKb: i > 200 ? (i - 200) * 40 : 0 }),
);
const fixed = runLog('/usr/bin/node /srv/app/server.js --fixed', new Date(2024, 0, 16, 14, 0), 250, (i) => 62_000 + Math.min(i, 40) * 300 + (i % 7) * 300);

/** Well-formed XML, roughly: every tag closed in order, no raw '<' or stray '&' in text. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const body = xml.replace(/^<!DOCTYPE[^>]*>/i, '');
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|#39);)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    if (m[0] === '<' || m[0].startsWith('&')) assert.fail(`raw ${m[0]} at ${m.index}: ${body.slice(m.index - 40, m.index + 40)}`);
    const [, close, , , self] = m;
    const name = m[2]!; // a tag: the other alternatives failed above
    if (self) continue;
    if (close) assert.equal(stack.pop(), name, `</${name}> at ${m.index}`);
    else if (!['meta', 'br'].includes(name)) stack.push(name);
  }
  assert.deepEqual(stack, [], 'all closed');
}

describe('the SVG', () => {
  const svg = renderSvg([leak]);
  test('well-formed, sized, with a white background', () => {
    assertWellFormed(svg);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="1200" height="800" viewBox="0 0 1200 800"/);
    assert.match(svg, /<rect width="1200" height="800" fill="#ffffff"\/>/);
  });
  test('the command line as the title, escaped; span, samples and interval under it', () => {
    assert.ok(svg.includes(`<title>${escapeXml(CMD)}</title>`));
    assert.ok(svg.includes('--name &quot;a&lt;b&gt;&amp;c&quot;'));
    assert.match(svg, /node\.360  ·  2024-01-15 9:30:00 to 10:29:50 \(59 min 50 s\)  ·  360 samples, every 10 s/);
  });
  test('axes with units, time labels, the time zone, a legend', () => {
    assert.match(svg, />Memory \(MiB\)</);
    assert.match(svg, />CPU \(%\)</);
    assert.match(svg, />local time \(UTC\+01:00\)</);
    for (const t of ['9:30', '9:40', '10:00', '10:20']) assert.ok(svg.includes(`>${t}</text>`), t);
    assert.ok(svg.includes('>01-15</text>'), 'the date under the first time label');
    for (const l of ['RSS (resident)', 'PSS (proportional)', 'Swap', 'CPU %']) assert.ok(svg.includes(`>${l}</text>`), l);
    for (const v of ['0', '20', '40', '60', '80', '100']) assert.ok(svg.includes(`text-anchor="end">${v}</text>`), `memory tick ${v}`);
  });
  test('four lines: RSS, PSS, Swap, CPU', () => {
    assert.equal((svg.match(/<path /g) ?? []).length, 4);
  });
  test('no swap: no Swap line, and the subtitle says so', () => {
    const s = renderSvg([fixed]);
    assert.doesNotMatch(s, />Swap</);
    assert.match(s, /no swap used/);
    assert.equal((s.match(/<path /g) ?? []).length, 3);
  });
  test('several logs: a colour per run, styles per figure, time since the first sample', () => {
    const s = renderSvg([leak, fixed]);
    assertWellFormed(s);
    assert.match(s, />2 runs compared</);
    assert.match(s, />time since the first sample \(m:ss\)</);
    assert.match(s, /node\.360 \(2024-01-15 9:30, 59 min 50 s\): \/usr\/bin\/node/);
    assert.match(s, /node\.250 \(2024-01-16 14:00, 41 min 30 s\)/);
    assert.match(s, /stroke-dasharray="7 4"/); // PSS dashed
    assert.ok(s.includes('>0:00</text>') && s.includes('>10:00</text>'));
    // --clock keeps clock time: both days on the axis.
    const c = renderSvg([leak, fixed], { time: 'clock' });
    assert.match(c, />local time/);
  });
  test('a gap in the log breaks the line; a missing value too', () => {
    const a = series(START, 10_000, 10, () => 5000);
    const b = series(new Date(START.getTime() + 3_600_000), 10_000, 10, () => 6000);
    const log = parseLog(textLog('gappy', [...a, ...b]), 'g', { year: 2024 });
    const s = renderSvg([log]);
    const rss = /<path d="([^"]+)" fill="none" stroke="#1f60c4"/.exec(s)![1]!;
    assert.equal(rss.split('M').length - 1, 2);
  });
  test('long logs are thinned to min and max per pixel: small, and the peaks stay', () => {
    // More samples than a function call takes arguments: nothing may spread them.
    const n = 200_000;
    const s = series(START, 1000, n, (i) => (i === 54_321 ? 400_000 : 100_000 + (i % 100)));
    const log = parseLog(textLog('long', s), 'long', { year: 2024 });
    const svgLong = renderSvg([log]);
    assert.ok(svgLong.length < 400_000, `${svgLong.length} bytes`);
    const d = /<path d="([^"]+)" fill="none" stroke="#1f60c4"/.exec(svgLong)![1]!;
    const ys = d
      .split(/[ML]/)
      .filter(Boolean)
      .map((p) => Number(p.split(' ')[1]));
    const top = Math.min(...ys);
    // The spike is at 400000 kB = 390.6 MiB on an axis to 400 MiB: near the top of the panel.
    const panelTop = Number(/<rect x="84" y="(\d+)"/.exec(svgLong)![1]);
    assert.ok(top - panelTop < 10, `spike at y ${top}, panel from ${panelTop}`);
  });
  test('thin keeps order, first and last, lowest and highest of each pixel', () => {
    const pts = [
      { x: 0, y: 5 },
      { x: 0.2, y: 1 },
      { x: 0.4, y: 9 },
      { x: 0.6, y: 3 },
      { x: 0.8, y: 4 },
      { x: 1.1, y: 7 },
    ];
    assert.deepEqual(thin(pts), [
      { x: 0, y: 5 },
      { x: 0.2, y: 1 },
      { x: 0.4, y: 9 },
      { x: 0.8, y: 4 },
      { x: 1.1, y: 7 },
    ]);
  });
  test('elapsed labels', () => {
    assert.equal(elapsedLabel(90_000, false, true), '1:30');
    assert.equal(elapsedLabel(3_600_000 + 120_000, true, false), '1:02');
    assert.equal(elapsedLabel(3_600_000 + 125_000, true, true), '1:02:05');
  });
  test('HTML: the SVG inline and a summary per log: span, command, a table of RSS/PSS/Swap/CPU, the verdict', () => {
    const h = renderHtml([leak, fixed]);
    assertWellFormed(h);
    assert.match(h, /<title>2 runs compared<\/title>/);
    assert.match(h, /<svg xmlns/);
    assert.match(h, /<h2><span class="swatch" style="background:#1f60c4"><\/span>node\.360 <small>2024-01-15 9:30:00, 59 min 50 s, 360 samples every 10 s<\/small><\/h2>/);
    assert.match(h, /<tr><td>RSS<\/td><td>[\d.]+ MiB<\/td>.*<td>\+[\d.]+ MiB\/h<\/td><td>(0\.\d\d|1\.00)<\/td><\/tr>/);
    assert.match(h, /<p class="verdict leak">LEAK SUSPECT/);
    assert.match(h, /<p class="verdict">no steady memory growth/);
  });
});

const leakFile = join(tmp, 'node.360');
const fixedFile = join(tmp, 'node.250');
writeFileSync(
  leakFile,
  textLog(
    CMD,
    series(
      START,
      10_000,
      360,
      (i) => 60_000 + i * 150 + (i % 9) * 400,
      (i) => ({ swapKb: i > 200 ? (i - 200) * 40 : 0 }),
    ),
  ),
);
writeFileSync(
  fixedFile,
  textLog(
    '/usr/bin/node /srv/app/server.js --fixed',
    series(new Date(2024, 0, 16, 14, 0), 10_000, 250, (i) => 62_000 + Math.min(i, 40) * 300 + (i % 7) * 300),
  ),
);

describe('plog plot', () => {
  test('-o x.svg, -o x.html, -o - (SVG on standard output)', async () => {
    const svg = join(tmp, 'a.svg');
    let r = await plog(['plot', '--year', '2024', leakFile, '-o', svg]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(svg, 'utf8'), /^<svg /);
    const html = join(tmp, 'a.html');
    r = await plog(['plot', '-o', html, leakFile, fixedFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(html, 'utf8'), /^<!DOCTYPE html>/);
    r = await plog(['plot', '-o', '-', '--title', 'before and after', '--size', '800x500', leakFile]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^<svg [^>]*width="800" height="500"/);
    assert.match(r.stdout, />before and after</);
  });

  test('usage errors exit 11; a missing log 16; not a log 17; an unwritable output 18', async () => {
    for (const args of [
      [leakFile],
      ['-o', 'x.png', leakFile],
      ['-o', 'x.svg'],
      ['--clock', '--elapsed', '-o', 'x.svg', leakFile],
      ['--size', '10x10', '-o', 'x.svg', leakFile],
      ['-o', 'x.svg', '-', '-'],
    ]) {
      const r = await plog(['plot', ...args]);
      assert.equal(r.code, READER.USAGE.code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Try 'plog plot --help'\./);
    }
    assert.equal((await plog(['plot', '-o', join(tmp, 'x.svg'), join(tmp, 'missing')])).code, READER.READ.code);
    assert.equal((await plog(['plot', '-o', join(tmp, 'x.svg'), '/etc/hostname'])).code, READER.NOT_A_LOG.code);
    const r = await plog(['plot', '-o', join(tmp, 'no/such/dir/x.svg'), leakFile]);
    assert.equal(r.code, READER.OUTPUT.code);
    assert.match(r.stderr, /x\.svg: No such file or directory$/m);
  });

  test('--help lists the exit codes', async () => {
    const r = await plog(['plot', '--help']);
    assert.equal(r.code, 0);
    for (const c of Object.values(READER)) assert.ok(r.stdout.includes(`  ${c.code}  ${c.meaning}`), c.meaning);
  });
});

const chromium = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

function screenshot(page: string, name: string): Buffer {
  const png = join(tmp, `${name}.png`);
  const profile = mkdtempSync(join(tmp, 'chromium-'));
  const r = spawnSync(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      `--screenshot=${png}`,
      '--window-size=1200,800',
      `file://${page}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.ok(existsSync(png), `chromium wrote no screenshot (status ${r.status}): ${r.stderr}`);
  if (process.env.PLOG_SCREENSHOTS) {
    mkdirSync(process.env.PLOG_SCREENSHOTS, { recursive: true });
    copyFileSync(png, join(process.env.PLOG_SCREENSHOTS, `${name}.png`));
  }
  return readFileSync(png);
}

// Each test skipped by itself (not the suite): node's runner counts a skipped suite's tests as nothing.
const noChromium = chromium ? false : 'chromium is not installed (Debian package chromium)';
describe('rendered by headless Chromium', () => {
  test('one log as SVG: not blank; the RSS, PSS, Swap and CPU colours are drawn', { skip: noChromium }, async () => {
    const svg = join(tmp, 'one.svg');
    assert.equal((await plog(['plot', '-o', svg, leakFile])).code, 0);
    const img = decodePng(screenshot(svg, 'plot-one'));
    assert.equal(img.width, 1200);
    assert.equal(img.height, 800);
    const st = pixelStats(img, ['#1f60c4', '#e8790c', '#c4162a', '#2a9d3a'], 40);
    assert.ok(st.distinctColours > 50, `distinct colours: ${st.distinctColours}`);
    const share = st.nonWhite / (img.width * img.height);
    assert.ok(share > 0.02 && share < 0.8, `non-white share ${share}`);
    for (const [c, n] of Object.entries(st.near)) assert.ok(n > 150, `${c}: ${n} pixels`);
  });

  test("two runs as HTML: not blank; both runs' colours drawn", { skip: noChromium }, async () => {
    const html = join(tmp, 'two.html');
    assert.equal((await plog(['plot', '-o', html, leakFile, fixedFile])).code, 0);
    const img = decodePng(screenshot(html, 'plot-two'));
    const st = pixelStats(img, ['#1f60c4', '#c4162a'], 40);
    assert.ok(st.distinctColours > 50, `distinct colours: ${st.distinctColours}`);
    for (const [c, n] of Object.entries(st.near)) assert.ok(n > 300, `${c}: ${n} pixels`);
  });
});
