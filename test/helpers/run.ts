// Running a command to its exit for the integration tests, its output
// collected: the core that the plog and strlog helpers wrap with their own
// environment and users.
import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type SpawnOptions } from 'node:child_process';
import { sleep } from './wait.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/**
 * Spawn file with args and resolve on its exit, not on the close of its
 * pipes (a daemon it started may keep them): then give the pipes a moment to
 * deliver what was written before the exit. SIGKILL and reject after limit ms.
 */
export function runToExit(file: string, args: string[], opts: SpawnOptions, limit = 20_000, what = `${file} ${args.join(' ')}`): Promise<RunResult> {
  const child = spawn(file, args, opts);
  let stdout = '';
  let stderr = '';
  let outDone = !child.stdout;
  let errDone = !child.stderr;
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stdout?.on('end', () => (outDone = true));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stderr?.on('end', () => (errDone = true));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: still running after ${limit} ms`));
    }, limit);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      void (async () => {
        // Output written before exit is in the pipe: wait for its end, or
        // (when a daemon holds the pipe open) a short moment.
        for (let i = 0; i < 20 && !(outDone && errDone); i++) await sleep(10);
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({ code, signal, stdout, stderr, pid: child.pid ?? 0 });
      })();
    });
  });
}

/**
 * An environment for a program under test: this process's, without the
 * names in `drop` (the test runner's own NODE_TEST_CONTEXT and the syslog
 * socket override always go), with `set` on top (a value of undefined
 * removes a name).
 */
export function childEnv(drop: string[], set: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NODE_TEST_CONTEXT', 'PLOG_SYSLOG_SOCKET', ...drop]) delete e[k];
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) delete e[k];
    else e[k] = v;
  }
  return e;
}

/** Live processes (not zombies) whose command line mentions text: what a test left behind. */
export function processesWith(text: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
      if (readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(text)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}
