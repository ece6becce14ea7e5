// plogsrvd's engine: the request socket, the registrations and their
// sampling schedules. The program around it (src/cli/plogsrvd.ts) parses
// options and makes the process a daemon; this module never exits the
// process itself: fatal conditions are thrown or handed to onFatal.
import { chownSync, closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { strerror, UnixSocket, SystemError, type Datagram } from '../../native.js';
import { peerOf, Replies, type Peer } from './replies.js';
import { ProcessReader, type RawSample } from '../../proc/reader.js';
import { hiddenFrom, procOwner } from '../../proc/access.js';
import { errCode, errnoWords } from '../../proc/errors.js';
import { CLK_TCK, pageSizeKb } from '../../proc/system.js';
import { formatCmdline } from '../../proc/cmdline.js';
import { formatHeader, formatLine, logBaseName, type TimeForm } from '../log/logline.js';
import { headerBeforeResume } from '../log/logread.js';
import { createLogFile, appendLine, logStillThere, type LogFile } from '../log/logfile.js';
import { MachineLog, logSuffix } from '../log/machine-format.js';
import { TreeLoad, TreeSampler } from '../../proc/tree.js';
import { treeHeader, withProcs } from '../log/treelog.js';
import { ExitError, SERVER } from '../exitcodes.js';
import { DueHeap, onGrid, type Scheduled } from '../engine/schedule.js';
import { pssBudget, pssDue } from '../engine/pss-budget.js';
import { request, RequestError, SOCKET_NAME, staleTmpSockets, TMP_SOCKET_LIMIT, tmpSocketDir, untrustedServer } from '../client.js';
import {
  decodeRequest,
  encodeQuery,
  encodeReply,
  formatInterval,
  LIST_END,
  intervalOk,
  MAX_INTERVAL_MS,
  MAX_REQUEST,
  MAX_EXT_REQUEST,
  type Request,
  MIN_INTERVAL_MS,
  timesWithSeconds,
  type LogFormatName,
  PROTO_EXT,
  Q_LIST,
  Q_PID,
  UNRECOGNIZED,
} from '../protocol.js';
import { groupId, groupLabel } from '../../daemon/groups.js';

export { groupId };

export interface Reporter {
  /** A runtime error (to syslog/stderr as -e says). */
  error(message: string): void;
  /** A timestamped non-error message, shown with -v. */
  info(message: string): void;
}

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
}

/** What taking one sample of a registration needs: the sampling path
 * (sampleTarget), shared by the server's schedule and bench/sampler.ts. */
export interface SampledTarget {
  pid: number;
  /** stat's starttime at registration: a different one means the pid was reused. */
  starttime: number;
  reader: ProcessReader;
  log: LogFile;
  withSeconds: TimeForm;
  /** The previous sample (for CPU%). */
  prev: RawSample;
  /** The sample before it, reused for the next one (none at first). */
  spare?: RawSample;
  /** A csv or jsonl log (--format): its lines instead of formatLine's. */
  machine?: MachineLog;
  /** A tree log (plog --tree): the descendants summed in, a Procs column. */
  tree?: TreeSampler;
  /** Who the log is for, when not root: it ends when /proc would no longer
   * show them the process (it ran a set-user-ID program). */
  ownerUid?: number;
}

/** The Safe PSS budget (PLOG_PSS_BUDGET, src/plog/engine/pss-budget.ts): a fraction, or null for off. */
const PSS_BUDGET = pssBudget(process.env.PLOG_PSS_BUDGET);

/** Why logging of a target ends after a sample, or null to go on. */
export type SampleEnd = { why: string; isError: boolean } | null;

/**
 * Take one sample of t and append its line: check that the log is still
 * linked, read /proc, check the pid was not reused, write the line, and
 * stop after a zombie's line. Returns why logging ends, or null.
 */
