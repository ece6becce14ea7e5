// Helpers for the signal tests (test/daemon-signals*.test.ts): what a
// process listens on (its socket descriptors against /proc/PID/net/tcp and
// tcp6), whether a signal sent to it has been delivered, its children, the
// real-time signal numbers, and a probe that tells a program's
// inspector.url() at its exit (test/fixtures/daemon/inspector-probe.ts).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { waitFor } from './wait.js';

/** The TCP sockets (any state; '0A' is LISTEN) among the descriptors of pid;
 * addresses as /proc/net/tcp gives them (hex, 0100007F:1F90 for 127.0.0.1:8080). */
export function tcpSockets(pid: number): Array<{ local: string; remote: string; state: string; inode: string }> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  const found: Array<{ local: string; remote: string; state: string; inode: string }> = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // no IPv6
    }
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && inodes.has(c[9]!)) found.push({ local: c[1]!, remote: c[2]!, state: c[3]!, inode: c[9]! });
    }
  }
  return found;
}

/** The signals pending for pid (thread and process-wide masks), 0n when none. */
export function pendingSignals(pid: number): bigint {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let all = 0n;
  for (const m of status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)) all |= BigInt(`0x${m[1]}`);
  return all;
}

/** The signals pid catches (SigCgt) as a set of numbers. */
export function caughtSignals(pid: number): Set<number> {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const mask = BigInt(`0x${m![1]}`);
  const out = new Set<number>();
  for (let n = 1; n <= 64; n++) if (mask & (1n << BigInt(n - 1))) out.add(n);
  return out;
}

/** Send signal (a name or number) to pid and wait until the kernel has delivered it. */
export async function deliver(pid: number, signal: NodeJS.Signals | number): Promise<void> {
  process.kill(pid, signal);
  await waitFor(`signal ${signal} delivered to pid ${pid}`, () => pendingSignals(pid) === 0n);
}

/** The pids whose parent is pid. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A process's command line, words joined by spaces ('' when gone). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** SIGRTMIN and SIGRTMAX as the C library numbers them (bash's kill -l). */
export function realtimeRange(): [number, number] {
  const r = spawnSync('bash', ['-c', 'kill -l SIGRTMIN; kill -l SIGRTMAX'], { encoding: 'utf8' });
  const [min, max] = r.stdout.trim().split('\n').map(Number);
  if (min === undefined || max === undefined || !(min > 31 && max >= min)) throw new Error(`kill -l: ${r.stdout} ${r.stderr}`);
  return [min, max];
}

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/daemon/${name}.js`, import.meta.url));

/**
 * Environment for a program under test that loads the inspector probe
 * (node --import, through NODE_OPTIONS): every Node process of it appends
 * `PID URL` (the url of inspector.url(), or 'undefined') to `out` at its
 * exit. With `openFirst`, the probe first sends its process SIGUSR1 and
 * waits for the inspector to open, as a SIGUSR1 during Node's start does.
 */
export function probeEnv(out: string, opts: { openFirst?: boolean } = {}): Record<string, string> {
  // --inspect-port=0: an inspector that opens takes a port of its own, so
  // that one held by another process cannot hide it.
  const env: Record<string, string> = {
    NODE_OPTIONS: `--inspect-port=0 --import=${pathToFileURL(fixture('inspector-probe')).href}`,
    PLOG_TEST_INSPECTOR_OUT: out,
  };
  if (opts.openFirst) env.PLOG_TEST_INSPECTOR_OPEN = '1';
  return env;
}

/** What the probe wrote for pid: the inspector's url when it had opened it
 * ('opened') or at the exit ('exit'), 'undefined' when none listened; null
 * when it wrote nothing. */
export function probed(out: string, pid: number, when: 'opened' | 'exit'): string | null {
  let text: string;
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith(`${pid} ${when} `));
  return line ? line.slice(`${pid} ${when} `.length) : null;
}

/** Words Node prints when its inspector opens, or fails to. */
export const INSPECTOR_WORDS = /Debugger listening|inspector/i;
