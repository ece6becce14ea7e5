// Where a root plogsrvd's replies go when the client asking is hostile: an
// unprivileged client (nobody, under setpriv) asks, never reads, then puts a
// symlink where its socket was. The replies must reach only the socket that
// asked: never through the link, never the daemon's own socket (it would
// answer itself for ever), never another user's client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { linkSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AS_NOBODY, ints, plog, raw, Raw, ROOT, Server, sleep, tempDir, waitFor } from './helpers/plog.js';
import { statsOf, type Stats } from './stress/lib.js';
import { UnixSocket } from '../src/native.js';
import { peerOf, releasePeer } from '../src/plog/server/replies.js';

const ATTACKER = join(ROOT, 'dist/test/helpers/attacker.js');

let srv: Server;
before(async () => {
  // As /var/local/plog is meant to be: root's, mode 1777, any user may ask.
  srv = await Server.start({ foreground: true, dir: tempDir(0o1777), args: ['-v', '-m', 'world'] });
});
after(() => {
  for (const a of attackers) a.kill('SIGKILL');
});

const attackers = new Set<ChildProcess>();

/** nobody asks 30 times, never reads, and swaps its socket for a link to target. */
async function swapAttack(target: string): Promise<ChildProcess> {
  const child = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, ATTACKER, 'swap', srv.sock, target, '30'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  attackers.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitFor('the attacker to swap its socket for a link', () => {
    if (child.exitCode !== null) throw new Error(`attacker exited ${child.exitCode}: ${err}`);
    return out.includes('\n');
  });
  const o = JSON.parse(out) as { sent: number };
  assert.equal(o.sent, 30);
  return child;
}

async function stats(): Promise<Stats> {
  const st = statsOf(await raw().ask(srv.dir, ints(0, 19)));
  assert.ok(st, 'a stats reply');
  return st;
}

/** Every reply of the attack has been sent or dropped. */
async function settled(): Promise<Stats> {
  return waitFor(
    'the replies to the attacker to be sent or dropped',
    async () => {
      const st = await stats();
      return st.outboxes === 0 && st.queued === 0 ? st : null;
    },
    { timeout: 15_000 },
  );
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

async function stop(child: ChildProcess): Promise<void> {
  child.stdin!.end();
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  attackers.delete(child);
}

test('a link to a root socket in a 0700 directory: that socket gets nothing', async () => {
  const victim = new Raw(join(tempDir(0o700), 'root-only'));
  const a = await swapAttack(victim.path);
  const st = await settled();
  assert.ok(st.unanswerable + st.replies_dropped > 0, JSON.stringify(st));
  assert.deepEqual(
    victim.take().map((d) => d.data.toString('latin1')),
    [],
  );
  await stop(a);
  victim.close();
});

test("a link to another user's waiting client socket: it gets no forged reply, and root's plog -q pid is right", async () => {
  // Root's client socket, as plog binds it while it waits for an answer.
  const victim = new Raw(join(tempDir(0o755), 'root-client'));
  const a = await swapAttack(victim.path);
  await settled();
  assert.deepEqual(
    victim.take().map((d) => d.data.toString('latin1')),
    [],
  );
  const q = await plog(['-d', srv.dir, '-q', 'pid']);
  assert.deepEqual([q.code, q.stdout, q.stderr], [0, `${srv.pid}\n`, '']);
  await stop(a);
  victim.close();
});

test("a link to the daemon's own socket: no reply loop, the daemon stays idle and answers everyone", async () => {
  const a = await swapAttack(srv.sock);
  await settled();
  await stop(a);
  // Idle after the attack: not answering itself at 100% of a core.
  const t0 = cpuTicks(srv.pid);
  const w0 = performance.now();
  await sleep(1000); // a second's window: a reply loop would keep it busy all through
  const busy = (cpuTicks(srv.pid) - t0) / 100 / ((performance.now() - w0) / 1000);
  assert.ok(busy < 0.3, `plogsrvd used ${(busy * 100).toFixed(0)}% of a core after the attack`);
  for (const asNobody of [false, true]) {
    const q = await plog(['-d', srv.dir, '-q', 'pid'], { asNobody });
    assert.deepEqual([q.code, q.stdout, q.stderr], [0, `${srv.pid}\n`, ''], `as ${asNobody ? 'nobody' : 'root'}`);
  }
  assert.doesNotMatch(srv.stderr, /internal error|request from pid/);
});

test('a request whose sender address is not a socket of its own gets no reply, and is said with -v', async () => {
  // An abstract address can be taken over by anyone once its owner closes it.
  const script = `
    import { UnixSocket } from ${JSON.stringify(join(ROOT, 'dist/src/native.js'))};
    const s = new UnixSocket(); s.bind('@plog-abstract-' + process.pid);
    const req = Buffer.alloc(8); req.writeInt32LE(0, 0); req.writeInt32LE(2, 4);
    while (s.trySend(req, process.argv[1]) < 0) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 300));
    console.log(JSON.stringify({ got: s.recv(2048) !== null }));
  `;
  const before = (await stats()).unanswerable;
  const r = await new Promise<string>((resolve) => {
    const c = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-e', script, srv.sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('exit', () => resolve(out));
  });
  assert.deepEqual(JSON.parse(r), { got: false });
  await waitFor('the refusal to be counted', async () => (await stats()).unanswerable > before);
  await waitFor('the refusal to be said with -v', () => /no reply to pid \d+ \(uid 65534\): its address "@plog-abstract-\d+" is in the abstract namespace/.test(srv.stderr + srv.stdout));
});

test("peerOf: the sender's socket as the daemon sees its own (the same device and inode numbers), a link to it refused, another's socket or a file refused", () => {
  const d = tempDir();
  const own = new UnixSocket();
  const mine = new UnixSocket();
  own.bind(join(d, 'own'));
  mine.bind(join(d, 'mine'));
  try {
    // The daemon knows its own socket by Node's lstat of it (src/plog/server/socket.ts).
    const ownId = { dev: lstatSync(join(d, 'own')).dev, ino: lstatSync(join(d, 'own')).ino };
    linkSync(join(d, 'own'), join(d, 'hardlink')); // root may link any file
    symlinkSync(join(d, 'mine'), join(d, 'symlink'));
    writeFileSync(join(d, 'file'), '');
    const from = (name: string, uid = 0) => ({ data: Buffer.alloc(8), size: 8, path: join(d, name), uid, gid: uid, pid: 1 });

    const p = peerOf(from('mine'), ownId);
    assert.ok(typeof p !== 'string', typeof p === 'string' ? p : '');
    const st = lstatSync(join(d, 'mine'));
    assert.deepEqual([p.dev, p.ino, p.key], [st.dev, st.ino, `${st.dev}:${st.ino}`]);
    assert.equal(typeof p.fd, 'number', 'its checked descriptor is held for the replies');
    releasePeer(p);
    assert.equal(p.fd, undefined);

    assert.equal(peerOf(from('hardlink'), ownId), `${join(d, 'hardlink')} is this server's own socket`);
    assert.equal(peerOf(from('symlink'), ownId), `${join(d, 'symlink')} is not a socket but a symbolic link`);
    assert.equal(peerOf(from('file'), ownId), `${join(d, 'file')} is not a socket`);
    assert.equal(peerOf(from('mine', 65534), ownId), `its socket ${join(d, 'mine')} belongs to uid 0, not to the sender (uid 65534)`);
    const none = peerOf(from('none'), ownId);
    assert.ok(typeof none === 'string' && /^its socket .*none: /.test(none), 'a socket that is not there: said so');
  } finally {
    own.close();
    mine.close();
  }
});