export function sampleTarget(t: SampledTarget, pageKb: number): SampleEnd {
  const there = logStillThere(t.log.fd);
  if (there === 'gone') return { why: `Can't find log ${t.log.path}`, isError: true };
  if (there !== 'yes') return { why: `Error checking files ${t.log.path}: ${there.error}`, isError: true };
  // A process that runs a set-user-ID program keeps its pid and start time,
  // and the reader reopens its files after the exec as root: check first
  // that /proc would still show it to whoever asked (src/proc/access.ts).
  if (t.ownerUid !== undefined && t.ownerUid !== 0) {
    const o = procOwner(t.pid);
    if (o && o.uid !== t.ownerUid) {
      return { why: `pid ${t.pid} is no longer readable by uid ${t.ownerUid} (it ran a set-user-ID or set-group-ID program); stopped logging ${t.log.name}`, isError: false };
    }
  }
  let s: RawSample;
  try {
    // PSS only when the budget allows (Safe PSS): else the last values, marked.
    s = t.reader.sample(t.spare, pssDue(t.reader, PSS_BUDGET, performance.now()));
  } catch (err) {
    const code = errCode(err);
    if (code === 'ESRCH' || code === 'ENOENT') return { why: `pid ${t.pid} ended; stopped logging ${t.log.name}`, isError: false };
    return { why: `${(err as Error).message} (pid ${t.pid}, ${t.log.name})`, isError: true };
  }
  if (s.stat.starttime !== t.starttime) {
    return { why: `pid ${t.pid} was reused by another process; stopped logging ${t.log.name}`, isError: false };
  }
  // A process that had an address space and now has none has released its
  // memory on the way out (its stat still reads, its sizes are all 0): a
  // line of zeros would be false. Kernel threads never had one; a zombie's
  // last line (state Z) is written, as the log's end.
  const dead = s.stat.state === 'Z' || s.stat.state === 'X';
  if (s.statm.size === 0 && t.prev.statm.size !== 0 && !dead) {
    return { why: `pid ${t.pid} ended; stopped logging ${t.log.name}`, isError: false };
  }
  // A csv or jsonl log has no mark for a carried PSS: it shows none then.
  if (t.machine && s.smapsStale) s.smaps = null;
  try {
    if (t.tree) {
      const procs = t.tree.addDescendants(s);
      appendLine(t.log.fd, withProcs(formatLine(s, t.prev, { withSeconds: t.withSeconds, pageKb, clkTck: CLK_TCK }), procs));
    } else {
      appendLine(t.log.fd, t.machine ? t.machine.line(s, t.prev) : formatLine(s, t.prev, { withSeconds: t.withSeconds, pageKb, clkTck: CLK_TCK }));
    }
  } catch (err) {
    return { why: `${(err as Error).message} (${t.log.path})`, isError: true };
  }
  t.spare = t.prev;
  t.prev = s;
  if (dead) {
    return { why: `pid ${t.pid} ended (zombie); stopped logging ${t.log.name}`, isError: false };
  }
  return null;
}

/** One registration: a process logged to one file at one interval. */
export interface Target extends SampledTarget, Scheduled {
  id: number;
  intervalMs: number;
  /** Monotonic time (performance.now()) of the next sample. */
  due: number;
  /** uid of whoever registered it: who may stop it. */
  ownerUid: number;
}

/** Observers of the registrations (issue 7's modules: the state file,
 * retention, metrics); each is called synchronously and must not throw. */
export interface ServerHooks {
  /** A log began (a request) or was taken up (resume), its first sample written. */
  registered?(t: Target): void;
  /** A sample was appended to t's log; returning a SampleEnd ends its logging. */
  sampled?(t: Target): SampleEnd | void;
  /** Logging of t ended (for any reason, the server's stop included: then without why). */
  ended?(t: Target, why?: SampleEnd): void;
  /** A selection request (src/plog/ops/select.ts): the reply, or undefined for 'Unrecognized request.'. */
  request?(req: Extract<Request, { kind: 'select' | 'stopby' }>, uid: number, gid: number, pid: number): string | undefined;
}

/** A registration of an earlier run to take up (see PlogServer.resume). */
export interface Resumed {
  pid: number;
  starttime: number;
  intervalMs: number;
  uid: number;
  format: LogFormatName;
  /** A tree log (plog --tree). */
  tree?: boolean;
  /** The existing log, opened for appending and checked by the caller. */
  log: LogFile;
}

/**
 * What one client can make the server hold or do (see REQUESTS in
 * plogsrvd(1)). Every uid but root's has a token bucket of requests; root is
 * not limited (it can stop or trace the daemon anyway), except by the cap on
 * logs, which keeps a runaway root client from using up the descriptors.
 */
export const LIMITS = {
  /** Requests per second per uid (root excepted), sustained ... */
  ratePerSecond: 200,
  /** ... and in a burst. */
  burst: 1000,
  /** Logs being written for one requester uid (root included). */
  logsPerUid: 1024,
  /** Replies queued for the clients of one uid (root excepted); more are dropped. */
  queuedPerUid: 20_000,
  /** Replies queued for one client socket. */
  queuedPerClient: 10_000,
  /** Client sockets of one uid (root excepted) with replies waiting. */
  clientsPerUid: 64,
  /** How long replies wait for a client that reads none of them, ms. */
  patienceMs: 5000,
  /** Replies queued in all: over it the server stops reading requests until
   * half of them are gone (nothing dropped: senders wait). */
  queuedHigh: 100_000,
  /** Datagrams handled in one go before timers (samples) get their turn. */
  perDrain: 256,
  /** A request that keeps the server busy longer costs one more request per
   * this many milliseconds (so one uid gets at most about a fifth of the
   * server's time). */
  msPerRequest: 1,
};

