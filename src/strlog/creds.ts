// Who is talking to strlogd: the peer credentials of a logger's connection
// (SO_PEERCRED) and whether a process may use the module interface and be a
// logger (root, or a member of the module group). The parsers are pure.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import type { Credentials } from '../native.js';

/** The gid of a group by name in /etc/group's text, or null. */
export function groupIdIn(etcGroup: string, name: string): number | null {
  for (const line of etcGroup.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] === name && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return null;
}

/** The gid of a group by name (or a number given as such), or null. */
export function groupId(name: string): number | null {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    return groupIdIn(readFileSync('/etc/group', 'utf8'), name);
  } catch {
    return null;
  }
}

/** The ids in /proc/PID/status: Uid and Gid (real, effective, saved, fs) and Groups. */
export interface StatusIds {
  uids: number[];
  gids: number[];
  groups: number[];
}

/** Parse the Uid, Gid and Groups lines of /proc/PID/status; null when one is missing or bad. */
export function parseStatusIds(text: string): StatusIds | null {
  const field = (name: string): number[] | null => {
    const m = new RegExp(`^${name}:[ \\t]*([\\d \\t]*)$`, 'm').exec(text);
    if (!m) return null;
    const words = m[1]!.trim().split(/\s+/).filter(Boolean);
    return words.map(Number);
  };
  const uids = field('Uid');
  const gids = field('Gid');
  const groups = field('Groups');
  if (!uids || !gids || !groups || uids.length !== 4 || gids.length !== 4) return null;
  return { uids, gids, groups };
}

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
    const ids = text === null ? null : parseStatusIds(text);
    const ok = ids !== null && ids.uids.includes(c.uid) && (ids.gids.includes(this.group) || ids.groups.includes(this.group));
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

// SO_PEERCRED of a net.Socket: src/native.ts gives it only for its own
// UnixSocket, so the addon's function is called here on the socket's fd.
interface PeercredBinding {
  peercred(fd: number): Credentials | number;
}
let binding: PeercredBinding | null = null;

function nativeBinding(): PeercredBinding {
  if (!binding) {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const require = createRequire(import.meta.url);
    binding = (require('node-gyp-build') as (dir: string) => PeercredBinding)(root);
  }
  return binding;
}

/** The peer's credentials of an accepted unix stream connection, or null. */
export function peerCredentials(sock: Socket): Credentials | null {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  const r = nativeBinding().peercred(fd);
  return typeof r === 'number' ? null : r;
}
