// The client side of the exchange (plog 0.1.0's protocol, plog(1)): bind a
// datagram socket in /tmp, send one request to DIR/plogd_sock, read the
// replies, close and unlink. plog(1) uses it, and so does plogsrvd to ask
// whether a socket file it finds at start-up still has a server.
//
// Two things a local user could do to other users' clients, and why they
// fail here:
//  - squat the client's socket name. plog 0.1.0 bound /tmp/.plog, then
//    /tmp/.plog-2 ... up to a limit: whoever created those names as files
//    stopped every client on the machine. Ours binds a random name
//    (/tmp/.plog.XXXXXXXXXX, from the kernel's random source), which nobody
//    can take in advance; bind() creates it or fails, it never opens what is
//    there. A server of plog 0.1.0 answers it as it answers any address.
//  - pretend to be the server. While no plogsrvd runs, anyone may bind
//    DIR/plogd_sock in a directory others may write to. A client believes
//    only a server socket that belongs to root, to the client's own uid, or
//    to the owner of DIR, and only replies that come from that very socket
//    file (device and inode, whatever the path was spelled) with the
//    credentials of its owner or root.
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UnixSocket, SystemError, type Datagram } from '../native.js';
import { LIST_END, decodeReply } from './protocol.js';

export const SOCKET_NAME = 'plogd_sock';
/** How many client socket names are tried before giving up, by default
 * (plog -s N, 2 to 4095, as plog 0.1.0). With random names, more than one
 * is needed only when a name is taken by chance. */
export const TMP_SOCKET_LIMIT = 25;
export const TMP_SOCKET_MIN = 2;
export const TMP_SOCKET_MAX = 4095;
/** sockaddr_un's sun_path is 108 bytes with its NUL: DIR + "/plogd_sock" must fit. */
export const MAX_DIR_LENGTH = 107 - 1 - SOCKET_NAME.length;
export const DEFAULT_DIR = '/var/local/plog';
/** The client sockets' names: .plog. and ten letters or digits. */
const TMP_PREFIX = '.plog.';

/** Where the client sockets go: /tmp, or $PLOG_TMPDIR (for tests and sandboxes). */
export function tmpSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PLOG_TMPDIR || '/tmp';
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh client socket name in dir: .plog. and ten random letters or digits (51 bits). */
export function tmpSocketPath(dir = tmpSocketDir()): string {
  const b = randomBytes(10);
  let name = TMP_PREFIX;
  for (const x of b) name += ALPHABET[x % 36];
  return join(dir, name);
}

/** Whether a name in the client socket directory is one of ours (or plog 0.1.0's). */
export function isTmpSocketName(name: string): boolean {
  return name === '.plog' || /^\.plog-\d+$/.test(name) || (name.startsWith(TMP_PREFIX) && name.length > TMP_PREFIX.length);
}

export type RequestFailure =
  | 'socket' // could not create the client socket
  | 'bind' // could not bind it
  | 'tmp-sockets' // every name tried was taken
  | 'no-server' // no socket file in the runtime directory
  | 'untrusted' // a socket file, but of a user the client does not trust
  | 'stale' // a socket file, but nobody bound to it (ECONNREFUSED)
  | 'access' // no write permission on the server socket (EACCES)
  | 'send' // another send error
  | 'recv' // a receive error
  | 'timeout'; // no (complete) answer in time

export class RequestError extends Error {
  readonly reason: RequestFailure;
  readonly errno: number;
  constructor(reason: RequestFailure, message: string, errno = 0) {
    super(message);
    this.name = 'RequestError';
    this.reason = reason;
    this.errno = errno;
  }
}

/**
 * Bind a client socket at a fresh random name in dir. A name that is taken
 * (EADDRINUSE: by chance, or by anything at all) is skipped for the next;
 * after `tries` names the client gives up ('tmp-sockets').
 */
