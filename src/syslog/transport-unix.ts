// The local transport: glibc's wire format to /dev/log over the project's
// own AF_UNIX socket (src/native.ts), because Node core has no SOCK_DGRAM
// unix sockets.
//
// Behaviour, following glibc's __vsyslog_internal where it has one:
// - connect as SOCK_DGRAM; when connect() says EPROTOTYPE the receiver is a
//   stream socket, so reconnect as SOCK_STREAM and end each record with NUL;
// - on a send error, close, reconnect and retry once, so that a restarted
//   receiver gets the very next message; if that fails too the message is
//   undeliverable (LOG_CONS territory) and the socket is reopened next time;
// - EMSGSIZE (a datagram larger than the socket allows, ~208 KiB with
//   default buffers) is a property of the message, not of the connection:
//   no reconnect, the message is undeliverable, as with glibc. Messages are
//   never truncated; 64 KiB datagrams go through when the receiver's own
//   size limit allows them (rsyslog: global(maxMessageSize=...));
// - where glibc would block (receiver's queue full: EAGAIN), keep the
//   message in a bounded queue drained when the socket turns writable. When
//   the queue is full the NEWEST message is dropped: the first messages of a
//   burst usually say what went wrong, the queue keeps its order, and a
//   half-written stream record at its head is never cut. Drops are counted.

import { Buffer } from 'node:buffer';
import { localPrefix, nulFrame, type SyslogMessage } from './format.js';
import { SendQueue } from '../sendqueue.js';
import { DEFAULT_LIMITS, type QueueLimits, type Transport, type TransportHooks } from './transport.js';

// Loading src/native.ts never throws: where the addon is not built, the
// network transports and the pure modules still work, and this transport
// says so when it opens (below). No top-level await: require() of the
// library must work (ERR_REQUIRE_ASYNC_MODULE).
import * as native from '../native.js';

/** The default local socket: $PLOG_SYSLOG_SOCKET, else /dev/log. */
export function defaultSocketPath(): string {
  return process.env.PLOG_SYSLOG_SOCKET || '/dev/log';
}

interface Item {
  m: SyslogMessage;
  line: Buffer;
  /** Bytes as framed for the socket the first byte went to (NUL added on a
   * stream), fixed once sending started. */
  wire: Buffer | null;
  offset: number;
}

type Outcome = 'sent' | 'again' | 'failed';

/** Where a line is encoded for a direct send: 64 KiB datagrams and more
 * fit (UTF-8 takes at most 3 bytes per UTF-16 unit). */
const SCRATCH_CHARS = 96 * 1024;
const scratch = Buffer.allocUnsafe(SCRATCH_CHARS * 3);

export class UnixTransport implements Transport {
  readonly path: string;
  private sock: native.UnixSocket | null = null;
  private stream = false;
  private readonly q: SendQueue<Item>;
  private closing = false;
  private closed = false;
  private readonly limits: QueueLimits;
  // The last line's prefix (formatLocal() without the message) and what it
  // was made of: messages of one priority and tag within one second share it
  // (so a change of TZ while running shows from the next second on).
  private prefix = '';
  private prefixSecond = NaN;
  private prefixPri = -1;
  private prefixIdent = '';
  private prefixPid: number | undefined = undefined;

  constructor(
    path: string,
    private readonly hooks: TransportHooks,
    limits: Partial<QueueLimits> = {},
  ) {
    this.path = path;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.q = new SendQueue<Item>({
      maxItems: this.limits.queueMessages,
      maxBytes: this.limits.queueBytes,
      stallTimeout: this.limits.stallTimeout,
      size: (it) => it.line.length + 1,
      // With no socket at all, the retry waits for the stall timer's end.
      socket: () => this.sock,
      drain: () => this.drain(),
      stalled: (left) => this.onStall(left),
      drained: () => {
        if (this.closing) this.destroy();
      },
    });
  }

  /** Whether the connected socket is SOCK_STREAM (the NUL-framed fallback). */
  get isStream(): boolean {
    return this.stream;
  }

  get queued(): number {
    return this.q.length;
  }

  connect(): void {
    if (this.sock || this.closed) return;
    try {
      this.open();
    } catch {
      // LOG_NDELAY: glibc ignores a failed connect; the next syslog() retries.
    }
  }

