// plog run's outcome: its own exit codes and failures, the exit status of
// CMD, and the summary printed at the end.
import { writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Report } from '../plog/readers/report.js';
import { formatBytes, formatDuration } from '../plog/readers/chart-scale.js';

const PROG = 'plog run';

/** plog run's own exit codes (as env(1) and timeout(1)); any other status is CMD's. */
export const RUN_EXIT = {
  FAILED: { code: 125, meaning: 'plog run itself failed (usage, -o FILE, no server could be started); CMD did not run' },
  CANNOT_RUN: { code: 126, meaning: 'CMD was found but could not be run' },
  NOT_FOUND: { code: 127, meaning: 'CMD was not found' },
} as const;

export class RunFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function fail(message: string): never {
  throw new RunFailure(RUN_EXIT.FAILED.code, message);
}

/** The exit status a shell would give for a child's end. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

export interface RunOutcome {
  cmd: string[];
  status: number;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Where the log is now ('' when nowhere), and why not when so. */
  logPath: string;
  logNote: string;
  report: Report | null;
  /** The extras of a csv/jsonl log's last sample (I/O bytes, fds, context switches), if any. */
  extras?: Record<string, number | string | null>;
  /** The most open descriptors seen. */
  peakFds?: number | null;
}

/** The summary printed at the end (pure). */
export function formatSummary(o: RunOutcome): string {
  const lines: string[] = [];
  const ended = o.signal ? `was killed by ${o.signal} (status ${o.status})` : `exited with status ${o.status}`;
  lines.push(`plog run: ${o.cmd.join(' ')} ${ended} after ${formatDuration(o.wallMs)}`);
  lines.push(`  log:      ${o.logPath || '-'}${o.logNote ? ` (${o.logNote})` : ''}`);
  const r = o.report;
  if (!r || r.samples === 0) {
    lines.push('  samples:  none (the command ended before its first sample, or was not logged)');
    return lines.join('\n') + '\n';
  }
  // A text log's times are to the second: a short run's samples can share one.
  const span = r.spanMs === 0 && r.samples > 1 ? 'within a second' : `over ${formatDuration(r.spanMs)}`;
  lines.push(`  samples:  ${r.samples} ${span}${r.intervalMs ? `, every ${formatDuration(r.intervalMs)}` : ''}`);
  const fig = (key: string): string => {
    const f = r.figures.find((x) => x.key === key);
    return f ? formatBytes(f.peak) : 'unknown';
  };
  lines.push(`  peak:     RSS ${fig('rss')}, PSS ${fig('pss')}`);
  const cpu = r.cpu.mean === null ? 'mean CPU% unknown (one sample)' : `mean ${r.cpu.mean.toFixed(1)}%, peak ${r.cpu.peak!.toFixed(1)}%`;
  lines.push(`  CPU:      ${cpu}; CPU time ${formatDuration(r.cpu.totalSeconds * 1000)}; threads up to ${r.cpu.maxThreads}`);
  const x = o.extras;
  if (x) {
    const n = (k: string): number | null => (typeof x[k] === 'number' ? x[k] : null);
    const parts: string[] = [];
    if (n('read_bytes') !== null) parts.push(`storage read ${formatBytes(n('read_bytes')!)}, written ${formatBytes(n('write_bytes') ?? 0)}`);
    if (n('rchar') !== null) parts.push(`read() ${formatBytes(n('rchar')!)}, write() ${formatBytes(n('wchar') ?? 0)}`);
    if (o.peakFds != null) parts.push(`open fds up to ${o.peakFds}`);
    if (n('voluntary_ctxt_switches') !== null) parts.push(`context switches ${n('voluntary_ctxt_switches')} voluntary, ${n('nonvoluntary_ctxt_switches') ?? 0} involuntary`);
    if (parts.length) lines.push(`  I/O:      ${parts.join('; ')} (at the last sample)`);
  }
  lines.push(`  verdict:  ${r.verdict.text}`);
  return lines.join('\n') + '\n';
}

export function say(message: string): void {
  try {
    writeSync(2, `${PROG}: ${message}\n`);
  } catch {
    /* nowhere to say it */
  }
}
