// plogsrvd's socket front: the server that wires the engine
// (src/plog/engine/registry.ts) to the request socket. It receives
// datagrams with their senders' credentials, admits them under the per-uid
// rate limits, decodes them, hands them to the engine and queues the
// replies (src/plog/server/replies.ts). The program around it
// (src/cli/plogsrvd.ts) parses options and makes the process a daemon; this
// module never exits the process itself: fatal conditions are thrown or
// handed to onFatal.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Datagram, UnixSocket } from '../../native.js';
import { errorText as words } from '../../errno.js';
import { peerOf, releasePeer, Replies, type Peer } from './replies.js';
import { adoptSocket, bindSocket, removeSocket, stillOurs, type SocketId } from './socket.js';
import { ExitError, SERVER } from '../exitcodes.js';
import { SOCKET_NAME } from '../client.js';
import { decodeRequest, encodeReply, LIST_END, MAX_EXT_REQUEST, PROTO_EXT, UNRECOGNIZED } from '../protocol.js';
import { LIMITS } from '../engine/limits.js';
import { Registry, type Reporter } from '../engine/registry.js';

export interface ServerOptions {
  /** The runtime directory: absolute, already checked. */
  dir: string;
  /** Mode of the socket: 0o770 (default), 0o777 (-m world) or 0o700 (-m owner). */
  mode?: number;
  /** Give the socket the group 'plog' (with the default mode). */
  plogGroup?: boolean;
  report: Reporter;
  /** Non-fatal start-up warnings, shown on stderr before the daemon detaches. */
  warn?: (message: string) => void;
  version: string;
  /** How long the start-up query of an existing socket waits for an answer. */
  queryTimeoutMs?: number;
  /** A datagram socket passed by the service manager (socket activation,
   * src/daemon/listenfds.ts), bound at DIR/plogd_sock: used instead of
   * binding one, and left in place at the end (it is the manager's). */
  socketFd?: number;
  /** The Safe PSS budget (src/plog/engine/pss-budget.ts): a fraction, or
   * null to read PSS at every sample; the engine's default when left out. */
  pssBudget?: number | null;
}

function isList(d: Datagram): boolean {
  return decodeRequest(d.data, d.size).kind === 'list';
}

export class PlogServer {
  readonly dir: string;
  readonly socketPath: string;
  /** The registrations and their schedule. */
  readonly registry: Registry;
  /** Called with the error that ends the server at run time (socket gone, poll failure). */
  onFatal: (err: ExitError) => void = (err) => {
    throw err;
  };

  private readonly opts: ServerOptions;
  private sock: UnixSocket | null = null;
  /** The socket file's device and inode: watched, and never answered. */
  private own: SocketId = { dev: -1, ino: -1 };
  private replies: Replies | null = null;
  /** The socket came from the service manager: not ours to remove. */
  private adopted = false;
  private watchTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Request reading paused because too many replies are queued. */
  private paused = false;
  private readonly counts = { requests: 0, pauses: 0, capped: 0, unanswerable: 0 };
  private fds = -1;
  private fdsAt = -Infinity;
  /** Where each request is received: it is decoded before the next comes. */
  private readonly rbuf = Buffer.alloc(MAX_EXT_REQUEST + 1);

  constructor(opts: ServerOptions) {
    this.opts = opts;
    this.dir = opts.dir;
    this.socketPath = join(opts.dir, SOCKET_NAME);
    this.registry = new Registry({ dir: opts.dir, report: opts.report, pssBudget: opts.pssBudget });
  }

  /** Names of the log files being written (what `plog -l` lists). */
  get logs(): string[] {
    return this.registry.logs;
  }

  /** Processes being logged (the host log's count each). */
  get logCount(): number {
    return this.registry.size;
  }

  /**
   * Take over DIR/plogd_sock: if a socket file is already there, ask it for
   * its pid as a client would; an answer means another plogsrvd runs there,
   * a refused connection means it is stale and is removed.
   */
  async start(): Promise<void> {
    if (this.opts.socketFd !== undefined) {
      const { sock, own } = adoptSocket(this.opts.socketFd, this.socketPath);
      this.adopted = true;
      this.own = own;
      this.listen(sock);
      return;
    }
    try {
      const { sock, own } = await bindSocket(this.dir, this.socketPath, this.opts);
      this.own = own;
      this.listen(sock);
    } catch (err) {
      if (err instanceof ExitError && err.exitCode === SERVER.SOCKET_GONE.code) this.stop();
      throw err;
    }
  }

