// One table of errors per program: src/plog/exitcodes.ts. The man pages and
// --help must list the same codes, with nothing missing and nothing extra.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { CLIENT, SERVER, type ExitCode } from '../src/plog/exitcodes.js';

const root = new URL('../../', import.meta.url);
const bin = (name: string): string => new URL(`dist/src/cli/${name}.js`, root).pathname;

function manExitCodes(page: string): number[] {
  const text = readFileSync(new URL(`man/${page}`, root), 'utf8');
  const section = text.split(/^\.SH /m).find((s) => s.startsWith('EXIT STATUS'));
  assert.ok(section, `${page} has an EXIT STATUS section`);
  return [...section.matchAll(/^\.TP\n\.B (\d+)/gm)].map((m) => Number(m[1]));
}

function codes(table: Record<string, ExitCode>): number[] {
  return Object.values(table).map((c) => c.code);
}

test('plogsrvd(1) lists exactly the exit codes of the table', () => {
  assert.deepEqual(manExitCodes('plogsrvd.1'), codes(SERVER));
});

test('plog(1) lists exactly the exit codes of the table', () => {
  assert.deepEqual(manExitCodes('plog.1'), codes(CLIENT));
});

for (const [name, table] of [
  ['plogsrvd', SERVER],
  ['plog', CLIENT],
] as const) {
  test(`${name} --help lists every exit code with its meaning and exits 0`, () => {
    const out = execFileSync(process.execPath, [bin(name), '--help'], { encoding: 'utf8' });
    for (const c of Object.values(table as Record<string, ExitCode>)) {
      const label = c.code === 100 ? '100+' : String(c.code);
      assert.match(out, new RegExp(`^\\s*${label.replace('+', '\\+')}\\s+${c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
  });
}

test('package.json lists every man page', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { man: string[] };
  for (const page of ['man/plogsrvd.1', 'man/plog.1']) assert.ok(pkg.man.includes(page), page);
});
