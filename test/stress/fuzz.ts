// Datagram fuzzer for plogsrvd (DIR/plogd_sock) and strlogd (DIR/submit).
//
// fuzz() starts SENDERS child processes (this same file with --sender), each
// sending its share of COUNT datagrams as fast as the daemon takes them:
// non-blocking sends, and on EAGAIN (the daemon's receive queue is full) a
// pause of 20 us doubling up to 1 ms, so that the senders wait on the daemon
// rather than burn the CPU it needs. Each sender has three sockets: one
// bound that reads its replies, one bound that never reads (the daemon must
// give up on it, within its bounds), one unbound. Meanwhile the parent
// samples the daemon's VmRSS; it returns what was sent, how fast, how often
// the daemon's queue was full and the RSS seen.
//
// The datagrams (seeded, so a run can be repeated: the seed is reported):
// random bytes of 0 to 65535 bytes; valid headers with wrong sizes; valid
// requests with pids 0, -1, INT_MAX, INT_MIN, nonexistent, random and the
// run's own dummy processes, intervals 0, negative, tiny and huge; valid
// extension opcodes with garbage payloads; and valid requests mutated (bit
// flips, bytes overwritten, cut, extended).
//
// As a script: node dist/test/stress/fuzz.js plogsrvd|strlogd SOCKET PID COUNT [SENDERS [SEED]]
// fuzzes a running daemon (SOCKET its socket, PID its pid) and prints the result.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnixSocket } from '../../src/native.js';
import { encodeData, encodeSubmission } from '../../src/strlog/wire.js';
import { Rng, RssSampler, running, sleep } from './lib.js';

export type Target = 'plogsrvd' | 'strlogd';

export interface FuzzOptions {
  target: Target;
  /** The daemon's socket (plogd_sock or submit). */
  socket: string;
  /** The daemon's pid (its RSS is sampled, its life watched). */
  pid: number;
  count: number;
  senders?: number;
  seed?: number;
  /** Pids the requests may name besides the special ones (dummy processes of the run). */
  pids?: number[];
  /** Called every second with progress. */
  progress?: (sent: number, rssKb: number) => void;
}

export interface SenderResult {
  sent: number;
  eagain: number;
  replies: number;
  bytes: number;
  /** An error other than EAGAIN (e.g. ECONNREFUSED: the daemon is gone). */
  error: string | null;
}

export interface FuzzResult extends SenderResult {
  seed: number;
  senders: number;
  ms: number;
  perSecond: number;
  rss: { first: number; min: number; max: number; last: number; n: number };
  /** Whether the daemon was running at the end. */
  alive: boolean;
}

const HERE = fileURLToPath(import.meta.url);

export async function fuzz(o: FuzzOptions): Promise<FuzzResult> {
  const senders = o.senders ?? 3;
  const seed = o.seed ?? Date.now() & 0x7fffffff;
  const bindDir = mkdtempSync('/tmp/fz-');
  chmodSync(bindDir, 0o755);
  const sampler = new RssSampler(o.pid, 100);
  const start = performance.now();
  const progress = o.progress ? setInterval(() => o.progress!(-1, sampler.samples[sampler.samples.length - 1] ?? 0), 1000) : null;
  const results = await Promise.all(
    Array.from({ length: senders }, (_, i) => {
      const share = Math.floor(o.count / senders) + (i < o.count % senders ? 1 : 0);
      const arg = JSON.stringify({ target: o.target, socket: o.socket, count: share, seed: seed + i * 7919, bindDir, pids: o.pids ?? [], id: i });
      return runSender(arg);
    }),
  );
  const ms = performance.now() - start;
  if (progress) clearInterval(progress);
  const rss = sampler.stop();
  rmSync(bindDir, { recursive: true, force: true });
  const sum = (k: 'sent' | 'eagain' | 'replies' | 'bytes'): number => results.reduce((a, r) => a + r[k], 0);
  return {
    seed,
    senders,
    sent: sum('sent'),
    eagain: sum('eagain'),
    replies: sum('replies'),
    bytes: sum('bytes'),
    error: results.find((r) => r.error)?.error ?? null,
    ms,
    perSecond: (sum('sent') * 1000) / ms,
    rss,
    alive: running(o.pid),
  };
}

