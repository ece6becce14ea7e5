// Fixture logs for the readers' tests (plog show, plot, report, export):
// text logs in plogsrvd's format (plogsrvd(1), LOG FILES), built from plain numbers
// with logline.ts's own formatters for dates, sizes and CPU times, and the
// column widths of formatLine, so the fixtures look like the real thing.
import { formatCpuTime, formatDate, formatHeader, formatSize } from '../../src/plog/log/logline.js';
import type { ProcStat } from '../../src/proc/stat.js';

export interface FixSample {
  /** Local time of the sample. */
  t: Date;
  state?: string;
  prio?: number;
  cpuS?: number;
  /** null for '-' (the first sample); default 1.0 */
  cpuPct?: number | null;
  threads?: number;
  minFlt?: number;
  majFlt?: number;
  virtKb?: number;
  rssKb: number;
  share?: number;
  /** null for '-' */
  pssKb?: number | null;
  swapKb?: number | null;
  dataKb?: number;
  /** null for '-', 'absent' for a line without the column (short read of maps). */
  privKb?: number | null | 'absent';
}

const WIDTHS = [0, 5, 4, 8, 6, 7, 9, 7, 9, 10, 5, 10, 9, 9, 10];

/** One sample line (with '\n'). */
export function textLine(s: FixSample, withSeconds: boolean): string {
  const v = [
    formatDate(s.t, withSeconds),
    s.state ?? 'S',
    String(s.prio ?? 20),
    formatCpuTime(s.cpuS ?? 0),
    s.cpuPct === null ? '-' : (s.cpuPct ?? 1).toFixed(1),
    String(s.threads ?? 1),
    String(s.minFlt ?? 100),
    String(s.majFlt ?? 0),
    formatSize(s.virtKb ?? s.rssKb * 4),
    formatSize(s.rssKb),
    (s.share ?? 25).toFixed(1),
    s.pssKb === null ? '-' : formatSize(s.pssKb ?? s.rssKb * 0.9),
    s.swapKb === null ? '-' : formatSize(s.swapKb ?? 0),
    formatSize(s.dataKb ?? s.rssKb * 0.8),
  ];
  if (s.privKb !== 'absent') v.push(s.privKb === null ? '-' : formatSize(s.privKb ?? s.rssKb * 0.7));
  let out = '';
  for (const [i, field] of v.entries()) {
    out += field;
    // WIDTHS has a width for every column after the date.
    if (i < v.length - 1) out += ' '.repeat(Math.max(1, (i === 0 ? (withSeconds ? 14 : 11) : WIDTHS[i]!) - field.length + 1));
  }
  return out + '\n';
}

/** A whole text log: command line, header, samples. */
export function textLog(command: string, samples: FixSample[], withSeconds = true): string {
  return `${command}\n${formatHeader(withSeconds)}${samples.map((s) => textLine(s, withSeconds)).join('')}`;
}

/** Samples every `stepMs` from `start`, with rss from a function of the index. */
export function series(start: Date, stepMs: number, n: number, rssKb: (i: number) => number, over: (i: number) => Partial<FixSample> = () => ({})): FixSample[] {
  const out: FixSample[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ t: new Date(start.getTime() + i * stepMs), rssKb: rssKb(i), cpuPct: i === 0 ? null : 5 + 3 * Math.sin(i / 3), cpuS: Math.floor((i * stepMs) / 20_000), ...over(i) });
  }
  return out;
}

/** A /proc/PID/stat of a small idle process with no counters yet (for the line formatters' tests), changed by over. */
export function quietStat(over: Partial<ProcStat> = {}): ProcStat {
  return {
    pid: 1,
    comm: 'x',
    state: 'S',
    ppid: 1,
    minflt: 0,
    cminflt: 0,
    majflt: 0,
    cmajflt: 0,
    utime: 0,
    stime: 0,
    cutime: 0,
    cstime: 0,
    priority: 20,
    nice: 0,
    numThreads: 1,
    starttime: 1,
    vsize: 0,
    rss: 0,
    ...over,
  };
}
