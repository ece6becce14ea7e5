// Who may ask what, and files planted at a log's name: a root plogsrvd in a
// sticky world-writable directory, clients running as nobody.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, assertLength, lines, NOBODY, plog, present, run, Server, sleep, spawnSleep, tempDir, waitFor, waitLines } from './helpers/plog.js';

let srv: Server;
before(async () => {
  // As /var/local/plog is meant to be: root's, mode 1777.
  srv = await Server.start({ foreground: true, dir: tempDir(0o1777), args: ['-v', '-m', 'world'] });
});

test('a symlink, a FIFO or a hard link planted at the log name: NAME.PID.2, the victim untouched', async () => {
  const victimDir = tempDir();
  const victim = join(victimDir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o600 });
  const before = statSync(victim);
  for (const kind of ['symlink', 'dangling symlink', 'fifo', 'hard link']) {
    const child = spawnSleep();
    const name = `sleep.${child.pid}`;
    const planted = join(srv.dir, name);
    if (kind === 'symlink') symlinkSync(victim, planted);
    else if (kind === 'dangling symlink') symlinkSync(join(victimDir, 'new-file'), planted);
    else if (kind === 'hard link') linkSync(victim, planted);
    else {
      const r = await run('mkfifo', [planted]);
      assert.equal(r.code, 0, r.stderr);
    }
    const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${srv.dir}/${name}.2\n`, ''], kind);
    const l = await waitLines(join(srv.dir, `${name}.2`), 4);
    assert.equal(l[0], 'sleep 300');
    assert.equal(lstatSync(join(srv.dir, `${name}.2`)).isFile(), true);
    assert.equal(lstatSync(join(srv.dir, `${name}.2`)).nlink, 1);
  }
  await sleep(300); // a sample of each log (every 200 ms): a write to the victim would have come
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  const after = statSync(victim);
  assert.equal(after.size, before.size);
  assert.equal(after.mtimeMs, before.mtimeMs);
  assert.equal(after.uid, 0);
  assert.equal(after.mode & 0o777, 0o600);
  assert.equal(present(join(victimDir, 'new-file')), false, 'the dangling link was followed');
});

test('nobody may not log, or stop, a process of root: "pid PID: Operation not permitted"', async () => {
  const child = spawnSleep();
  let r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1'], { asNobody: true });
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: pid ${child.pid}: Operation not permitted\n`]);
  r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '10s'], { asNobody: true });
  assert.deepEqual([r.code, r.stderr], [15, `plog: pid ${child.pid}: Operation not permitted\n`]);
  assert.equal(present(join(srv.dir, `sleep.${child.pid}`)), false);
  // pid 1 too.
  r = await plog(['-d', srv.dir, '-p', '1', '-i', '1'], { asNobody: true });
  assert.deepEqual([r.code, r.stderr], [15, 'plog: pid 1: Operation not permitted\n']);
  // Logged by root: nobody cannot stop it with -x; root can.
  r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1']);
  assert.equal(r.code, 0);
  r = await plog(['-d', srv.dir, '-x', String(child.pid)], { asNobody: true });
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: pid ${child.pid}: Operation not permitted\n`]);
  assert.ok((await plog(['-d', srv.dir, '-l'])).stdout.split('\n').includes(`sleep.${child.pid}`));
  // Nor delete its log in the sticky directory.
  const rm = await run('rm', ['-f', join(srv.dir, `sleep.${child.pid}`)], { asNobody: true });
  assert.notEqual(rm.code, 0);
  assert.ok(present(join(srv.dir, `sleep.${child.pid}`)));
  r = await plog(['-d', srv.dir, '-x', String(child.pid)]);
  assert.deepEqual([r.code, r.stdout], [0, `Stopped logging to ${srv.dir}/sleep.${child.pid}\n`]);
});

/** A sleep of nobody's, once it is sleep and nobody's (setpriv has exec'd it). */
async function nobodysSleep(): Promise<ReturnType<typeof spawnSleep>> {
  const child = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => {
    try {
      return readFileSync(`/proc/${child.pid}/status`, 'utf8').includes(`Uid:\t${NOBODY}\t`) && readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'sleep\n';
    } catch {
      return false;
    }
  });
  return child;
}

test("a log root asks for is root's alone (mode 600): of nobody's process too, nobody cannot read it", async () => {
  const child = await nobodysSleep();
  const log = join(srv.dir, `sleep.${child.pid}`);
  const r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms']);
  assert.deepEqual([r.code, r.stdout], [0, `Log file: ${log}\n`]);
  await waitLines(log, 3);
  const st = lstatSync(log);
  assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600]);
  // Its lines carry the process's PSS, which /proc shows only to whoever may ptrace it.
  const cat = await run('cat', [log], { asNobody: true });
  assert.notEqual(cat.code, 0);
  assert.match(cat.stderr, /Permission denied/);
  const x = await plog(['-d', srv.dir, '-x', String(child.pid)]);
  assert.equal(x.code, 0);
  child.kill();
});

test("nobody logs its own process: the log is nobody's, and nobody can stop it by deleting it", async () => {
  const child = await nobodysSleep();
  const name = `sleep.${child.pid}`;
  const log = join(srv.dir, name);
  let r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '200ms'], { asNobody: true });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${log}\n`, '']);
  const st = lstatSync(log);
  assert.equal(st.uid, NOBODY);
  assert.equal(st.gid, NOBODY);
  assert.equal(st.mode & 0o777, 0o644);
  await srv.waitOutput('stdout', `now logging ${name} (pid ${child.pid}, every 200ms, for uid ${NOBODY})`);
  await waitLines(log, 4);
  const rm = await run('rm', [log], { asNobody: true });
  assert.equal(rm.code, 0, rm.stderr);
  await srv.waitOutput('stderr', `Can't find log ${log}\n`);
  r = await plog(['-d', srv.dir, '-l'], { asNobody: true });
  assert.equal(r.stdout.split('\n').includes(name), false);
  assert.ok(alive(child.pid));
  // And -x works for the owner of a registration.
  r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1'], { asNobody: true });
  assert.deepEqual([r.code, r.stdout], [0, `Log file: ${log}\n`]);
  r = await plog(['-d', srv.dir, '-x', String(child.pid)], { asNobody: true });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Stopped logging to ${log}\n`, '']);
});

test("a server run by nobody logs root's process for root, with '-' where /proc keeps it out", async () => {
  const dir = join(tempDir(0o755), 'run');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  const own = await Server.start({ dir, asNobody: true, foreground: true, args: ['-m', 'world'] });
  assert.equal(statSync(`/proc/${own.pid}`).uid, NOBODY);
  assert.equal(lstatSync(own.sock).uid, NOBODY);
  const child = spawnSleep();
  const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '1']);
  const log = join(dir, `sleep.${child.pid}`);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${log}\n`, '']);
  assert.equal(lstatSync(log).uid, NOBODY, 'a server that is not root cannot give the log away');
  const first = lines(log)[2];
  assert.ok(first !== undefined, 'a first sample');
  const f = first.split(/ +/);
  assertLength(f, 16);
  // smaps_rollup of another user's process is unreadable: Proportion and Swap are '-'.
  assert.deepEqual([f[12], f[13], f[15]], ['-', '-', '-']); // and maps: Priv&Write
  assert.match(f[9], /^\d+(kB|\.\d\dMB)$/);
});

