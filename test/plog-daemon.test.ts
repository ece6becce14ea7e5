// plogsrvd as a real daemon (APUE chapter 13): the launcher returns when the
// daemon is ready (or with its error), the daemon's session, terminal,
// directory and descriptors, where its output goes, and its errors in syslog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Raw, alive, fdTarget, ints, isSocket, plog, plogsrvd, procStat, raw, Server, spawnSleep, tempDir, text, waitFor, waitLines } from './helpers/plog.js';

const STAMP = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';

test('the launcher returns 0 only once the socket exists and answers', async () => {
  for (let i = 0; i < 3; i++) {
    const dir = tempDir();
    const r = await plogsrvd(['-m', 'world', '-d', dir]);
    // Checked at once, without polling.
    const there = isSocket(join(dir, 'plogd_sock'));
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    assert.equal(there, true, 'no socket when the launcher returned');
    const srv = await Server.adopt(dir);
    assert.ok(srv.pid !== r.pid, 'the daemon is not the launcher');
    const q = await plog(['-d', dir, '-q', 'pid']);
    assert.deepEqual([q.code, q.stdout], [0, `${srv.pid}\n`]);
    await srv.kill();
    assert.equal(isSocket(join(dir, 'plogd_sock')), false);
  }
});

test('the daemon: its own session but not its leader, no terminal, cwd DIR, umask 022, stdio on /dev/null, nothing inherited', async () => {
  const dir = tempDir();
  // A descriptor the launcher inherits (not close-on-exec: passed by spawn).
  const secret = join(tempDir(), 'inherited');
  writeFileSync(secret, '');
  const fd = openSync(secret, 'r');
  let r;
  try {
    r = await plogsrvd(['-m', 'world', '-d', dir], { cwd: '/', stdout: 'ignore', extraFds: ['ignore', 'ignore', fd] });
  } finally {
    closeSync(fd);
  }
  assert.deepEqual([r.code, r.stderr], [0, '']);
  const srv = await Server.adopt(dir);
  const pid = srv.pid;
  try {
    const st = procStat(pid)!;
    const [, ppid, pgrp, sid, ttyNr] = st.rest.map(Number);
    assert.notEqual(sid, pid, 'the daemon must not be a session leader');
    const mySid = Number(procStat(process.pid)!.rest[3]);
    assert.notEqual(sid, mySid, 'the daemon must be in a new session');
    assert.equal(ttyNr, 0, 'no controlling terminal');
    assert.ok(ppid !== process.pid);
    assert.ok(pgrp !== undefined && pgrp > 0);
    assert.equal(fdTarget(pid, 'cwd'), dir);
    for (const n of [0, 1, 2]) assert.equal(fdTarget(pid, n), '/dev/null', `fd ${n}`);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Umask:\t0022$/m);
    const fds = readdirSync(`/proc/${pid}/fd`).map((n) => fdTarget(pid, n));
    assert.ok(!fds.includes(secret), `inherited descriptor kept: ${fds.join(' ')}`);
    assert.ok(!fds.some((t) => t.startsWith('/dev/pts') || t === '/dev/tty'), fds.join(' '));
  } finally {
    await srv.kill();
  }
});

test('-v with stdout redirected to a file: the started and now-logging lines land there', async () => {
  const dir = tempDir();
  const out = join(tempDir(), 'plogsrvd.log');
  const fd = openSync(out, 'a');
  let r;
  try {
    r = await plogsrvd(['-v', '-m', 'world', '-d', dir], { stdout: fd });
  } finally {
    closeSync(fd);
  }
  assert.deepEqual([r.code, r.stderr], [0, '']);
  const srv = await Server.adopt(dir);
  const pid = srv.pid;
  try {
    // Root's plogsrvd says first what its descriptor limit allows a whole host (plogsrvd(1), A WHOLE HOST).
    assert.match(
      readFileSync(out, 'utf8'),
      new RegExp(`^(${STAMP} plogsrvd\\[${pid}\\]: descriptor limit \\d+ .*\n)?${STAMP} plogsrvd\\[${pid}\\]: started on ${dir}/plogd_sock \\(mode 777\\), pid ${pid}\n$`),
    );
    assert.equal(fdTarget(pid, 1), out);
    assert.equal(fdTarget(pid, 2), '/dev/null');
    const child = spawnSleep();
    assert.equal((await plog(['-d', dir, '-p', String(child.pid), '-i', '1'])).code, 0);
    await waitFor('the now-logging line', () =>
      new RegExp(`^${STAMP} plogsrvd\\[${pid}\\]: now logging sleep\\.${child.pid} \\(pid ${child.pid}, every 1m, for uid 0\\)$`, 'm').test(readFileSync(out, 'utf8')),
    );
    srv.signal('SIGTERM');
    await srv.ended();
    assert.match(readFileSync(out, 'utf8'), new RegExp(`plogsrvd\\[${pid}\\]: caught SIGTERM: shutting down\n$`));
  } finally {
    await srv.kill();
  }
});

