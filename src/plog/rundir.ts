// The runtime directory, for plogsrvd and plog alike (plogsrvd(1) and plog(1), -d):
// -d DIR, else $PLOGDIR, else /var/local/plog; absolute; short enough that
// DIR/plogd_sock fits in a sockaddr_un.
import { DEFAULT_DIR, MAX_DIR_LENGTH } from './client.js';

export type RunDir = { ok: true; dir: string } | { ok: false; problem: 'too-long' | 'not-absolute' | 'empty'; dir: string; message: string };

export function resolveRunDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): RunDir {
  const fromEnv = option === undefined;
  const dir = option ?? (env.PLOGDIR || DEFAULT_DIR);
  if (dir === '') return { ok: false, problem: 'empty', dir, message: 'The runtime directory is empty.' };
  if (!dir.startsWith('/')) return { ok: false, problem: 'not-absolute', dir, message: `${dir} is not an absolute path, sorry.` };
  // Trailing slashes add nothing: /var/local/plog/ and /var/local/plog name
  // the same socket, and the replies should print the same path.
  const clean = dir.length > 1 ? dir.replace(/\/+$/, '') || '/' : dir;
  if (Buffer.byteLength(clean) > MAX_DIR_LENGTH) {
    return {
      ok: false,
      problem: 'too-long',
      dir: clean,
      message: `${fromEnv && env.PLOGDIR ? '$PLOGDIR' : 'Runtime path'} is too long: ${clean}/plogd_sock must be under 108 bytes (the directory at most ${MAX_DIR_LENGTH}).`,
    };
  }
  return { ok: true, dir: clean };
}
