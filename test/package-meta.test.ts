// What the package says about itself: its licence (the text, in the
// repository and the tarball), where it lives and where bugs go; and that
// every program, on an error it did not expect, says where to report it,
// from the one place that knows (src/bugs.ts, from package.json's "bugs").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  license: string;
  homepage?: string;
  repository?: { type?: string; url?: string };
  bugs?: { url?: string };
  bin: Record<string, string>;
};

test('LICENSE is the GNU GPL version 3 that package.json names, and goes into the tarball', () => {
  assert.equal(pkg.license, 'GPL-3.0-or-later');
  const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  assert.match(text, /^\s*GNU GENERAL PUBLIC LICENSE\s+Version 3, 29 June 2007/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.ok(files.includes('LICENSE'), files.join(' '));
  assert.ok(files.includes('README.md'));
});

test('repository, homepage and bugs name one project', () => {
  const repo = pkg.repository?.url ?? '';
  const m = /^git\+(https:\/\/github\.com\/[\w.-]+\/[\w.-]+)\.git$/.exec(repo);
  assert.ok(m, `repository.url: ${repo}`);
  assert.equal(pkg.repository?.type, 'git');
  const base = m[1]!;
  assert.equal(pkg.homepage, `${base}#readme`);
  assert.equal(pkg.bugs?.url, `${base}/issues`);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(`${base}/issues`), 'the README says where to report bugs');
});

// Make `process.argv.slice(2)` throw once: every program parses its
// arguments so, inside the handler of errors it did not expect.
const INJECT = `data:text/javascript,${encodeURIComponent(`
const argv = process.argv, slice = Array.prototype.slice;
Array.prototype.slice = function (...a) {
  if (this === argv && a[0] === 2) { Array.prototype.slice = slice; throw new TypeError('injected for the test'); }
  return slice.apply(this, a);
};`)}`;

for (const name of Object.keys(pkg.bin).sort()) {
  test(`${name}: an unexpected error says it is a bug and where to report it, exit 70`, () => {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--import', INJECT, join(ROOT, pkg.bin[name]!), '-h'], { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(r.status, 70, r.stderr);
    assert.match(r.stderr, new RegExp(`^${name}: internal error: TypeError: injected for the test$`, 'm'));
    assert.ok(r.stderr.includes(`This is a bug of ${pkg.name} `), r.stderr);
    assert.ok(r.stderr.includes(`please report it at ${pkg.bugs?.url ?? '(no bugs.url)'}`), r.stderr);
  });
}

test('no program words an internal error by itself: they all call internalError() (src/bugs.ts)', () => {
  const cli = join(ROOT, 'src/cli');
  for (const f of readdirSync(cli).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(cli, f), 'utf8');
    assert.doesNotMatch(text, /internal error:/, f);
    // A daemon's main() is the kit's runDaemon() (src/daemon/run.ts), which says its bugs.
    if (/INTERNAL(\.code)?\b|\b70\b/.test(text)) assert.match(text, /internalError\(err\)|runDaemon\(\{/, f);
  }
  assert.match(readFileSync(join(ROOT, 'src/daemon/run.ts'), 'utf8'), /internalError\(err\)/, 'run.ts');
});
