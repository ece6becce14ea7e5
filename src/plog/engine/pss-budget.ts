// Safe PSS: how often plogsrvd may read a process's PSS.
//
// Reading /proc/PID/smaps_rollup walks every page of the process with its
// memory map lock held for reading; the process's own mmap, munmap and
// mprotect wait for the walk (tens of milliseconds for a process of a few
// GB). So each read is timed, and the next one is not taken until the
// process has had (100 / budget - 1) times that long to itself: with the
// default budget of 1%, a read that took 12 ms is followed by the next one
// no sooner than 1.2 s later. Reads that cost little are taken at every
// sample, as before; in between, a line carries the last PSS and Swap with
// a '*' (see formatLine). Pure: the caller passes the clock.

/** The default budget: the share of a process's time PSS reads may hold its map lock. */
export const DEFAULT_PSS_BUDGET = 0.01;

/**
 * The budget from PLOG_PSS_BUDGET: a percentage (0 < p <= 100; "1" is the
 * default 1%), or "off" (PSS read at every sample). Anything else gives the
 * default. Returns a fraction, or null for off.
 */
export function pssBudget(value: string | undefined): number | null {
  if (value === undefined || value === '') return DEFAULT_PSS_BUDGET;
  if (value.trim().toLowerCase() === 'off') return null;
  const p = Number(value);
  if (!Number.isFinite(p) || p <= 0 || p > 100) return DEFAULT_PSS_BUDGET;
  return p / 100;
}

/**
 * When the next PSS read may begin (same clock as readStart): a read that
 * began at readStart and took costMs is followed by the next no sooner than
 * readStart + costMs / budget. With no budget (null), at once.
 */
export function nextPssRead(readStart: number, costMs: number, budget: number | null): number {
  if (budget === null) return -Infinity;
  return readStart + costMs / budget;
}

/** Whether a PSS read is due now for a reader (a ProcessReader: when its last read began, what it cost). */
export function pssDue(r: { smapsReadStart: number; smapsCostMs: number }, budget: number | null, now: number): boolean {
  return now >= nextPssRead(r.smapsReadStart, r.smapsCostMs, budget);
}