test('"Problem logging to NAME -- Too many files!" past NAME.PID.999; .999 is the last', async () => {
  const child = spawnSleep();
  const base = join(srv.dir, `sleep.${child.pid}`);
  writeFileSync(base, '');
  for (let n = 2; n <= 998; n++) writeFileSync(`${base}.${n}`, '');
  let r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Log file: ${base}.999\n`, '']);
  r = await plog(['-d', srv.dir, '-p', String(child.pid), '-i', '1']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: Problem logging to sleep.${child.pid} -- Too many files!\n`]);
  assert.equal(present(`${base}.1000`), false);
});

test('"Problem logging to NAME -- Can\'t create logfile: ..." when the directory is not writable', async () => {
  const dir = join(tempDir(0o755), 'run');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  const own = await Server.start({ dir, asNobody: true, foreground: true, args: ['-m', 'world'] });
  const child = spawnSleep({ asNobody: true });
  await waitFor('sleep as nobody', () => readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'sleep\n');
  chmodSync(dir, 0o555);
  const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '1']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [15, '', `plog: Problem logging to sleep.${child.pid} -- Can't create logfile: Permission denied\n`]);
  assert.deepEqual((await plog(['-d', dir, '-l'])).stdout, '');
  assert.ok(alive(own.pid));
});
