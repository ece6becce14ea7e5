// The driver's runtime directory: strlogd -d DIR, the others --rundir DIR,
// else $STRLOGDIR, else /run/strlog. Absolute, and short enough that its
// sockets fit in a sockaddr_un (108 bytes with the NUL).
import { join } from 'node:path';
import { DEFAULT_RUNDIR, LOGGER_SOCKET, SUBMIT_SOCKET } from './constants.js';

/** Longest runtime directory: DIR/submit and DIR/logger under 108 bytes. */
export const MAX_RUNDIR = 107 - 1 - Math.max(SUBMIT_SOCKET.length, LOGGER_SOCKET.length);

export type RunDir = { ok: true; dir: string } | { ok: false; dir: string; message: string };

export function resolveRunDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): RunDir {
  const from = option !== undefined ? 'the runtime directory' : env.STRLOGDIR ? '$STRLOGDIR' : 'the runtime directory';
  const dir = option ?? (env.STRLOGDIR || DEFAULT_RUNDIR);
  if (!dir.startsWith('/')) return { ok: false, dir, message: `${from} must be an absolute path, not '${dir}'` };
  const clean = dir.length > 1 ? dir.replace(/\/+$/, '') || '/' : dir;
  if (Buffer.byteLength(clean) > MAX_RUNDIR) {
    return { ok: false, dir: clean, message: `${from} is too long: ${clean} (at most ${MAX_RUNDIR} bytes, so that its sockets fit in a sockaddr_un)` };
  }
  return { ok: true, dir: clean };
}

export function submitPath(dir: string): string {
  return join(dir, SUBMIT_SOCKET);
}

export function loggerPath(dir: string): string {
  return join(dir, LOGGER_SOCKET);
}
