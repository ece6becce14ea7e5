// A root plogsrvd logs for a user only what /proc would show that user: not
// a set-user-ID or set-group-ID program the user started (its real uid is
// theirs, its memory is not), not a logged process after it runs one.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AS_NOBODY, killChild, lines, NOBODY, plog, Server, tempDir, waitFor, waitLines } from './helpers/plog.js';

let srv: Server;
let bin: string;
before(async () => {
  srv = await Server.start({ foreground: true, dir: tempDir(0o1777), args: ['-v', '-m', 'world'] });
  // A copy of sleep, set-user-ID and set-group-ID root (as su or passwd are).
  const d = tempDir(0o755);
  bin = join(d, 'suidsleep');
  copyFileSync('/usr/bin/sleep', bin);
  chownSync(bin, 0, 0);
  const sgid = join(d, 'sgidsleep');
  copyFileSync('/usr/bin/sleep', sgid);
  chownSync(sgid, NOBODY, 0);
  chmodSync(sgid, 0o2755);
  chmodSync(bin, 0o4755);
});

function asNobody(cmd: string, args: string[]): ReturnType<typeof spawn> & { pid: number } {
  const c = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), cmd, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  return c as ReturnType<typeof spawn> & { pid: number };
}

function status(pid: number, key: string): string {
  const m = new RegExp(`^${key}:\\s+(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ?? '';
}

test('a set-user-ID root program started by nobody: refused for nobody, in words; root may log it', async () => {
  const c = asNobody(bin, ['300']);
  await waitFor('the program to run with effective uid 0', () => existsSync(`/proc/${c.pid}`) && status(c.pid, 'Uid').split(/\s+/)[1] === '0');
  const r = await plog(['-d', srv.dir, '-p', String(c.pid), '-i', '1s'], { asNobody: true });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stdout + r.stderr, new RegExp(`pid ${c.pid}: not logged for uid ${NOBODY}: it runs as uid ${NOBODY}, effective 0, saved 0 \\(a set-user-ID program`));
  assert.equal(existsSync(join(srv.dir, `suidsleep.${c.pid}`)), false, 'no log made');
  const root = await plog(['-d', srv.dir, '-p', String(c.pid), '-i', '1s']);
  assert.equal(root.code, 0, root.stderr);
  await killChild(c);
});

test('a set-group-ID program started by nobody: refused for nobody', async () => {
  const c = asNobody(join(bin, '..', 'sgidsleep'), ['300']);
  await waitFor('the program to run with effective gid 0', () => existsSync(`/proc/${c.pid}`) && status(c.pid, 'Gid').split(/\s+/)[1] === '0');
  const r = await plog(['-d', srv.dir, '-p', String(c.pid), '-i', '1s'], { asNobody: true });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stdout + r.stderr, new RegExp(`pid ${c.pid}: not logged for uid ${NOBODY}: it runs as gid ${NOBODY}, effective 0, saved 0`));
  await killChild(c);
});

test('a process of nobody logged for nobody runs a set-user-ID program: logging stops there, nothing of it is logged', async () => {
  // sh waits for a line, then becomes the set-user-ID program (same pid).
  const c = asNobody('/bin/sh', ['-c', `read x; exec ${bin} 300`]);
  await waitFor('sh to run as nobody', () => existsSync(`/proc/${c.pid}`) && status(c.pid, 'Uid').startsWith(`${NOBODY}\t`));
  const r = await plog(['-d', srv.dir, '-p', String(c.pid), '-i', '100ms'], { asNobody: true });
  assert.equal(r.code, 0, r.stderr);
  const log = r.stdout.trim().replace(/^Log file: /, '');
  await waitLines(log, 4);
  c.stdin!.write('\n');
  await waitFor(
    'the daemon to stop logging',
    () => srv.stderr.includes(`pid ${c.pid} is no longer readable by uid ${NOBODY}`) || srv.stdout.includes(`pid ${c.pid} is no longer readable by uid ${NOBODY}`),
  );
  const n = lines(log).length;
  // Every line was written while the process was still sh, which nobody may read.
  for (const l of lines(log).slice(2)) assert.doesNotMatch(l, /suidsleep/);
  await waitFor('the list to forget it', async () => !(await plog(['-d', srv.dir, '-l'])).stdout.includes(`.${c.pid}`));
  assert.equal(lines(log).length, n, 'no line after the exec');
  await killChild(c);
});