function isList(d: Datagram): boolean {
  return decodeRequest(d.data, d.size).kind === 'list';
}

/** Per-uid accounting of requests and queued replies. */
interface UidState {
  tokens: number;
  /** performance.now() of the last refill. */
  refilled: number;
  /** Requests dropped by the rate limit since the last report. */
  limited: number;
  /** When the last "Rate limited" reply went to this uid (one per second). */
  noticeAt: number;
}
/** open(2)'s O_PATH (Linux; not in Node's constants): a descriptor that pins a file without opening it. */
const O_PATH = 0o10000000;
/** setTimeout's limit; longer waits are chained. */
const MAX_TIMER_MS = 0x7fffffff;
/** One sampling turn lasts at most this long before requests get a turn. */
const TURN_MS = 20;

export class PlogServer {
  readonly dir: string;
  readonly socketPath: string;
  /** Called with the error that ends the server at run time (socket gone, poll failure). */
  onFatal: (err: ExitError) => void = (err) => {
    throw err;
  };

  private readonly opts: ServerOptions;
  /** See ServerHooks. */
  hooks: ServerHooks = {};
  private sock: UnixSocket | null = null;
  /** The socket file's device and inode: watched, and never answered. */
  private own = { dev: -1, ino: -1 };
  private replies: Replies | null = null;
  /** The socket came from the service manager: not ours to remove. */
  private adopted = false;
  private watchTimer: NodeJS.Timeout | null = null;
  private readonly targets = new Map<number, Target>();
  /** Every log's next sample, by due time: one timer for them all. */
  private readonly schedule = new DueHeap<Target>();
  private sampleTimer: NodeJS.Timeout | null = null;
  /** The due time sampleTimer was set for. */
  private sampleTimerAt = Infinity;
  /** In turn(): it sets the timer itself when done. */
  private turning = false;
  private nextId = 1;
  private readonly pageKb: number;
  private stopped = false;
  private readonly uids = new Map<number, UidState>();
  /** Request reading paused because too many replies are queued. */
  private paused = false;
  private readonly counts = { requests: 0, limited: 0, pauses: 0, capped: 0, unanswerable: 0 };
  private fds = -1;
  private fdsAt = -Infinity;
  /** The processes tree logs sum, per uid: each counts as a log against LIMITS.logsPerUid. */
  readonly trees = new TreeLoad((uid) => this.logsOf(uid), () => LIMITS.logsPerUid);

  constructor(opts: ServerOptions) {
    this.opts = opts;
    this.dir = opts.dir;
    this.socketPath = join(opts.dir, SOCKET_NAME);
    this.pageKb = pageSizeKb();
  }

  /** Names of the log files being written (what `plog -l` lists). */
  get logs(): string[] {
    return [...this.targets.values()].map((t) => t.log.name);
  }

  /**
   * Take over DIR/plogd_sock: if a socket file is already there, ask it for
   * its pid as a client would; an answer means another plogsrvd runs there,
   * a refused connection means it is stale and is removed.
   */
  async start(): Promise<void> {
    if (this.opts.socketFd !== undefined) return this.adoptSocket(this.opts.socketFd);
    await this.clearStaleSocket();
    let sock: UnixSocket;
    try {
      sock = new UnixSocket();
    } catch (err) {
      throw new ExitError(SERVER.SOCKET, `Could not create socket: ${words(err)}`);
    }
    // The socket is born with its mode (the umask around the bind): a chmod
    // by name afterwards would follow whatever is at the name by then, and
    // in a runtime directory others may write to (one that is not sticky)
    // that can be a symlink to any file.
    const mask = process.umask(~(this.opts.mode ?? 0o770) & 0o777);
    try {
      sock.bind(this.socketPath);
    } catch (err) {
      sock.close();
      if (errCode(err) === 'EADDRINUSE') {
        // Someone bound it between our check and our bind.
        throw new ExitError(SERVER.RUNNING, `Plogsrvd already running on ${this.socketPath}.`);
      }
      throw new ExitError(SERVER.BIND, `Bind ${this.socketPath} failed: ${words(err)}`);
    } finally {
      process.umask(mask);
    }
    this.sock = sock;
    this.own = this.setSocketGroup();
    this.listen(sock);
  }

