// The readers' exit codes (src/plog/readers/exitcodes.ts): plog(1)'s
// SUBCOMMANDS section and each reader's --help list the same table; the man
// page states the leak rule's numbers; plog --help names the subcommands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { READER } from '../src/plog/readers/exitcodes.js';
import { LEAK_RULE } from '../src/plog/readers/report.js';

const root = new URL('../../', import.meta.url);
const PLOG = new URL('dist/src/cli/plog.js', root).pathname;
const page = readFileSync(new URL('man/plog.1', root), 'utf8');
const section = (name: string): string => {
  const s = page.split(/^\.SH /m).find((x) => x.startsWith(name));
  assert.ok(s, `plog.1 has ${name}`);
  return s;
};

test("plog(1) SUBCOMMANDS lists exactly the readers' exit codes, with their meanings", () => {
  const sub = section('SUBCOMMANDS')
    .split(/^\.SS /m)
    .find((s) => s.startsWith('Exit status of the subcommands'));
  assert.ok(sub);
  const entries = [...sub.matchAll(/^\.TP\n\.B (\d+)\n(.*)$/gm)].map((m) => [Number(m[1]), m[2]!.replace(/\\-/g, '-')]);
  assert.deepEqual(
    entries,
    Object.values(READER).map((c) => [c.code, c.meaning]),
  );
});

test('the man page states the leak rule with the numbers the code uses', () => {
  const text = section('SUBCOMMANDS')
    .replace(/\n/g, ' ')
    .replace(/\\\(S2/g, '²');
  assert.match(text, new RegExp(`r² at least ${LEAK_RULE.minR2}`));
  assert.match(text, new RegExp(`at least ${LEAK_RULE.minGrowthOfMean * 100}% of the figure's mean and at least 1 MiB`));
  assert.equal(LEAK_RULE.minGrowthBytes, 1024 * 1024);
  assert.match(text, new RegExp(`at least ${LEAK_RULE.minSlopeOfMeanPerHour * 100}% of the mean an hour`));
  assert.equal(LEAK_RULE.minLateSlopeRatio, 0.5);
  assert.match(text, /at least half the whole slope/);
  assert.match(text, new RegExp(`at least ${LEAK_RULE.minSamples} samples and ${LEAK_RULE.minSpanMs / 60_000} minutes`));
});

for (const sub of ['show', 'plot', 'report', 'export']) {
  test(`plog ${sub} --help lists every exit code with its meaning and exits 0`, () => {
    const out = execFileSync(process.execPath, [PLOG, sub, '--help'], { encoding: 'utf8' });
    for (const c of Object.values(READER)) {
      assert.match(out, new RegExp(`^\\s*${c.code}\\s+${c.meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
    assert.match(out, new RegExp(`^Usage:\\n  plog ${sub} `, 'm'));
  });
}

test('plog --help names the subcommands', () => {
  const out = execFileSync(process.execPath, [PLOG, '--help'], { encoding: 'utf8' });
  for (const sub of ['show', 'plot', 'report', 'export']) assert.match(out, new RegExp(`^  plog ${sub} `, 'm'));
});
