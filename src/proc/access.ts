/**
 * What /proc would show a user of a process: the test a root daemon applies
 * before it reads, on a user's behalf, what only root may read.
 *
 * /proc/PID/smaps_rollup, maps, io and fd need ptrace read access
 * (ptrace(2), "Ptrace access mode checking", PTRACE_MODE_READ_FSCREDS): the
 * caller's uid must equal the target's real, effective and saved set-user-IDs,
 * the caller's gid its real, effective and saved set-group-IDs, and the
 * target must be dumpable. A set-user-ID or set-group-ID program run by a
 * user, or a process that changed its ids, fails the test: its memory is
 * not the user's to see, so it is not the user's to log either.
 *
 * Dumpability shows in the owner of /proc/PID: the process's effective uid
 * and gid when it is dumpable, root's when it is not (proc(5), the
 * description of /proc/PID and of PR_SET_DUMPABLE in prctl(2)).
 */
import { statSync } from 'node:fs';
import type { StatusIds } from './status.js';

export interface Ids {
  uid: number;
  gid: number;
}

/**
 * Why /proc would not show `who` the memory of a process with these ids and
 * whose /proc/PID has this owner, or null when it would. Root sees all.
 */
export function hiddenFrom(ids: StatusIds, dirOwner: Ids, who: Ids): string | null {
  if (who.uid === 0) return null;
  const [ru, eu, su] = ids.uid;
  const [rg, eg, sg] = ids.gid;
  if (ru !== who.uid || eu !== who.uid || su !== who.uid) {
    return `it runs as uid ${ru}, effective ${eu}, saved ${su} (a set-user-ID program, or one that changed its ids), and /proc shows its memory only to root`;
  }
  if (rg !== who.gid || eg !== who.gid || sg !== who.gid) {
    return `it runs as gid ${rg}, effective ${eg}, saved ${sg}, not your gid ${who.gid} (a set-group-ID program, or one started in another group), and /proc does not show you its memory`;
  }
  if (dirOwner.uid !== who.uid) {
    return 'it is not dumpable (it ran a set-user-ID or set-group-ID program, or made itself so), and /proc shows its memory only to root';
  }
  return null;
}

/** The owner of /proc/PID (see above), or null when it is gone. */
export function procOwner(pid: number, procRoot = '/proc'): Ids | null {
  try {
    const st = statSync(`${procRoot}/${pid}`);
    return { uid: st.uid, gid: st.gid };
  } catch {
    return null;
  }
}
