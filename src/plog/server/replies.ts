// Where plogsrvd's replies go, and how they wait for room.
//
// A datagram's sender address is only a name: the path the client bound. A
// root daemon that sends to that name sends to whatever is there when it
// sends, and a client can put a symlink there, or rename its socket away,
// after asking: the replies (with text the client chose, and uid 0
// credentials) would then reach any socket on the machine, the daemon's own
// included. So a reply goes only to a socket that
//  - was reached at the sender's absolute path without following any link
//    (openat2 RESOLVE_NO_SYMLINKS, src/native.ts openPath),
//  - belongs to the uid the kernel says sent the request (SCM_CREDENTIALS),
//  - is not the daemon's own socket, and did not come from the daemon itself,
//  - and is the same file (device and inode) for every reply to a request:
//    each send goes through `/proc/self/fd/N` of a descriptor opened and
//    checked just before, never through the name.
// A client therefore gets its replies in its own socket or nowhere.
//
// Unix datagram sockets queue only net.unix.max_dgram_qlen messages (often
// 10): a long list fills a client's queue, and the rest wait here, bounded
// per client, per uid and in all, on a monotonic clock.
import { performance } from 'node:perf_hooks';
import { closeFd, errnoOf, openPathStat, SystemError, type Datagram, type UnixSocket } from '../../native.js';
import { errCode, errnoWords } from '../../proc/errors.js';

/** A client the server may answer: its socket file, checked. */
export interface Peer {
  /** The absolute path the client bound, as the kernel reported it. */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** The requester's uid (SCM_CREDENTIALS): the socket's owner too. */
  readonly uid: number;
  /** dev:ino, the key of the client's queue. */
  readonly key: string;
  /**
   * The O_PATH descriptor peerOf() checked, while the request is handled
   * (its replies go through it: no second walk of the path); closed by
   * releasePeer() after, and a later send (a queued reply) opens the path
   * again and checks it is the same file.
   */
  fd: number | undefined;
}

/** Close the descriptor a Peer holds for its request (see Peer.fd). */
export function releasePeer(peer: Peer): void {
  if (peer.fd === undefined) return;
  const fd = peer.fd;
  peer.fd = undefined;
  closeFd(fd);
}

export interface ReplyLimits {
  /** Replies queued for one client socket. */
  perClient: number;
  /** Clients of one uid (root excepted) with replies waiting. */
  clientsPerUid: number;
  /** Replies queued for the clients of one uid (root excepted). */
  perUid: number;
  /** Replies queued in all: over it the server stops reading requests
   * (onPause) until half of them are gone (onResume). */
  high: number;
  /** How long replies wait for a client that reads nothing, ms. */
  patienceMs: number;
}

export interface ReplyEvents {
  /** Said with -v only: a client's own business (gone, unreachable). */
  info(message: string): void;
  /** A runtime error of the server. */
  error(message: string): void;
  /** Too many replies queued: stop reading requests. */
  pause(): void;
  /** Down to half: read requests again. */
  resume(): void;
}

interface Outbox {
  peer: Peer;
  items: Buffer[];
  timer: NodeJS.Timeout | null;
  /** performance.now() after which the client is given up. */
  deadline: number;
  delay: number;
}

interface UidQueue {
  /** Replies queued for this uid's clients. */
  queued: number;
  /** Clients of this uid with an outbox. */
  clients: number;
  /** Replies dropped over perUid or perClient since the last report. */
  overflow: number;
  /** Replies dropped over clientsPerUid since the last report. */
  crowded: number;
}

/** Why no reply can go to the sender of d, or its Peer. */
export function peerOf(d: Datagram, own: { dev: number; ino: number }): Peer | string {
  const path = d.path;
  if (path === null) return 'it is not bound to an address';
  if (path.startsWith('@')) return `its address ${JSON.stringify(path)} is in the abstract namespace, which anyone may take over`;
  if (!path.startsWith('/')) return `its address ${JSON.stringify(path)} is not an absolute path`;
  if (d.pid === process.pid) return 'it is this server';
  let st;
  try {
    st = openPathStat(path);
  } catch (err) {
    return `its socket ${path}: ${pathWords(err)}`;
  }
  let why: string;
  if (!st.isSocket) why = `${path} is not a socket${st.isSymbolicLink ? ' but a symbolic link' : ''}`;
  else if (st.uid !== d.uid) why = `its socket ${path} belongs to uid ${st.uid}, not to the sender (uid ${d.uid})`;
  else if (st.dev === own.dev && st.ino === own.ino) why = `${path} is this server's own socket`;
  else return { path, dev: st.dev, ino: st.ino, uid: d.uid, key: `${st.dev}:${st.ino}`, fd: st.fd };
  closeFd(st.fd);
  return why;
}

