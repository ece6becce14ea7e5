// strlog()'s sender: submission records to strlogd's DIR/submit.
import { createConnection, type Socket } from 'node:net';
import type { UnixSocket } from '../native.js';
import { SendQueue } from '../sendqueue.js';
import { MAX_DATAGRAM } from './constants.js';
import { checkPeer, connectSubmit, runDirOf } from './peer.js';
import { loggerPath, submitPath } from './rundir.js';
import { decodeAck, encodeLossReport, F_ACK, F_SUBMIT, frame, FrameReader, IFACE_LOSS, SUB_HEADER, type Ack } from './wire.js';

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
  private readonly q: SendQueue<Buffer>;
  private readonly acks = new Map<number, PendingAck>();
  /** The connection that carries requests and their acknowledgements. */
  private conn: Promise<Socket> | null = null;
  private nextToken = 1 + Math.floor(Math.random() * 0x7fffffff);
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
    this.q = new SendQueue<Buffer>({
      maxBytes: opts.queueBytes ?? 1 << 20,
      stallTimeout: opts.stallTimeout ?? 5000,
      size: (b) => b.length,
      socket: () => this.socketOrDrop(),
      drain: () => this.drain(),
      stalled: (left) => this.lose(left, new Error('strlog: strlogd took nothing for a while')),
    });
  }

  /** Messages waiting in this process for the driver. */
  get queued(): number {
    return this.q.length;
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
    for (let o = 0; o + SUB_HEADER <= buf.length;) {
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
  flush(): Promise<void> {
    return this.q.idle();
  }

  /** Drop what is queued and close the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropped += this.queued;
    this.q.clear();
    for (const t of [...this.acks.keys()]) this.settle(t, null);
    this.closeSocket();
    void this.conn?.then(
      (c) => c.destroy(),
      () => {},
    );
    this.conn = null;
  }

  // ---- internals ----

  private open(): UnixSocket {
    if (this.sock) return this.sock;
    const s = connectSubmit(this.dir, this.path);
    this.sock = s;
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
          return reject(err);
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
    this.q.forget();
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
    if (!this.q.push(record)) return this.drop(null, record);
    return true;
  }

  /** The socket to wait on; when there is no driver to connect to, what is queued is lost. */
  private socketOrDrop(): UnixSocket | null {
    try {
      return this.open();
    } catch (err) {
      this.lose(this.q.clear(), err as Error);
      return null;
    }
  }

  /** The socket is writable: send what is queued, packed, while it takes. */
  private drain(): boolean {
    let progress = false;
    while (this.queued > 0) {
      // Pack as many queued records as fit in one datagram.
      let n = 0;
      let bytes = 0;
      for (let r = this.q.peek(); r && bytes + r.length <= MAX_DATAGRAM; r = this.q.peek(n)) {
        bytes += r.length;
        n++;
      }
      const buf =
        n === 1
          ? this.q.peek()!
          : Buffer.concat(
              Array.from({ length: n }, (_, i) => this.q.peek(i)!),
              bytes,
            );
      let r: number;
      try {
        r = this.trySend(buf);
      } catch (err) {
        this.lose(this.q.clear(), err as Error);
        return progress;
      }
      if (r < 0) break;
      this.q.shift(n);
      this.sent += n;
      progress = true;
    }
    return progress;
  }

  /** Records that will not reach the driver (the queue given up), and why. */
  private lose(records: Buffer[], err: Error): void {
    for (const r of records) this.loseBuffer(r);
    this.lastError = err;
    this.closeSocket();
  }

  private settle(token: number, a: Ack | null): void {
    const p = this.acks.get(token);
    if (!p) return;
    this.acks.delete(token);
    clearTimeout(p.timer);
    // An idle connection does not keep the process alive.
    if (this.acks.size === 0)
      void this.conn?.then(
        (c) => c.unref(),
        () => {},
      );
    p.resolve(a);
  }
}
