// strlogd's sockets around the engine (driver.ts): DIR/submit, a datagram
// socket every local process may send to; DIR/logger, a stream socket on
// which loggers register and receive their messages, and anyone may ask for
// the counters. Who sends is known from the kernel (SCM_CREDENTIALS on
// datagrams, SO_PEERCRED on connections), never from what is sent.
import { createServer, type Server, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Reporter } from '../daemon/index.js';
import { UnixSocket, type Datagram } from '../native.js';
import { defaultSocketPath, UnixTransport } from '../syslog/index.js';
import { boundPaths } from '../daemon/listenfds.js';
import { removeStaleSocket } from '../daemon/sockets.js';
import { listen, ownSocket, removeOwnSockets, StartError } from './sockets.js';

export { StartError };
import { MAX_DATAGRAM, MAX_REQUEST } from './constants.js';
import { peerCredentials, Privileges } from './creds.js';
import { Engine, type ConsoleMessage, type DriverStats, type LoggerSlot, type Origin } from './driver.js';
import { cost, Limiter, LIMITS } from './limits.js';
import { expand, oneLine } from './format.js';
import { loggerPath, submitPath } from './rundir.js';
import {
  decodeData,
  decodeRecord,
  decodeRegister,
  encodeAck,
  encodeReply,
  type Ack,
  type Submission,
  F_ACK,
  F_REGISTER,
  F_STATS,
  F_STATS_REPLY,
  F_SUBMIT,
  IFACE_LOSS,
  IFACE_MODULE,
  IFACE_USER,
  frame,
  FrameReader,
} from './wire.js';

export interface ServerOptions {
  dir: string;
  /** Bound of each logger's queue, bytes. */
  queueBytes: number;
  /** Bound of the console backlog, bytes. */
  backlogBytes: number;
  /** The module group's gid, or null for root only. */
  group: number | null;
  /** Act as the console logger: forward console messages to syslog. */
  forward: boolean;
  report: Reporter;
  /** Sockets the service manager passed (socket activation): served
   * instead of binding DIR/submit and DIR/logger. */
  passed?: number[];
  /** Added to the clock that stamps messages (ttime), in ms: for tests of
   * what happens at midnight, from $STRLOGD_CLOCK_OFFSET. Default 0. */
  clockOffset?: number;
}

interface Conn {
  sock: Socket;
  slot: LoggerSlot;
  reader: FrameReader;
  inflight: boolean;
  closed: boolean;
  lastDropReport: number;
  droppedReported: number;
}

const errno = osConstants.errno;
/** open(2)'s O_PATH (Linux; not in Node's constants): a descriptor that pins a file without opening it. */
/** Bytes written to a logger at once. */
const BATCH = 256 << 10;
/** How long a connection may stay without registering. */
const IDLE_MS = 10_000;
/** Datagrams read per readiness callback before letting other events in. */
const BURST = 256;

export class StrlogServer {
  readonly engine: Engine;
  readonly submitPath: string;
  readonly loggerPath: string;
  private dgram: UnixSocket | null = null;
  private server: Server | null = null;
  private readonly conns = new Set<Conn>();
  private readonly dirty = new Set<Conn>();
  private flushScheduled = false;
  private readonly privileges: Privileges;
  private syslog: UnixTransport | null = null;
  private datagrams = 0;
  private acks = 0;
  private syslogDropped = 0;
  private stopped = false;
  private readonly limiter = new Limiter();
  private housekeeper: NodeJS.Timeout | null = null;
  /** Connections open per uid (root's not counted). */
  private readonly connsOf = new Map<number, number>();
  private connsRefused = 0;
  /** Messages the senders said they dropped before the driver. */
  private senderLost = 0;
  /** The socket paths this server bound (the only ones stop() removes). */
  private readonly bound: { path: string; dev: number; ino: number }[] = [];

