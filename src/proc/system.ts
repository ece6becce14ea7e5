/**
 * System constants for interpreting /proc numbers.
 */
import * as fs from 'node:fs';
import { parseStat } from './stat.js';
import { statusField } from './status.js';

/**
 * Clock ticks per second of the times in /proc/PID/stat (utime, stime,
 * starttime...): sysconf(_SC_CLK_TCK). The kernel converts its internal
 * jiffies to USER_HZ before showing them to user space, and USER_HZ is 100
 * on every architecture Node runs on (x86, arm, arm64, ppc, s390, riscv,
 * mips, loongarch); only alpha and ia64 used 1024. It does not depend on the
 * kernel's CONFIG_HZ, so the constant is exact without calling sysconf().
 */
export const CLK_TCK = 100;

/**
 * Page size in kB from a matching pair of /proc/self/status and
 * /proc/self/statm texts: VmSize (kB) / size (pages). Undefined when they do
 * not give a power of two (the two files were read at different moments and
 * the address space changed in between, or a field is missing).
 */
export function pageKbFrom(statusText: string, statmText: string): number | undefined {
  const vm = statusField(statusText, 'VmSize');
  if (vm === undefined) return undefined;
  const m = /^(\d+) kB$/.exec(vm);
  const pages = Number(statmText.split(' ')[0]);
  if (!m || !Number.isInteger(pages) || pages <= 0) return undefined;
  const kb = Number(m[1]);
  if (kb % pages !== 0) return undefined;
  const q = kb / pages;
  // A power of two, at least 1 kB (no Linux page is smaller than 4 kB).
  return q >= 1 && (q & (q - 1)) === 0 ? q : undefined;
}

let pageKbCache: number | undefined;

/**
 * The system page size in kB (4 on x86_64; 16 or 64 on some arm64/ppc64
 * kernels). Derived once by comparing /proc/self/status VmSize with
 * /proc/self/statm size: read status, statm, status again, and accept when
 * the two status reads agree (the address space did not change meanwhile,
 * which Node's other threads can make it do) and the ratio is a power of
 * two. Falls back to 4 after 20 tries or if /proc is unreadable.
 */
export function pageSizeKb(): number {
  if (pageKbCache !== undefined) return pageKbCache;
  let found: number | undefined;
  try {
    for (let i = 0; i < 20 && found === undefined; i++) {
      const s1 = fs.readFileSync('/proc/self/status', 'latin1');
      const m = fs.readFileSync('/proc/self/statm', 'latin1');
      const s2 = fs.readFileSync('/proc/self/status', 'latin1');
      if (statusField(s1, 'VmSize') !== statusField(s2, 'VmSize')) continue;
      found = pageKbFrom(s1, m);
    }
  } catch {
    found = undefined;
  }
  pageKbCache = found ?? 4;
  return pageKbCache;
}

/** The `btime` line of /proc/stat: boot time in seconds since the epoch. */
export function parseBtime(procStatText: string): number | undefined {
  const m = /(?:^|\n)btime (\d+)\n/.exec(procStatText);
  return m ? Number(m[1]) : undefined;
}

let bootCache: number | undefined;

/**
 * Boot time in ms since the epoch, from /proc/stat btime (cached). With
 * stat's starttime it gives a process's start as a date:
 * `bootTimeMs() + starttime * 1000 / CLK_TCK`.
 *
 * Where /proc shows only processes (a unit's ProcSubset=pid, see
 * systemd.exec(5)) there is no /proc/stat: the boot time is then when this
 * process started by the wall clock (performance.timeOrigin) less its
 * starttime since boot (/proc/self/stat), in whole seconds as btime is. The
 * two differ by the time Node took to start, well under half a second.
 */
export function bootTimeMs(): number {
  if (bootCache !== undefined) return bootCache;
  let b: number | undefined;
  try {
    b = parseBtime(fs.readFileSync('/proc/stat', 'latin1'));
  } catch {
    b = undefined;
  }
  if (b === undefined) {
    const self = parseStat(fs.readFileSync('/proc/self/stat', 'latin1'));
    b = Math.floor((performance.timeOrigin - (self.starttime * 1000) / CLK_TCK) / 1000);
  }
  bootCache = b * 1000;
  return bootCache;
}

/** A process's start time in ms since the epoch, from stat field 22. */
export function startTimeMs(starttimeTicks: number, clkTck = CLK_TCK): number {
  return bootTimeMs() + (starttimeTicks * 1000) / clkTck;
}