  send(m: SyslogMessage): void {
    if (this.closed) {
      this.hooks.drop(m, 'closed');
      return;
    }
    const text = this.line(m);
    // The common case, a datagram socket with nothing queued: the line is
    // encoded into a buffer kept for it and sent from there; only a message
    // that has to wait gets a Buffer (and an Item) of its own.
    const sock = this.sock;
    if (sock && !this.stream && this.q.length === 0 && text.length <= SCRATCH_CHARS) {
      const n = scratch.write(text, 0, 'utf8');
      let r: number;
      try {
        r = sock.trySend(scratch, null, 0, n);
      } catch (err) {
        const item: Item = { m, line: Buffer.from(text), wire: null, offset: 0 };
        if (this.recover(item, err) === 'again') this.enqueue(item, true);
        return;
      }
      if (r < 0) this.enqueue({ m, line: Buffer.from(text), wire: null, offset: 0 }, true);
      return;
    }
    const item: Item = { m, line: Buffer.from(text), wire: null, offset: 0 };
    // Order is kept: nothing jumps a non-empty queue.
    if (this.q.length > 0) {
      this.enqueue(item);
      return;
    }
    const r = this.deliver(item);
    if (r === 'again') this.enqueue(item, true);
  }

  flush(): Promise<void> {
    return this.q.idle();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const left = this.q.clear();
    this.closeSocket();
    for (const it of left) this.hooks.drop(it.m, 'closed');
  }

  // ---- internals ----

  /** formatLocal(m), its prefix made at most once a second per priority and tag. */
  private line(m: SyslogMessage): string {
    const second = Math.floor(m.time / 1000);
    if (second !== this.prefixSecond || m.pri !== this.prefixPri || m.ident !== this.prefixIdent || m.pid !== this.prefixPid) {
      this.prefix = localPrefix(m);
      this.prefixSecond = second;
      this.prefixPri = m.pri;
      this.prefixIdent = m.ident;
      this.prefixPid = m.pid;
    }
    return this.prefix + m.msg;
  }

  private open(): void {
    const missing = native.addonError();
    if (missing) throw new Error(`syslog: cannot reach ${this.path}: ${missing.message}`, { cause: missing });
    try {
      this.sock = native.UnixSocket.connected(this.path);
      this.stream = false;
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EPROTOTYPE') throw err;
    }
    // The receiver is a SOCK_STREAM socket (some syslogds, some containers).
    this.sock = native.UnixSocket.connected(this.path, { stream: true });
    this.stream = true;
  }

  private closeSocket(): void {
    if (this.sock) {
      this.sock.close();
      this.sock = null;
      this.q.forget();
    }
  }

  /** One non-blocking send of what is left of `item`. Throws SystemError. */
  private attempt(item: Item): Outcome {
    if (!this.sock) this.open();
    const sock = this.sock!;
    if (item.wire === null) item.wire = this.stream ? nulFrame(item.line) : item.line;
    const r = sock.trySend(item.wire, null, item.offset);
    if (r < 0) return 'again';
    if (this.stream) {
      item.offset += r;
      if (item.offset < item.wire.length) return 'again';
    }
    return 'sent';
  }

  /** Send with glibc's one reconnect-and-retry; report what could not go. */
  private deliver(item: Item): Outcome {
    try {
      return this.attempt(item);
    } catch (err) {
      return this.recover(item, err);
    }
  }

  /** After a send of item failed with err: glibc's one reconnect-and-retry. */
  private recover(item: Item, err: unknown): Outcome {
    if ((err as { code?: string }).code === 'EMSGSIZE') {
      this.hooks.drop(item.m, 'undeliverable', err as Error);
      return 'failed';
    }
    this.closeSocket();
    // A record half-written to the old stream is lost there; the new
    // connection gets it whole, framed for whatever the new socket is.
    item.wire = null;
    item.offset = 0;
    try {
      return this.attempt(item);
    } catch (err2) {
      this.closeSocket();
      this.hooks.drop(item.m, 'undeliverable', err2 as Error);
      return 'failed';
    }
  }

  private enqueue(item: Item, head = false): void {
    // A message already partly written must stay, whatever the limits.
    if (!this.q.push(item, head && item.offset > 0)) this.hooks.drop(item.m, 'overflow');
  }

  /** The socket is writable: send from the head while it takes. */
  private drain(): boolean {
    let progress = false;
    for (let item = this.q.peek(); item; item = this.q.peek()) {
      const before = item.offset;
      const r = this.deliver(item);
      if (r === 'again') {
        if (item.offset !== before) progress = true;
        break;
      }
      this.q.shift();
      progress = true;
    }
    return progress;
  }

  /** The receiver took nothing for stallTimeout ms: what waited is dropped. */
  private onStall(left: Item[]): void {
    // Never leave half a record on a stream: the next one would be glued to it.
    if (left[0] && left[0].offset > 0) this.closeSocket();
    for (const it of left) this.hooks.drop(it.m, 'stalled');
    if (this.closing) this.destroy();
  }
}