  private listen(sock: UnixSocket): void {
    this.sock = sock;
    this.replies = new Replies(
      sock,
      {
        perClient: LIMITS.queuedPerClient,
        clientsPerUid: LIMITS.clientsPerUid,
        perUid: LIMITS.queuedPerUid,
        high: LIMITS.queuedHigh,
        patienceMs: LIMITS.patienceMs,
      },
      {
        info: (m) => this.opts.report.info(m),
        error: (m) => this.opts.report.error(m),
        pause: () => {
          this.paused = true;
          this.counts.pauses++;
          sock.setReadable(null);
        },
        resume: () => {
          this.paused = false;
          if (!this.stopped) sock.setReadable(() => this.drain());
        },
      },
    );
    sock.setErrorHandler((err) => this.fatal(new ExitError(SERVER.POLL, `Poll() failed: ${err.message.replace(/^poll: /, '')}`)));
    sock.setReadable(() => this.drain());
    // Deleting the socket ends the server, with an error (plogsrvd(1),
    // EXIT STATUS). A stat a second is cheap and, unlike inotify on the
    // directory, is not woken by every line appended to every log.
    this.watchTimer = setInterval(() => {
      if (!stillOurs(this.socketPath, this.own)) this.fatal(new ExitError(SERVER.SOCKET_GONE, `${this.socketPath} is gone.`));
      this.registry.limits.housekeeping((m) => this.opts.report.error(m));
      this.replies?.report();
    }, 1000);
  }

  private fatal(err: ExitError): void {
    if (this.stopped) return;
    this.stop();
    this.onFatal(err);
  }

  /** End every registration, close and remove the socket. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.registry.stop();
    this.replies?.clear();
    if (this.sock) {
      this.sock.close();
      this.sock = null;
      const why = this.adopted ? null : removeSocket(this.socketPath, this.own);
      if (why) this.opts.report.error(why);
    }
  }

  /** {0, 19}: what the server holds, for monitoring and for the soak tests. */
  statsText(asker: Peer | null = null): string {
    // A log's next sample counts as its timer (one timer serves them all).
    const timers = (this.watchTimer ? 1 : 0) + this.registry.scheduled + (this.replies?.timers ?? 0);
    // Counting descriptors reads a directory: at most 10 times a second.
    const now = performance.now();
    if (now - this.fdsAt >= 100) {
      this.fdsAt = now;
      try {
        // Less the one readdir opened, and the asker's socket held for this reply.
        this.fds = readdirSync('/proc/self/fd').length - 1 - (asker?.fd !== undefined ? 1 : 0);
      } catch {
        this.fds = -1; // no /proc
      }
    }
    const fds = this.fds;
    const v: Array<[string, number]> = [
      ['pid', process.pid],
      ['logs', this.registry.size],
      ['timers', timers],
      ['outboxes', this.replies?.waiting ?? 0],
      ['queued', this.replies?.queued ?? 0],
      ['uids', Math.max(this.registry.limits.size, this.replies?.uidCount ?? 0)],
      ['requests', this.counts.requests],
      ['rate_limited', this.registry.limits.limited],
      ['replies_dropped', this.replies?.dropped ?? 0],
      ['unanswerable', this.counts.unanswerable],
      ['logs_refused', this.counts.capped],
      ['pauses', this.counts.pauses],
      ['paused', this.paused ? 1 : 0],
      ['fds', fds],
      ['rss_kb', Math.round(process.memoryUsage.rss() / 1024)],
    ];
    return `plogsrvd stats ${v.map(([k, n]) => `${k}=${n}`).join(' ')}`;
  }

