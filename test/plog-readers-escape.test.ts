// The readers (plog show, report, plot, export) in front of a hostile log.
// A root plogsrvd writes the command line escaped, but the log belongs to
// the requester, who may rewrite it: line 1, a damaged line, a machine
// log's fields, and the file names in the sticky directory are theirs. None
// of it may reach the reader's terminal as control sequences (ESC ]0; ...
// BEL retitles the window, ESC [2J clears it, U+009B is CSI to some
// terminals, U+202E turns text around), nor leave an SVG that no XML
// parser takes.
process.env.TZ = 'Europe/Berlin';

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { series, textLog } from './helpers/logs.js';
import { hasScript, runOnTerminal } from './helpers/terminal.js';
import { READER } from '../src/plog/readers/exitcodes.js';
import { lines, plog, PLOG, run, Server, spawnChild, tempDir, waitLines } from './helpers/plog.js';

/** What the attacker puts in every text field: OSC title, clear screen, C1 CSI, bidi override, BEL, CR. */
const EVIL = 'evil \x1b]0;owned\x07\x1b[2J\u009b31mred\u202etxt.exe\rX';
/** How the readers show it. */
const SHOWN = 'evil \\x1b]0;owned\\x07\\x1b[2J\\x9b31mred\\u{202e}txt.exe\\rX';

/** Characters that must never reach a terminal raw: C0 but tab and newline, DEL, C1, bidi controls. */

const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

function assertNoRaw(what: string, s: string): void {
  const m = RAW.exec(s);
  assert.equal(m, null, `${what}: raw U+${m?.[0].codePointAt(0)!.toString(16).padStart(4, '0')} at ${m?.index}: ${JSON.stringify(s.slice(Math.max(0, (m?.index ?? 0) - 30), (m?.index ?? 0) + 30))}`);
}

let dir: string;
let textFile: string;
let jsonFile: string;
let evilName: string;

before(async () => {
  // As /var/local/plog is meant to be: root's, mode 1777, a root daemon.
  const srv = await Server.start({ foreground: true, dir: tempDir(0o1777), args: ['-m', 'world'] });
  dir = srv.dir;
  // nobody has a process logged, whose arguments already carry the escapes...
  const child = spawnChild('bash', ['-c', 'exec -a "$0" sleep 300', EVIL], { asNobody: true });
  const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '200ms'], { asNobody: true });
  assert.equal(r.code, 0, r.stderr);
  textFile = /^Log file: (.*)$/m.exec(r.stdout)![1]!;
  await waitLines(textFile, 4);
  const x = await plog(['-d', dir, '-x', String(child.pid)], { asNobody: true });
  assert.equal(x.code, 0, x.stderr);
  child.kill();
  // ... which plogsrvd wrote escaped, in ASCII:
  assert.doesNotMatch(lines(textFile)[0]!, RAW);
  // then rewrites the log it owns: line 1 raw, a damaged line; and plants a
  // JSON-lines log and a file whose very name carries the escapes.
  const fixture = textLog(
    EVIL,
    series(new Date(2024, 9, 8, 10, 0), 15_000, 40, (i) => 80_000 + i * 200),
  );
  const [cmd, head, ...rest] = fixture.split('\n');
  const damaged = [cmd, head, ...rest.slice(0, 5), `garbage ${EVIL}`, ...rest.slice(5)].join('\n');
  const jsonl =
    [
      JSON.stringify({ command: EVIL }),
      ...Array.from({ length: 20 }, (_, i) =>
        JSON.stringify({
          epoch_ms: Date.UTC(2024, 9, 8, 8, 0, i * 15),
          state: EVIL,
          prio: 20,
          cpu_seconds: i,
          cpu_percent: 1,
          threads: 1,
          min_flt: 1,
          maj_flt: 0,
          virtual_bytes: 4e8,
          resident_bytes: 1e8 + i * 1e6,
          share_percent: 10,
          pss_bytes: 9e7,
          swap_bytes: 0,
          data_bytes: 8e7,
          priv_write_bytes: 7e7,
          note: EVIL,
        }),
      ),
    ].join('\n') + '\n';
  jsonFile = join(dir, 'evil.jsonl');
  evilName = join(dir, `name ${EVIL}.1`);
  const write = `const fs = require('fs'); fs.writeFileSync(process.argv[1], process.argv[2]); fs.writeFileSync(process.argv[3], process.argv[4]); fs.writeFileSync(process.argv[5], process.argv[2]);`;
  const w = await run(process.execPath, ['-e', write, textFile, damaged, jsonFile, jsonl, evilName], { asNobody: true });
  assert.equal(w.code, 0, w.stderr);
  assert.match(readFileSync(textFile, 'utf8'), /\x1b\]0;owned\x07/);
});