  /** Socket activation: serve on an inherited socket bound at socketPath. */
  private adoptSocket(fd: number): void {
    let sock: UnixSocket;
    try {
      sock = UnixSocket.fromFd(fd);
    } catch (err) {
      throw new ExitError(SERVER.SOCKET, `Could not use the socket passed as descriptor ${fd}: ${words(err)}`);
    }
    let st;
    try {
      st = lstatSync(this.socketPath);
    } catch (err) {
      sock.close();
      throw new ExitError(SERVER.SOCKET, `The socket passed as descriptor ${fd} is not at ${this.socketPath}: ${words(err)}`);
    }
    if (!st.isSocket()) {
      sock.close();
      throw new ExitError(SERVER.SOCKET, `The socket passed as descriptor ${fd} is not at ${this.socketPath}: not a socket there.`);
    }
    this.own = { dev: st.dev, ino: st.ino };
    this.adopted = true;
    this.listen(sock);
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
    // Deleting the socket ends the server, with an error (the seed). A stat
    // a second is cheap and, unlike inotify on the directory, is not woken
    // by every line appended to every log.
    this.watchTimer = setInterval(() => {
      this.checkSocket();
      this.housekeeping();
    }, 1000);
  }

  /**
   * What is at DIR/plogd_sock before we bind there: nothing; a socket of a
   * user this server does not trust (neither root, its own uid, nor the
   * directory's owner: someone squatting the name while no server ran),
   * which is removed; or one of a trusted user, asked for its pid as a
   * client would: an answer means another plogsrvd runs there, a refused
   * connection means it is stale and is removed.
   */
  private async clearStaleSocket(): Promise<void> {
    let st: Stats;
    let dirUid: number;
    try {
      st = lstatSync(this.socketPath);
      dirUid = statSync(this.dir).uid;
    } catch {
      return;
    }
    const distrust = untrustedServer(st.uid, dirUid);
    if (distrust) {
      // In a directory others may write to, a name is theirs only while
      // they hold it for a server we believe; this one is taken back.
      try {
        unlinkSync(this.socketPath);
      } catch (e) {
        throw new ExitError(SERVER.REMOVE_STALE, `Could not remove ${this.socketPath}, ${distrust}: ${words(e)}`);
      }
      this.opts.warn?.(`Removed ${this.socketPath}: ${distrust}.`);
      return;
    }
    // The seed's guard against client sockets piling up in /tmp: only this
    // uid's own, left by its clients that died (nobody else can make a
    // server refuse to start by leaving sockets there).
    const stale = staleTmpSockets();
    if (stale > TMP_SOCKET_LIMIT) {
      throw new ExitError(SERVER.TMP_SOCKETS, `${TMP_SOCKET_LIMIT}+ ${join(tmpSocketDir(), '.plog')} sockets, exiting: ${stale} left by clients of uid ${process.geteuid?.()} that died; remove them.`);
    }
    try {
      await request(this.dir, encodeQuery(Q_PID), { timeoutMs: this.opts.queryTimeoutMs ?? 2000 });
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      switch (err.reason) {
        case 'stale':
          try {
            unlinkSync(this.socketPath);
          } catch (e) {
            throw new ExitError(SERVER.REMOVE_STALE, `Could not remove stale socket ${this.socketPath}: ${words(e)}`);
          }
          return;
        case 'no-server':
          return; // it went away meanwhile
        case 'access':
          throw new ExitError(SERVER.RUNNING, `Query existing server failed: sendto(${this.socketPath}): ${strerror(err.errno || 13)}.`);
        case 'timeout':
          throw new ExitError(SERVER.RUNNING, `Query existing server failed: no answer from ${this.socketPath}.`);
        case 'tmp-sockets':
          throw new ExitError(SERVER.TMP_SOCKETS, err.message);
        case 'bind':
          throw new ExitError(SERVER.BIND, err.message);
        case 'socket':
          throw new ExitError(SERVER.SOCKET, err.message);
        default:
          throw new ExitError(SERVER.RUNNING, `Query existing server failed: ${err.message}`);
      }
    }
    throw new ExitError(SERVER.RUNNING, `Plogsrvd already running on ${this.socketPath}.`);
  }