  private drain(): void {
    const sock = this.sock;
    // A bounded batch: the socket is polled level-triggered, so what is left
    // comes next turn, after the timers (a flood must not starve sampling).
    for (let n = 0; sock && !this.stopped && !this.paused && n < LIMITS.perDrain; n++) {
      let d: Datagram | null;
      try {
        d = sock.recv(MAX_EXT_REQUEST + 1, this.rbuf);
      } catch (err) {
        this.opts.report.error(`recvfrom() failed: ${words(err)}`);
        return;
      }
      if (!d) return;
      // Our own datagrams (never sent on this socket; a name bound to it
      // would only be the start of a loop) are not requests.
      if (d.pid === process.pid) continue;
      this.counts.requests++;
      // Who may hear a reply is looked at (a path walked, a file checked)
      // only once the rate limit let the request in, or to tell it why not:
      // a flood's dropped datagrams cost no system call.
      let peer: Peer | null | undefined;
      const peerOfD = (): Peer | null => (peer === undefined ? (peer = this.peer(d)) : peer);
      const t0 = performance.now();
      try {
        if (!this.admit(d, peerOfD)) continue;
        this.handle(d, peerOfD());
      } catch (err) {
        // A client's request never takes the daemon down.
        this.opts.report.error(`request from pid ${d.pid}: ${(err as Error).message}`);
      } finally {
        if (peer) releasePeer(peer);
      }
      // What a request cost is the time it took: a long list, or a log
      // name whose .2 ... .999 are all taken, costs as many requests as the
      // milliseconds it kept the server busy.
      this.registry.limits.charged(d.uid, performance.now() - t0);
    }
  }

  /** Where d's replies may go (see src/plog/server/replies.ts), or null: none. */
  private peer(d: Datagram): Peer | null {
    if (d.path === null) return null; // unbound: nobody to answer
    const p = peerOf(d, this.own);
    if (typeof p === 'string') {
      this.counts.unanswerable++;
      this.opts.report.info(`no reply to pid ${d.pid} (uid ${d.uid}): ${p}`);
      return null;
    }
    return p;
  }

  /** The rate limit: whether this datagram is handled. Its sender (if it has
   * an address and did not ask for a list, whose replies would be taken for
   * log names) hears why it was dropped, at most once a second. */
  private admit(d: Datagram, peer: () => Peer | null): boolean {
    const a = this.registry.limits.admit(d.uid, () => !isList(d) && peer() !== null);
    const p = a === 'tell' ? peer() : null;
    if (p) {
      this.replies?.send(p, [encodeReply(`Rate limited: uid ${d.uid} sent more than ${LIMITS.ratePerSecond} requests a second; request dropped.`)]);
    }
    return a === 'admit';
  }

  private handle(d: Datagram, peer: Peer | null): void {
    const req = decodeRequest(d.data, d.size);
    const reply = (text: string): void => {
      if (peer) this.replies?.send(peer, [encodeReply(text)]);
    };
    switch (req.kind) {
      case 'list':
        if (!peer) return;
        // The replies stop at the first that is dropped: the client would
        // not get a complete list anyway.
        this.replies?.send(peer, [...this.logs.map(encodeReply), encodeReply(LIST_END)]);
        return;
      case 'pid':
        return reply(String(process.pid));
      case 'dir':
        return reply(this.dir);
      case 'hello':
        return reply(`plogsrvd ${this.opts.version} ext ${PROTO_EXT}`);
      case 'stats':
        return reply(this.statsText(peer));
      case 'select':
      case 'stopby':
        return reply(this.registry.hooks.request?.(req, d.uid, d.gid, d.pid) ?? UNRECOGNIZED);
      case 'unrecognized':
        return reply(UNRECOGNIZED);
      case 'malformed':
        this.opts.report.info(`ignored a malformed request from pid ${d.pid}: ${req.reason}`);
        return reply(`Malformed request: ${req.reason}.`);
      case 'stop':
        return reply(this.registry.stopPid(req.pid, d.uid));
      case 'log':
        if (this.registry.full(d.uid)) {
          this.counts.capped++;
          return reply(`Too many logs for uid ${d.uid} (${LIMITS.logsPerUid}): stop some first.`);
        }
        return reply(this.registry.register(req.pid, req.intervalMs, d.uid, d.gid, req.format, req.tree));
    }
  }
}
