// The two kinds of client of strlogd: a Submitter sends messages (strlog()
// and the strlog command), a LogStream is a logger (strerr, strtrace, a
// console logger) or a one-off STATS question.
import { EventEmitter } from 'node:events';
import { closeSync, fstatSync, statSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { openPath, peercredOf, SystemError, UnixSocket } from '../native.js';
import { errnoFromCode, strerror } from '../errno.js';
import { errCode } from '../errno.js';
import { MAX_DATAGRAM } from './constants.js';
import type { DriverStats } from './driver.js';
import { loggerPath, resolveRunDir, submitPath } from './rundir.js';
import {
  decodeAck,
  decodeDelivery,
  decodeReply,
  encodeRegister,
  F_ACK,
  F_DELIVERY,
  F_REPLY,
  F_STATS,
  F_STATS_REPLY,
  F_SUBMIT,
  encodeLossReport,
  frame,
  FrameReader,
  IFACE_LOSS,
  MAX_DELIVERY,
  SUB_HEADER,
  type Ack,
  type LogMessage,
  type Role,
  type TraceId,
} from './wire.js';

/** The runtime directory from an option or the environment; throws when unusable. */
export function runDirOf(rundir?: string): string {
  const r = resolveRunDir(rundir);
  if (!r.ok) throw new RangeError(`strlog: ${r.message}`);
  return r.dir;
}

/**
 * Why a client will not talk to what is at the runtime directory's sockets:
 * it is not strlogd. A real strlogd runs as root or as the owner of its
 * runtime directory; a socket of anyone else was put there by another user
 * (in a directory others may write to), who would read the messages and
 * answer in the driver's name.
 */
export class NotDriverError extends Error {
  readonly code = 'EACCES';
}

/** The uids a real strlogd of `dir` runs as: root and the directory's owner. */
function driverUids(dir: string): number[] {
  try {
    return [0, statSync(dir).uid];
  } catch {
    return [0];
  }
}

function notDriver(path: string, uid: number, dir: string): NotDriverError {
  return new NotDriverError(`strlog: ${path} is served by uid ${uid}, neither root nor the owner of ${dir}: not strlogd`);
}

/** Throws NotDriverError when the peer of a connection to DIR/logger is not strlogd (SO_PEERCRED). */
function checkPeer(sock: Socket, dir: string, path: string): void {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new NotDriverError(`strlog: ${path}: cannot see who serves it`);
  const uid = peercredOf(fd).uid;
  if (!driverUids(dir).includes(uid)) throw notDriver(path, uid, dir);
}

/**
 * A datagram socket connected to DIR/submit, reached without following a
 * link and checked to be a socket of strlogd's uid before anything is sent
 * to it: the connect goes through /proc/self/fd/N of that very file.
 */
function connectSubmit(dir: string, path: string): UnixSocket {
  const fd = openPath(path);
  try {
    const st = fstatSync(fd);
    if (!st.isSocket()) throw new SystemError(osConstants.errno.ECONNREFUSED, 'connect', path);
    if (!driverUids(dir).includes(st.uid)) throw notDriver(path, st.uid, dir);
    try {
      return UnixSocket.connected(`/proc/self/fd/${fd}`);
    } catch (err) {
      throw err instanceof SystemError ? new SystemError(err.errno, 'connect', path) : err;
    }
  } finally {
    closeSync(fd);
  }
}

export interface SubmitterOptions {
  /** The driver's runtime directory (default $STRLOGDIR, else /run/strlog). */
  rundir?: string;
  /** Bytes of messages kept in the process while the driver's socket is
   * full (default 1 MiB); past that, messages are dropped and counted. */
  queueBytes?: number;
  /** Drop what is queued when the driver took nothing for this long, so that
   * a stuck driver cannot keep the process alive (default 5000 ms). */
  stallTimeout?: number;
}

interface PendingAck {
  resolve: (a: Ack | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * Sends submission records to DIR/submit without ever blocking: a datagram
 * the driver's socket cannot take now is queued in the process (bounded)
 * and sent, packed with the others, when the socket turns writable; what
 * does not fit, or finds no driver, is dropped and counted (`dropped`).
 * Order is kept. Those losses happen before the driver numbers a message,
 * so they are not gaps in any logger's sequence: the sender counts them.
 * A record whose acknowledgement is wanted (request()) goes on a
 * connection to DIR/logger instead, and its answer comes back on it.
 */
export class Submitter {
  readonly path: string;
  readonly dir: string;
  private sock: UnixSocket | null = null;
  private q: Buffer[] = [];
  private qHead = 0;
  private qBytes = 0;
  private armed = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly acks = new Map<number, PendingAck>();
  /** The connection that carries requests and their acknowledgements. */
  private conn: Promise<Socket> | null = null;
  private nextToken = 1 + Math.floor(Math.random() * 0x7fffffff);
  private readonly queueBytes: number;
  private readonly stallTimeout: number;
  private closed = false;
  /** Messages handed to the driver's socket, and messages dropped here. */
  sent = 0;
  dropped = 0;
  /** Messages dropped here that the driver was not told of yet, and their flags. */
  private untold = 0;
  private untoldFlags = 0;
  /** The last error that made a message undeliverable (no driver...). */
  lastError: Error | null = null;

  constructor(opts: SubmitterOptions = {}) {
    this.dir = runDirOf(opts.rundir);
    this.path = submitPath(this.dir);
    this.queueBytes = opts.queueBytes ?? 1 << 20;
    this.stallTimeout = opts.stallTimeout ?? 5000;
  }

  /** Messages waiting in this process for the driver. */
  get queued(): number {
    return this.q.length - this.qHead;
  }

  /** Send (or queue) one record; false when it was dropped. */
  send(record: Buffer): boolean {
    if (this.closed) return this.drop(new Error('strlog: the submitter is closed'), record);
    const rec = this.withLosses(record);
    if (this.queued > 0) return this.enqueue(rec);
    let r: number;
    try {
      r = this.trySend(rec);
    } catch (err) {
      this.lastError = err as Error;
      this.loseBuffer(rec);
      return false;
    }
    if (r >= 0) {
      this.sent++;
      return true;
    }
    return this.enqueue(rec);
  }

  /**
   * The record, with before it the report of the messages this process
   * dropped and has not told the driver of yet: the driver says how many,
   * and whose, to the loggers, so that no loss is silent (strlogd(8)).
   */
  private withLosses(record: Buffer): Buffer {
    if (this.untold === 0) return record;
    const b = Buffer.concat([encodeLossReport(this.untold, this.untoldFlags), record]);
    this.untold = 0;
    this.untoldFlags = 0;
    return b;
  }

  /** A buffer of records that will not reach the driver: its messages are
   * lost, the loss reports in it are still to be told. */
  private loseBuffer(buf: Buffer): void {
    for (let o = 0; o + SUB_HEADER <= buf.length; ) {
      const len = buf.readUInt16LE(o);
      if (buf[o + 3] === IFACE_LOSS) this.untold += buf.readUInt32LE(o + 12);
      else {
        this.dropped++;
        this.untold++;
      }
      this.untoldFlags |= buf.readUInt16LE(o + 4);
      if (len < SUB_HEADER) break;
      o += len;
    }
  }

  /** A fresh token for a record whose acknowledgement is wanted. */
  token(): number {
    const t = this.nextToken;
    this.nextToken = (this.nextToken % 0xfffffffe) + 1;
    return t;
  }

  /**
   * Send a record carrying `token` and wait for the driver's
   * acknowledgement; null when the record was dropped or no answer came
   * within `timeout` ms.
   */
  request(record: Buffer, token: number, timeout = 5000): Promise<Ack | null> {
    return new Promise((resolve) => {
      if (this.closed) {
        this.drop(new Error('strlog: the submitter is closed'), record);
        return resolve(null);
      }
      const timer = setTimeout(() => this.settle(token, null), timeout);
      this.acks.set(token, { resolve, timer });
      // The datagrams queued here go first, so that the request does not
      // overtake them (the driver, for its part, reads its datagrams before
      // a request on a connection).
      void this.flush()
        .then(() => this.connection())
        .then((c) => {
          if (!this.acks.has(token)) return this.drop(null, record);
          c.ref();
          c.write(frame(F_SUBMIT, this.withLosses(record)));
          this.sent++;
        })
        .catch((err: Error) => {
          this.drop(err, record);
          this.settle(token, null);
        });
    });
  }

  /** Resolves when nothing is queued here any more (sent or dropped). */
  async flush(): Promise<void> {
    while (this.queued > 0 && !this.closed) await new Promise((r) => setTimeout(r, 5));
  }

  /** Drop what is queued and close the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropped += this.queued;
    this.q = [];
    this.qHead = 0;
    this.qBytes = 0;
    this.clearStall();
    for (const t of [...this.acks.keys()]) this.settle(t, null);
    this.closeSocket();
    void this.conn?.then((c) => c.destroy(), () => {});
    this.conn = null;
  }

  // ---- internals ----

  private open(): UnixSocket {
    if (this.sock) return this.sock;
    const s = connectSubmit(this.dir, this.path);
    this.sock = s;
    this.armed = false;
    return s;
  }

  /**
   * The connection to DIR/logger for requests, made once and kept; only an
   * answer on it, from strlogd (its peer checked), settles a request, and
   * only one with a token this process is waiting for.
   */
  private connection(): Promise<Socket> {
    if (this.conn) return this.conn;
    const path = loggerPath(this.dir);
    const p = new Promise<Socket>((resolve, reject) => {
      const sock = createConnection(path);
      const reader = new FrameReader(64);
      sock.once('error', reject);
      sock.on('connect', () => {
        try {
          checkPeer(sock, this.dir, path);
        } catch (err) {
          sock.destroy();
          return reject(err as Error);
        }
        sock.off('error', reject);
        sock.on('error', () => {});
        resolve(sock);
      });
      sock.on('data', (chunk: Buffer) => {
        for (const f of reader.push(chunk)) {
          const a = f.type === F_ACK ? decodeAck(f.body) : null;
          if (a) this.settle(a.token, a);
        }
        if (reader.error) sock.destroy();
      });
      sock.on('close', () => {
        if (this.conn !== p) return;
        this.conn = null;
        // Requests in flight on it get no answer any more.
        for (const t of [...this.acks.keys()]) this.settle(t, null);
      });
    });
    this.conn = p;
    p.catch(() => {
      if (this.conn === p) this.conn = null;
    });
    return p;
  }

  private closeSocket(): void {
    this.sock?.close();
    this.sock = null;
    this.armed = false;
  }

  /** One non-blocking send, reconnecting once when the driver went away. */
  private trySend(buf: Buffer): number {
    try {
      return this.open().trySend(buf);
    } catch (err) {
      this.closeSocket();
      const code = (err as { code?: string }).code;
      if (code === 'EMSGSIZE') throw err;
      return this.open().trySend(buf);
    }
  }

  private drop(err: Error | null, record: Buffer): false {
    if (err) this.lastError = err;
    this.loseBuffer(record);
    return false;
  }

  private enqueue(record: Buffer): boolean {
    if (this.qBytes + record.length > this.queueBytes) return this.drop(null, record);
    this.q.push(record);
    this.qBytes += record.length;
    this.arm();
    return true;
  }

  private arm(): void {
    if (!this.sock) {
      try {
        this.open();
      } catch (err) {
        this.dropQueue(err as Error);
        return;
      }
    }
    if (!this.armed) {
      this.armed = true;
      this.sock!.setWritable(() => this.drain());
    }
    if (!this.stallTimer) this.startStall();
  }

  private drain(): void {
    let progress = false;
    while (this.queued > 0) {
      // Pack as many queued records as fit in one datagram.
      let n = 0;
      let bytes = 0;
      for (;;) {
        const r = this.q[this.qHead + n];
        if (!r || bytes + r.length > MAX_DATAGRAM) break;
        bytes += r.length;
        n++;
      }
      const batch = this.q.slice(this.qHead, this.qHead + n);
      const buf = n === 1 ? batch[0]! : Buffer.concat(batch, bytes);
      let r: number;
      try {
        r = this.trySend(buf);
      } catch (err) {
        this.dropQueue(err as Error);
        return;
      }
      if (r < 0) break;
      for (let i = 0; i < n; i++) this.q[this.qHead + i] = EMPTY;
      this.qHead += n;
      this.qBytes -= bytes;
      this.sent += n;
      progress = true;
    }
    if (this.qHead > 1024 || this.qHead === this.q.length) {
      this.q = this.q.slice(this.qHead);
      this.qHead = 0;
    }
    if (this.queued === 0) {
      this.disarm();
      return;
    }
    if (progress) this.startStall();
  }

  private disarm(): void {
    if (this.sock && this.armed) this.sock.setWritable(null);
    this.armed = false;
    this.clearStall();
  }

  private dropQueue(err: Error): void {
    for (let i = this.qHead; i < this.q.length; i++) this.loseBuffer(this.q[i]!);
    this.lastError = err;
    this.q = [];
    this.qHead = 0;
    this.qBytes = 0;
    this.disarm();
    this.closeSocket();
  }

  private startStall(): void {
    this.clearStall();
    this.stallTimer = setTimeout(() => this.dropQueue(new Error('strlog: strlogd took nothing for a while')), this.stallTimeout);
    this.stallTimer.unref();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private settle(token: number, a: Ack | null): void {
    const p = this.acks.get(token);
    if (!p) return;
    this.acks.delete(token);
    clearTimeout(p.timer);
    // An idle connection does not keep the process alive.
    if (this.acks.size === 0) void this.conn?.then((c) => c.unref(), () => {});
    p.resolve(a);
  }
}

const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------
// Loggers.

export interface LogStreamOptions {
  rundir?: string;
  /** For 'trace': the filters (one or more). */
  ids?: readonly TraceId[];
}

/** The errno name of a refused registration, on the error LogStream.open rejects with. */
function refusal(errno: number, role: Role): SystemError {
  return new SystemError(errno, role === 'error' ? 'I_ERRLOG' : role === 'trace' ? 'I_TRCLOG' : 'I_CONSLOG');
}

/**
 * A logger's connection to strlogd. Events: 'messages' (LogMessage[], in
 * sequence, one array per chunk read), 'close' (the driver closed the
 * connection or close() was called).
 */
export class LogStream extends EventEmitter {
  /** Deliveries that could not be decoded (never expected). */
  malformed = 0;
  private constructor(
    readonly socket: Socket,
    readonly role: Role,
  ) {
    super();
  }

  /**
   * Connect and register. Rejects with a SystemError: ENOENT or
   * ECONNREFUSED (no driver), or the driver's refusal: EBUSY (an error
   * logger exists), EINVAL (no complete trace_ids), EPERM (not allowed).
   */
  static open(role: Role, opts: LogStreamOptions = {}): Promise<LogStream> {
    const dir = runDirOf(opts.rundir);
    const path = loggerPath(dir);
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const reader = new FrameReader(MAX_DELIVERY);
      let ls: LogStream | null = null;
      const fail = (err: Error): void => {
        sock.destroy();
        reject(err);
      };
      sock.once('error', fail);
      sock.once('close', () => {
        if (!ls) fail(new SystemError(osConstants.errno.ECONNRESET, 'register', path));
      });
      sock.on('connect', () => {
        try {
          checkPeer(sock, dir, path);
        } catch (err) {
          return fail(err as Error);
        }
        sock.write(encodeRegister(role, opts.ids ?? []));
      });
      sock.on('data', (chunk: Buffer) => {
        const frames = reader.push(chunk);
        if (reader.error) {
          sock.destroy();
          if (!ls) reject(new Error(`strlog: ${path}: ${reader.error}`));
          return;
        }
        let batch: LogMessage[] | null = null;
        for (const f of frames) {
          if (!ls) {
            const errno = f.type === F_REPLY ? decodeReply(f.body) : null;
            if (errno === null) return fail(new Error(`strlog: ${path}: unexpected answer to a registration`));
            if (errno !== 0) return fail(refusal(errno, role));
            ls = new LogStream(sock, role);
            sock.off('error', fail);
            sock.on('error', () => {});
            sock.on('close', () => ls!.emit('close'));
            resolve(ls);
            continue;
          }
          if (f.type !== F_DELIVERY) continue;
          const m = decodeDelivery(f.body);
          if (!m) {
            ls.malformed++;
            continue;
          }
          (batch ??= []).push(m);
        }
        if (batch && ls) ls.deliver(batch);
      });
    });
  }

  private early: LogMessage[][] | null = null;

  /** Emit a batch; batches that come before anyone listens (in the chunk
   * that carried the registration's reply) wait, in order, for a turn of
   * the event loop so that the caller of open() can add its listener. */
  private deliver(batch: LogMessage[]): void {
    if (this.early) {
      this.early.push(batch);
      return;
    }
    if (this.listenerCount('messages') > 0) {
      this.emit('messages', batch);
      return;
    }
    this.early = [batch];
    setImmediate(() => {
      const e = this.early!;
      this.early = null;
      for (const b of e) this.emit('messages', b);
    });
  }

  /** Stop reading (the driver's queue for us fills, then drops). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Ask strlogd for its counters (the STATS request). */
export function driverStats(rundir?: string, timeout = 5000): Promise<DriverStats> {
  const dir = runDirOf(rundir);
  const path = loggerPath(dir);
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const reader = new FrameReader(16 << 20);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`strlog: no STATS answer from ${path} within ${timeout} ms`));
    }, timeout);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => {
      try {
        checkPeer(sock, dir, path);
      } catch (err) {
        clearTimeout(timer);
        sock.destroy();
        return reject(err as Error);
      }
      sock.write(frame(F_STATS));
    });
    sock.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type !== F_STATS_REPLY) continue;
        clearTimeout(timer);
        sock.destroy();
        try {
          resolve(JSON.parse(f.body.toString('utf8')) as DriverStats);
        } catch (err) {
          reject(err as Error);
        }
        return;
      }
    });
  });
}

/**
 * Why a program could not reach strlogd in dir, in words: no driver there
 * (no socket, or a socket nobody listens on), no permission, or the
 * system's reason; err is what connecting or sending threw.
 */
export function unreachable(dir: string, err: unknown): string {
  // Not strlogd at all (another user's socket): that, and who serves it.
  if (err instanceof NotDriverError) return err.message.replace(/^strlog: /, '');
  const code = errCode(err);
  const where = `strlogd in ${dir}`;
  if (code === 'ENOENT') return `no ${where}: ${loggerPath(dir)} does not exist (is strlogd running?)`;
  if (code === 'ECONNREFUSED') return `no ${where}: nobody listens on ${loggerPath(dir)} (a strlogd that stopped?)`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot reach ${where}: ${strerror(code)} (its group, strlogd -g, keeps you out?)`;
  if (code !== undefined && errnoFromCode(code) !== undefined) return `cannot reach ${where}: ${strerror(code)}`;
  return `cannot reach ${where}: ${(err as Error).message.replace(/^strlog: /, '')}`;
}
