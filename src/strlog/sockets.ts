// strlogd's sockets at their names in the runtime directory: the one just
// bound checked to be ours, and at the stop only those removed.
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';

/** O_PATH (open(2)): a descriptor of the name itself, nothing opened through it. */
const O_PATH = 0o10000000;

/** Why start() failed, for the exit code. */
export class StartError extends Error {
  constructor(
    readonly stage: 'socket',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The socket just bound at path, seen through an O_PATH descriptor (no
 * link followed): it must be a socket of ours with mode 666, or another
 * file took its name right after the bind. Its device and inode are what
 * stop() removes, and nothing else.
 */
export function ownSocket(path: string): { dev: number; ino: number } {
  let fd: number;
  try {
    fd = openSync(path, O_PATH | fsConstants.O_NOFOLLOW);
  } catch (err) {
    throw new StartError('socket', `${path} is gone right after the bind: ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isSocket() || st.uid !== process.geteuid?.()) throw new StartError('socket', `${path} was replaced by another file right after the bind`);
    if ((st.mode & 0o777) !== 0o666) throw new StartError('socket', `${path} has mode ${(st.mode & 0o777).toString(8)}, not 666`);
    return { dev: st.dev, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/** Remove the sockets bound (a strlogd that did not start must not remove
 * those of the one running): only a socket with the device and inode bound. */
export function removeOwnSockets(bound: readonly { path: string; dev: number; ino: number }[]): void {
  for (const b of bound) {
    try {
      const st = lstatSync(b.path);
      if (st.isSocket() && st.dev === b.dev && st.ino === b.ino) unlinkSync(b.path);
    } catch {
      // already gone
    }
  }
}

/** The logger server listening on a path or a passed descriptor. */
export function listen(srv: Server, on: string | { fd: number }, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    srv.once('error', (err) => reject(new StartError('socket', `cannot ${typeof on === 'string' ? 'bind' : 'listen on'} ${what}: ${err.message}`)));
    srv.listen(on, () => resolve());
  });
}