test('plog show and plog report into a pipe: the command line, a damaged line, fields and file names escaped', async () => {
  for (const args of [['show'], ['show', '--unicode'], ['report'], ['report', '--json']]) {
    // Wide enough for the whole path on one line.
    const r = await plog([...args, '--year', '2024', textFile, jsonFile, evilName, join(dir, `missing ${EVIL}`)], { env: { COLUMNS: '300' } });
    const what = args.join(' ');
    assert.equal(r.code, READER.READ.code, `${what}: ${r.stderr}`); // the missing file
    assertNoRaw(`${what} stdout`, r.stdout);
    assertNoRaw(`${what} stderr`, r.stderr);
    assert.ok(r.stderr.includes(`missing ${SHOWN}: No such file or directory`), `${what}: ${r.stderr}`);
    if (args.includes('--json')) {
      // JSON keeps the text whole: the escapes are JSON's own.
      const objs = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { command: string; path: string; last_state: string });
      assert.deepEqual(
        objs.map((o) => o.command),
        [EVIL, EVIL, EVIL],
      );
      assert.equal(objs[1]!.last_state, EVIL);
      assert.equal(objs[2]!.path, evilName);
    } else {
      assert.ok(r.stdout.includes(SHOWN), `${what}: ${r.stdout}`);
      assert.ok(r.stdout.includes(`name ${SHOWN}.1`), `${what}: the file name`);
      if (args[0] === 'show') assert.ok(r.stderr.includes(`(line 8: 'garbage ${SHOWN}')`), r.stderr);
      else assert.ok(r.stdout.includes(`state:     ${SHOWN}`), r.stdout);
    }
  }
});

test('plog show on a terminal: only its own colours, no sequence of the log', { skip: hasScript ? false : 'script(1) not installed: no pty' }, async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, EVIL_LOG: evilName, JSON_LOG: jsonFile };
  delete env.NO_COLOR;
  for (const sub of ['show', 'report']) {
    const r = await runOnTerminal(`stty cols 120 rows 50; ${process.execPath} ${PLOG} ${sub} --year 2024 ${textFile} "$JSON_LOG" "$EVIL_LOG"`, env);
    assert.equal(r.code, 0, r.output);
    if (sub === 'show') assert.match(r.output, /\x1b\[34m/, 'colour on a terminal');
    // Every ESC is an SGR colour of our own; nothing else of the C0/C1 sets but CR LF.
    const stripped = r.output.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r\n/g, '\n');
    assertNoRaw(`plog ${sub} on a terminal`, stripped);
    assert.ok(stripped.includes(SHOWN), stripped);
  }
});

/** The SVG files the test above wrote, for Chromium's XML parser below. */
const svgsWritten: string[] = [];

test('plog plot: the SVG and the HTML page are well-formed XML with the text escaped', async () => {
  const out = mkdtempSync(join(dir, 'plot-'));
  for (const [name, files] of [
    ['one.svg', [textFile]],
    ['three.svg', [textFile, jsonFile, evilName]],
    ['three.html', [textFile, jsonFile, evilName]],
  ] as const) {
    const path = join(out, name);
    const r = await plog(['plot', '--year', '2024', '-o', path, ...files]);
    assert.equal(r.code, 0, r.stderr);
    assertNoRaw(`plot ${name} stderr`, r.stderr);
    const xml = readFileSync(path, 'utf8');
    assertXmlChars(name, xml);
    assert.ok(xml.includes(escapeXmlText(SHOWN)), `${name}: the command line shown escaped`);
    if (name.endsWith('.svg')) svgsWritten.push(path);
  }
  // --title is the user's own, but goes through the same door.
  const r = await plog(['plot', '--year', '2024', '-o', '-', '--title', `t ${EVIL}`, textFile]);
  assertXmlChars('--title', r.stdout);
});

test('plog export: JSON lines escape what a terminal would act on and decode to the same text; CSV cells are escaped', async () => {
  const j = await plog(['export', '--jsonl', jsonFile]);
  assert.equal(j.code, 0, j.stderr);
  assertNoRaw('export --jsonl', j.stdout);
  const first = JSON.parse(j.stdout.split('\n')[0]!) as { state: string; note: string };
  assert.equal(first.state, EVIL);
  assert.equal(first.note, EVIL);
  const c = await plog(['export', '--csv', jsonFile]);
  assert.equal(c.code, 0, c.stderr);
  assertNoRaw('export --csv', c.stdout);
  assert.ok(c.stdout.includes(SHOWN));
  const d = await plog(['export', '--csv', textFile]);
  assertNoRaw('export stderr', d.stderr);
  assert.ok(d.stderr.includes(`'garbage ${SHOWN}'`), d.stderr);
});

/** XML 1.0's Char production: no C0 control but tab, LF, CR; no lone surrogate; no U+FFFE/U+FFFF. */
function assertXmlChars(what: string, xml: string): void {
  const bad = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(xml);
  assert.equal(bad, null, `${what}: not XML: U+${bad?.[0].charCodeAt(0).toString(16)} at ${bad?.index}`);
  // And nothing a terminal acts on, should the page be shown with cat.
  assertNoRaw(what, xml);
}

function escapeXmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const chromium = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

/** A strict XML parser's verdict: Chromium loads an .svg file as XML and puts a <parsererror> in the DOM when it is not well-formed. */
test('plog plot: Chromium parses the SVG files as XML without an error', { skip: chromium ? false : 'chromium is not installed (Debian package chromium)' }, () => {
  assert.ok(svgsWritten.length >= 2, 'the SVG files of the test before');
  for (const path of svgsWritten) assertParses(chromium!, path);
});

function assertParses(chromium: string, path: string): void {
  const profile = mkdtempSync(join(dir, 'chromium-'));
  const r = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--dump-dom',
      `file://${path}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /<svg/, 'the DOM has the chart');
  assert.doesNotMatch(r.stdout, /parsererror|error on line/i, `${path}: ${r.stdout.slice(0, 400)}`);
}
