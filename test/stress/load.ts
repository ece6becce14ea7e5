// A load worker: N clients, each a datagram socket bound at its own path,
// each registering a process with plogsrvd and then listing the logs, all at
// once. Run as
//
//   node dist/test/stress/load.js SOCKDIR SERVER_SOCKET FIRST N PIDS INTERVAL_MS [TIMEOUT_MS]
//
// (PIDS comma-separated: client i registers PIDS[i % PIDS.length]). Prints
// {"clients","registered","listed","lost","bad","regMs":{...},"listMs":{...},"ms"}:
// a client is lost when its answer (the reply to the registration, or a
// complete list ending in "0000" with its own log in it) has not come
// within the timeout; bad counts answers that are not what they should be.
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UnixSocket } from '../../src/native.js';
import { decodeReply, encodeLogMs, encodeQuery, LIST_END, Q_LIST } from '../../src/plog/protocol.js';

interface Client {
  sock: UnixSocket;
  path: string;
  pid: number;
  phase: 'reg' | 'list' | 'done';
  t0: number;
  tList: number;
  name: string;
  names: number;
  sawOwn: boolean;
}

const [sockDir, server, firstS, nS, pidsS, intervalS, timeoutS] = process.argv.slice(2);
if (!sockDir || !server || !pidsS) {
  process.stderr.write('usage: load.js SOCKDIR SERVER_SOCKET FIRST N PIDS INTERVAL_MS [TIMEOUT_MS]\n');
  process.exit(2);
}
const first = Number(firstS);
const n = Number(nS);
const pids = pidsS.split(',').map(Number);
const intervalMs = Number(intervalS);
const timeoutMs = Number(timeoutS ?? 60_000);

const pending: Array<[Client, Buffer]> = [];
let retryTimer: NodeJS.Timeout | null = null;
let bad = 0;
const badSamples: string[] = [];
const regMs: number[] = [];
const listMs: number[] = [];
let done = 0;
const start = performance.now();

function flush(): void {
  retryTimer = null;
  for (;;) {
    const next = pending[0];
    if (!next) break;
    const [c, req] = next;
    if (c.sock.trySend(req, server) < 0) break; // the server's queue is full: later
    pending.shift();
  }
  if (pending.length > 0) retryTimer = setTimeout(flush, 1);
}

function send(c: Client, req: Buffer): void {
  pending.push([c, req]);
  if (!retryTimer) flush();
}

function badAnswer(c: Client, text: string): void {
  bad++;
  if (badSamples.length < 5) badSamples.push(`${c.path} (${c.phase}): ${text}`);
}

function onReadable(c: Client): void {
  for (;;) {
    const d = c.sock.recv(2048);
    if (!d) return;
    const text = decodeReply(d.data);
    if (c.phase === 'reg') {
      if (!text.startsWith('Log file: ')) {
        badAnswer(c, text);
        c.phase = 'done';
        done++;
        continue;
      }
      c.name = basename(text.slice('Log file: '.length));
      regMs.push(performance.now() - c.t0);
      c.phase = 'list';
      c.tList = performance.now();
      send(c, encodeQuery(Q_LIST));
    } else if (c.phase === 'list') {
      if (text === LIST_END) {
        if (!c.sawOwn) badAnswer(c, `its own log ${c.name} not in a list of ${c.names}`);
        listMs.push(performance.now() - c.tList);
        c.phase = 'done';
        done++;
      } else {
        c.names++;
        if (text === c.name) c.sawOwn = true;
      }
    } else {
      badAnswer(c, `after the end: ${text}`);
    }
  }
}

const clients: Client[] = [];
for (let i = 0; i < n; i++) {
  const path = join(sockDir, `ld${first + i}`);
  const sock = new UnixSocket();
  sock.bind(path);
  const c: Client = { sock, path, pid: pids[(first + i) % pids.length]!, phase: 'reg', t0: 0, tList: 0, name: '', names: 0, sawOwn: false };
  sock.setReadable(() => onReadable(c));
  clients.push(c);
}
for (const c of clients) {
  c.t0 = performance.now();
  send(c, encodeLogMs(c.pid, intervalMs));
}

const stat = (a: number[]): { p50: number; p99: number; max: number } => {
  const s = [...a].sort((x, y) => x - y);
  const q = (p: number): number => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? -1);
  return { p50: q(0.5), p99: q(0.99), max: q(1) };
};

const end = Date.now() + timeoutMs;
while (done < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
for (const c of clients) {
  c.sock.close();
  rmSync(c.path, { force: true });
}
process.stdout.write(
  JSON.stringify({
    clients: n,
    registered: regMs.length,
    listed: listMs.length,
    lost: n - done,
    bad,
    badSamples,
    regMs: stat(regMs),
    listMs: stat(listMs),
    ms: Math.round(performance.now() - start),
  }),
);
if (retryTimer) clearTimeout(retryTimer);
