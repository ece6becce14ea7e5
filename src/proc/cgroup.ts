// The memory cgroup of a process and the limits it is held to, for plogsrvd
// --metrics (src/plog/ops/metrics.ts). /proc/PID/cgroup names the process's
// cgroup on each hierarchy (cgroups(7)); the limit and the usage are files
// in that cgroup's directory under /sys/fs/cgroup: memory.max and
// memory.current on the unified hierarchy (cgroup v2), memory.limit_in_bytes
// and memory.usage_in_bytes on v1's memory hierarchy. A process is held to
// every limit on the way up to the root, so each cgroup there with a limit
// counts, not only its own.
import { closeSync, constants as C, existsSync, openSync, readSync } from 'node:fs';

export interface ProcCgroup {
  /** Which hierarchy has the memory controller. */
  version: 1 | 2;
  /** The path in that hierarchy, as /proc/PID/cgroup gives it: /system.slice/foo.service. */
  path: string;
}

/** Where the hierarchies are mounted (tests point them at a directory of their own). */
export interface CgroupRoots {
  v1Memory: string;
  v2: string;
}

/** The usual mounts: v2 at /sys/fs/cgroup, or at /sys/fs/cgroup/unified beside v1 (systemd's hybrid layout). */
export function defaultRoots(): CgroupRoots {
  return {
    v1Memory: '/sys/fs/cgroup/memory',
    v2: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified',
  };
}

/** A path of the reader's own cgroup namespace: absolute, no . or .. segment (a process outside the namespace shows as /../..). */
function cleanPath(p: string): boolean {
  if (!p.startsWith('/') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '.' && seg !== '..');
}

/**
 * The memory cgroup in /proc/PID/cgroup's text: v1's line whose controller
 * list has memory, else v2's 0:: line. The kernel writes a path unescaped,
 * so a cgroup named with a newline (a user may name the cgroups delegated to
 * them) could add a line: two candidate lines give null rather than a guess.
 */
export function parseProcCgroup(text: string): ProcCgroup | null {
  const v1: string[] = [];
  const v2: string[] = [];
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const path = line.slice(b + 1);
    if (line.slice(0, b) === '0:') v2.push(path);
    else if (
      line
        .slice(a + 1, b)
        .split(',')
        .includes('memory')
    )
      v1.push(path);
  }
  if (v1.length > 1 || v2.length > 1) return null;
  const found: ProcCgroup | null = v1[0] !== undefined ? { version: 1, path: v1[0] } : v2[0] !== undefined ? { version: 2, path: v2[0] } : null;
  return found && cleanPath(found.path) ? found : null;
}

/** The path and its ancestors, itself first, the root left out (it has no limit). */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = path.replace(/\/+$/, ''); p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) out.push(p);
  return out;
}

const small = Buffer.alloc(64);

/** A small sysfs or procfs file's text, or null when it cannot be read. Never follows a symlink. */
export function readSmall(path: string, buf: Buffer = small): string | null {
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    let n = 0;
    for (;;) {
      const k = readSync(fd, buf, n, buf.length - n, null);
      if (k === 0) break;
      n += k;
      if (n === buf.length) return null; // not the small file expected
    }
    return buf.toString('latin1', 0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** v1 writes "no limit" as the largest page count in bytes (9223372036854771712 with 4 KiB pages). */
const V1_UNLIMITED = 2 ** 62;

function bytesOf(text: string | null): number | null {
  if (text === null) return null;
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** A cgroup's memory limit in bytes: null for none ("max", v1's huge value) or when it cannot be read. */
export function memoryLimit(cg: ProcCgroup, roots: CgroupRoots): number | null {
  const v = cg.version === 2 ? bytesOf(readSmall(`${roots.v2}${cg.path}/memory.max`)) : bytesOf(readSmall(`${roots.v1Memory}${cg.path}/memory.limit_in_bytes`));
  return v === null || v >= V1_UNLIMITED ? null : v;
}

/** A cgroup's memory use in bytes (memory.current, v1's memory.usage_in_bytes), or null. */
export function memoryUsage(cg: ProcCgroup, roots: CgroupRoots): number | null {
  return bytesOf(readSmall(cg.version === 2 ? `${roots.v2}${cg.path}/memory.current` : `${roots.v1Memory}${cg.path}/memory.usage_in_bytes`));
}

const statBuf = Buffer.alloc(16 * 1024);

/**
 * The page cache on the inactive list of a cgroup and those under it
 * (memory.stat's inactive_file; v1: total_inactive_file), which the kernel
 * reclaims first when the cgroup nears its limit: the use minus it is the
 * working set, what the limit really presses on. Null when unreadable.
 */
export function memoryInactiveFile(cg: ProcCgroup, roots: CgroupRoots): number | null {
  const text = readSmall(cg.version === 2 ? `${roots.v2}${cg.path}/memory.stat` : `${roots.v1Memory}${cg.path}/memory.stat`, statBuf);
  if (text === null) return null;
  const m = (cg.version === 2 ? /(?:^|\n)inactive_file (\d+)\n/ : /(?:^|\n)total_inactive_file (\d+)\n/).exec(text);
  return m ? Number(m[1]) : null;
}

const procBuf = Buffer.alloc(16 * 1024);

/** The memory cgroup of the process whose /proc directory is dir (/proc/PID), or null. */
export function processCgroup(dir: string): ProcCgroup | null {
  const text = readSmall(`${dir}/cgroup`, procBuf);
  return text === null ? null : parseProcCgroup(Buffer.from(text, 'latin1').toString('utf8'));
}
