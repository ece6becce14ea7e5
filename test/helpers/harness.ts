// What the integration tests of every program share: where the build is,
// the unprivileged user, temporary directories and children cleaned up
// after a file's tests, commands run as someone else, waiting for a file's
// lines. test/helpers/plog.ts and test/helpers/strlog.ts build on it.
import { after } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor, type WaitOptions } from './wait.js';
import { assertLength, type Tuple } from './assert.js';
import { treeOf } from '../../src/proc/tree.js';

export { assertLength, sleep, waitFor, type Tuple, type WaitOptions };

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const VERSION: string = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
export const NOBODY = 65534;
/** A command's prefix: a program and its first arguments (setpriv and its options). */
export type Prefix = readonly [program: string, ...args: string[]];
/** The prefix that runs a command as nobody (uid and gid 65534, no groups). */
export const AS_NOBODY: Prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

const dirs: string[] = [];
const children = new Set<ChildProcess>();
const cleanups: (() => void | Promise<void>)[] = [];

/** Run fn after this file's tests (before its children are killed and its directories removed). */
export function atEnd(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

after(async () => {
  for (const f of cleanups.splice(0)) await f();
  // What a child started and left running (a shell's `sleep 300 &`) goes
  // with it: killing the shell alone would leave its children to init,
  // hundreds of them running on into the other files' tests.
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    for (const p of treeOf(c.pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const c of [...children]) await killChild(c);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under /tmp with a short name (sockets' paths fit in
 * sockaddr_un), removed after the file's tests; mode as given (mkdtemp makes 0700). */
export function makeTempDir(prefix: string, mode?: number): string {
  const d = mkdtempSync(`/tmp/${prefix}-`);
  dirs.push(d);
  if (mode !== undefined) chmodSync(d, mode);
  return d;
}

/** A child killed and reaped after the file's tests, if still running. */
export function track<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Send a child we spawned `signal` (default SIGKILL; SIGCONT first, for a
 * stopped one) and wait until it is reaped (at most 5 s). */
export async function killChild(c: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) {
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    try {
      c.kill('SIGCONT');
      c.kill(signal);
    } catch {
      /* gone */
    }
    await Promise.race([gone, sleep(5000)]);
  }
  children.delete(c);
}

/** cmd and args run through `as` (a setpriv prefix such as AS_NOBODY), or as they are. */
export function asUser(cmd: string, args: string[], as: Prefix | null): [string, string[]] {
  return as ? [as[0], [...as.slice(1), cmd, ...args]] : [cmd, args];
}

/** The lines of a file ([] when missing). */
export function lines(path: string): string[] {
  try {
    const t = readFileSync(path, 'utf8');
    return t === '' ? [] : t.replace(/\n$/, '').split('\n');
  } catch {
    return [];
  }
}

/** Wait until a file has at least n lines; returns them. */
export function waitLines(path: string, n: number, opts: WaitOptions = {}): Promise<string[]> {
  return waitFor(
    `${n} lines in ${path}`,
    () => {
      const l = lines(path);
      return l.length >= n ? l : null;
    },
    opts,
  );
}
