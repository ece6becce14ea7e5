// One sender of the reply-path fuzz (fuzz-replies.test.ts), run as an
// unprivileged user: it asks a root plogsrvd questions from several sockets
// of its own and, all the while, swaps those sockets' names for symlinks to
// each other, to other senders' sockets, to the daemon's own socket and to a
// root-only socket. Every question is `plog -x TAG`, whose reply echoes TAG,
// and TAG names the socket that asked: a socket that ever receives a reply
// with another socket's tag got it through a link.
//
//   node dist/test/stress/swapper.js '{"server","victim","shared","count","seed","id"}'
//
// Prints {"sent","eagain","replies","foreign","swaps"} as JSON.
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../../src/native.js';
import { decodeReply, encodeStopBy } from '../../src/plog/protocol.js';
import { Rng } from './lib.js';

interface Args {
  server: string;
  victim: string;
  /** A sticky directory where every sender makes its own folder. */
  shared: string;
  count: number;
  seed: number;
  id: number;
}

interface Sock {
  s: UnixSocket;
  path: string;
  tag: string;
  reads: boolean;
}

const a = JSON.parse(process.argv[2]!) as Args;
const rng = new Rng(a.seed);
const home = join(a.shared, `s${a.id}`);
mkdirSync(home, { mode: 0o755 });
process.on('exit', () => rmSync(home, { recursive: true, force: true }));

let made = 0;
function fresh(): Sock {
  const n = made++;
  const path = join(home, `k${n}`);
  const s = new UnixSocket();
  s.bind(path);
  return { s, path, tag: `s${a.id}k${n}`, reads: n % 2 === 0 };
}

const live: Sock[] = Array.from({ length: 8 }, fresh);
/** Sockets whose name was swapped, kept open a while (replies may be queued for them). */
const old: Sock[] = [];
let sent = 0;
let eagain = 0;
let replies = 0;
let foreign = 0;
let swaps = 0;
const wait = new Int32Array(new SharedArrayBuffer(4));

function drain(k: Sock): void {
  for (let d; (d = k.s.recv(2048));) {
    replies++;
    const text = decodeReply(d.data);
    // "Rate limited: ..." carries no tag; every other reply names its asker.
    if (text.startsWith('Rate limited')) continue;
    if (!text.includes(` ${k.tag}.`) && !text.includes(`${k.tag}:`)) {
      foreign++;
      if (foreign <= 5) process.stderr.write(`socket ${k.tag} got ${JSON.stringify(text)}\n`);
    }
  }
}

function targets(): string[] {
  const t = [a.server, a.victim];
  // Other senders' socket names, and this one's.
  for (const dir of readdirSync(a.shared)) {
    try {
      for (const n of readdirSync(join(a.shared, dir))) if (n.startsWith('k')) t.push(join(a.shared, dir, n));
    } catch {
      /* that sender is gone */
    }
  }
  return t;
}

function swap(): void {
  const i = rng.int(live.length);
  const k = live[i]!;
  const all = targets();
  const to = all[rng.int(all.length)]!;
  try {
    renameSync(k.path, `${k.path}.away`);
    symlinkSync(to, k.path);
    swaps++;
  } catch {
    return;
  }
  old.push(k);
  if (old.length > 16) {
    const gone = old.shift()!;
    drain(gone);
    gone.s.close();
  }
  live[i] = fresh();
}

while (sent < a.count) {
  const k = live[rng.int(live.length)]!;
  const req = encodeStopBy(k.tag);
  if (k.s.trySend(req, a.server) >= 0) {
    sent++;
    if (sent % 64 === 0) swap();
  } else {
    eagain++;
    Atomics.wait(wait, 0, 0, 0.05);
  }
  if (sent % 16 === 0) for (const x of live) if (x.reads) drain(x);
}
// Late replies.
Atomics.wait(wait, 0, 0, 500);
for (const x of [...live, ...old]) if (x.reads) drain(x);
process.stdout.write(JSON.stringify({ sent, eagain, replies, foreign, swaps }));
