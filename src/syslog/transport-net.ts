// Remote transports: UDP (RFC 5426, one message per datagram), TCP with
// octet counting (RFC 6587) and TLS (RFC 5425, octet counting too).
//
// Node's sockets never block the event loop, but they buffer without limit;
// these transports bound what they keep (messages and bytes, counting both
// our own queue and what sits in the socket's write buffer) and count what
// they drop, like the local transport. Sockets are unref'd: an idle logger
// never keeps the process alive, while writes already issued still complete
// (libuv keeps the loop alive for active requests).

import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { octetFrame, type SyslogMessage } from './format.js';
import { StallTimer } from '../sendqueue.js';
import { DEFAULT_LIMITS, Waiters, type QueueLimits, type Transport, type TransportHooks } from './transport.js';

export interface NetTarget {
  protocol: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
}

interface Item {
  m: SyslogMessage;
  buf: Buffer;
  retried: boolean;
}

/** Renders one message for the wire (RFC 3164 or RFC 5424), unframed. */
export type Render = (m: SyslogMessage) => Buffer;

/** Codes after which a connected UDP send was not done and can be retried:
 * Linux reports an earlier datagram's ICMP error on the next send. */
const UDP_RETRY = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

export class UdpTransport implements Transport {
  private sock: dgram.Socket | null = null;
  private ready = false;
  private pending: Item[] = [];
  private inFlight = 0;
  private inFlightBytes = 0;
  private drained = new Waiters();
  private closed = false;
  private readonly limits: QueueLimits;

  constructor(
    private readonly target: NetTarget,
    private readonly render: Render,
    private readonly hooks: TransportHooks,
    limits: Partial<QueueLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get queued(): number {
    return this.pending.length + this.inFlight;
  }

  connect(): void {
    if (!this.sock && !this.closed) this.open();
  }

  send(m: SyslogMessage): void {
    const item: Item = { m, buf: this.render(m), retried: false };
    if (this.closed) return this.hooks.drop(m, 'closed');
    const bytes = this.inFlightBytes + this.pending.reduce((n, i) => n + i.buf.length, 0);
    if (this.queued >= this.limits.queueMessages || bytes + item.buf.length > this.limits.queueBytes) {
      return this.hooks.drop(m, 'overflow');
    }
    if (!this.sock) this.open();
    if (!this.ready) this.pending.push(item);
    else this.transmit(item);
  }

  flush(): Promise<void> {
    return this.queued === 0 ? Promise.resolve() : this.drained.wait();
  }

  async close(): Promise<void> {
    await this.flush();
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const it of this.pending) this.hooks.drop(it.m, 'closed');
    this.pending = [];
    this.sock?.close();
    this.sock = null;
    this.drained.wake();
  }

  private open(): void {
    const host = this.target.host;
    const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    this.sock = sock;
    this.ready = false;
    sock.unref();
    const fail = (err: Error): void => {
      // connect() failures (DNS) land here: what waited cannot go, and the
      // next message tries afresh.
      if (this.sock !== sock) return;
      this.sock = null;
      this.ready = false;
      try {
        sock.close();
      } catch {
        // already closed
      }
      const left = this.pending;
      this.pending = [];
      for (const it of left) this.hooks.drop(it.m, 'undeliverable', err);
      this.checkIdle();
    };
    sock.on('error', fail);
    // Node calls back with the lookup error, or emits it: handle both.
    sock.connect(this.target.port, host, (err?: Error) => {
      if (err) return fail(err);
      if (this.sock !== sock) return;
      this.ready = true;
      const left = this.pending;
      this.pending = [];
      for (const it of left) this.transmit(it);
    });
  }

  private transmit(item: Item): void {
    const sock = this.sock!;
    this.inFlight++;
    this.inFlightBytes += item.buf.length;
    sock.send(item.buf, (err) => {
      this.inFlight--;
      this.inFlightBytes -= item.buf.length;
      if (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!item.retried && UDP_RETRY.has(code) && this.sock === sock && !this.closed) {
          item.retried = true;
          this.transmit(item);
          return;
        }
        this.hooks.drop(item.m, 'undeliverable', err);
      }
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.queued === 0) this.drained.wake();
  }
}

/** How long close() waits for its end of a TCP/TLS connection to be shut. */
const CLOSE_WAIT_MS = 1000;

export interface StreamOptions {
  /** TLS options for tls:// (ca, cert, key, rejectUnauthorized, servername...). */
  tls?: tls.ConnectionOptions | undefined;
}

/** TCP or TLS with octet counting; reconnects, retrying once what failed. */
export class StreamTransport implements Transport {
  private sock: net.Socket | null = null;
  private ready = false;
  private pending: Item[] = [];
  private inSocket = new Set<Item>();
  private drained = new Waiters();
  private closed = false;
  private closing = false;
  private readonly stall: StallTimer;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoff = 0;
  private readonly limits: QueueLimits;

  constructor(
    private readonly target: NetTarget,
    private readonly render: Render,
    private readonly hooks: TransportHooks,
    limits: Partial<QueueLimits> = {},
    private readonly opts: StreamOptions = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.stall = new StallTimer(this.limits.stallTimeout, () => this.onStall());
  }

  get queued(): number {
    return this.pending.length + this.inSocket.size;
  }

  connect(): void {
    if (!this.sock && !this.closed) this.open();
  }