  constructor(private readonly opts: ServerOptions) {
    this.submitPath = submitPath(opts.dir);
    this.loggerPath = loggerPath(opts.dir);
    this.privileges = new Privileges(opts.group);
    if (opts.forward) this.syslog = new UnixTransport(defaultSocketPath(), { drop: () => this.syslogDropped++ });
    this.engine = new Engine({
      queueBytes: opts.queueBytes,
      backlogBytes: opts.backlogBytes,
      forward: opts.forward ? (m) => this.forward(m) : null,
      now: opts.clockOffset ? () => Date.now() + opts.clockOffset! : Date.now,
    });
  }

  /** Bind both sockets (removing stale ones: the caller holds the pid lock),
   * or serve on those the service manager passed. */
  async start(): Promise<void> {
    if (this.opts.passed) return this.adopt(this.opts.passed);
    for (const p of [this.submitPath, this.loggerPath]) {
      try {
        removeStaleSocket(p);
      } catch (err) {
        throw new StartError('socket', (err as Error).message);
      }
    }
    // Each socket is born with its mode, 666 (the umask around the binds):
    // a chmod by name afterwards would follow whatever is at the name by
    // then, and in a runtime directory others may write to that can be a
    // link to any file.
    const mask = process.umask(0o111);
    const srv = this.loggerServer();
    let listening: Promise<void>;
    try {
      const d = new UnixSocket();
      try {
        d.bind(this.submitPath);
      } catch (err) {
        d.close();
        throw new StartError('socket', `cannot bind ${this.submitPath}: ${(err as Error).message}`);
      }
      this.serveDatagrams(d);
      this.bound.push({ path: this.submitPath, ...ownSocket(this.submitPath) });
      // listen() binds at once (the callback only says it listens).
      listening = listen(srv, this.loggerPath, this.loggerPath);
    } finally {
      process.umask(mask);
    }
    await listening;
    this.bound.push({ path: this.loggerPath, ...ownSocket(this.loggerPath) });
    this.serving(srv);
  }

  /**
   * Socket activation: serve on the sockets the service manager bound
   * (systemd/strlogd.socket), told apart by the path each is bound to: they
   * must be DIR/submit (a datagram socket) and DIR/logger (a stream
   * socket), and be what start() would have made there, sockets of ours
   * with mode 666. They stay the service manager's: stop() closes them and
   * removes nothing, and messages sent meanwhile wait in them.
   */
  private async adopt(fds: number[]): Promise<void> {
    const at = boundPaths(fds);
    const submit = fds[at.indexOf(this.submitPath)];
    const logger = fds[at.indexOf(this.loggerPath)];
    if (fds.length !== 2 || submit === undefined || logger === undefined) {
      const said = fds.map((fd, i) => `${fd} (${at[i] ?? 'bound to no path'})`).join(', ');
      throw new StartError('socket', `the sockets passed, ${said}, are not ${this.submitPath} and ${this.loggerPath}`);
    }
    for (const p of [this.submitPath, this.loggerPath]) ownSocket(p);
    let d: UnixSocket;
    try {
      d = UnixSocket.fromFd(submit);
    } catch (err) {
      throw new StartError('socket', `the socket passed for ${this.submitPath} (descriptor ${submit}): ${(err as Error).message}`);
    }
    this.serveDatagrams(d);
    const srv = this.loggerServer();
    await listen(srv, { fd: logger }, `the socket passed for ${this.loggerPath} (descriptor ${logger})`);
    this.serving(srv);
  }

  private serveDatagrams(d: UnixSocket): void {
    this.dgram = d;
    d.setReadable(() => void this.onDatagrams());
    // An error on the socket (POLLERR) stops its poll: say it, and listen
    // again on the next turn (the receive that follows clears the error).
    d.setErrorHandler((err) => {
      this.opts.report.error(`${this.submitPath}: ${err.message}`);
      setImmediate(() => {
        if (!this.stopped) d.setReadable(() => void this.onDatagrams());
      });
    });
  }

