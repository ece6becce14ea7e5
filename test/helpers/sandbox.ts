// A shipped systemd unit's sandbox, rebuilt without systemd for the tests
// (test/daemon-units.test.ts): what can be, from the unit's own lines.
// Rebuilt: CapabilityBoundingSet (setpriv --bounding-set: root keeps only
// those at exec), NoNewPrivileges (setpriv --no-new-privs), ProtectSystem=
// strict with ReadWritePaths and RuntimeDirectory (every mount remounted
// read-only in a mount namespace of its own, the writable directories bound
// again read-write), ProtectHome=read-only|yes, PrivateTmp (a tmpfs on /tmp),
// PrivateDevices (a /dev of null, zero, full, random, urandom, tty and the
// /dev/log link), ProcSubset=pid (a proc mount with subset=pid), UMask. Not
// rebuilt (systemd's seccomp and BPF, argued in the unit's comments instead):
// SystemCallFilter, RestrictAddressFamilies, IPAddressDeny, RestrictNamespaces,
// ProtectKernel*, ProtectClock, ProtectHostname, LockPersonality.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface UnitSandbox {
  caps: string[];
  noNewPrivileges: boolean;
  protectSystem: string;
  readWritePaths: string[];
  runtimeDirectory: string | null;
  protectHome: string;
  privateTmp: boolean;
  privateDevices: boolean;
  procSubset: string;
  umask: string;
}

/** The sandbox directives of a unit file (the last of each wins, as in systemd). */
export function unitSandbox(path: string): UnitSandbox {
  const text = readFileSync(path, 'utf8');
  const last = (key: string): string | undefined => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim()).pop();
  const yes = (key: string): boolean => /^(yes|true|1|on)$/.test(last(key) ?? '');
  return {
    caps: (last('CapabilityBoundingSet') ?? '').split(/\s+/).filter(Boolean),
    noNewPrivileges: yes('NoNewPrivileges'),
    protectSystem: last('ProtectSystem') ?? 'no',
    readWritePaths: (last('ReadWritePaths') ?? '').split(/\s+/).filter(Boolean),
    runtimeDirectory: last('RuntimeDirectory') ?? null,
    protectHome: last('ProtectHome') ?? 'no',
    privateTmp: yes('PrivateTmp'),
    privateDevices: yes('PrivateDevices'),
    procSubset: last('ProcSubset') ?? 'all',
    umask: last('UMask') ?? '0022',
  };
}

/** Exit statuses of the sandbox's own set-up, before the program runs. */
export const NOT_READ_ONLY = 97;
export const NO_PROC_SUBSET = 98;

const SETUP = `
set -u
ro=$1 rw=$2 home=$3 tmp=$4 dev=$5 subset=$6 mask=$7 caps=$8 nnp=$9
shift 9
if [ "$ro" = strict ]; then
  for m in $(awk '{print $2}' /proc/self/mounts | sort -u); do
    case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
    mount -o remount,bind,ro "$m" 2>/dev/null || { mount --bind "$m" "$m" && mount -o remount,bind,ro "$m"; } 2>/dev/null || true
  done
  if touch /.sandbox-probe 2>/dev/null; then rm -f /.sandbox-probe; exit ${NOT_READ_ONLY}; fi
fi
for d in $rw; do mount --bind "$d" "$d" && mount -o remount,bind,rw "$d" || exit 1; done
case $home in
  yes) for h in /home /root /run/user; do [ -d $h ] && mount -t tmpfs -o mode=000 tmpfs $h; done ;;
  read-only) for h in /home /root /run/user; do [ -d $h ] && { mount --bind $h $h; mount -o remount,bind,ro $h; }; done ;;
esac
if [ "$tmp" = yes ]; then mount -t tmpfs -o mode=1777 tmpfs /tmp; mount -t tmpfs -o mode=1777 tmpfs /var/tmp; fi
if [ "$subset" = pid ]; then mount -t proc -o subset=pid proc /proc || exit ${NO_PROC_SUBSET}; fi
if [ "$dev" = yes ]; then
  log=$(readlink -f /dev/log 2>/dev/null || true)
  mount -t tmpfs -o mode=755,nosuid,noexec tmpfs /dev || exit 1
  mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/full c 1 7
  mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/tty c 5 0
  [ -n "$log" ] && ln -s "$log" /dev/log
fi
umask "$mask"
if [ "$nnp" = yes ]; then exec setpriv --bounding-set="$caps" --no-new-privs "$@"; fi
exec setpriv --bounding-set="$caps" "$@"
`;

/**
 * The command (for spawn) that runs `argv` in the unit's sandbox, with
 * `writable` as its ReadWritePaths and RuntimeDirectory. The program keeps
 * the spawned process's pid (everything on the way execs).
 */
export function sandboxed(u: UnitSandbox, writable: string[], argv: string[]): [string, string[]] {
  const caps = ['-all', ...u.caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  const args = [u.protectSystem, writable.join(' '), u.protectHome, u.privateTmp ? 'yes' : 'no', u.privateDevices ? 'yes' : 'no', u.procSubset, u.umask, caps, u.noNewPrivileges ? 'yes' : 'no'];
  // Coverage (npm run test:coverage) is not collected inside: V8 would write
  // its profile into a directory the sandbox makes read-only, and say so on
  // stderr, which the tests read. env execs, so the pid stays the program's.
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SETUP, 'sandbox', ...args, 'env', '-u', 'NODE_V8_COVERAGE', ...argv]];
}

/** Why the sandbox cannot be rebuilt here, or null when it can. */
export function sandboxUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (mount namespaces)';
  for (const tool of ['unshare', 'setpriv']) if (spawnSync(tool, ['--version']).status !== 0) return `${tool} (util-linux) is not installed`;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t proc -o subset=pid proc /proc'], { encoding: 'utf8' });
  if (r.status !== 0) return `no mount namespace with a /proc of subset=pid here: ${r.stderr.trim()}`;
  return null;
}
