// What the programs say about a mistake on their command line: the
// project's own words, with the system's reason, never Node's or errno's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearest } from '../src/cli/args.js';
import { plog, plogsrvd, tempDir } from './helpers/plog.js';

const TRY_PLOG = "Try 'plog --help'.\n";

test("an option's value that begins with a dash: which value, and how to give it", async () => {
  const r = await plogsrvd(['-f', '-d', tempDir(), '--keep', '-1']);
  assert.deepEqual([r.code, r.stdout], [1, '']);
  assert.equal(r.stderr.split('\n')[0], "plogsrvd: option '--keep' needs a value, and '-1' looks like an option: write --keep=-1 if that is the value");
  const t = await plog(['-t', '-5', '-q', 'pid']);
  assert.equal(t.code, 11);
  assert.equal(t.stderr, "plog: option '-t' needs a value, and '-5' looks like an option: write -t-5 if that is the value\n" + TRY_PLOG);
});

test('plog with a word that is not a subcommand: the subcommands, and the nearest one', async () => {
  let r = await plog(['frobnicate']);
  assert.deepEqual([r.code, r.stdout], [11, '']);
  assert.equal(r.stderr, "plog: unknown subcommand 'frobnicate' (plog's subcommands: show, plot, report, export, run, web; requests to a server are options: -p, -n, -r, -x, -l, -q)\n" + TRY_PLOG);
  r = await plog(['reprot', 'x.log']);
  assert.equal(r.code, 11);
  assert.match(r.stderr, /^plog: unknown subcommand 'reprot': did you mean 'plog report'\? /);
  assert.equal(nearest('shwo', ['show', 'plot']), 'show');
  assert.equal(nearest('xyzzy', ['show', 'plot']), null);
});

test('a program without operands given one: said in words', async () => {
  const r = await plogsrvd(['-f', '-d', tempDir(), 'extra']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split('\n')[0], "plogsrvd: unexpected argument 'extra': this program takes options only");
});

test("plogsrvd -c FILE that cannot be read: the system's reason in words", async () => {
  const r = await plogsrvd(['-f', '-d', tempDir(), '-c', '/nonexistent.conf']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^plogsrvd: cannot read \/nonexistent\.conf: No such file or directory$/m);
});
