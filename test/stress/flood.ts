// A request flood and a latency probe for plogsrvd, as separate processes
// (so that they can run as other uids under setpriv).
//
//   node dist/test/stress/flood.js flood SOCKET SECONDS pid|list [SOCKETS]
//     sends {0,2} (or {0,1}) from SOCKETS sockets bound in a fresh
//     directory of /tmp that never read their replies, as fast as the server's queue
//     takes them (non-blocking; on EAGAIN a pause of 20 us doubling up to
//     1 ms), for SECONDS; prints {"sent","eagain","perSecond"} as JSON.
//
//   node dist/test/stress/flood.js probe SOCKET SECONDS pid|list [GAP_MS]
//     one request at a time from one bound socket, the next GAP_MS (20)
//     after the answer, for SECONDS; an answer not complete within 2 s is
//     lost. Prints {"n","lost","p50","p99","max","notices"} (milliseconds).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../../src/native.js';
import { decodeReply, encodeQuery, LIST_END, Q_LIST, Q_PID } from '../../src/plog/protocol.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// plogsrvd answers only a socket file of the sender's own, so the sockets
// live in a directory of this process's uid, removed at exit.
const home = mkdtempSync('/tmp/plog-flood-');
process.on('exit', () => rmSync(home, { recursive: true, force: true }));

function flood(socket: string, seconds: number, kind: string, n: number): void {
  const req = encodeQuery(kind === 'list' ? Q_LIST : Q_PID);
  const socks = Array.from({ length: n }, (_, i) => {
    const s = new UnixSocket();
    s.bind(join(home, `f${i}`));
    return s;
  });
  const wait = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  let eagain = 0;
  let pause = 0.02;
  const start = Date.now();
  while (Date.now() < end) {
    for (let i = 0; i < 256; i++) {
      if (socks[sent % n]!.trySend(req, socket) >= 0) {
        sent++;
        pause = 0.02;
      } else {
        eagain++;
        Atomics.wait(wait, 0, 0, pause);
        pause = Math.min(pause * 2, 1);
      }
    }
  }
  const ms = Date.now() - start;
  for (const s of socks) s.close();
  process.stdout.write(JSON.stringify({ sent, eagain, perSecond: Math.round((sent * 1000) / ms) }));
}

async function probe(socket: string, seconds: number, kind: string, gap: number): Promise<void> {
  const s = new UnixSocket();
  s.bind(join(home, 'probe'));
  const req = encodeQuery(kind === 'list' ? Q_LIST : Q_PID);
  const lat: number[] = [];
  let lost = 0;
  let notices = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    while (s.recv(2048)); // late answers to a lost request
    const t0 = performance.now();
    while (s.trySend(req, socket) < 0) {
      if (performance.now() - t0 > 2000) break;
      await sleep(1);
    }
    let done = false;
    while (!done && performance.now() - t0 < 2000) {
      const d = s.recv(2048);
      if (!d) {
        await sleep(0.5);
        continue;
      }
      const text = decodeReply(d.data);
      if (text.startsWith('Rate limited')) notices++;
      if (kind !== 'list' || text === LIST_END) done = true;
    }
    if (done) lat.push(performance.now() - t0);
    else lost++;
    await sleep(gap);
  }
  s.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => Math.round((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN) * 10) / 10;
  process.stdout.write(JSON.stringify({ n: lat.length, lost, p50: q(0.5), p99: q(0.99), max: q(1), notices }));
}

const [mode, socket, secs, kind, extra] = process.argv.slice(2);
if (mode === 'flood' && socket && kind) flood(socket, Number(secs), kind, Number(extra ?? 4));
else if (mode === 'probe' && socket && kind) await probe(socket, Number(secs), kind, Number(extra ?? 20));
else {
  process.stderr.write('usage: flood.js flood|probe SOCKET SECONDS pid|list [N]\n');
  process.exit(2);
}
