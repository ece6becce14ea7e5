// Group lookups for daemons (Node has no getgrnam): who may use a socket of
// mode 770 (plogsrvd's group 'plog'), who belongs to a module group
// (strlogd -g adm). The parser is pure; the lookup reads /etc/group.
import { readFileSync } from 'node:fs';

/** The gid of group `name` in the text of an /etc/group file, or null. */
export function groupIdIn(etcGroup: string, name: string): number | null {
  for (const line of etcGroup.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return null;
}

/** The gid of a group by name (a number is taken as a gid), or null. */
export function groupId(name: string, groupFile = '/etc/group'): number | null {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    return groupIdIn(readFileSync(groupFile, 'utf8'), name);
  } catch {
    return null;
  }
}

/** The name of group `gid` in the text of an /etc/group file, or null. */
export function groupNameIn(etcGroup: string, gid: number): string | null {
  for (const line of etcGroup.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[2] === String(gid) && f[0]) return f[0];
  }
  return null;
}

/** A group for people: `'staff' (gid 50)`, or `gid 50` when it has no name. */
export function groupLabel(gid: number, groupFile = '/etc/group'): string {
  let name: string | null = null;
  try {
    name = groupNameIn(readFileSync(groupFile, 'utf8'), gid);
  } catch {
    /* no group file: the number only */
  }
  return name === null ? `gid ${gid}` : `'${name}' (gid ${gid})`;
}