function pathWords(err: unknown): string {
  const code = errCode(err);
  if (code === 'ELOOP' || code === 'ENOTDIR') return 'a symbolic link on the way (not followed)';
  if (err instanceof SystemError) return err.message.replace(/^.*?: /, '');
  return errnoWords(err);
}

/**
 * A descriptor of the peer's socket file, checked to be the same file as
 * when the request came: the address to send to is `/proc/self/fd/N`.
 */
class Pinned {
  readonly fd: number;
  readonly address: string;
  /** Whether the descriptor is this one's to close (not the request's: Peer.fd). */
  private readonly owned: boolean;
  constructor(peer: Peer) {
    if (peer.fd !== undefined) {
      // Checked by peerOf() for this very request.
      this.fd = peer.fd;
      this.owned = false;
      this.address = `/proc/self/fd/${this.fd}`;
      return;
    }
    this.owned = true;
    const st = openPathStat(peer.path);
    this.fd = st.fd;
    if (!st.isSocket || st.dev !== peer.dev || st.ino !== peer.ino || st.uid !== peer.uid) {
      closeFd(this.fd);
      throw new SystemError(errnoOf('ESTALE'), 'sendto', peer.path);
    }
    this.address = `/proc/self/fd/${this.fd}`;
  }
  close(): void {
    if (this.owned) closeFd(this.fd);
  }
}

/** The replies of one server socket. */
export class Replies {
  private readonly boxes = new Map<string, Outbox>();
  private readonly uids = new Map<number, UidQueue>();
  private total = 0;
  private paused = false;
  /** Replies dropped in all (a client that does not read, over a bound, gone). */
  dropped = 0;

  constructor(
    private readonly sock: UnixSocket,
    private readonly limits: ReplyLimits,
    private readonly events: ReplyEvents,
  ) {}

  /** Replies waiting in all. */
  get queued(): number {
    return this.total;
  }

  /** Clients with replies waiting. */
  get waiting(): number {
    return this.boxes.size;
  }

  /** Timers of the queues (for the server's stats). */
  get timers(): number {
    let n = 0;
    for (const b of this.boxes.values()) if (b.timer) n++;
    return n;
  }

  /** uids with replies waiting. */
  get uidCount(): number {
    return this.uids.size;
  }

  /**
   * Send the replies of one request, in order: each goes now, or after
   * those already waiting for the same client. Stops at the first that is
   * dropped (a client that cannot take a list's middle should not get its
   * end). Returns how many were sent or queued.
   */
  send(peer: Peer, texts: Buffer[]): number {
    if (texts.length === 0) return 0;
    const box = this.boxes.get(peer.key);
    if (box) return this.enqueueAll(box, texts, 0);
    let pin: Pinned;
    try {
      pin = new Pinned(peer);
    } catch (err) {
      this.gone(peer, err, texts.length);
      return 0;
    }
    try {
      for (let i = 0; i < texts.length; i++) {
        const r = this.trySend(pin, peer, texts[i]!);
        if (r === 'full') {
          const fresh = this.newBox(peer);
          if (!fresh) {
            this.dropped += texts.length - i;
            this.uidQueue(peer.uid).crowded += texts.length - i;
            return i;
          }
          const n = this.enqueueAll(fresh, texts, i);
          if (fresh.items.length > 0) this.retry(fresh);
          else this.removeBox(fresh);
          return i + n;
        }
        if (r === 'failed') {
          this.dropped += texts.length - i - 1;
          return i;
        }
      }
      return texts.length;
    } finally {
      pin.close();
    }
  }

  /** Drop everything (the server stops). */
  clear(): void {
    for (const b of this.boxes.values()) if (b.timer) clearTimeout(b.timer);
    this.boxes.clear();
    this.uids.clear();
    this.total = 0;
  }

  /** Report what the bounds dropped since the last call (once a second). */
  report(): void {
    for (const [uid, u] of this.uids) {
      if (u.overflow > 0) {
        this.events.error(`uid ${uid} does not read its replies: ${u.overflow} dropped (over ${this.limits.perUid} queued)`);
        u.overflow = 0;
      }
      if (u.crowded > 0) {
        this.events.error(`uid ${uid} does not read its replies: ${u.crowded} dropped (over ${this.limits.clientsPerUid} of its sockets waiting)`);
        u.crowded = 0;
      }
      if (u.queued === 0 && u.clients === 0) this.uids.delete(uid);
    }
  }

  private uidQueue(uid: number): UidQueue {
    let u = this.uids.get(uid);
    if (!u) {
      u = { queued: 0, clients: 0, overflow: 0, crowded: 0 };
      this.uids.set(uid, u);
    }
    return u;
  }