test('-e stderr in the background: errors go to the stderr the launcher was given', async () => {
  const dir = tempDir();
  const errFile = join(tempDir(), 'err.log');
  const fd = openSync(errFile, 'a');
  let r;
  try {
    r = await plogsrvd(['-e', 'stderr', '-m', 'world', '-d', dir], { stderr: fd });
  } finally {
    closeSync(fd);
  }
  assert.deepEqual([r.code, r.stdout], [0, '']);
  const srv = await Server.adopt(dir);
  const pid = srv.pid;
  const child = spawnSleep();
  const log = join(dir, `sleep.${child.pid}`);
  assert.equal(await raw().ask(dir, ints(0, 16, child.pid, 200)), `Log file: ${log}`);
  await waitLines(log, 4);
  unlinkSync(log);
  await waitFor("Can't find log in the file", () => readFileSync(errFile, 'utf8').includes(`plogsrvd[${pid}]: Can't find log ${log}\n`));
  unlinkSync(join(dir, 'plogd_sock'));
  await srv.ended();
  assert.match(readFileSync(errFile, 'utf8'), new RegExp(`^${STAMP} plogsrvd\\[${pid}\\]: ${dir}/plogd_sock is gone\\.$`, 'm'));
});

test('a start that fails in the background: the daemon message on the launcher stderr, its code', async () => {
  const srv = await Server.start();
  const start = Date.now();
  const r = await plogsrvd(['-m', 'world', '-d', srv.dir]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [12, '', `plogsrvd: Plogsrvd already running on ${srv.dir}/plogd_sock.\n`]);
  assert.ok(Date.now() - start < 15_000);
  assert.ok(alive(srv.pid));
  assert.equal(await raw().ask(srv.dir, ints(0, 2)), String(srv.pid));
});

/** A syslog receiver: a datagram socket the daemon reaches through $PLOG_SYSLOG_SOCKET. */
function syslogReceiver(): Raw {
  return new Raw(join(tempDir(0o755), 'log'));
}

async function nextLine(rcv: Raw, what: RegExp, ms = 15_000): Promise<string> {
  const end = Date.now() + ms;
  const seen: string[] = [];
  while (Date.now() < end) {
    const d = await rcv.recv(end - Date.now());
    if (!d) break;
    const t = text(d);
    seen.push(t);
    if (what.test(t)) return t;
  }
  throw new Error(`no syslog line ${what} (got ${JSON.stringify(seen)})`);
}

test('exit 6 in the background: "... is gone." goes to syslog as daemon.err with the pid', async () => {
  const rcv = syslogReceiver();
  const srv = await Server.start({ env: { PLOG_SYSLOG_SOCKET: rcv.path } });
  // A runtime error first: a deleted log.
  const child = spawnSleep();
  const log = join(srv.dir, `sleep.${child.pid}`);
  assert.equal(await raw().ask(srv.dir, ints(0, 16, child.pid, 200)), `Log file: ${log}`);
  await waitLines(log, 4);
  unlinkSync(log);
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await nextLine(rcv, new RegExp(`^<27>.* plogsrvd\\[${srv.pid}\\]: Can't find log ${esc(log)}\n?$`));
  unlinkSync(srv.sock);
  const line = await nextLine(rcv, /is gone/);
  assert.match(line, new RegExp(`^<27>.* plogsrvd\\[${srv.pid}\\]: ${esc(srv.sock)} is gone\\.\n?$`));
  await srv.ended();
  assert.equal(isSocket(srv.sock), false);
});

test('-e both in the foreground: stderr and syslog; -e none in the background: neither', async () => {
  const rcv = syslogReceiver();
  const fg = await Server.start({ foreground: true, args: ['-e', 'both', '-m', 'world'], env: { PLOG_SYSLOG_SOCKET: rcv.path } });
  unlinkSync(fg.sock);
  assert.deepEqual(await fg.ended(), { code: 6, signal: null });
  assert.match(fg.stderr, new RegExp(`^${STAMP} plogsrvd\\[${fg.pid}\\]: ${fg.sock} is gone\\.\n$`));
  await nextLine(rcv, new RegExp(`^<27>.* plogsrvd\\[${fg.pid}\\]: .*is gone\\.`));

  const bg = await Server.start({ args: ['-e', 'none', '-m', 'world'], env: { PLOG_SYSLOG_SOCKET: rcv.path } });
  rcv.take();
  unlinkSync(bg.sock);
  await bg.ended();
  assert.equal(await rcv.recv(500), null, 'nothing to syslog with -e none');
});