  /**
   * Pin the socket file just bound with an O_PATH descriptor, check that it
   * is still our socket, give it the group 'plog' through that descriptor
   * (/proc/self/fd/N: a chown by name would follow a symlink put in its
   * place) and return its device and inode, watched from now on.
   */
  private setSocketGroup(): { dev: number; ino: number } {
    let fd: number;
    try {
      fd = openSync(this.socketPath, O_PATH | fsConstants.O_NOFOLLOW);
    } catch (err) {
      this.stop();
      throw new ExitError(SERVER.SOCKET_GONE, `${this.socketPath} is gone: ${words(err)}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isSocket() || st.uid !== process.geteuid?.()) {
        this.stop();
        throw new ExitError(SERVER.SOCKET_GONE, `${this.socketPath} is gone: replaced by another file right after the bind.`);
      }
      if (this.opts.plogGroup) {
        const gid = groupId('plog');
        if (gid === null) {
          // Say who can use it really: its group is the one it was born
          // with, which a setgid directory (Debian's /var/local is
          // root:staff, mode 2775) sets to the directory's.
          this.opts.warn?.(
            `Could not set the group of ${this.socketPath} to 'plog': no such group; uid ${process.geteuid?.()} and the members of group ${groupLabel(st.gid)} can use it (-m world lets every user ask, -m owner only uid ${process.geteuid?.()}).`,
          );
        } else {
          try {
            chownSync(`/proc/self/fd/${fd}`, -1, gid);
          } catch (err) {
            this.opts.warn?.(`Could not set the group of ${this.socketPath} to 'plog': ${words(err)}`);
          }
        }
      }
      return { dev: st.dev, ino: st.ino };
    } finally {
      closeSync(fd);
    }
  }

  private checkSocket(): void {
    let ino = 0;
    let dev = 0;
    try {
      ({ ino, dev } = lstatSync(this.socketPath));
    } catch {
      /* gone */
    }
    if (ino !== this.own.ino || dev !== this.own.dev) this.fatal(new ExitError(SERVER.SOCKET_GONE, `${this.socketPath} is gone.`));
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
    for (const t of this.targets.values()) this.end(t);
    this.arm();
    this.replies?.clear();
    if (this.sock) {
      this.sock.close();
      this.sock = null;
      // Remove our socket, but not one that a successor bound in its place.
      if (!this.adopted) try {
        const st = lstatSync(this.socketPath);
        if (st.ino === this.own.ino && st.dev === this.own.dev) unlinkSync(this.socketPath);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') this.opts.report.error(`Could not remove ${this.socketPath}: ${words(err)}`);
      }
    }
  }

  private drain(): void {
    const sock = this.sock;
    // A bounded batch: the socket is polled level-triggered, so what is left
    // comes next turn, after the timers (a flood must not starve sampling).
    for (let n = 0; sock && !this.stopped && !this.paused && n < LIMITS.perDrain; n++) {
      let d: Datagram | null;
      try {
        d = sock.recv(MAX_EXT_REQUEST + 1);
      } catch (err) {
        this.opts.report.error(`recvfrom() failed: ${words(err)}`);
        return;
      }
      if (!d) return;
      // Our own datagrams (never sent on this socket; a name bound to it
      // would only be the start of a loop) are not requests.
      if (d.pid === process.pid) continue;
      this.counts.requests++;
      const peer = this.peer(d);
      if (!this.admit(d, peer)) continue;
      const t0 = performance.now();
      try {
        this.handle(d, peer);
      } catch (err) {
        // A client's request never takes the daemon down.
        this.opts.report.error(`request from pid ${d.pid}: ${(err as Error).message}`);
      }
      // What a request cost is the time it took: a long list, or a log
      // name whose .2 ... .999 are all taken, costs as many requests as the
      // milliseconds it kept the server busy.
      if (d.uid !== 0) this.charge(d.uid, (performance.now() - t0) / LIMITS.msPerRequest - 1);
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
        return reply(this.statsText());
      case 'select':
      case 'stopby':
        return reply(this.hooks.request?.(req, d.uid, d.gid, d.pid) ?? UNRECOGNIZED);
      case 'unrecognized':
        return reply(UNRECOGNIZED);
      case 'malformed':
        this.opts.report.info(`ignored a malformed request from pid ${d.pid}: ${req.reason}`);
        return reply(`Malformed request: ${req.reason}.`);
      case 'stop':
        return reply(this.stopRequest(req.pid, d.uid));
      case 'log':
        if (this.targets.size - this.trees.trees + this.trees.total >= LIMITS.logsPerUid && this.trees.all(d.uid) >= LIMITS.logsPerUid) {
          this.counts.capped++;
          return reply(`Too many logs for uid ${d.uid} (${LIMITS.logsPerUid}): stop some first.`);
        }
        return reply(this.register(req.pid, req.intervalMs, d.uid, d.gid, req.format, req.tree));
    }
  }

  private logsOf(uid: number): number {
    let n = 0;
    for (const t of this.targets.values()) if (t.ownerUid === uid && !t.tree) n++; // tree logs: this.trees
    return n;
  }

  private uidState(uid: number): UidState {
    let u = this.uids.get(uid);
    if (!u) {
      u = { tokens: LIMITS.burst, refilled: performance.now(), limited: 0, noticeAt: -Infinity };
      this.uids.set(uid, u);
    }
    return u;
  }

  /** The rate limit: whether this datagram is handled. A dropped one is
   * counted; its sender (if it has an address and did not ask for a list,
   * whose replies would be taken for log names) hears why at most once a second. */
  private admit(d: Datagram, peer: Peer | null): boolean {
    if (d.uid === 0) return true;
    const u = this.refilled(d.uid);
    const now = u.refilled;
    if (u.tokens >= 1) {
      u.tokens -= 1;
      return true;
    }
    u.limited++;
    this.counts.limited++;
    if (peer && now - u.noticeAt >= 1000 && !isList(d)) {
      u.noticeAt = now;
      this.replies?.send(peer, [encodeReply(`Rate limited: uid ${d.uid} sent more than ${LIMITS.ratePerSecond} requests a second; request dropped.`)]);
    }
    return false;
  }

  /** uid's bucket, filled for the time since it was last. */
  private refilled(uid: number): UidState {
    const u = this.uidState(uid);
    const now = performance.now();
    u.tokens = Math.min(LIMITS.burst, u.tokens + ((now - u.refilled) * LIMITS.ratePerSecond) / 1000);
    u.refilled = now;
    return u;
  }

  /** Server time spent for uid outside its requests (its selections' scans
   * and regular expressions, src/plog/ops/select.ts), charged as a request's
   * time is; whether uid has budget left (root always has). */
  spend(uid: number, ms: number): boolean {
    if (uid === 0) return true;
    this.charge(uid, ms / LIMITS.msPerRequest);
    return this.refilled(uid).tokens >= 1;
  }

  private charge(uid: number, tokens: number): void {
    if (tokens <= 0) return;
    const u = this.uidState(uid);
    u.tokens = Math.max(-LIMITS.burst, u.tokens - tokens);
  }

  /** Once a second: report what the limits dropped, forget idle uids. */
  private housekeeping(): void {
    const now = performance.now();
    for (const [uid, u] of this.uids) {
      if (u.limited > 0) {
        this.opts.report.error(`rate limited uid ${uid}: ${u.limited} requests dropped (over ${LIMITS.ratePerSecond}/s, burst ${LIMITS.burst})`);
        u.limited = 0;
      }
      const full = u.tokens + ((now - u.refilled) * LIMITS.ratePerSecond) / 1000 >= LIMITS.burst;
      if (full && now - u.noticeAt >= 1000) this.uids.delete(uid);
    }
    this.replies?.report();
  }

  /** {0, 19}: what the server holds, for monitoring and for the soak tests. */
  statsText(): string {
    // A log's next sample counts as its timer (one timer serves them all).
    const timers = (this.watchTimer ? 1 : 0) + this.schedule.size + (this.replies?.timers ?? 0);
    // Counting descriptors reads a directory: at most 10 times a second.
    const now = performance.now();
    if (now - this.fdsAt >= 100) {
      this.fdsAt = now;
      try {
        this.fds = readdirSync('/proc/self/fd').length - 1; // less the one readdir opened
      } catch {
        this.fds = -1; // no /proc
      }
    }
    const fds = this.fds;
    const v: Array<[string, number]> = [
      ['pid', process.pid],
      ['logs', this.targets.size],
      ['timers', timers],
      ['outboxes', this.replies?.waiting ?? 0],
      ['queued', this.replies?.queued ?? 0],
      ['uids', Math.max(this.uids.size, this.replies?.uidCount ?? 0)],
      ['requests', this.counts.requests],
      ['rate_limited', this.counts.limited],
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

  /** Register pid for logging; returns the reply text. */
  register(pid: number, intervalMs: number, uid: number, gid: number, format: LogFormatName = 'text', tree = false): string {
    if (tree && format !== 'text') return 'A tree log is a text log: leave out the format.';
    if (!Number.isInteger(pid) || pid <= 0) return `No such process (${pid}).`;
    if (!intervalOk(intervalMs)) {
      return `Invalid interval (${intervalMs} ms): it must be from ${formatInterval(MIN_INTERVAL_MS)} to ${MAX_INTERVAL_MS} ms, or whole minutes.`;
    }
    try {
      lstatSync(`/proc/${pid}`);
    } catch (err) {
      return errCode(err) === 'ENOENT' ? `No such process (${pid}).` : `pid ${pid}: ${words(err)}`;
    }
    let reader: ProcessReader;
    try {
      reader = ProcessReader.open(pid);
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ESRCH') return `No such process (${pid}).`;
      return `Problem logging to ${pid} -- ${(err as Error).message}`;
    }
    let log: LogFile | null = null;
    let machine: MachineLog | undefined;
    let sampler: TreeSampler | undefined;
    try {
      // Who asks: root may log anything, anyone else only their own processes.
      const ids = reader.readStatus();
      if (uid !== 0 && uid !== ids.uid[0] && uid !== ids.uid[1]) {
        reader.close();
        return `pid ${pid}: ${errnoWords({ code: 'EPERM' })}`;
      }
      // ... and only as far as /proc would show them (no set-user-ID program).
      const hidden = hiddenFrom(ids, procOwner(pid) ?? { uid: -1, gid: -1 }, { uid, gid });
      if (hidden) {
        reader.close();
        return `pid ${pid}: not logged for uid ${uid}: ${hidden}.`;
      }
      const first = reader.sample();
      const comm = first.stat.comm;
      const base = `${logBaseName(comm)}.${pid}`;
      // A root server hands the log to the requester, who can then stop it by
      // deleting it even in a sticky directory.
      const owner = process.getuid?.() === 0 && uid > 0 ? { uid, gid } : undefined;
      try {
        log = createLogFile(this.dir, base, owner, undefined, logSuffix(format));
      } catch (err) {
        reader.close();
        return `Problem logging to ${base} -- ${(err as Error).message}`;
      }
      const withSeconds = timesWithSeconds(intervalMs);
      const command = formatCmdline(reader.readCmdline(), comm);
      if (format !== 'text') {
        machine = new MachineLog(pid, format, { pageKb: this.pageKb, clkTck: CLK_TCK });
        appendLine(log.fd, machine.head(command));
        appendLine(log.fd, machine.line(first, null));
      } else if (tree) {
        const name = log.name;
        sampler = new TreeSampler(pid, { owner: uid, load: this.trees, report: (m) => this.opts.report.info(`${name}: ${m}`) });
        const procs = sampler.addDescendants(first);
        appendLine(log.fd, `${command}\n${treeHeader(withSeconds)}`);
        appendLine(log.fd, withProcs(formatLine(first, null, { withSeconds, pageKb: this.pageKb, clkTck: CLK_TCK }), procs));
      } else {
        appendLine(log.fd, Buffer.from(`${command}\n${formatHeader(withSeconds)}`));
        appendLine(log.fd, Buffer.from(formatLine(first, null, { withSeconds, pageKb: this.pageKb, clkTck: CLK_TCK })));
      }
      const t: Target = {
        id: this.nextId++,
        pid,
        starttime: first.stat.starttime,
        reader,
        log,
        intervalMs,
        withSeconds,
        prev: first,
        machine,
        tree: sampler,
        due: onGrid(performance.now() + intervalMs),
        heapIndex: -1,
        ownerUid: uid,
      };
      this.targets.set(t.id, t);
      this.schedule.push(t);
      this.arm();
      this.hooks.registered?.(t);
      this.opts.report.info(`now logging ${log.name} (pid ${pid}, every ${formatInterval(intervalMs)}${format === 'text' ? '' : `, ${format}`}, for uid ${uid})`);
      return `Log file: ${log.path}`;
    } catch (err) {
      reader.close();
      machine?.close();
      sampler?.close();
      if (log) {
        closeQuietly(log.fd);
        // Remove the half-made log so that its name is free again.
        try {
          unlinkSync(log.path);
        } catch {
          /* leave it */
        }
      }
      return `Problem logging to ${log?.name ?? pid} -- ${(err as Error).message}`;
    }
  }

  /** The registrations being logged. */
  registrations(): IterableIterator<Target> {
    return this.targets.values();
  }

  /**
   * Take up a registration of an earlier run (plogsrvd --resume,
   * src/plog/ops/state.ts): the process must still have the same start time; a
   * sample is appended to the existing log at once. Returns null, or why not
   * (the log is then left to the caller to close).
   */
  resume(r: Resumed): string | null {
    let reader: ProcessReader;
    try {
      reader = ProcessReader.open(r.pid);
    } catch (err) {
      return words(err);
    }
    let machine: MachineLog | undefined;
    let sampler: TreeSampler | undefined;
    try {
      if (r.uid !== 0) {
        // The log was made for the requester (src/plog/log/logfile.ts): its group is theirs.
        const hidden = hiddenFrom(reader.readStatus(), procOwner(r.pid) ?? { uid: -1, gid: -1 }, { uid: r.uid, gid: fstatSync(r.log.fd).gid });
        if (hidden) {
          reader.close();
          return `not readable by uid ${r.uid} now: ${hidden}`;
        }
      }
      const first = reader.sample();
      if (first.stat.starttime !== r.starttime) {
        reader.close();
        return `pid ${r.pid} is another process now`;
      }
      const withSeconds = timesWithSeconds(r.intervalMs);
      if (r.format !== 'text') machine = new MachineLog(r.pid, r.format, { pageKb: this.pageKb, clkTck: CLK_TCK });
      if (r.tree) sampler = new TreeSampler(r.pid, { owner: r.uid, load: this.trees, report: (m) => this.opts.report.info(`${r.log.name}: ${m}`) });
      const line = machine ? machine.line(first, null) : formatLine(first, null, { withSeconds, pageKb: this.pageKb, clkTck: CLK_TCK });
      // A text log begun by a version before (day-month dates): this version's header first.
      const head = !machine && headerBeforeResume(r.log.fd) ? (sampler ? treeHeader(withSeconds) : formatHeader(withSeconds)) : '';
      appendLine(r.log.fd, head + (sampler ? withProcs(line, sampler.addDescendants(first)) : line));
      const t: Target = {
        id: this.nextId++,
        pid: r.pid,
        starttime: r.starttime,
        reader,
        log: r.log,
        intervalMs: r.intervalMs,
        withSeconds,
        prev: first,
        machine,
        tree: sampler,
        due: onGrid(performance.now() + r.intervalMs),
        heapIndex: -1,
        ownerUid: r.uid,
      };
      this.targets.set(t.id, t);
      this.schedule.push(t);
      this.arm();
      this.hooks.registered?.(t);
      this.opts.report.info(`resumed logging ${r.log.name} (pid ${r.pid}, every ${formatInterval(r.intervalMs)}, for uid ${r.uid})`);
      return null;
    } catch (err) {
      reader.close();
      machine?.close();
      sampler?.close();
      return (err as Error).message;
    }
  }

  private stopRequest(pid: number, uid: number): string {
    const mine = [...this.targets.values()].filter((t) => t.pid === pid);
    if (mine.length === 0) return `Not logging ${pid}.`;
    const allowed = mine.filter((t) => uid === 0 || t.ownerUid === uid);
    if (allowed.length === 0) return `pid ${pid}: ${errnoWords({ code: 'EPERM' })}`;
    for (const t of allowed) this.finish(t, `stopped logging ${t.log.name} on request of uid ${uid}`, false);
    return allowed.map((t) => `Stopped logging to ${t.log.path}`).join('\n');
  }

  /** Set the one sampling timer for the sample due first (if not set for it already). */
  private arm(): void {
    const next = this.schedule.peek();
    const at = next ? next.due : Infinity;
    if (this.sampleTimer && at === this.sampleTimerAt) return;
    if (this.sampleTimer) clearTimeout(this.sampleTimer);
    this.sampleTimer = null;
    this.sampleTimerAt = at;
    if (!next || this.stopped) return;
    const wait = Math.max(0, at - performance.now());
    this.sampleTimer = setTimeout(() => this.turn(), Math.min(wait, MAX_TIMER_MS));
  }

  /**
   * Sample every log that is due, in due order. Drift-free: the Nth sample
   * is due at start + N x interval, whatever the time each sample took; a
   * sample more than an interval late is skipped. A turn that runs longer
   * than TURN_MS leaves the rest to the next one, right after pending I/O.
   */
  private turn(): void {
    this.sampleTimer = null;
    this.sampleTimerAt = Infinity;
    this.turning = true;
    try {
      const start = performance.now();
      for (;;) {
        const t = this.schedule.peek();
        if (!t || this.stopped) break;
        const now = performance.now();
        // Timers may fire up to a millisecond before their time.
        if (now < t.due - 1) break; // not yet, or a chained long wait
        if (now - start > TURN_MS) break;
        this.schedule.pop();
        const end = sampleTarget(t, this.pageKb);
        if (end) {
          this.finish(t, end.why, end.isError);
          continue;
        }
        const stop = this.hooks.sampled?.(t);
        if (stop) {
          this.finish(t, stop.why, stop.isError);
          continue;
        }
        t.due += t.intervalMs;
        const after = performance.now();
        if (after > t.due) t.due += Math.ceil((after - t.due) / t.intervalMs) * t.intervalMs;
        this.schedule.push(t);
      }
    } finally {
      this.turning = false;
      this.arm();
    }
  }

  /** End the logging of t (a stop by name or log, src/plog/ops/select.ts), said with -v. */
  endLog(t: Target, why: string): void {
    if (this.targets.get(t.id) === t) this.finish(t, why, false);
  }

  private finish(t: Target, why: string, isError: boolean): void {
    if (isError) this.opts.report.error(why);
    else this.opts.report.info(why);
    this.end(t, { why, isError });
  }

  private end(t: Target, why: SampleEnd = null): void {
    this.schedule.remove(t);
    if (!this.turning) this.arm();
    this.targets.delete(t.id);
    this.hooks.ended?.(t, why);
    t.reader.close();
    t.machine?.close();
    t.tree?.close();
    closeQuietly(t.log.fd);
  }
}

function words(err: unknown): string {
  if (err instanceof SystemError) return err.message.replace(/^.*?: /, '');
  return errnoWords(err);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