  send(m: SyslogMessage): void {
    if (this.closed) return this.hooks.drop(m, 'closed');
    const item: Item = { m, buf: octetFrame(this.render(m)), retried: false };
    if (this.queued >= this.limits.queueMessages || this.bytes() + item.buf.length > this.limits.queueBytes) {
      return this.hooks.drop(m, 'overflow');
    }
    if (this.ready) this.write(item);
    else {
      this.pending.push(item);
      if (!this.sock && !this.retryTimer) this.open();
      this.startStall();
    }
    this.hold();
  }

  flush(): Promise<void> {
    return this.queued === 0 ? Promise.resolve() : this.drained.wait();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    const sock = this.sock;
    this.closed = true;
    this.clearTimers();
    this.sock = null;
    if (sock) {
      // Done when our side is shut ('finish': every byte handed to the
      // kernel, then FIN, or TLS close_notify): the receiver gets it all
      // without us waiting for it. The timer is left ref'd: with the socket
      // unref'd, an unref'd one let the process end with `await close()`
      // never settled (exit 13) while the receiver kept its side open.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          sock.destroy();
          resolve();
        }, CLOSE_WAIT_MS);
        sock.once('finish', done);
        sock.once('close', done);
        sock.end();
      });
      // A receiver that keeps its side open is not waited for; the socket
      // goes when it closes, or a little later if the process is still there.
      if (!sock.destroyed) {
        const t = setTimeout(() => sock.destroy(), CLOSE_WAIT_MS);
        t.unref();
        sock.once('close', () => clearTimeout(t));
      }
    }
    this.drained.wake();
  }

  destroy(): void {
    if (this.closed && !this.sock) return;
    this.closed = true;
    this.clearTimers();
    const left = [...this.pending, ...this.inSocket];
    this.pending = [];
    this.inSocket.clear();
    this.sock?.destroy();
    this.sock = null;
    for (const it of left) this.hooks.drop(it.m, 'closed');
    this.drained.wake();
  }

  private bytes(): number {
    let n = 0;
    for (const i of this.pending) n += i.buf.length;
    for (const i of this.inSocket) n += i.buf.length;
    return n;
  }

  private open(): void {
    const { host, port } = this.target;
    let sock: net.Socket;
    let readyEvent: string;
    if (this.target.protocol === 'tls') {
      const o: tls.ConnectionOptions = { host, port, ...this.opts.tls };
      // SNI takes host names only, never addresses.
      if (o.servername === undefined && !net.isIP(host)) o.servername = host;
      sock = tls.connect(o);
      readyEvent = 'secureConnect';
    } else {
      sock = net.connect({ host, port });
      readyEvent = 'connect';
    }
    this.sock = sock;
    this.ready = false;
    sock.unref();
    this.hold();
    sock.setNoDelay(true);
    sock.on(readyEvent, () => {
      if (this.sock !== sock) return;
      this.ready = true;
      this.backoff = 0;
      this.startStall();
      const left = this.pending;
      this.pending = [];
      for (const it of left) this.write(it);
    });
    let lastErr: Error | undefined;
    sock.on('error', (err) => {
      lastErr = err;
    });
    // The receiver closing (a restart) must be noticed before the next
    // message, so that it goes to the new connection rather than into a
    // socket whose peer is gone.
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.sock = null;
      const wasReady = this.ready;
      this.ready = false;
      if (this.closed) return;
      if (!wasReady && lastErr) {
        // Could not connect at all: glibc's rule (one reconnect, then give
        // up) applied per message.
        const left = this.pending.filter((i) => i.retried);
        this.pending = this.pending.filter((i) => !i.retried);
        for (const it of this.pending) it.retried = true;
        for (const it of left) this.hooks.drop(it.m, 'undeliverable', lastErr);
      }
      if (this.pending.length > 0) this.scheduleReconnect();
      this.checkIdle();
    });
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.closed) return;
    const delay = Math.min(100 * 2 ** this.backoff, 5000);
    this.backoff++;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        if (!this.sock && !this.closed && this.pending.length > 0) this.open();
      },
      this.backoff === 1 ? 0 : delay,
    );
    // Left ref'd: messages are waiting for this reconnect, and it ends, since
    // a message that fails on two connections is dropped.
  }

  private write(item: Item): void {
    const sock = this.sock!;
    this.inSocket.add(item);
    sock.write(item.buf, (err) => {
      if (!this.inSocket.delete(item)) return; // already dropped (stall/destroy)
      if (err) {
        if (!item.retried && !this.closed) {
          // The connection broke under this message: once more on a new one.
          item.retried = true;
          this.pending.unshift(item);
          if (!this.sock) this.scheduleReconnect();
          return;
        }
        this.hooks.drop(item.m, 'undeliverable', err);
      } else {
        this.startStall();
      }
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.queued === 0) {
      this.stall.clear();
      this.sock?.unref();
      this.drained.wake();
    }
  }

  /** Hold the event loop only while messages wait (a TLS handshake, unlike
   * a write, is not a libuv request that would hold it by itself). */
  private hold(): void {
    if (this.queued > 0) this.sock?.ref();
  }

  /** Progress, or something to wait for: the stall timer starts again (while messages wait). */
  private startStall(): void {
    if (this.queued === 0) this.stall.clear();
    else this.stall.progress();
  }

  private clearTimers(): void {
    this.stall.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private onStall(): void {
    const left = [...this.pending, ...this.inSocket];
    this.pending = [];
    this.inSocket.clear();
    // A half-sent octet-counted frame cannot be continued: start afresh.
    if (this.sock && left.length > 0) {
      const s = this.sock;
      this.sock = null;
      this.ready = false;
      s.destroy();
    }
    for (const it of left) this.hooks.drop(it.m, 'stalled');
    this.checkIdle();
    if (this.closing && this.queued === 0) this.drained.wake();
  }
}
