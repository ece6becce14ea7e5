// Polling for the integration tests: wait for a condition instead of
// sleeping a fixed time, so that a loaded machine is slower, not wrong.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Give up after this many ms (default 15 s). */
  timeout?: number;
  /** Poll every this many ms (default 50). */
  interval?: number;
}

/** Poll cond until it returns a truthy value (returned); throw after the timeout,
 * saying what was awaited and what cond last returned or threw. */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeout = opts.timeout ?? 15_000;
  const interval = opts.interval ?? 50;
  const end = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(interval);
  }
}
