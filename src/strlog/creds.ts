// Who is talking to strlogd: the peer credentials of a logger's connection
// (SO_PEERCRED) and whether a process may use the module interface and be a
// logger (root, or a member of the module group). The parsers are pure.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { peercredOf, type Credentials } from '../native.js';
import { parseStatusIds, type StatusIds } from '../proc/status.js';

export { groupId, groupIdIn } from '../daemon/groups.js';

/**
 * Decides and remembers (for `ttl` ms per pid) whether a sender is
 * privileged: uid 0, or the module group among its gid, its effective gid
 * and its supplementary groups. The credentials (kernel-checked) give the
 * pid; /proc/PID/status gives the groups, and must show the same uid, so
 * that a pid reused by another user's process is not taken for the old one.
 */
export class Privileges {
  private cache = new Map<number, { uid: number; gid: number; ok: boolean; until: number }>();
  constructor(
    readonly group: number | null,
    private readonly ttl = 2000,
    private readonly readStatus: (pid: number) => string | null = readStatusFile,
  ) {}

  check(c: Credentials, now = Date.now()): boolean {
    if (c.uid === 0) return true;
    if (this.group === null || c.pid <= 0) return false;
    if (c.gid === this.group) return true;
    const hit = this.cache.get(c.pid);
    if (hit && hit.uid === c.uid && hit.gid === c.gid && hit.until > now) return hit.ok;
    const text = this.readStatus(c.pid);
    let ids: StatusIds | null = null;
    try {
      ids = text === null ? null : parseStatusIds(text);
    } catch {
      /* malformed: not privileged */
    }
    const ok = ids !== null && ids.uid.includes(c.uid) && (ids.gid.includes(this.group) || ids.groups.includes(this.group));
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(c.pid, { uid: c.uid, gid: c.gid, ok, until: now + this.ttl });
    return ok;
  }
}

function readStatusFile(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
}

/** The peer's credentials of an accepted unix stream connection, or null. */
export function peerCredentials(sock: Socket): Credentials | null {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  try {
    return peercredOf(fd);
  } catch {
    return null;
  }
}
