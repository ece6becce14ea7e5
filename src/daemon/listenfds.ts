// systemd socket activation (sd_listen_fds(3)): the descriptors a service
// manager passes from 3 on, named by LISTEN_FDS, LISTEN_PID and
// LISTEN_FDNAMES. Parsing, and where a passed socket is bound; the caller
// adopts the descriptors.
import { readFileSync, readlinkSync } from 'node:fs';

/** First descriptor passed (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export interface ListenFd {
  fd: number;
  /** From LISTEN_FDNAMES, else 'unknown' (as sd_listen_fds_with_names). */
  name: string;
}

export type ListenFdsResult = { ok: true; fds: ListenFd[] } | { ok: false; reason: string };

/**
 * The descriptors passed to process `pid` by env. No LISTEN_FDS (or
 * LISTEN_PID naming another process: the variables were inherited, not
 * meant for us) gives an empty list; malformed values give a reason.
 */
export function parseListenFds(env: NodeJS.ProcessEnv, pid: number): ListenFdsResult {
  const nfds = env.LISTEN_FDS;
  const lpid = env.LISTEN_PID;
  if (nfds === undefined || nfds === '') return { ok: true, fds: [] };
  if (lpid !== undefined && lpid !== '') {
    if (!/^[1-9][0-9]*$/.test(lpid)) return { ok: false, reason: `LISTEN_PID is not a pid: '${lpid}'` };
    if (Number(lpid) !== pid) return { ok: true, fds: [] };
  } else {
    return { ok: false, reason: 'LISTEN_FDS without LISTEN_PID' };
  }
  if (!/^[0-9]+$/.test(nfds)) return { ok: false, reason: `LISTEN_FDS is not a number: '${nfds}'` };
  const n = Number(nfds);
  if (n > 1024) return { ok: false, reason: `LISTEN_FDS is too large: ${n}` };
  const names = env.LISTEN_FDNAMES === undefined || env.LISTEN_FDNAMES === '' ? [] : env.LISTEN_FDNAMES.split(':');
  if (names.length > 0 && names.length !== n) {
    return { ok: false, reason: `LISTEN_FDNAMES names ${names.length} descriptors, LISTEN_FDS says ${n}` };
  }
  const fds: ListenFd[] = [];
  for (let i = 0; i < n; i++) fds.push({ fd: LISTEN_FDS_START + i, name: names[i] || 'unknown' });
  return { ok: true, fds };
}

/** Remove the variables so that children do not take them for theirs
 * (sd_listen_fds(unset_environment = 1)). */
export function unsetListenEnv(env: NodeJS.ProcessEnv = process.env): void {
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
}

/**
 * The file system paths the AF_UNIX sockets `fds` are bound to, from the
 * kernel's table of them (/proc/self/net/unix, whose Inode column is the N
 * of socket:[N] that /proc/self/fd/FD reads): null for a descriptor that is
 * no socket, is bound to no path (or to an abstract name), or is not
 * AF_UNIX. Node offers no getsockname() for these; /proc/self stays visible
 * under systemd's ProcSubset=pid.
 */
export function boundPaths(fds: number[]): Array<string | null> {
  const inodes = fds.map((fd) => {
    try {
      return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? null;
    } catch {
      return null;
    }
  });
  const paths = new Map<string, string>();
  let table = '';
  try {
    table = readFileSync('/proc/self/net/unix', 'utf8');
  } catch {
    /* no table: nothing is known to be bound */
  }
  // Num RefCount Protocol Flags Type St Inode Path (unix(7)); a path may hold spaces.
  for (const line of table.split('\n')) {
    const m = /^\S+: \S+ \S+ \S+ \S+ \S+ +(\d+) (\/.*)$/.exec(line);
    if (m) paths.set(m[1]!, m[2]!);
  }
  return inodes.map((ino) => (ino === null ? null : (paths.get(ino) ?? null)));
}
