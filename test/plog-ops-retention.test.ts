// plogsrvd's retention: --max-size rotation to NAME.rN with a new
// head, --keep, --max-total removing only rotated logs of ours; the size and
// config parsers; SIGHUP re-reading -c FILE and reopening a moved log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, lutimesSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isRotatedName, parseSize, rotatedName } from '../src/plog/ops/retention.js';
import { ConfigError, merge, parseConfig, parseListenAddress } from '../src/plog/ops/config.js';
import { lines, plog, PLOGSRVD, run, Server, sleep, spawnSleep, tempDir, waitFor } from './helpers/plog.js';

test('parseSize and the rotated names', () => {
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('10k'), 10240);
  assert.equal(parseSize('2M'), 2 * 1024 * 1024);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('1.5K'), 1536);
  assert.equal(parseSize('0'), null);
  assert.equal(parseSize('-1'), null);
  assert.equal(parseSize('10X'), null);
  assert.equal(rotatedName('sleep.12', 3), 'sleep.12.r3');
  assert.ok(isRotatedName('sleep.12.r1'));
  assert.ok(isRotatedName('sleep.12.2.r10'));
  assert.ok(isRotatedName('sleep.12.csv.r1'));
  // Logs themselves never look rotated, nor do other files.
  for (const n of ['sleep.12', 'sleep.12.2', 'sleep.12.csv', 'plogsrvd.state', 'x.r1', 'sleep.12.r0', 'sleep.12.rx']) assert.ok(!isRotatedName(n), n);
});

test('parseConfig: key = value lines of long options, comments, errors with the line', () => {
  assert.deepEqual(parseConfig('# plogsrvd\n\nmax-size = 1M\n keep=3 \nmax-total = "10M"\nmetrics = 127.0.0.1:9464\n'), {
    maxSize: 1024 * 1024,
    keep: 3,
    maxTotal: 10 * 1024 * 1024,
    metrics: '127.0.0.1:9464',
  });
  assert.deepEqual(parseConfig('max-size = none\nmetrics = none\n'), { maxSize: 0, metrics: '' });
  assert.throws(
    () => parseConfig('keep = 3\nbogus = 1\n', 'f.conf'),
    (e: Error) => e instanceof ConfigError && e.message === "f.conf:2: unknown option 'bogus'",
  );
  assert.throws(() => parseConfig('keep 3\n', 'f'), /f:1: not a 'key = value' line/);
  assert.throws(() => parseConfig('keep = 1\nkeep = 2\n', 'f'), /f:2: 'keep' given more than once/);
  assert.throws(() => parseConfig('max-size = 10Q\n', 'f'), /f:1: --max-size takes a size/);
  assert.throws(() => parseConfig('metrics = 9464\n', 'f'), /f:1: --metrics takes ADDR:PORT/);
  assert.deepEqual(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  assert.equal(parseListenAddress('1.2.3.4:65536'), null);
  assert.deepEqual(merge({ keep: 1, maxSize: 5 }, { keep: 2, maxSize: undefined }), { keep: 2, maxSize: 5 });
});

async function logOf(srv: Server, pid: number, interval: string): Promise<string> {
  const r = await plog(['-d', srv.dir, '-p', String(pid), '-i', interval]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().replace(/^Log file: /, '');
}

test('--max-size rotates NAME to NAME.r1, NAME.r2 ... (newest .r1), each new file headed again, at most --keep', async () => {
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v', '--max-size', '1k', '--keep', '2'] });
  const sl = spawnSleep();
  const log = await logOf(srv, sl.pid, '10ms');
  const name = log.split('/').pop()!;
  await waitFor('two rotations', () => lines(log + '.r2').length > 0, { timeout: 15_000 });
  await srv.waitOutput('stdout', `rotated ${name}`);
  const head = lines(log + '.r1').slice(0, 2);
  const [cmdline, header] = head;
  assert.ok(cmdline !== undefined && header !== undefined, `a command line and a header in ${log}.r1`);
  assert.match(cmdline, /^sleep 300$/);
  assert.match(header, /^Date {3}Time/);
  for (const f of [log, log + '.r1', log + '.r2']) {
    const ls = lines(f);
    assert.deepEqual(ls.slice(0, 2), head, `${f} is not headed`);
    assert.ok(statSync(f).size <= 1024 + 200, `${f}: ${statSync(f).size} bytes`);
  }
  // Never more than --keep rotated files.
  await waitFor('a third rotation', () => srv.stdout.split(`rotated ${name}`).length > 4, { timeout: 15_000 });
  const names = readdirSync(srv.dir).filter((n) => n.startsWith(name));
  assert.deepEqual(names.sort(), [name, `${name}.r1`, `${name}.r2`]);
  await srv.kill();
});

test('rotation leaves what is not ours alone: a symlink at NAME.r1 stops rotation of that log, with an error', async () => {
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '--max-size', '1k'] });
  const victim = join(tempDir(), 'victim');
  writeFileSync(victim, 'precious\n');
  const sl = spawnSleep();
  // In place before the log exists: its first rotation meets it.
  symlinkSync(victim, join(srv.dir, `sleep.${sl.pid}.r1`));
  const log = await logOf(srv, sl.pid, '10ms');
  await srv.waitOutput('stderr', /not rotating .* any more: .*\.r1 is not a rotated log of ours/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.ok(lstatSync(log + '.r1').isSymbolicLink());
  // Logging goes on in the same file.
  const n = lines(log).length;
  await waitFor('more lines', () => lines(log).length > n + 3);
  await srv.kill();
});