  private loggerServer(): Server {
    const srv = createServer({ allowHalfOpen: false }, (s) => this.onConnection(s));
    srv.maxConnections = 1024;
    return srv;
  }

  private serving(srv: Server): void {
    this.server = srv;
    srv.on('error', (err) => this.opts.report.error(`${this.loggerPath}: ${err.message}`));
    this.housekeeper = setInterval(() => this.housekeeping(), 1000);
    this.housekeeper.unref();
  }

  /** Close everything and remove the sockets it bound (a strlogd that did
   * not start must not remove those of the one running). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.housekeeper) clearInterval(this.housekeeper);
    this.dgram?.close();
    this.server?.close();
    for (const c of this.conns) c.sock.destroy();
    removeOwnSockets(this.bound);
    this.syslog?.destroy();
  }

  stats(): DriverStats {
    return {
      ...this.engine.stats(),
      datagrams: this.datagrams,
      acks: this.acks,
      syslogDropped: this.syslogDropped,
      rateLimited: this.limiter.rateDropped,
      tooLong: this.limiter.longDropped,
      connectionsRefused: this.connsRefused,
      senderLost: this.senderLost,
      pid: process.pid,
    };
  }

  // ---- submissions ----

  /** Read up to BURST datagrams; true when there may be more. */
  private onDatagrams(): boolean {
    const d = this.dgram;
    if (!d) return false;
    for (let i = 0; i < BURST; i++) {
      let g: Datagram | null;
      try {
        g = d.recv(MAX_DATAGRAM + 1);
      } catch (err) {
        this.opts.report.error(`receiving on ${this.submitPath}: ${(err as Error).message}`);
        return false;
      }
      if (!g) return false;
      this.datagrams++;
      this.onDatagram(g);
    }
    return true;
  }

  private onDatagram(g: Datagram): void {
    const e = this.engine;
    if (g.size > g.data.length || g.pid <= 0) {
      e.malformed++;
      return;
    }
    const origin = { pid: g.pid, privileged: this.privileges.check(g) };
    const buf = g.data;
    let off = 0;
    while (off < buf.length) {
      const r = decodeRecord(buf, off);
      if (!r.ok) {
        e.malformed++;
        if (r.next < 0) return;
        off = r.next;
        continue;
      }
      off = r.next;
      // A token in a datagram is not answered: a datagram's address is a
      // name that may belong to another socket by the time an answer goes
      // (an abstract name given up and taken by another user, a path
      // replaced by a link). Answers go on the connection that asked.
      this.accept(r.sub, origin, g.uid);
    }
  }

  /** A decoded submission through the limits to the engine; its acknowledgement (result 2: a limit dropped it). */
  private accept(sub: Submission, origin: Origin, uid: number): Ack {
    const e = this.engine;
    if (sub.iface === IFACE_LOSS) {
      this.senderLoss(sub, origin, uid);
      return { token: sub.token, result: 0, iface: IFACE_LOSS, flags: 0, mid: 0, sid: 0, seq: { error: 0, trace: 0, console: 0 } };
    }
    const long = sub.bound > LIMITS.maxText;
    if (long || !this.limiter.admit(uid, cost(sub.bound))) {
      e.records++;
      const r = e.reach(sub, origin);
      this.limiter.drop(uid, origin.pid, long ? 'long' : 'rate', r);
      return { token: sub.token, result: 2, iface: r.user ? IFACE_USER : IFACE_MODULE, flags: 0, mid: r.mid, sid: r.sid, seq: { error: 0, trace: 0, console: 0 } };
    }
    return e.submit(sub, origin);
  }