export function bindTmpSocket(dir = tmpSocketDir(), tries = TMP_SOCKET_LIMIT): { sock: UnixSocket; path: string } {
  let sock: UnixSocket;
  try {
    sock = new UnixSocket();
  } catch (err) {
    throw new RequestError('socket', `Could not create socket: ${(err as Error).message}`, (err as SystemError).errno);
  }
  for (let n = 1; n <= tries; n++) {
    const path = tmpSocketPath(dir);
    // The server may run as another user: it needs write permission on our
    // socket to answer (replies are checked against the server's identity).
    // The socket is born with mode 777 (umask 0 around the bind): a chmod by
    // name afterwards would follow whatever is at the name by then.
    const mask = process.umask(0);
    try {
      sock.bind(path);
    } catch (err) {
      if ((err as SystemError).code === 'EADDRINUSE') continue;
      sock.close();
      throw new RequestError('bind', `Bind ${path} socket failed: ${(err as SystemError).message.replace(/^.*?: /, '')}`, (err as SystemError).errno);
    } finally {
      process.umask(mask);
    }
    return { sock, path };
  }
  sock.close();
  throw new RequestError('tmp-sockets', `${tries}+ ${join(dir, '.plog')} sockets, exiting.`);
}

/**
 * Client sockets in dir left behind by processes of this uid that died
 * before they could remove them (nothing is bound to them any more). Those
 * of other users do not count: nobody can make another user's client or
 * server stop by leaving sockets around.
 */
export function staleTmpSockets(dir = tmpSocketDir()): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  const me = process.geteuid?.() ?? -1;
  let n = 0;
  for (const name of names) {
    if (!isTmpSocketName(name)) continue;
    const path = join(dir, name);
    let st: Stats;
    try {
      st = statSync(path, { throwIfNoEntry: true });
    } catch {
      continue;
    }
    if (!st.isSocket() || st.uid !== me) continue;
    let probe: UnixSocket | null = null;
    try {
      probe = UnixSocket.connected(path);
    } catch (err) {
      if ((err as SystemError).code === 'ECONNREFUSED') n++;
    } finally {
      probe?.close();
    }
  }
  return n;
}

/** Who a client believes: a server socket of root, of the client's own uid,
 * or of the owner of the runtime directory; null when trusted, else why not. */
export function untrustedServer(socketUid: number, dirUid: number, me = process.geteuid?.() ?? -1): string | null {
  if (socketUid === 0 || socketUid === me || socketUid === dirUid) return null;
  return `it belongs to uid ${socketUid}, who is neither root, you (uid ${me}) nor the owner of the directory (uid ${dirUid})`;
}

export interface RequestOptions {
  /** Reply timeout in milliseconds (plog's -t, in seconds, 3 by default). */
  timeoutMs?: number;
  /** A list request: collect replies until "0000". */
  list?: boolean;
  /** How many client socket names to try (plog -s). */
  tries?: number;
}

