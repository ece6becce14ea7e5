// libfaketime for the clock tests: it steps the wall clock (CLOCK_REALTIME)
// of one process, never the machine's, and leaves CLOCK_MONOTONIC alone, as
// a step by NTP or settimeofday would. The thread-safe build (MT): node runs
// threads.
import { existsSync } from 'node:fs';

export const LIBFAKETIME: string | undefined = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1'].find((p) => existsSync(p));

/** A test's skip reason without it. */
export const NO_FAKETIME = 'libfaketime is not installed (Debian package faketime)';

/** The environment under which a process's wall clock follows the offset
 * written in `file` ('+0', '+36h', '-1d'), read again at every call. */
export function faketimeEnv(file: string): Record<string, string> {
  if (!LIBFAKETIME) throw new Error(NO_FAKETIME);
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}