test('--max-total removes the oldest rotated logs first, never a log being written nor a file that is not ours', async () => {
  const dir = tempDir();
  // Files that are not rotated logs of ours, old ones first (an hour old).
  writeFileSync(join(dir, 'notes.txt'), 'x'.repeat(3000));
  writeFileSync(join(dir, 'foo.1.r1'), 'y'.repeat(100));
  const foreign = join(tempDir(), 'foreign');
  writeFileSync(foreign, 'z'.repeat(100));
  symlinkSync(foreign, join(dir, 'bar.1.r1'));
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const f of ['notes.txt', 'foo.1.r1', 'bar.1.r1']) lutimesSync(join(dir, f), hourAgo, hourAgo);
  const srv = await Server.start({ dir, foreground: true, args: ['-m', 'world', '-v', '--max-size', '1k', '--keep', '50', '--max-total', '8k'] });
  const a = spawnSleep();
  const b = spawnSleep();
  const logA = await logOf(srv, a.pid, '10ms');
  const logB = await logOf(srv, b.pid, '10ms');
  await srv.waitOutput('stdout', /removed \S+\.r\d+ \(\d+ bytes\): the directory is over --max-total/, 20_000);
  await waitFor(
    'the directory within its cap (bar the 3000-byte file and the running logs)',
    () => {
      const total = readdirSync(dir).reduce((n, f) => n + (lstatSync(join(dir, f)).isFile() ? lstatSync(join(dir, f)).size : 0), 0);
      return total <= 8192 + 2 * 1100 ? total : null;
    },
    { timeout: 10_000 },
  );
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8').length, 3000);
  assert.ok(lstatSync(join(dir, 'bar.1.r1')).isSymbolicLink());
  assert.equal(readFileSync(foreign, 'utf8').length, 100);
  // Our own (same uid) rotated-looking file may go: it is the oldest.
  const removed = [...srv.stdout.matchAll(/removed (\S+) /g)].map((m) => m[1]);
  assert.equal(removed[0], 'foo.1.r1', srv.stdout);
  // The live logs are there, and their newest rotated files stayed.
  for (const l of [logA, logB]) {
    assert.ok(lines(l).length >= 2);
    assert.ok(lines(l + '.r1').length >= 2, `${l}.r1 is gone`);
  }
  await srv.kill();
});

test('SIGHUP re-reads -c FILE (the command line still wins) and reopens a log that was moved away', async () => {
  const conf = join(tempDir(), 'plogsrvd.conf');
  writeFileSync(conf, '# none yet\n');
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v', '-c', conf, '--keep', '1'] });
  const sl = spawnSleep();
  const log = await logOf(srv, sl.pid, '20ms');
  await sleep(300); // 15 samples, 2 kB: with the 1k limit set below, it would have rotated by now
  // No rotation without max-size.
  assert.ok(!srv.stdout.includes('rotated'));
  writeFileSync(conf, 'max-size = 1k\nkeep = 7\n');
  srv.signal('SIGHUP');
  // As many rotations as keep = 7 would keep, and one more.
  await waitFor('8 rotations', () => srv.stdout.split('rotated ').length > 8, { timeout: 20_000 });
  // keep = 7 in the file, --keep 1 on the command line: one rotated file.
  assert.deepEqual(
    readdirSync(srv.dir)
      .filter((n) => n.includes('.r'))
      .map((n) => n.replace(/^.*\./, '')),
    ['r1'],
  );
  // A bad file: the settings in use stay, said as an error.
  writeFileSync(conf, 'max-size = lots\n');
  srv.signal('SIGHUP');
  await srv.waitOutput('stderr', /reload: .*plogsrvd.conf:1: --max-size takes a size.*keeping the settings in use/);
  // logrotate's way: move the log, then SIGHUP; a new log at the name.
  writeFileSync(conf, '');
  srv.signal('SIGHUP');
  await waitFor('the third reload', () => srv.stdout.split('caught SIGHUP: reloading').length > 3);
  renameSync(log, log + '.old');
  const before = lines(log + '.old').length;
  srv.signal('SIGHUP');
  await waitFor('a new log at the name', () => lines(log).length >= 3);
  assert.match(lines(log)[0]!, /^sleep 300$/);
  await sleep(200); // ten 20 ms intervals: writes to the moved log would have come
  assert.ok(lines(log + '.old').length <= before + 3, 'still writing to the moved log');
  await srv.kill();
});

test('a bad -c FILE or option value is a usage error at start (status 1)', async () => {
  const conf = join(tempDir(), 'bad.conf');
  writeFileSync(conf, 'keep = many\n');
  for (const [args, msg] of [
    [['-c', conf], /bad.conf:1: --keep takes a number/],
    [['-c', '/nonexistent/plogsrvd.conf'], /cannot read \/nonexistent\/plogsrvd.conf: No such file or directory/],
    [['--max-size', 'big'], /--max-size takes a size/],
    [['--metrics', 'nowhere'], /--metrics takes ADDR:PORT/],
  ] as const) {
    const res = await run(process.execPath, [PLOGSRVD, '-f', '-d', tempDir(), ...args]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, msg);
  }
});