/** Send one request to DIR/plogd_sock and resolve with the reply texts: exactly one unless it is a list. */
export async function request(dir: string, req: Buffer, opts?: RequestOptions & { list?: false }): Promise<[reply: string]>;
export async function request(dir: string, req: Buffer, opts: RequestOptions): Promise<string[]>;
export async function request(dir: string, req: Buffer, opts: RequestOptions = {}): Promise<string[]> {
  const server = join(dir, SOCKET_NAME);
  // The socket file that sendto() will reach (following links, as it does):
  // replies must come from that very file, whatever path its server bound
  // (DIR/, DIR//, a symlinked directory, or plog 0.1.0's relative name).
  let st: Stats;
  let dirUid: number;
  try {
    st = statSync(server);
    dirUid = statSync(dir).uid;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new RequestError('no-server', `No plog server found: no socket ${server}.`);
    if (e.code === 'EACCES') throw new RequestError('access', `Permission denied on ${server} (its directory keeps you out).`, 13);
    throw new RequestError('send', `Cannot reach ${server}: ${e.message}`, Math.abs(e.errno ?? 0));
  }
  const distrust = untrustedServer(st.uid, dirUid);
  if (distrust) throw new RequestError('untrusted', `Not asking ${server}: ${distrust}; no plogsrvd of theirs is believed.`);
  const owner = st.uid;
  const isServer = sameFile(st, dir);
  const { sock, path } = bindTmpSocket(tmpSocketDir(), opts.tries);
  const cleanup = (): void => {
    sock.close();
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  // Unlink our socket even when the process is interrupted mid-request.
  const onExit = (): void => cleanup();
  process.once('exit', onExit);

  return new Promise<string[]>((resolve, reject) => {
    const replies: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    let retry: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err: Error | null): void => {
      done = true;
      if (timer) clearTimeout(timer);
      if (retry) clearTimeout(retry);
      process.removeListener('exit', onExit);
      cleanup();
      if (err) reject(err);
      else resolve(replies);
    };
    // A reply counts only when it comes from the server's socket file and
    // from the socket's owner (or root): our socket is world-writable so
    // that a server of another uid can answer, and nobody else may answer
    // for it.
    const fromServer = (d: Datagram): boolean => d.path !== null && (d.uid === owner || d.uid === 0) && isServer(d.path);
    sock.setErrorHandler((err) => finish(new RequestError('recv', `Poll error: ${err.message}`, err.errno)));
    sock.setReadable(() => {
      for (;;) {
        let d: Datagram | null;
        try {
          d = sock.recv(2048);
        } catch (err) {
          finish(new RequestError('recv', `Receive error: ${(err as Error).message}`, (err as SystemError).errno));
          return;
        }
        if (!d) return;
        if (!fromServer(d)) continue;
        const text = decodeReply(d.data);
        if (!opts.list) {
          replies.push(text);
          finish(null);
          return;
        }
        if (text === LIST_END) {
          finish(null);
          return;
        }
        replies.push(text);
        // An old server answers a request it does not know with one line.
      }
    });
    // The server's receive queue is short (net.unix.max_dgram_qlen, often
    // 10): while others fill it, sendto says EAGAIN. Try again, with a
    // growing pause, until the reply timeout: a busy server is not an error.
    let pause = 1;
    const attempt = (): void => {
      if (done) return;
      let r: number;
      try {
        r = sock.trySend(req, server);
      } catch (err) {
        fail(err as SystemError);
        return;
      }
      if (r < 0) {
        retry = setTimeout(attempt, pause);
        pause = Math.min(pause * 2, 50);
      }
    };
    const fail = (e: SystemError): void => {
      const reason: RequestFailure = e.code === 'ECONNREFUSED' ? 'stale' : e.code === 'EACCES' || e.code === 'EPERM' ? 'access' : e.code === 'ENOENT' ? 'no-server' : 'send';
      const words = e.message.replace(/^.*?: /, '');
      const message =
        reason === 'stale'
          ? `Stale socket ${server}: no plogsrvd answers there (${words}).`
          : reason === 'access'
            ? `Permission denied on ${server} (the server's -m mode or group keeps you out).`
            : reason === 'no-server'
              ? `No plog server found: no socket ${server}.`
              : `sendto(${server}) failed: ${words}`;
      finish(new RequestError(reason, message, e.errno));
    };
    attempt();
    if (done) return;
    timer = setTimeout(() => {
      finish(new RequestError('timeout', `No answer from ${server} within ${(opts.timeoutMs ?? 3000) / 1000}s: request timed out.`));
    }, opts.timeoutMs ?? 3000);
  });
}

/**
 * A test of a sender's address: whether it names the socket file st (same
 * device and inode). A relative name is the server's own, bound after it
 * changed to its directory (plog 0.1.0 does). Each name is looked up once.
 */
function sameFile(st: Stats, dir: string): (name: string) => boolean {
  const seen = new Map<string, boolean>();
  return (name) => {
    let v = seen.get(name);
    if (v === undefined) {
      try {
        const s = statSync(isAbsolute(name) ? name : join(dir, name));
        v = s.isSocket() && s.dev === st.dev && s.ino === st.ino;
      } catch {
        v = false;
      }
      if (seen.size < 16) seen.set(name, v);
    }
    return v;
  };
}
