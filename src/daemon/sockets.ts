// A daemon's sockets in its runtime directory: what is left at a socket's
// name by an instance that died (a "stale" socket), and a socket another
// user put there (in a directory others may write to), are removed; a
// socket of ours that a server answers on, or a file that is not a socket,
// is not touched.
import { lstatSync, unlinkSync } from 'node:fs';
import { UnixSocket } from '../native.js';

/** What is at a socket's name before a daemon binds it. */
export type SocketState = 'none' | 'stale' | 'live' | 'foreign' | 'not-a-socket';

/**
 * What is at path: 'foreign' for a socket of a uid not trusted (by
 * default any but ours: no instance of ours made it); for one of ours, whether a server answers
 * there, as a client would find it: a connect
 * (datagram, then stream when the socket is a stream one: EPROTOTYPE)
 * that is refused (ECONNREFUSED, connect(2)) means nobody is bound there any
 * more: 'stale'. Other errors of the connect are thrown.
 */
export function socketState(path: string, trusted: (uid: number) => boolean = (uid) => uid === (process.geteuid?.() ?? uid)): SocketState {
  try {
    const st = lstatSync(path);
    if (!st.isSocket()) return 'not-a-socket';
    if (!trusted(st.uid)) return 'foreign';
  } catch {
    return 'none';
  }
  for (const stream of [false, true]) {
    try {
      UnixSocket.connected(path, { stream }).close();
      return 'live';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED') return 'stale';
      if (code === 'ENOENT') return 'none';
      if (code !== 'EPROTOTYPE' || stream) throw err;
    }
  }
  return 'live';
}

/**
 * Make room for binding a socket at path: a stale socket, or another
 * user's, is removed; a live one of ours, or a file that is not a socket,
 * is an error (`code` 'EADDRINUSE'
 * or 'EEXIST') with words for the daemon's message. Take the daemon's
 * single-instance lock first: then no other instance can be binding there.
 */
export function removeStaleSocket(path: string): void {
  const state = socketState(path);
  if (state === 'none') return;
  if (state === 'not-a-socket') throw Object.assign(new Error(`${path} exists and is not a socket`), { code: 'EEXIST' });
  if (state === 'live') throw Object.assign(new Error(`${path} is served by another process`), { code: 'EADDRINUSE' });
  try {
    unlinkSync(path);
  } catch (err) {
    throw Object.assign(new Error(`cannot remove the stale socket ${path}: ${(err as Error).message}`), { code: (err as NodeJS.ErrnoException).code });
  }
}