  /**
   * A sender's report of the messages it dropped before they reached the
   * driver (its queue full, no driver, the driver stuck): said at once, in
   * a message of the driver before the sender's next one, to the classes
   * the lost messages were for (and to every tracer: which tracers would
   * have taken them nobody knows). The count is the sender's word, the
   * pid and uid the kernel's. A report costs a token like a message; over
   * the limit, it is said with the uid's other drops, once a second.
   */
  private senderLoss(sub: Submission, origin: Origin, uid: number): void {
    const n = sub.token;
    if (n === 0) return;
    this.senderLost += n;
    const tracers = [...this.engine.tracers];
    if (!this.limiter.admit(uid, 1)) {
      this.limiter.senderLost(uid, origin.pid, n, sub.flags, tracers);
      return;
    }
    this.engine.notice(sub.flags, tracers, 'strlogd: %u %s from pid %d (uid %u) dropped by the sender before they reached the driver', [n, n === 1 ? 'message' : 'messages', origin.pid, uid]);
  }

  /**
   * A SUBMIT on a connection: acknowledged on that connection, the only
   * place an answer can be sure to reach the socket that asked. Datagrams
   * the same process sent before it are handled first: they are in the
   * submit socket's queue already, and would otherwise be overtaken.
   */
  private onSubmit(c: Conn, body: Buffer): void {
    for (let n = 0; n < 64 && this.onDatagrams(); n++);
    const peer = c.slot.peer;
    const origin = { pid: peer.pid, privileged: this.privileges.check(peer) };
    // One record, after at most one loss report.
    let off = 0;
    let ack: Ack | null = null;
    for (let i = 0; i < 2 && off < body.length; i++) {
      const r = decodeRecord(body, off);
      if (!r.ok || (r.sub.iface === IFACE_LOSS) !== (i === 0 && r.next < body.length)) break;
      off = r.next;
      ack = this.accept(r.sub, origin, peer.uid);
    }
    if (!ack || off !== body.length) {
      this.engine.malformed++;
      c.sock.write(encodeReply(errno.EINVAL));
      return;
    }
    this.acks++;
    c.sock.write(frame(F_ACK, encodeAck(ack)));
  }

  /** Once a second: say what the limits dropped, per uid, to the loggers that lost it. */
  private housekeeping(): void {
    for (const d of this.limiter.take()) {
      const n = d.rate + d.long + d.sender;
      this.engine.notice(d.flags, d.tracers, 'strlogd: %u %s from uid %u (pid %d) dropped: %u over its rate limit (%u a second, burst %u), %u longer than %u bytes, %u by the sender', [
        n,
        n === 1 ? 'message' : 'messages',
        d.uid,
        d.lastPid,
        d.rate,
        LIMITS.ratePerSecond,
        LIMITS.burst,
        d.long,
        LIMITS.maxText,
        d.sender,
      ]);
      this.opts.report.error(
        `uid ${d.uid} (pid ${d.lastPid}): ${n} messages dropped: ${d.rate} over its rate limit (${LIMITS.ratePerSecond}/s, burst ${LIMITS.burst}), ${d.long} longer than ${LIMITS.maxText} bytes, ${d.sender} by the sender`,
      );
    }
  }

  private forward(m: ConsoleMessage): void {
    const d = decodeData(m.data);
    const text = d ? oneLine(expand(d.fmt, d.args)) : '';
    this.syslog?.send({ pri: m.pri, time: m.time, ident: 'strlog', msg: `mid ${m.mid} sid ${m.sid}: ${text}` });
  }

  // ---- loggers ----

