// plogsrvd's request socket as a file: taking over DIR/plogd_sock (a stale
// or squatted one removed, a live server's left alone), binding it with its
// mode, giving it the group 'plog', adopting one passed by the service
// manager, watching that it is still ours, and removing it at the end.
// Nothing here reads requests (src/plog/server/server.ts does).
import { chownSync, closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { strerror, UnixSocket } from '../../native.js';
import { errorText as words } from '../../errno.js';
import { errCode } from '../../proc/errors.js';
import { groupId, groupLabel } from '../../daemon/groups.js';
import { socketState, type SocketState } from '../../daemon/sockets.js';
import { ExitError, SERVER } from '../exitcodes.js';
import { request, RequestError, staleTmpSockets, TMP_SOCKET_LIMIT, tmpSocketDir, untrustedServer } from '../client.js';
import { encodeQuery, Q_PID } from '../protocol.js';

/** open(2)'s O_PATH (Linux; not in Node's constants): a descriptor that pins a file without opening it. */
const O_PATH = 0o10000000;

/** A socket file's identity: watched, and never answered. */
export interface SocketId {
  dev: number;
  ino: number;
}

export interface BindOptions {
  /** Mode of the socket: 0o770 (default), 0o777 or 0o700. */
  mode?: number;
  /** Give the socket the group 'plog'. */
  plogGroup?: boolean;
  /** Non-fatal start-up warnings. */
  warn?: (message: string) => void;
  /** How long the start-up query of an existing socket waits for an answer. */
  queryTimeoutMs?: number;
}

/** Bind socketPath (in dir) after clearing a stale socket there; its mode and group set. */
export async function bindSocket(dir: string, socketPath: string, o: BindOptions): Promise<{ sock: UnixSocket; own: SocketId }> {
  await clearStaleSocket(dir, socketPath, o);
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
  const mask = process.umask(~(o.mode ?? 0o770) & 0o777);
  try {
    sock.bind(socketPath);
  } catch (err) {
    sock.close();
    if (errCode(err) === 'EADDRINUSE') {
      // Someone bound it between our check and our bind.
      throw new ExitError(SERVER.RUNNING, `Plogsrvd already running on ${socketPath}.`);
    }
    throw new ExitError(SERVER.BIND, `Bind ${socketPath} failed: ${words(err)}`);
  } finally {
    process.umask(mask);
  }
  try {
    return { sock, own: setSocketGroup(socketPath, o) };
  } catch (err) {
    // Whatever is at the name now is not known to be ours: left there.
    sock.close();
    throw err;
  }
}

/** Socket activation: an inherited socket, which must be the one at socketPath. */
export function adoptSocket(fd: number, socketPath: string): { sock: UnixSocket; own: SocketId } {
  let sock: UnixSocket;
  try {
    sock = UnixSocket.fromFd(fd);
  } catch (err) {
    throw new ExitError(SERVER.SOCKET, `Could not use the socket passed as descriptor ${fd}: ${words(err)}`);
  }
  let st;
  try {
    st = lstatSync(socketPath);
  } catch (err) {
    sock.close();
    throw new ExitError(SERVER.SOCKET, `The socket passed as descriptor ${fd} is not at ${socketPath}: ${words(err)}`);
  }
  if (!st.isSocket()) {
    sock.close();
    throw new ExitError(SERVER.SOCKET, `The socket passed as descriptor ${fd} is not at ${socketPath}: not a socket there.`);
  }
  return { sock, own: { dev: st.dev, ino: st.ino } };
}

/** Whether the file at socketPath is still the socket own. */
export function stillOurs(socketPath: string, own: SocketId): boolean {
  let ino = 0;
  let dev = 0;
  try {
    ({ ino, dev } = lstatSync(socketPath));
  } catch {
    /* gone */
  }
  return ino === own.ino && dev === own.dev;
}

/** Remove our socket, but not one that a successor bound in its place.
 * Returns why it could not be removed, or null. */
export function removeSocket(socketPath: string, own: SocketId): string | null {
  try {
    const st = lstatSync(socketPath);
    if (st.ino === own.ino && st.dev === own.dev) unlinkSync(socketPath);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') return `Could not remove ${socketPath}: ${words(err)}`;
  }
  return null;
}

/**
 * What is at DIR/plogd_sock before we bind there (the kit's socketState):
 * nothing; a file that is not a socket, or a socket of a user this server
 * does not trust (neither root, its own uid, nor the directory's owner:
 * someone squatting the name while no server ran), which is removed; a
 * socket nobody serves any more (a connect refused), which is removed; or
 * a live one, asked for its pid as a client would, so that plogsrvd says
 * what plog 0.1.0's says: already running, or why the query failed.
 */
async function clearStaleSocket(dir: string, socketPath: string, o: BindOptions): Promise<void> {
  let dirUid: number;
  try {
    dirUid = statSync(dir).uid;
  } catch {
    return;
  }
  const remove = (why: string): void => {
    try {
      unlinkSync(socketPath);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw new ExitError(SERVER.REMOVE_STALE, `Could not remove ${why}: ${words(e)}`);
    }
  };
  let state: SocketState;
  try {
    state = socketState(socketPath, (uid) => untrustedServer(uid, dirUid) === null);
  } catch {
    state = 'live'; // the connect failed otherwise than refused: the query says how, in plog's words
  }
  if (state === 'none') return;
  if (state === 'foreign' || state === 'not-a-socket') {
    // In a directory others may write to, a name is theirs only while
    // they hold it for a server we believe; this one is taken back.
    let why = 'it is not a socket';
    try {
      why = untrustedServer(lstatSync(socketPath).uid, dirUid) ?? why;
    } catch {
      return; // gone meanwhile
    }
    remove(`${socketPath}, ${why}`);
    o.warn?.(`Removed ${socketPath}: ${why}.`);
    return;
  }
  // A guard against client sockets piling up in /tmp (see plogsrvd(1),
  // EXIT STATUS): only this uid's own, left by its clients that died
  // (nobody else can make a server refuse to start by leaving sockets there).
  const left = staleTmpSockets();
  if (left > TMP_SOCKET_LIMIT) {
    throw new ExitError(SERVER.TMP_SOCKETS, `${TMP_SOCKET_LIMIT}+ ${join(tmpSocketDir(), '.plog')} sockets, exiting: ${left} left by clients of uid ${process.geteuid?.()} that died; remove them.`);
  }
  if (state === 'stale') return remove(`stale socket ${socketPath}`);
  try {
    await request(dir, encodeQuery(Q_PID), { timeoutMs: o.queryTimeoutMs ?? 2000 });
  } catch (err) {
    if (!(err instanceof RequestError)) throw err;
    switch (err.reason) {
      case 'stale':
        return remove(`stale socket ${socketPath}`); // its server ended meanwhile
      case 'no-server':
        return; // it went away meanwhile
      case 'access':
        throw new ExitError(SERVER.RUNNING, `Query existing server failed: sendto(${socketPath}): ${strerror(err.errno || 13)}.`);
      case 'timeout':
        throw new ExitError(SERVER.RUNNING, `Query existing server failed: no answer from ${socketPath}.`);
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
  throw new ExitError(SERVER.RUNNING, `Plogsrvd already running on ${socketPath}.`);
}

/**
 * Pin the socket file just bound with an O_PATH descriptor, check that it
 * is still our socket, give it the group 'plog' through that descriptor
 * (/proc/self/fd/N: a chown by name would follow a symlink put in its
 * place) and return its device and inode, watched from now on.
 */
function setSocketGroup(socketPath: string, o: BindOptions): SocketId {
  let fd: number;
  try {
    fd = openSync(socketPath, O_PATH | fsConstants.O_NOFOLLOW);
  } catch (err) {
    throw new ExitError(SERVER.SOCKET_GONE, `${socketPath} is gone: ${words(err)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isSocket() || st.uid !== process.geteuid?.()) {
      throw new ExitError(SERVER.SOCKET_GONE, `${socketPath} is gone: replaced by another file right after the bind.`);
    }
    if (o.plogGroup) {
      const gid = groupId('plog');
      if (gid === null) {
        // Say who can use it really: its group is the one it was born
        // with, which a setgid directory (Debian's /var/local is
        // root:staff, mode 2775) sets to the directory's.
        o.warn?.(
          `Could not set the group of ${socketPath} to 'plog': no such group; uid ${process.geteuid?.()} and the members of group ${groupLabel(st.gid)} can use it (-m world lets every user ask, -m owner only uid ${process.geteuid?.()}).`,
        );
      } else {
        try {
          chownSync(`/proc/self/fd/${fd}`, -1, gid);
        } catch (err) {
          o.warn?.(`Could not set the group of ${socketPath} to 'plog': ${words(err)}`);
        }
      }
    }
    return { dev: st.dev, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}
