// systemd socket activation (sd_listen_fds(3)): the descriptors a service
// manager passes from 3 on, named by LISTEN_FDS, LISTEN_PID and
// LISTEN_FDNAMES. Pure parsing here; the caller adopts the descriptors.

/** First descriptor passed (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export interface ListenFd {
  fd: number;
  /** From LISTEN_FDNAMES, else 'unknown' (as sd_listen_fds_with_names). */
  name: string;
}

export type ListenFdsResult =
  | { ok: true; fds: ListenFd[] }
  | { ok: false; reason: string };

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
