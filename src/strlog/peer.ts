// Who serves the runtime directory's sockets: only strlogd is talked to.
import { statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { closeFd, openPathStat, peercredOf, SystemError, UnixSocket } from '../native.js';
import { resolveRunDir } from './rundir.js';

/** The runtime directory from an option or the environment; throws when unusable. */
export function runDirOf(rundir?: string): string {
  const r = resolveRunDir(rundir);
  if (!r.ok) throw new RangeError(`strlog: ${r.message}`);
  return r.dir;
}

/**
 * Why a client will not talk to what is at the runtime directory's sockets:
 * it is not strlogd. A real strlogd runs as root or as the owner of its
 * runtime directory; a socket of anyone else was put there by another user
 * (in a directory others may write to), who would read the messages and
 * answer in the driver's name.
 */
export class NotDriverError extends Error {
  readonly code = 'EACCES';
}

/** The uids a real strlogd of `dir` runs as: root and the directory's owner. */
function driverUids(dir: string): number[] {
  try {
    return [0, statSync(dir).uid];
  } catch {
    return [0];
  }
}

function notDriver(path: string, uid: number, dir: string): NotDriverError {
  return new NotDriverError(`strlog: ${path} is served by uid ${uid}, neither root nor the owner of ${dir}: not strlogd`);
}

/** Throws NotDriverError when the peer of a connection to DIR/logger is not strlogd (SO_PEERCRED). */
export function checkPeer(sock: Socket, dir: string, path: string): void {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new NotDriverError(`strlog: ${path}: cannot see who serves it`);
  const uid = peercredOf(fd).uid;
  if (!driverUids(dir).includes(uid)) throw notDriver(path, uid, dir);
}

/**
 * A datagram socket connected to DIR/submit, reached without following a
 * link and checked to be a socket of strlogd's uid before anything is sent
 * to it: the connect goes through /proc/self/fd/N of that very file.
 */
export function connectSubmit(dir: string, path: string): UnixSocket {
  const st = openPathStat(path);
  try {
    if (!st.isSocket) throw new SystemError(osConstants.errno.ECONNREFUSED, 'connect', path);
    if (!driverUids(dir).includes(st.uid)) throw notDriver(path, st.uid, dir);
    try {
      return UnixSocket.connected(`/proc/self/fd/${st.fd}`);
    } catch (err) {
      throw err instanceof SystemError ? new SystemError(err.errno, 'connect', path) : err;
    }
  } finally {
    closeFd(st.fd);
  }
}