function runSender(arg: string): Promise<SenderResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [HERE, '--sender', arg], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => {
      try {
        resolve(JSON.parse(out) as SenderResult);
      } catch {
        reject(new Error(`fuzz sender exited ${code}: ${out}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Generators.

const INT_MAX = 0x7fffffff;
const INT_MIN = -0x80000000;

/** Host byte order 32-bit integers (a value over INT_MAX is written unsigned). */
function ints(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(v.length * 4);
  v.forEach((x, i) => (x > INT_MAX ? b.writeUInt32LE(x, i * 4) : b.writeInt32LE(x | 0, i * 4)));
  return b;
}

/** 64 KiB of random bytes: datagrams of random content are slices of it. */
function noisePool(rng: Rng): Buffer {
  const b = Buffer.allocUnsafe(65536 + 64);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(rng.u32(), i);
  return b;
}

function randomLength(rng: Rng): number {
  const k = rng.float();
  if (k < 0.5) return rng.int(17); // 0..16: around the 8-byte requests
  if (k < 0.8) return 17 + rng.int(112);
  if (k < 0.95) return 129 + rng.int(3968);
  if (k < 0.99) return 4097 + rng.int(61439);
  return rng.pick([65535, 65534, 65536 - 64, 32768]);
}

function noise(rng: Rng, pool: Buffer, len = randomLength(rng)): Buffer {
  const off = rng.int(pool.length - len + 1);
  return pool.subarray(off, off + len);
}

function mutate(rng: Rng, pool: Buffer, valid: Buffer): Buffer {
  const b = Buffer.from(valid);
  switch (rng.int(6)) {
    case 0: // flip 1-3 bits
      for (let i = 1 + rng.int(3); i > 0; i--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    case 1: // overwrite a byte
      b[rng.int(b.length)] = rng.int(256);
      return b;
    case 2: // cut
      return b.subarray(0, rng.int(b.length));
    case 3: // extend
      return Buffer.concat([b, noise(rng, pool, 1 + rng.int(rng.float() < 0.9 ? 16 : 4096))]);
    case 4: // an int overwritten with a special value
      if (b.length >= 4) ints(rng.pick([0, -1, 1, INT_MAX, INT_MIN, 16, 17, 18, 19])).copy(b, 4 * rng.int(b.length >> 2));
      return b;
    default: // two valid requests glued
      return Buffer.concat([b, valid]);
  }
}

export interface Ctx {
  rng: Rng;
  pool: Buffer;
  pids: number[];
  pidMax: number;
}

function pid(c: Ctx): number {
  const k = c.rng.float();
  if (k < 0.35 && c.pids.length) return c.rng.pick(c.pids);
  if (k < 0.55) return c.rng.pick([0, -1, INT_MAX, INT_MIN, -2, 1 - c.pidMax]);
  if (k < 0.9) return c.pidMax + 1 + c.rng.int(INT_MAX - c.pidMax); // no such process
  if (k < 0.93) return 1 + c.rng.int(c.pidMax); // anything on the machine
  return c.rng.i32();
}

function intervalMs(c: Ctx): number {
  return c.rng.float() < 0.7 ? c.rng.pick([0, 1, 9, 10, 11, 999, 1000, 60_000, 90_000, INT_MAX, 0x80000000, 0xffffffff]) : c.rng.u32();
}

function minutes(c: Ctx): number {
  return c.rng.float() < 0.7 ? c.rng.pick([0, -1, 1, 2, 60, INT_MAX, INT_MIN, -60]) : c.rng.i32();
}

function validPlog(c: Ctx): Buffer {
  switch (c.rng.int(7)) {
    case 0:
      return ints(pid(c), minutes(c));
    case 1:
    case 2:
      return ints(0, 16, pid(c), intervalMs(c));
    case 3:
      return ints(0, 17, pid(c));
    case 4:
      return ints(0, c.rng.pick([1, 2, 3, 18, 19]));
    default:
      return ints(0, c.rng.pick([0, 4, 15, 20, -1, INT_MAX, INT_MIN]));
  }
}

export function genPlog(c: Ctx): Buffer {
  const k = c.rng.float();
  if (k < 0.2) return noise(c.rng, c.pool);
  if (k < 0.35) {
    // valid headers with wrong sizes, extension opcodes with garbage payloads
    const head = ints(0, c.rng.pick([1, 2, 3, 16, 17, 18, 19]));
    const len = c.rng.float() < 0.9 ? c.rng.int(25) : randomLength(c.rng);
    return Buffer.concat([head, noise(c.rng, c.pool, len)]);
  }
  if (k < 0.65) return validPlog(c);
  return mutate(c.rng, c.pool, validPlog(c));
}

const FORMATS = ['fuzz', 'fuzz %d', '%s and %d', '%x %o %u %c', '%%', '%-10s|%5d', '%.3s', '%999d', '%s%s%s%s', ''];

function validStrlog(c: Ctx): Buffer {
  const r = c.rng;
  let args: unknown[];
  const fmt = r.pick(FORMATS);
  switch (r.int(3)) {
    case 0:
      args = [];
      break;
    case 1:
      args = [r.i32(), 'x'.repeat(r.int(40))];
      break;
    default:
      args = Array.from({ length: r.int(33) }, (_, i) => (i % 2 ? r.i32() : noise(r, c.pool, r.int(64)).toString('latin1')));
  }
  const data = encodeData(fmt, args);
  return encodeSubmission(
    {
      iface: r.pick([1, 2, 0, 3, 255]),
      flags: r.float() < 0.5 ? r.pick([0x04, 0x08, 0x10, 0x14, 0x1c, 0x7f, 0x01, 0x06]) : r.int(0x10000),
      mid: r.int(0x10000) - 0x8000,
      sid: r.int(0x10000) - 0x8000,
      level: r.int(256) - 128,
      facility: r.int(256),
      token: r.float() < 0.3 ? r.u32() : 0,
    },
    data,
  );
}

export function genStrlog(c: Ctx): Buffer {
  const k = c.rng.float();
  if (k < 0.25) return noise(c.rng, c.pool);
  if (k < 0.4) {
    // a header whose length field lies, then garbage
    const h = Buffer.from(validStrlog(c).subarray(0, 16));
    h.writeUInt16LE(c.rng.pick([0, 1, 15, 16, 17, 0xffff, c.rng.int(0x10000)]), 0);
    return Buffer.concat([h, noise(c.rng, c.pool, c.rng.int(c.rng.float() < 0.9 ? 64 : 4096))]);
  }
  if (k < 0.55) {
    // several records back to back (what a sender packs)
    const n = 2 + c.rng.int(6);
    return Buffer.concat(Array.from({ length: n }, () => validStrlog(c)));
  }
  if (k < 0.7) return validStrlog(c);
  return mutate(c.rng, c.pool, validStrlog(c));
}

// ---------------------------------------------------------------------------
// A sender process.

function sender(arg: string): void {
  const a = JSON.parse(arg) as { target: Target; socket: string; count: number; seed: number; bindDir: string; pids: number[]; id: number };
  const rng = new Rng(a.seed);
  let pidMax = 4194304;
  try {
    pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  } catch {
    /* the kernel's largest */
  }
  const c: Ctx = { rng, pool: noisePool(rng), pids: a.pids, pidMax };
  const gen = a.target === 'plogsrvd' ? genPlog : genStrlog;
  // strlogd answers abstract addresses only; plogsrvd any bound one.
  const name = (k: string): string => (a.target === 'strlogd' ? `@fuzz-${process.pid}-${k}` : join(a.bindDir, `${process.pid}-${k}`));
  const reader = new UnixSocket();
  reader.bind(name('r'));
  const deaf = new UnixSocket();
  deaf.bind(name('d'));
  const unbound = new UnixSocket();
  const socks = [reader, reader, reader, deaf, unbound];
  const wait = new Int32Array(new SharedArrayBuffer(4));
  const r: SenderResult = { sent: 0, eagain: 0, replies: 0, bytes: 0, error: null };
  let pause = 0.02;
  try {
    while (r.sent < a.count) {
      const d = gen(c);
      const s = rng.pick(socks);
      for (;;) {
        if (s.trySend(d, a.socket) >= 0) break;
        r.eagain++;
        Atomics.wait(wait, 0, 0, pause);
        pause = Math.min(pause * 2, 1);
        while (reader.recv(2048)) r.replies++;
      }
      pause = 0.02;
      r.sent++;
      r.bytes += d.length;
      if ((r.sent & 63) === 0) while (reader.recv(2048)) r.replies++;
    }
  } catch (err) {
    r.error = (err as Error).message;
  }
  reader.close();
  deaf.close();
  unbound.close();
  process.stdout.write(JSON.stringify(r));
}

// ---------------------------------------------------------------------------

if (process.argv[1] === HERE) {
  if (process.argv[2] === '--sender') {
    const arg = process.argv[3];
    if (arg === undefined) {
      process.stderr.write('usage: fuzz.js --sender JSON\n');
      process.exit(2);
    }
    sender(arg);
  } else {
    const [target, socket, pidS, countS, sendersS, seedS] = process.argv.slice(2);
    if ((target !== 'plogsrvd' && target !== 'strlogd') || !socket || !pidS || !countS) {
      process.stderr.write('usage: fuzz.js plogsrvd|strlogd SOCKET PID COUNT [SENDERS [SEED]]\n');
      process.exit(2);
    }
    const res = await fuzz({
      target,
      socket,
      pid: Number(pidS),
      count: Number(countS),
      senders: sendersS ? Number(sendersS) : undefined,
      seed: seedS ? Number(seedS) : undefined,
      progress: (_n, rss) => process.stderr.write(`rss ${rss} kB\n`),
    });
    await sleep(0);
    process.stdout.write(JSON.stringify(res, null, 2) + '\n');
  }
}
