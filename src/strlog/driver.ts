// strlogd's engine: registrations, the three sequence numbers, the classes a
// message goes to, per-logger bounded byte queues that drop their oldest
// frames, and the console backlog. No sockets here: server.ts feeds it
// decoded submissions and writes the queues out; the engine only says which
// queue got what (LoggerSlot.wake) and counts what was dropped.
//
// Loss accounting, the point of the design: a message is "lost" for a logger
// only once the engine has given it that logger's class sequence number;
// from then on it is either written to the logger's connection or dropped
// from its queue (or from the console backlog) and counted there. So the
// gaps a logger sees in its sequence numbers are exactly its drops. What a
// sender could not hand to the driver (its queue full, no driver) and what
// the driver could not decode never got a number: those are counted by the
// sender and as `malformed` here, and leave no gap.
//
// Each tracer has its own trace sequence (the error logger is alone in its
// class, and every console logger gets every console message), so that for
// every logger a gap is a message meant for it and lost, never one that
// only another tracer's filters took.

import { LOG_CRIT, LOG_DEBUG, LOG_ERR, LOG_INFO, LOG_KERN, LOG_NOTICE, LOG_USER, LOG_WARNING } from '../syslog/constants.js';
import { HZ, LOG_MID, SL_ALL, SL_CLASSES, SL_CONSOLE, SL_ERROR, SL_FATAL, SL_NOTE, SL_TRACE, SL_WARN, type LogClass } from './constants.js';
import { matches } from './filter.js';
import type { StrlogArg } from './format.js';
import { encodeData, encodeDelivery, setDeliverySeq, IFACE_MODULE, IFACE_USER, type Ack, type LogCtl, type Role, type Submission, type SubmissionHeader, type TraceId } from './wire.js';

/**
 * A bounded FIFO of frames, bounded in bytes. Pushing past the bound drops
 * the oldest frames first; a frame larger than the bound on its own is
 * dropped itself.
 */