  private newBox(peer: Peer): Outbox | null {
    if (peer.uid !== 0) {
      const u = this.uidQueue(peer.uid);
      if (u.clients >= this.limits.clientsPerUid) return null;
      u.clients++;
    }
    const box: Outbox = { peer, items: [], timer: null, deadline: performance.now() + this.limits.patienceMs, delay: 1 };
    this.boxes.set(peer.key, box);
    return box;
  }

  private removeBox(box: Outbox): void {
    if (box.timer) clearTimeout(box.timer);
    box.timer = null;
    if (this.boxes.get(box.peer.key) !== box) return;
    this.boxes.delete(box.peer.key);
    if (box.peer.uid !== 0) {
      const u = this.uids.get(box.peer.uid);
      if (u) u.clients = Math.max(0, u.clients - 1);
    }
  }

  /** Queue texts[from..]; returns how many were queued (the rest dropped). */
  private enqueueAll(box: Outbox, texts: Buffer[], from: number): number {
    const uid = box.peer.uid;
    const u = uid === 0 ? null : this.uidQueue(uid);
    let n = 0;
    for (let i = from; i < texts.length; i++) {
      if (box.items.length >= this.limits.perClient || (u && u.queued >= this.limits.perUid)) {
        this.drop(uid, texts.length - i);
        break;
      }
      box.items.push(texts[i]!);
      if (u) u.queued++;
      this.total++;
      n++;
    }
    if (!this.paused && this.total >= this.limits.high) {
      this.paused = true;
      this.events.pause();
    }
    return n;
  }

  private drop(uid: number, n: number): void {
    this.dropped += n;
    if (uid !== 0) this.uidQueue(uid).overflow += n;
  }

  /** Forget n replies of a box (sent or dropped); resume reading once the
   * queues are down to half the high-water mark. */
  private dequeued(box: Outbox, n: number): void {
    if (n <= 0) return;
    this.total -= n;
    if (box.peer.uid !== 0) {
      const u = this.uids.get(box.peer.uid);
      if (u) u.queued = Math.max(0, u.queued - n);
    }
    if (this.paused && this.total <= this.limits.high / 2) {
      this.paused = false;
      this.events.resume();
    }
  }

  /** 'sent', 'full' (the client's queue is full: try later) or 'failed'. */
  private trySend(pin: Pinned, peer: Peer, data: Buffer): 'sent' | 'full' | 'failed' {
    if (this.sock.isClosed) return 'failed';
    try {
      return this.sock.trySend(data, pin.address) >= 0 ? 'sent' : 'full';
    } catch (err) {
      this.gone(peer, err, 1);
      return 'failed';
    }
  }

  /** The client went away, or its socket was replaced: its business, said
   * with -v only (no client can fill the error log this way). */
  private gone(peer: Peer, err: unknown, n: number): void {
    this.dropped += n;
    const code = errCode(err);
    const why = code === 'ESTALE' ? 'its socket was replaced or removed' : pathWords(err);
    this.events.info(`sendto(${peer.path}) failed: ${why}; ${n} ${n === 1 ? 'reply' : 'replies'} dropped`);
  }

  private retry(box: Outbox): void {
    box.timer = setTimeout(() => {
      box.timer = null;
      const before = box.items.length;
      let pin: Pinned;
      try {
        pin = new Pinned(box.peer);
      } catch (err) {
        this.gone(box.peer, err, before);
        this.dequeued(box, before);
        box.items.length = 0;
        this.removeBox(box);
        return;
      }
      let sent = 0;
      try {
        while (sent < box.items.length) {
          const r = this.trySend(pin, box.peer, box.items[sent]!);
          if (r === 'full') break;
          if (r === 'failed') {
            // gone() counted this one; the rest go with it.
            this.dropped += box.items.length - sent - 1;
            sent = box.items.length;
            break;
          }
          sent++;
        }
      } finally {
        pin.close();
      }
      // One splice, not a shift per reply: a long list is O(n), not O(n^2).
      box.items.splice(0, sent);
      this.dequeued(box, before - box.items.length);
      if (box.items.length === 0) {
        this.removeBox(box);
        return;
      }
      const now = performance.now();
      if (sent > 0) {
        // The client reads: keep up with it, and the patience counts from now.
        box.delay = 1;
        box.deadline = now + this.limits.patienceMs;
      } else if (now > box.deadline) {
        this.events.error(`sendto(${box.peer.path}) failed: the client does not read; ${box.items.length} replies dropped`);
        this.dropped += box.items.length;
        this.dequeued(box, box.items.length);
        box.items.length = 0;
        this.removeBox(box);
        return;
      } else {
        box.delay = Math.min(box.delay * 2, 50);
      }
      this.retry(box);
    }, box.delay);
  }
}
