// The bounded send queue of a non-blocking socket, once for the project:
// plogkit/syslog's local transport (src/syslog/transport-unix.ts), strlog's
// Submitter (src/strlog/submitter.ts) and, for its stall timer, the network
// transport (src/syslog/transport-net.ts).
//
// A sender that may not block (a library inside someone's event loop, a
// daemon) keeps what the socket cannot take now, bounded in messages and
// bytes; the socket's writability (the native poller, UnixSocket.setWritable)
// drains it, in order; a receiver that takes nothing for `stallTimeout` ms
// has the queue given up, so that a stuck receiver can neither keep the
// process alive nor hold its memory. Neither the writability interest's
// timer nor the stall timer keeps the process alive by itself.

/** Resolve waiters when a queue empties. */
export class Waiters {
  private list: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.list.push(resolve));
  }
  wake(): void {
    const l = this.list;
    this.list = [];
    for (const f of l) f();
  }
}

/**
 * A timer that fires when nothing moved for `ms` milliseconds: each
 * progress() starts the wait again. Unref'd: it never keeps the process
 * alive by itself.
 */
export class StallTimer {
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly ms: number,
    private readonly onStall: () => void,
  ) {}

  get running(): boolean {
    return this.timer !== null;
  }

  /** Something moved: wait the whole time again from now. */
  progress(): void {
    this.clear();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onStall();
    }, this.ms);
    this.timer.unref();
  }

  /** Start waiting unless already waiting. */
  ensure(): void {
    if (!this.timer) this.progress();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** What a queue waits on: a socket that calls back once it is writable. */
export interface Pollable {
  setWritable(cb: (() => void) | null): void;
}

export interface SendQueueOptions<T> {
  /** Most items kept (default: no bound but the bytes). */
  maxItems?: number;
  /** Most bytes kept. */
  maxBytes: number;
  /** Give the queue up when the receiver took nothing for this long (ms). */
  stallTimeout: number;
  /** An item's bytes, as counted against maxBytes. */
  size(item: T): number;
  /** The socket to wait on now, or null when there is none (the stall timer
   * then ends the wait). Called whenever the queue arms. */
  socket(): Pollable | null;
  /** The socket is writable: send from the head (peek, shift) while it
   * takes; true when anything moved, a part of an item included. */
  drain(): boolean;
  /** The queue was given up (a stall): what it held, in order. */
  stalled(items: T[]): void;
  /** The queue emptied by draining. */
  drained?(): void;
}

/** A bounded FIFO drained when its socket turns writable; see the top of the file. */
export class SendQueue<T> {
  private items: T[] = [];
  private head = 0;
  private bytes_ = 0;
  private armed: Pollable | null = null;
  private readonly waiters = new Waiters();
  private readonly stall: StallTimer;
  private readonly maxItems: number;

  constructor(private readonly opts: SendQueueOptions<T>) {
    this.maxItems = opts.maxItems ?? Infinity;
    this.stall = new StallTimer(opts.stallTimeout, () => opts.stalled(this.clear()));
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.bytes_;
  }

  /**
   * Queue item at the end and wait for the socket; false, and nothing
   * queued, when that would pass a bound. `force` passes them (an item
   * already partly written must stay, whatever the bounds).
   */
  push(item: T, force = false): boolean {
    const len = this.opts.size(item);
    if (!force && (this.length >= this.maxItems || this.bytes_ + len > this.opts.maxBytes)) return false;
    this.items.push(item);
    this.bytes_ += len;
    this.arm();
    return true;
  }

  /** The i-th item from the head. */
  peek(i = 0): T | undefined {
    return this.items[this.head + i];
  }

  /** The n items at the head were sent: forget them. */
  shift(n = 1): void {
    for (let i = 0; i < n && this.head < this.items.length; i++) {
      this.bytes_ -= this.opts.size(this.items[this.head]!);
      (this.items as (T | undefined)[])[this.head] = undefined;
      this.head++;
    }
    if (this.head > 1024 || this.head === this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Empty the queue (the caller drops what it returns), stop waiting, wake idle(). */
  clear(): T[] {
    const left = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.bytes_ = 0;
    this.disarm();
    this.waiters.wake();
    return left;
  }

  /** Resolves when the queue is empty (drained or cleared). */
  idle(): Promise<void> {
    return this.length === 0 ? Promise.resolve() : this.waiters.wait();
  }

  /** The socket the queue waited on was closed: its interest went with it. */
  forget(): void {
    this.armed = null;
  }

  /** Wait for the socket in use now to be writable, and for the stall timer. */
  arm(): void {
    if (this.length === 0) return;
    const sock = this.opts.socket();
    if (this.length === 0) return; // socket() gave the queue up
    if (sock && this.armed !== sock) {
      this.armed = sock;
      sock.setWritable(() => this.onWritable());
    }
    this.stall.ensure();
  }

  private disarm(): void {
    this.armed?.setWritable(null);
    this.armed = null;
    this.stall.clear();
  }

  private onWritable(): void {
    const progress = this.opts.drain();
    if (this.length === 0) {
      this.disarm();
      this.waiters.wake();
      this.opts.drained?.();
      return;
    }
    if (progress) this.stall.progress();
    // drain() may have reconnected: wait on the socket in use now.
    this.arm();
  }
}