export class ByteQueue {
  private items: Buffer[] = [];
  private head = 0;
  bytes = 0;
  constructor(public limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Add a frame; returns how many frames were dropped to make room (the
   * new one included when it alone exceeds the limit). */
  push(frame: Buffer): number {
    if (frame.length > this.limit) return 1;
    let dropped = 0;
    while (this.bytes + frame.length > this.limit && this.length > 0) {
      this.bytes -= this.items[this.head]!.length;
      this.items[this.head++] = EMPTY;
      dropped++;
    }
    this.items.push(frame);
    this.bytes += frame.length;
    this.compact();
    return dropped;
  }

  /** Take frames from the head, at least one, up to about maxBytes. */
  take(maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    let n = 0;
    while (this.length > 0 && (out.length === 0 || n + this.items[this.head]!.length <= maxBytes)) {
      const f = this.items[this.head]!;
      this.items[this.head++] = EMPTY;
      n += f.length;
      this.bytes -= f.length;
      out.push(f);
    }
    this.compact();
    return out;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Who a logger connection belongs to (its peer credentials). */
export interface Peer {
  pid: number;
  uid: number;
  gid: number;
}

/** A logger connection as the engine sees it. */
export class LoggerSlot {
  role: Role | null = null;
  ids: TraceId[] = [];
  readonly queue: ByteQueue;
  /** Frames put in the queue, written to the connection, dropped from the queue. */
  enqueued = 0;
  written = 0;
  dropped = 0;
  /** A tracer's own sequence number: the last message it was given. */
  seq = 0;
  constructor(
    readonly id: number,
    readonly peer: Peer,
    queueBytes: number,
    /** Called when frames were added to the queue. */
    readonly wake: () => void,
  ) {
    this.queue = new ByteQueue(queueBytes);
  }

  /** Queue one frame, counting what the queue dropped. */
  put(frame: Buffer): void {
    this.enqueued++;
    this.dropped += this.queue.push(frame);
    this.wake();
  }
}

/** What a console message is when strlogd forwards it to syslog itself. */
export interface ConsoleMessage {
  pri: number;
  mid: number;
  sid: number;
  level: number;
  flags: number;
  seq: number;
  /** Milliseconds since 1970 (the submission's time). */
  time: number;
  data: Buffer;
}

/** Whether a submission may use the module interface (mid and sid as given). */
export interface Origin {
  pid: number;
  privileged: boolean;
}

/** errno names a registration can be refused with. */
export type RefuseReason = 'EBUSY' | 'EINVAL' | 'EPERM';

export interface EngineOptions {
  /** Bound of each logger's queue, bytes. */
  queueBytes: number;
  /** Bound of the console backlog, bytes. */
  backlogBytes: number;
  /** strlogd as the console logger: console messages go here (to syslog). */
  forward?: ((m: ConsoleMessage) => void) | null;
  /** The clock, ms since 1970 (tests of the engine pass their own). */
  now?: () => number;
  /** log_ctl.ltime: ticks (HZ a second) since boot, monotonic (default bootTicks). */
  ticks?: () => number;
}

/**
 * Ticks since boot, HZ a second, as SVR4's lbolt: CLOCK_MONOTONIC (what
 * process.hrtime reads), which a step of the wall clock (settimeofday, NTP)
 * does not move. It wraps at 2^32, as a u32 on the wire.
 */
export function bootTicks(): number {
  return Number(process.hrtime.bigint() / BigInt(1e9 / HZ));
}

/** The console priority of a message's flags: the first of FATAL, ERROR, WARN, NOTE, TRACE. */
export function consoleLevel(flags: number): number {
  if (flags & SL_FATAL) return LOG_CRIT;
  if (flags & SL_ERROR) return LOG_ERR;
  if (flags & SL_WARN) return LOG_WARNING;
  if (flags & SL_NOTE) return LOG_NOTICE;
  if (flags & SL_TRACE) return LOG_DEBUG;
  return LOG_INFO;
}

/** Where a message goes (Engine.reach()). */
export interface Reach {
  /** Logged through the user interface (mid 44, sid the pid). */
  user: boolean;
  mid: number;
  sid: number;
  /** The facility of its pri. */
  fac: number;
  /** Its flags, the bits of the classes nobody takes cleared. */
  flags: number;
  /** The tracers that take it. */
  tracers: LoggerSlot[];
}

export class Engine {
  /** ms since 1970 when the driver started. */
  readonly started: number;
  readonly seq: Record<LogClass, number> = { error: 0, trace: 0, console: 0 };
  /** Records decoded and handled; records not logged (no class left). */
  records = 0;
  notLogged = 0;
  /** Records or datagrams that could not be decoded (counted by server.ts too). */
  malformed = 0;
  /** Submissions that asked for the module interface and were not allowed it. */
  demoted = 0;
  errorLogger: LoggerSlot | null = null;
  readonly tracers: LoggerSlot[] = [];
  readonly consoles: LoggerSlot[] = [];
  readonly backlog: ByteQueue;
  backlogDropped = 0;
  forwarded = 0;
  /** Messages of the driver itself about losses (notice()). */
  notices = 0;
  private readonly forward: ((m: ConsoleMessage) => void) | null;
  private readonly now: () => number;
  private readonly ticks: () => number;
  private nextId = 1;
  readonly queueBytes: number;

  constructor(opts: EngineOptions) {
    this.now = opts.now ?? Date.now;
    this.ticks = opts.ticks ?? bootTicks;
    this.started = this.now();
    this.queueBytes = opts.queueBytes;
    this.backlog = new ByteQueue(opts.backlogBytes);
    this.forward = opts.forward ?? null;
  }

  /** A new logger connection (not yet registered). */
  connect(peer: Peer, wake: () => void): LoggerSlot {
    return new LoggerSlot(this.nextId++, peer, this.queueBytes, wake);
  }

  /**
   * Register a connection as a logger. A connection has one role for its
   * life: a second registration is EBUSY, as is a second error logger.
   * `privileged` is whether the peer may be a logger at all.
   */
  register(slot: LoggerSlot, role: Role, ids: TraceId[], privileged: boolean): 0 | RefuseReason {
    if (slot.role !== null) return 'EBUSY';
    if (!privileged) return 'EPERM';
    if (role === 'trace' && ids.length === 0) return 'EINVAL';
    if (role === 'error') {
      if (this.errorLogger) return 'EBUSY';
      this.errorLogger = slot;
    } else if (role === 'trace') {
      this.tracers.push(slot);
    } else {
      const first = this.consoles.length === 0 && !this.forward;
      this.consoles.push(slot);
      if (first) this.giveBacklog(slot);
    }
    slot.role = role;
    slot.ids = ids;
    return 0;
  }

  /** The connection is gone. */
  disconnect(slot: LoggerSlot): void {
    if (this.errorLogger === slot) this.errorLogger = null;
    remove(this.tracers, slot);
    remove(this.consoles, slot);
  }

  private giveBacklog(slot: LoggerSlot): void {
    while (this.backlog.length > 0) for (const f of this.backlog.take(Infinity)) slot.put(f);
  }

  /**
   * Where a submission goes: its mid and sid (the user interface's 44 and
   * pid), facility, and its flags with the bits of the classes nobody takes
   * cleared; the tracers whose filters take it.
   */
  reach(sub: SubmissionHeader, from: Origin): Reach {
    const user = sub.iface === IFACE_USER || !from.privileged;
    const mid = user ? LOG_MID : sub.mid;
    const sid = user ? from.pid : sub.sid;
    const fac = sub.facility > 0 && sub.facility < 24 ? sub.facility << 3 : user ? LOG_USER : LOG_KERN;
    let flags = sub.flags & SL_ALL;
    let tracers: LoggerSlot[] = NONE;
    if (flags & SL_CLASSES) {
      if (flags & SL_ERROR && !this.errorLogger) flags &= ~SL_ERROR;
      if (flags & SL_TRACE) {
        for (const t of this.tracers) {
          if (matches(t.ids, mid, sid, sub.level)) {
            if (tracers === NONE) tracers = [];
            tracers.push(t);
          }
        }
        if (tracers === NONE) flags &= ~SL_TRACE;
      }
    }
    return { user, mid, sid, fac, flags, tracers };
  }

  /**
   * Handle one submission: clear the class bits nobody takes, number the
   * message in each class that remains, queue a copy for each taker.
   */
  submit(sub: Submission, from: Origin): Ack {
    this.records++;
    if (sub.iface === IFACE_MODULE && !from.privileged) this.demoted++;
    const r = this.reach(sub, from);
    const ack: Ack = { token: sub.token, result: 0, iface: r.user ? IFACE_USER : IFACE_MODULE, flags: r.flags, mid: r.mid, sid: r.sid, seq: { error: 0, trace: 0, console: 0 } };
    if (!(r.flags & SL_CLASSES)) {
      this.notLogged++;
      return ack;
    }
    this.deliver(r, sub.level, sub.data, ack.seq);
    ack.result = 1;
    return ack;
  }

  /**
   * A message of the driver itself (mid 44, sid 0, level 0, facility kern):
   * how many messages were lost before they got a number, and whose. It
   * goes to the classes of `flags` that have a taker, and to the tracers
   * given (those that would have taken a lost message), so that no loss is
   * silent: what is not a gap in a logger's numbers is a line in its log.
   */
  notice(flags: number, tracers: readonly LoggerSlot[], fmt: string, args: StrlogArg[]): void {
    let f = flags & SL_ALL;
    if (f & SL_ERROR && !this.errorLogger) f &= ~SL_ERROR;
    const live = tracers.filter((t) => this.tracers.includes(t));
    if (live.length === 0) f &= ~SL_TRACE;
    if (!(f & SL_CLASSES)) return;
    this.notices++;
    this.deliver({ user: false, mid: LOG_MID, sid: 0, fac: LOG_KERN, flags: f, tracers: live }, 0, encodeData(fmt, args), { error: 0, trace: 0, console: 0 });
  }

  /** Number a message in each class of r.flags and queue a copy for each taker. */
  private deliver(r: Reach, level: number, data: Buffer, seq: Ack['seq']): void {
    const { mid, sid, fac, flags } = r;
    const now = this.now();
    const ltime = this.ticks() >>> 0;
    const ttime = Math.floor(now / 1000);
    // One log_ctl, its class, pri and seq set for each class in turn.
    const ctl: LogCtl = { cls: 'error', flags, mid, sid, level, pri: 0, seq: 0, ltime, ttime };
    if (flags & SL_ERROR) {
      ctl.seq = seq.error = this.seq.error = (this.seq.error + 1) >>> 0;
      ctl.pri = fac | LOG_ERR;
      this.errorLogger!.put(encodeDelivery(ctl, data));
    }
    if (flags & SL_TRACE) {
      // Each tracer numbers the messages it takes: its gaps are its own
      // losses, never the messages only another tracer's filters took.
      // seq.trace counts the traced messages (the acknowledgement's number).
      ctl.cls = 'trace';
      seq.trace = this.seq.trace = (this.seq.trace + 1) >>> 0;
      ctl.pri = fac | LOG_DEBUG;
      const f = encodeDelivery(ctl, data);
      r.tracers.forEach((t, i) => {
        const copy = i === r.tracers.length - 1 ? f : Buffer.from(f);
        setDeliverySeq(copy, (t.seq = (t.seq + 1) >>> 0));
        t.put(copy);
      });
    }
    if (flags & SL_CONSOLE) {
      const n = (this.seq.console = (this.seq.console + 1) >>> 0);
      seq.console = n;
      const pri = fac | consoleLevel(flags);
      ctl.cls = 'console';
      ctl.seq = n;
      ctl.pri = pri;
      if (this.forward) {
        this.forwarded++;
        this.forward({ pri, mid, sid, level, flags, seq: n, time: now, data });
      }
      if (this.consoles.length > 0 || !this.forward) {
        const f = encodeDelivery(ctl, data);
        if (this.consoles.length > 0) for (const c of this.consoles) c.put(f);
        else this.backlogDropped += this.backlog.push(f);
      }
    }
  }

  /** Counters for the STATS request and strlogd -v. */
  stats(): DriverStats {
    const slot = (s: LoggerSlot): LoggerStats => ({
      id: s.id,
      role: s.role,
      pid: s.peer.pid,
      uid: s.peer.uid,
      ids: s.ids,
      seq: s.role === 'trace' ? s.seq : undefined,
      queuedFrames: s.queue.length,
      queuedBytes: s.queue.bytes,
      queueLimit: s.queue.limit,
      enqueued: s.enqueued,
      written: s.written,
      dropped: s.dropped,
    });
    return {
      started: this.started,
      seq: { ...this.seq },
      records: this.records,
      notLogged: this.notLogged,
      malformed: this.malformed,
      demoted: this.demoted,
      loggers: [...(this.errorLogger ? [this.errorLogger] : []), ...this.tracers, ...this.consoles].map(slot),
      backlog: { frames: this.backlog.length, bytes: this.backlog.bytes, limit: this.backlog.limit, dropped: this.backlogDropped },
      forwarded: this.forwarded,
      notices: this.notices,
    };
  }
}

const NONE: LoggerSlot[] = [];

function remove<T>(list: T[], x: T): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}

export interface LoggerStats {
  id: number;
  role: Role | null;
  pid: number;
  uid: number;
  ids: TraceId[];
  /** A tracer's own sequence number. */
  seq?: number;
  queuedFrames: number;
  queuedBytes: number;
  queueLimit: number;
  enqueued: number;
  written: number;
  dropped: number;
}

/** The driver's counters (the STATS reply, JSON). */
export interface DriverStats {
  started: number;
  seq: Record<LogClass, number>;
  records: number;
  notLogged: number;
  malformed: number;
  demoted: number;
  loggers: LoggerStats[];
  backlog: { frames: number; bytes: number; limit: number; dropped: number };
  forwarded: number;
  notices: number;
  /** Added by the server: datagrams received, acks sent, console lines syslog dropped. */
  datagrams?: number;
  acks?: number;
  syslogDropped?: number;
  /** Messages dropped by the limits (LIMITS in strlogd(8)), connections refused over a uid's bound. */
  rateLimited?: number;
  tooLong?: number;
  connectionsRefused?: number;
  /** Messages the senders reported they dropped before the driver. */
  senderLost?: number;
  pid?: number;
}
