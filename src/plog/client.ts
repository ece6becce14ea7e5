// The client side of the exchange (spec section 4): bind a datagram socket at
// /tmp/.plog (or .plog-2, .plog-3, ...), send one request to DIR/plogd_sock,
// read the replies, close and unlink. plog(1) uses it, and so does plogsrvd to
// ask whether a socket file it finds at start-up still has a server.
import { realpathSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket, SystemError, type Datagram } from '../native.js';
import { LIST_END, decodeReply } from './protocol.js';

export const SOCKET_NAME = 'plogd_sock';
/** How many /tmp/.plog names a client tries before it gives up (the seed's 25). */
export const TMP_SOCKET_LIMIT = 25;
/** sockaddr_un's sun_path is 108 bytes with its NUL: DIR + "/plogd_sock" must fit. */
export const MAX_DIR_LENGTH = 107 - 1 - SOCKET_NAME.length;
export const DEFAULT_DIR = '/var/local/plog';

/** Where the client sockets go: /tmp, or $PLOG_TMPDIR (for tests and sandboxes). */
export function tmpSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PLOG_TMPDIR || '/tmp';
}

/** The name of the Nth client socket: /tmp/.plog, /tmp/.plog-2, ... */
export function tmpSocketPath(n: number, dir = tmpSocketDir()): string {
  return join(dir, n === 1 ? '.plog' : `.plog-${n}`);
}

export type RequestFailure =
  | 'socket' // could not create the client socket
  | 'bind' // could not bind it
  | 'tmp-sockets' // every /tmp/.plog name is taken
  | 'no-server' // no socket file in the runtime directory
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
 * Bind a client socket at the first free /tmp/.plog name. Two clients racing
 * for a name do not fail: EADDRINUSE means "taken", try the next. A name
 * squatted by anything (another user's file, a link) is simply skipped.
 */
export function bindTmpSocket(dir = tmpSocketDir()): { sock: UnixSocket; path: string } {
  let sock: UnixSocket;
  try {
    sock = new UnixSocket();
  } catch (err) {
    throw new RequestError('socket', `Could not create socket: ${(err as Error).message}`, (err as SystemError).errno);
  }
  for (let n = 1; n <= TMP_SOCKET_LIMIT; n++) {
    const path = tmpSocketPath(n, dir);
    // The server may run as another user: it needs write permission on our
    // socket to answer (replies are checked against the server's identity).
    // The socket is born with mode 777 (umask 0 around the bind): a chmod by
    // name afterwards would follow whatever is at the name by then, and in a
    // directory others may write to (not a sticky /tmp: $PLOG_TMPDIR) that
    // can be a symlink to any file.
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
  throw new RequestError('tmp-sockets', `${TMP_SOCKET_LIMIT}+ ${join(dir, '.plog')} sockets, exiting.`);
}

export interface RequestOptions {
  /** Reply timeout in milliseconds (plog's -t, in seconds, 3 by default). */
  timeoutMs?: number;
  /** A list request: collect replies until "0000". */
  list?: boolean;
}

/** Send one request to DIR/plogd_sock and resolve with the reply texts. */
export async function request(dir: string, req: Buffer, opts: RequestOptions = {}): Promise<string[]> {
  const server = join(dir, SOCKET_NAME);
  let owner: number;
  try {
    owner = statSync(server).uid;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new RequestError('no-server', `No plog server found: no socket ${server}.`);
    if (e.code === 'EACCES') throw new RequestError('access', `Permission denied on ${server} (its directory keeps you out).`, 13);
    throw new RequestError('send', `Cannot reach ${server}: ${e.message}`, Math.abs(e.errno ?? 0));
  }
  // Replies come from the socket's real path: DIR may go through a symlink.
  let real = server;
  try {
    real = realpathSync(server);
  } catch {
    /* answered by the send below */
  }
  const { sock, path } = bindTmpSocket();
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
    // A reply counts only when it comes from the server's socket and from the
    // socket's owner (or root): our socket is world-writable so that a server
    // of another uid can answer, and nobody else may answer for it.
    const fromServer = (d: Datagram): boolean =>
      (d.path === server || d.path === real || d.path === SOCKET_NAME) && (d.uid === owner || d.uid === 0 || d.uid === -1);
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
      const reason: RequestFailure =
        e.code === 'ECONNREFUSED' ? 'stale' : e.code === 'EACCES' || e.code === 'EPERM' ? 'access' : e.code === 'ENOENT' ? 'no-server' : 'send';
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
