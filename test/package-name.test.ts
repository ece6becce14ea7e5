// The package's name on the registry. `plog` there is somebody else's
// package (a small global logging utility), so this one is `plogkit`: its
// libraries are `plogkit/syslog`, `plogkit/strlog` and `plogkit/daemon`,
// while the programs keep their names (plogsrvd, plog, strlogd ...). What a
// user copies from the README or a man page must name this package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NAME = 'plogkit';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
};

test(`the package is ${NAME}; its programs keep their names`, () => {
  assert.equal(pkg.name, NAME);
  assert.deepEqual(Object.keys(pkg.bin).sort(), ['plog', 'plogsrvd', 'strclean', 'strerr', 'strlog', 'strlogd', 'strtrace']);
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['./daemon', './package.json', './strlog', './syslog']);
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { name: string; packages: Record<string, { name?: string }> };
  assert.equal(lock.name, NAME);
  assert.equal(lock.packages['']?.name, NAME);
});

test(`${NAME}/syslog, ${NAME}/strlog and ${NAME}/daemon import by name`, async () => {
  // Through the package's own exports (a package may import itself by its
  // name), as a user's program does. The specifiers are strings the compiler
  // does not resolve: it would otherwise read dist/ while writing it.
  const load = (sub: string): Promise<Record<string, unknown>> => import(`${NAME}/${sub}`) as Promise<Record<string, unknown>>;
  const syslog = await load('syslog');
  for (const f of ['openlog', 'syslog', 'setlogmask', 'closelog', 'Logger']) assert.equal(typeof syslog[f], 'function', f);
  const strlog = await load('strlog');
  assert.equal(typeof strlog.strlog, 'function');
  const daemon = await load('daemon');
  for (const f of ['detach', 'notifyReady', 'acquireLock']) assert.equal(typeof daemon[f], 'function', f);
});

function textFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) textFiles(p, out);
    else if (/\.(ts|c|md|[1-8])$/.test(e.name)) out.push(p);
  }
  return out;
}

test(`README, man pages, sources and tests say ${NAME}/..., never plog/... for the libraries`, () => {
  const old = new RegExp('\\bplog/(syslog|strlog|daemon)\\b');
  const files = [join(ROOT, 'README.md'), ...textFiles(join(ROOT, 'man')), ...textFiles(join(ROOT, 'src')), ...textFiles(join(ROOT, 'test')), ...textFiles(join(ROOT, 'bench'))];
  const bad = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (old.test(line) ? [`${f.slice(ROOT.length)}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(bad, []);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, new RegExp(`npm install (-g )?${NAME}\\b`));
  assert.match(readme, new RegExp(`from '${NAME}/syslog'`));
});
