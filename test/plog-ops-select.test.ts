// Selection by name: plog -n NAME / -r REGEX -i INTERVAL logs every
// matching process, running or started later, until plog -x stops it; -x
// also stops one log by path or name; requests 20 and 21 on the wire; a
// requester who is not root gets only its own processes; an old server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRequest, encodeSelect, encodeStopBy, MAX_EXT_REQUEST } from '../src/plog/protocol.js';
import { matches } from '../src/plog/ops/selection.js';
import { fakeServer, ints, lines, plog, PLOG, procStat, raw, run, Server, sleep, spawnChild, tempDir, waitFor } from './helpers/plog.js';

/** A uid with no passwd entry: "another user" besides nobody. */
const OTHER = 12345;
/** plog as another uid. */
const plogAs = (uid: number, args: string[]) => run('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, PLOG, ...args]);

test('requests 20 and 21: encode and decode; malformed ones', () => {
  assert.deepEqual(decodeRequest(encodeSelect('nginx', false, 1500, 'csv')), { kind: 'select', intervalMs: 1500, regex: false, format: 'csv', pattern: 'nginx' });
  assert.deepEqual(decodeRequest(encodeSelect('^java .*-jar', true, 60_000)), { kind: 'select', intervalMs: 60_000, regex: true, format: 'text', pattern: '^java .*-jar' });
  assert.deepEqual(decodeRequest(encodeStopBy('/var/local/plog/a.1')), { kind: 'stopby', what: '/var/local/plog/a.1' });
  assert.equal(encodeSelect('x'.repeat(255), true, 10).length, MAX_EXT_REQUEST);
  assert.equal(decodeRequest(encodeSelect('x'.repeat(256), true, 10)).kind, 'malformed');
  assert.equal(decodeRequest(ints(0, 20)).kind, 'malformed');
  assert.equal(decodeRequest(ints(0, 21)).kind, 'malformed');
  const badFlags = encodeSelect('a', false, 10);
  badFlags[12] = 4;
  assert.deepEqual(decodeRequest(badFlags), { kind: 'malformed', reason: 'unknown select flags 4' });
  assert.equal(decodeRequest(Buffer.concat([ints(0, 21), Buffer.from([0xff, 0xfe])])).kind, 'malformed');
  assert.equal(decodeRequest(Buffer.concat([ints(0, 21), Buffer.from('a\0b')])).kind, 'malformed');
});

test('matches: comm (a longer NAME by its first 15 bytes), or a regular expression on the command line', () => {
  const p = { comm: 'postgres', cmdline: () => 'postgres: writer process' };
  assert.ok(matches({ pattern: 'postgres', regex: null }, p));
  assert.ok(!matches({ pattern: 'postgre', regex: null }, p));
  assert.ok(matches({ pattern: 'x', regex: /writer/ }, p));
  assert.ok(!matches({ pattern: 'x', regex: /^writer/ }, p));
  assert.ok(matches({ pattern: 'averyveryverylongname', regex: null }, { comm: 'averyveryverylo', cmdline: () => '' }));
});

/** A copy of sleep under a name of our own (its comm), so that other tests' processes never match. */
function namedSleep(name: string): string {
  const d = tempDir(0o755);
  const exe = join(d, name);
  copyFileSync('/bin/sleep', exe);
  chmodSync(exe, 0o755);
  return exe;
}

test('plog -n NAME: the running ones at once, a later one within seconds, until plog -x NAME; nothing after', async () => {
  const name = `zs${process.pid}`.slice(0, 15);
  const exe = namedSleep(name);
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v'] });
  const a = spawnChild(exe, ['300']);
  const b = spawnChild(exe, ['300']);
  const other = spawnChild('sleep', ['300']);
  await waitFor(`the two ${name} to run`, () => [a, b].every((c) => procStat(c.pid!)?.comm === name));
  let r = await plog(['-d', srv.dir, '-n', name, '-i', '100ms']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Selecting '${name}' every 100ms: logging 2 running processes, and those that start later.\n`, '']);
  let l = await plog(['-d', srv.dir, '-l']);
  assert.deepEqual(l.stdout.trim().split('\n').sort(), [`${name}.${a.pid}`, `${name}.${b.pid}`].sort());
  // One that starts later.
  const c = spawnChild(exe, ['300']);
  await waitFor(`${name}.${c.pid} logged`, () => existsSync(join(srv.dir, `${name}.${c.pid}`)) && lines(join(srv.dir, `${name}.${c.pid}`)).length >= 3, { timeout: 5000 });
  assert.ok(!existsSync(join(srv.dir, `sleep.${other.pid}`)));
  // The same selection again: refused.
  r = await plog(['-d', srv.dir, '-n', name, '-i', '1s']);
  assert.equal(r.code, 15);
  assert.match(r.stderr, /Already selecting/);
  r = await plog(['-d', srv.dir, '-x', name]);
  assert.deepEqual([r.code, r.stdout], [0, `Stopped selecting ${name} and logging to 3 files.\n`], r.stderr);
  l = await plog(['-d', srv.dir, '-l']);
  assert.equal(l.stdout, '');
  const d = spawnChild(exe, ['300']);
  await sleep(2500); // two of the selections' scans (one a second): d would have been logged
  assert.ok(!existsSync(join(srv.dir, `${name}.${d.pid}`)), 'a process that started after the stop was logged');
  r = await plog(['-d', srv.dir, '-x', name]);
  assert.deepEqual([r.code, r.stderr], [15, `plog: No selection or log named ${name}.\n`]);
  await srv.kill();
});

test('plog -r REGEX matches the command line; -x LOG stops one log by path or by name', async () => {
  const mark = `mk${process.pid}x`;
  const srv = await Server.start({ foreground: true, args: ['-m', 'world', '-v'] });
  const a = spawnChild(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', `${mark}-a`]);
  const b = spawnChild(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', `${mark}-b`]);
  const c = spawnChild(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', `${mark}-c`]);
  await waitFor('the three to run with the mark', () => [a, b, c].every((x) => readFileSync(`/proc/${x.pid}/cmdline`, 'latin1').includes(mark)));
  // The asking plog's command line holds the pattern too: it is never taken.
  // ('[ab[]' matches the '[' of its own text, 'mkNx-[ab[]', in plog's arguments.)
  let r = await plog(['-d', srv.dir, '-r', `${mark}-[ab[]`, '-i', '1s']);
  assert.equal(r.code, 0, r.stderr);
  // Expressions are matched off the server's thread: the logs come with the answers.
  assert.match(r.stdout, /^Selecting \/mk\d+x-\[ab\[\]\/ every 1s: matching the command lines of \d+ running processes; those that match are logged, and those that start later\.\n$/);
  const la = join(srv.dir, `node.${a.pid}`);
  const lb = join(srv.dir, `node.${b.pid}`);
  // One that starts later is asked about after every running one: once it is logged, all have been answered.
  const d = spawnChild(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', `${mark}-b2`]);
  await waitFor('the later one logged', () => existsSync(join(srv.dir, `node.${d.pid}`)), { timeout: 10_000 });
  assert.ok(existsSync(la) && existsSync(lb) && !existsSync(join(srv.dir, `node.${c.pid}`)));
  assert.deepEqual(
    readdirSync(srv.dir)
      .filter((n) => n.startsWith('node.'))
      .sort(),
    [`node.${a.pid}`, `node.${b.pid}`, `node.${d.pid}`].sort(),
  );
  const [cmdline] = lines(la);
  assert.ok(cmdline !== undefined, `a command line in ${la}`);
  assert.match(cmdline, new RegExp(`-e setTimeout.* ${mark}-a$`));
  r = await plog(['-d', srv.dir, '-x', la]);
  assert.deepEqual([r.code, r.stdout], [0, `Stopped logging to ${la}\n`]);
  r = await plog(['-d', srv.dir, '-x', `node.${b.pid}`]);
  assert.deepEqual([r.code, r.stdout], [0, `Stopped logging to ${lb}\n`]);
  r = await plog(['-d', srv.dir, '-x', la]);
  assert.deepEqual([r.code, r.stderr], [15, `plog: Not logging to ${la}.\n`]);
  // A bad expression: plog says so before asking; the server too, for a raw request.
  r = await plog(['-d', srv.dir, '-r', '(', '-i', '1s']);
  assert.equal(r.code, 11);
  assert.match(r.stderr, /-r: \/\(\/ is not a regular expression: Unterminated group/);
  await srv.kill();
});

test("as nobody: a selection gets only nobody's processes, and nobody cannot stop root's selection", async () => {
  const name = `zn${process.pid}`.slice(0, 15);
  const exe = namedSleep(name);
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world', '-v'] });
  const mine = spawnChild(exe, ['300'], { asNobody: true });
  const roots = spawnChild(exe, ['300']);
  await waitFor(`the two ${name} to run`, () => [mine, roots].every((c) => procStat(c.pid!)?.comm === name));
  let r = await plog(['-d', srv.dir, '-n', name, '-i', '1s'], { asNobody: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /logging 1 running process,/);
  const log = join(srv.dir, `${name}.${mine.pid}`);
  assert.ok(existsSync(log));
  assert.equal(statSync(log).uid, 65534);
  assert.ok(!existsSync(join(srv.dir, `${name}.${roots.pid}`)));
  // root selects the same name: its own selection, root's process too (and nobody's, already logged, again under another name).
  r = await plog(['-d', srv.dir, '-n', name, '-i', '1s']);
  assert.equal(r.code, 0, r.stderr);
  // nobody's -x stops nobody's selection only.
  r = await plog(['-d', srv.dir, '-x', name], { asNobody: true });
  assert.deepEqual([r.code, r.stdout], [0, `Stopped selecting ${name} and logging to 1 file.\n`], r.stderr);
  assert.ok(existsSync(join(srv.dir, `${name}.${roots.pid}`)));
  r = await plog(['-d', srv.dir, '-x', `${name}.${roots.pid}`], { asNobody: true });
  assert.deepEqual([r.code, r.stderr], [15, `plog: ${name}.${roots.pid}: Operation not permitted\n`]);
  await srv.kill();
});

test('an old server: plog -n/-r and -x NAME exit 14 saying it cannot', async () => {
  const dir = tempDir();
  const sock = fakeServer(dir, () => 'Unrecognized request.');
  try {
    let r = await plog(['-d', dir, '-n', 'nginx', '-i', '1m']);
    assert.deepEqual([r.code, r.stderr], [14, `plog: the plogsrvd on ${dir} is too old to select processes by name: it cannot do -n. Log each process with -p PID.\n`]);
    r = await plog(['-d', dir, '-r', 'java', '-i', '1m']);
    assert.equal(r.code, 14);
    r = await plog(['-d', dir, '-x', 'nginx']);
    assert.deepEqual([r.code, r.stderr], [14, `plog: the plogsrvd on ${dir} is too old to stop by name or log: it cannot do -x nginx. Give -x PID, or delete the log file.\n`]);
  } finally {
    sock.close();
  }
});

test('plog usage: -n with -p, -n with -r, -n without -i', async () => {
  for (const args of [
    ['-n', 'a', '-p', '1', '-i', '1'],
    ['-n', 'a', '-r', 'b', '-i', '1'],
    ['-n', 'a'],
  ]) {
    const r = await plog(args);
    assert.equal(r.code, 11, `${args.join(' ')}: ${r.stderr}`);
  }
});

test("attack: nobody's catastrophic -r pattern against its own long command line holds nothing: another user is answered at once, every time", async (t) => {
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world', '-v'] });
  // nobody's process whose command line is 100,000 a's and a '!': ^(a+)+$
  // fails on it only after trying every way of splitting the a's (2^100000
  // with a backtracking engine; 30 a's took about 10 s).
  const long = `${'a'.repeat(100_000)}!`;
  const victim = spawnChild('bash', ['-c', `exec -a ${long} sleep 300`], { asNobody: true });
  await waitFor('the long command line', () => {
    try {
      return readFileSync(`/proc/${victim.pid}/cmdline`, 'latin1').startsWith(long);
    } catch {
      return false;
    }
  });
  const attack = plog(['-d', srv.dir, '-r', '^(a+)+$', '-i', '1s', '-t', '30'], { asNobody: true });
  // Meanwhile and for the scans that follow (once a second), another user's
  // plog -q pid is answered within plog's own timeout.
  const t0 = performance.now();
  let n = 0;
  let slowest = 0;
  const pids: number[] = [];
  while (performance.now() - t0 < 4000) {
    const s0 = performance.now();
    const r = await plogAs(OTHER, ['-d', srv.dir, '-t', '5', '-q', 'pid']);
    assert.deepEqual([r.code, r.stdout.trim()], [0, String(srv.pid)], `uid ${OTHER}'s plog -q pid after ${Math.round(performance.now() - t0)} ms: ${r.stderr}`);
    slowest = Math.max(slowest, performance.now() - s0);
    n++;
    // And the server's own answer time, without a process start: {0, 2} ten times.
    for (let i = 0; i < 10; i++) {
      const q0 = performance.now();
      assert.equal(await raw().ask(srv.dir, ints(0, 2), 5000), String(srv.pid));
      pids.push(performance.now() - q0);
    }
  }
  pids.sort((x, y) => x - y);
  t.diagnostic(
    `during the attack: uid ${OTHER}'s plog -q pid answered ${n} times, slowest ${Math.round(slowest)} ms (process start included); {0, 2}: ${pids.length} answered, p50 ${pids[pids.length >> 1]!.toFixed(1)} ms, max ${pids.at(-1)!.toFixed(1)} ms`,
  );
  const a = await attack;
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^Selecting \/\^\(a\+\)\+\$\/ every 1s/);
  assert.ok(n >= 2, `only ${n} answers`);
  // It did not match (no log), and the selection works: a process of nobody's
  // whose command line is just 'aaaa' (cat, reading a pipe that stays open) is logged.
  spawnChild('bash', ['-c', 'sleep 300 | (exec -a aaaa cat)'], { asNobody: true });
  await waitFor('the matching one logged', () => readdirSync(srv.dir).some((n) => /^cat\.\d+$/.test(n)), { timeout: 10_000 });
  assert.ok(!existsSync(join(srv.dir, `sleep.${victim.pid}`)));
  await srv.kill();
});

test('-r: what cannot be matched in linear time (backreferences, lookaround) is refused with a clear message, by plog and by the server', async () => {
  for (const re of ['(a)\\1', '(?<x>a)\\k<x>', 'a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b']) {
    const r = await plog(['-d', '/nonexistent', '-r', re, '-i', '1s']);
    assert.equal(r.code, 11, `${re}: ${r.stderr}`);
    assert.match(r.stderr, /^plog: -r: .*cannot be matched in linear time/, re);
  }
  const srv = await Server.start({ dir: tempDir(0o1777), foreground: true, args: ['-m', 'world', '-v'] });
  const reply = await raw().ask(srv.dir, encodeSelect('(a)\\1', true, 1000));
  assert.match(reply, /^Bad regular expression \/\(a\)\\1\/: .*cannot be matched in linear time/);
  await srv.kill();
});

test("RegexMatcher (a real worker thread): answers in turn per uid, charges each match to its uid, waits while a uid's budget is spent, gives up a match past the deadline and goes on", async () => {
  const { RegexMatcher, MATCH_DEADLINE_MS } = await import('../src/plog/ops/matcher.js');
  const charged = new Map<number, number>();
  let broke = new Set<number>();
  const m = new RegexMatcher((uid, ms) => {
    charged.set(uid, (charged.get(uid) ?? 0) + ms);
    return !broke.has(uid);
  });
  try {
    const order: string[] = [];
    const ask = (uid: number, pattern: string, text: string, tag: string) =>
      new Promise<boolean | null>((resolve) => {
        assert.ok(m.match({ uid, pattern, text, wanted: () => true, done: (r, why) => (order.push(tag), resolve(why && r === null ? null : r)) }));
      });
    // Ten questions of uid 1, then one of uid 2: uid 2's is answered second, not eleventh.
    const a = Array.from({ length: 10 }, (_, i) => ask(1, 'x\\d', `x${i}`, `1.${i}`));
    const b = ask(2, '^b', 'b', '2');
    assert.deepEqual(await Promise.all(a), Array(10).fill(true));
    assert.equal(await b, true);
    assert.deepEqual(order.slice(0, 2), ['1.0', '2']);
    assert.ok((charged.get(1) ?? 0) > 0 && (charged.get(2) ?? 0) > 0, JSON.stringify([...charged]));
    // uid 3 over its budget waits; uid 4 is answered meanwhile; uid 3 once it has budget again.
    broke = new Set([3]);
    let three: boolean | null | undefined;
    void ask(3, 'c', 'c', '3').then((r) => (three = r));
    assert.equal(await ask(4, 'd', 'd', '4'), true);
    assert.equal(three, undefined);
    broke = new Set();
    await waitFor('uid 3 answered once it has budget', () => three === true);
    // 80 nested groups: about 2 s on 4096 characters even in linear time (the
    // server gives it no more); on 64 KiB, half a minute: given up at the deadline, charged.
    let nested = '.*';
    for (let i = 0; i < 80; i++) nested = `(${nested})*`;
    const before = charged.get(5) ?? 0;
    const slow = ask(5, `${nested}!x`, 'a'.repeat(65_536), 'slow');
    const after = ask(6, 'e', 'e', 'after');
    assert.equal(await slow, null);
    assert.equal(await after, true, 'a new worker answers the next question');
    assert.equal((charged.get(5) ?? 0) - before, MATCH_DEADLINE_MS);
    assert.equal(m.counts.givenUp, 1);
  } finally {
    m.stop();
  }
});
