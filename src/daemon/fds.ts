// Descriptor hygiene for daemons (APUE 13.3, rule 6): close what we
// inherited, and decide whether a launcher's stdout/stderr may be kept.
import { closeSync, fstatSync, readdirSync, readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { parseListenFds } from './listenfds.js';

/** O_CLOEXEC as shown in the octal `flags:` line of /proc/PID/fdinfo/N. */
const O_CLOEXEC = 0o2000000;

/**
 * Close every open descriptor above 2 that is NOT close-on-exec, except those
 * in `keep`. Such descriptors were inherited from whoever started the process
 * (a shell's `5>file`, a parent's leaked pipe): Node and libuv open all of
 * their own descriptors with O_CLOEXEC, so they are left alone. The
 * close-on-exec flag is read from /proc/self/fdinfo/N; without /proc nothing
 * is closed. Call it as early as possible in a daemon. The daemon kit calls it
 * for you in the detached copy (see `detach`), keeping its readiness channel.
 * Descriptors passed by a service manager for this process (LISTEN_FDS with
 * LISTEN_PID = our pid, sd_listen_fds(3)) are kept too.
 *
 * @returns the descriptors that were closed, in ascending order.
 */
export function closeInheritedFds(opts: { keep?: Iterable<number> } = {}): number[] {
  const keep = new Set(opts.keep ?? []);
  // Sockets passed by a service manager for us (LISTEN_FDS, LISTEN_PID = our pid) stay.
  const passed = parseListenFds(process.env, process.pid);
  if (passed.ok) for (const l of passed.fds) keep.add(l.fd);
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const fds = names.map(Number).filter((n) => Number.isInteger(n) && n > 2 && !keep.has(n));
  fds.sort((a, b) => a - b);
  const closed: number[] = [];
  for (const fd of fds) {
    const flags = fdFlags(fd);
    if (flags === null || flags & O_CLOEXEC) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // EBADF: it went away (it was readdir's own descriptor); nothing to do.
    }
  }
  return closed;
}

/** open(2) flags of one of our descriptors, from /proc/self/fdinfo (null if unknown). */
export function fdFlags(fd: number): number | null {
  let info: string;
  try {
    info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return null;
  }
  const m = /^flags:\s*([0-7]+)/m.exec(info);
  return m ? parseInt(m[1]!, 8) : null;
}

/**
 * Whether descriptor fd may be handed on to a daemon as its stdout/stderr:
 * only a regular file, a pipe or a socket, never a terminal (nor any other
 * character device), and not a closed descriptor.
 */
export function isKeepableOutput(fd: number): boolean {
  try {
    if (isatty(fd)) return false;
    const st = fstatSync(fd);
    return st.isFile() || st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}