  private onConnection(sock: Socket): void {
    const cred = peerCredentials(sock) ?? { pid: -1, uid: -1, gid: -1 };
    // A uid's connections are bounded, so that one user cannot take the
    // 1024 a real logger needs (root's are not counted).
    const counted = cred.uid !== 0;
    if (counted) {
      const n = this.connsOf.get(cred.uid) ?? 0;
      if (n >= LIMITS.connectionsPerUid) {
        this.connsRefused++;
        sock.destroy();
        return;
      }
      this.connsOf.set(cred.uid, n + 1);
    }
    const c: Conn = {
      sock,
      slot: null as unknown as LoggerSlot,
      reader: new FrameReader(MAX_REQUEST),
      inflight: false,
      closed: false,
      lastDropReport: 0,
      droppedReported: 0,
    };
    c.slot = this.engine.connect(cred, () => this.schedule(c));
    this.conns.add(c);
    // A connection that neither registers nor asks is closed, so that idle
    // ones cannot use up the connections (1024) a real logger needs.
    sock.setTimeout(IDLE_MS, () => {
      if (c.slot.role === null) sock.destroy();
    });
    sock.on('data', (chunk: Buffer) => this.onRequests(c, chunk));
    sock.on('error', () => {});
    sock.on('close', () => {
      if (counted) {
        const n = (this.connsOf.get(cred.uid) ?? 1) - 1;
        if (n > 0) this.connsOf.set(cred.uid, n);
        else this.connsOf.delete(cred.uid);
      }
      c.closed = true;
      this.conns.delete(c);
      this.dirty.delete(c);
      const s = c.slot;
      if (s.role) {
        this.engine.disconnect(s);
        this.opts.report.info(`${s.role} logger ${s.id} (pid ${s.peer.pid}) gone: ${s.written} written, ${s.dropped} dropped`);
      }
    });
  }

  private onRequests(c: Conn, chunk: Buffer): void {
    for (const f of c.reader.push(chunk)) {
      if (f.type === F_REGISTER) {
        let r: number;
        if (c.slot.role !== null) r = errno.EBUSY;
        else {
          const reg = decodeRegister(f.body);
          if (!reg.ok) r = errno.EINVAL;
          else {
            const why = this.engine.register(c.slot, reg.role, reg.ids, this.privileges.check(c.slot.peer, Date.now()));
            r = why === 0 ? 0 : errno[why];
            const who = `pid ${c.slot.peer.pid}, uid ${c.slot.peer.uid}`;
            if (why === 0) this.opts.report.info(`${reg.role} logger ${c.slot.id} registered (${who})`);
            else this.opts.report.info(`${reg.role} logger refused (${who}): ${why}`);
          }
        }
        c.sock.write(encodeReply(r));
        if (r === 0) c.sock.setTimeout(0);
      } else if (f.type === F_SUBMIT) {
        this.onSubmit(c, f.body);
      } else if (f.type === F_STATS) {
        c.sock.write(frame(F_STATS_REPLY, Buffer.from(JSON.stringify(this.stats()))));
      } else {
        c.sock.write(encodeReply(errno.EINVAL));
      }
    }
    // Not this protocol, or a peer that asks without reading the answers.
    if (c.reader.error || c.sock.writableLength > 1 << 20) c.sock.destroy();
  }

  private schedule(c: Conn): void {
    if (c.inflight) return;
    this.dirty.add(c);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const x of this.dirty) this.flush(x);
      this.dirty.clear();
    });
  }

  /** Write one batch of a logger's queue; the next when the kernel took it. */
  private flush(c: Conn): void {
    if (c.inflight || c.closed) return;
    this.noteDrops(c);
    const frames = c.slot.queue.take(BATCH);
    if (frames.length === 0) return;
    c.inflight = true;
    const buf = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    c.sock.write(buf, (err) => {
      c.inflight = false;
      if (err) return;
      c.slot.written += frames.length;
      this.flush(c);
    });
  }

  /** Say (at most every 10 s per logger) that a logger is too slow. */
  private noteDrops(c: Conn): void {
    const s = c.slot;
    if (s.dropped === c.droppedReported) return;
    const now = Date.now();
    if (now - c.lastDropReport < 10_000) return;
    this.opts.report.error(`${s.role} logger ${s.id} (pid ${s.peer.pid}) is too slow: ${s.dropped - c.droppedReported} messages dropped (${s.dropped} in all)`);
    c.lastDropReport = now;
    c.droppedReported = s.dropped;
  }
}
