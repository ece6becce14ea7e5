/**
 * Logs in a machine format (csv, jsonl), chosen at registration
 * (`plog --format`, request {0, 24}): what plogsrvd writes instead of the
 * text log's lines. The fields are `plog export`'s (EXPORT_FIELDS in
 * fields.ts, rows made by export.ts), so the readers read these logs as
 * they read an export, followed by the extras only these logs have:
 *
 *   read_bytes write_bytes        /proc/PID/io: bytes from / to storage
 *   rchar wchar                   /proc/PID/io: bytes through read/write calls
 *   open_fds                      entries of /proc/PID/fd
 *   voluntary_ctxt_switches       /proc/PID/status
 *   nonvoluntary_ctxt_switches
 *
 * An extra that cannot be read (io and fd of another user's process for a
 * server that is not root) is an empty cell in CSV and null in JSON.
 * Values are exact: sizes in bytes, CPU time in seconds to the clock tick,
 * epoch milliseconds, ISO 8601 local times with their UTC offset.
 *
 * A CSV log starts with `# command: COMMAND LINE` and the header row; a
 * JSON-lines log with `{"command": "COMMAND LINE"}`; then a row or an
 * object per sample.
 */
import type { RawSample } from '../../proc/reader.js';
import { ExtrasReader, type Extras } from '../../proc/io.js';
import { EXPORT_FIELDS } from './fields.js';
import type { Sample } from './sample.js';
import { csvCell, sampleFields } from './export.js';
import type { LogFormatName } from '../protocol.js';
import { sharedPercent } from './logline.js';

/** The fields after EXPORT_FIELDS, in column order. */
export const EXTRA_FIELDS = ['read_bytes', 'write_bytes', 'rchar', 'wchar', 'open_fds', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches'] as const;

export type MachineFormat = Exclude<LogFormatName, 'text'>;

/** What a log's file name ends with after NAME.PID[.N]: '' for text logs. */
export function logSuffix(format: LogFormatName): string {
  return format === 'text' ? '' : `.${format}`;
}

export interface MachineOptions {
  /** Page size in kB. */
  pageKb: number;
  /** Clock ticks per second. */
  clkTck: number;
}

const KB = 1024;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The extras as named values (null when unreadable). */
export function extraFields(x: Extras): Record<(typeof EXTRA_FIELDS)[number], number | null> {
  return {
    read_bytes: x.io ? x.io.readBytes : null,
    write_bytes: x.io ? x.io.writeBytes : null,
    rchar: x.io ? x.io.rchar : null,
    wchar: x.io ? x.io.wchar : null,
    open_fds: x.fds,
    voluntary_ctxt_switches: x.ctx ? x.ctx.voluntary : null,
    nonvoluntary_ctxt_switches: x.ctx ? x.ctx.nonvoluntary : null,
  };
}

/**
 * A sample as the readers hold it, from a /proc reading (and the one before,
 * for CPU%) and its extras. The same figures as a text log's line
 * (formatLine), unrounded.
 */
export function machineSample(cur: RawSample, prev: RawSample | null, extras: Extras, opts: MachineOptions): Sample {
  const { stat, statm } = cur;
  const ticks = stat.utime + stat.stime;
  let cpuPercent: number | null = null;
  if (prev !== null) {
    const wallS = (cur.timeMs - prev.timeMs) / 1000;
    const usedS = (ticks - (prev.stat.utime + prev.stat.stime)) / opts.clkTck;
    if (wallS > 0 && usedS >= 0) cpuPercent = round2((usedS / wallS) * 100);
  }
  const page = opts.pageKb * KB;
  return {
    timeMs: cur.timeMs,
    line: 0,
    state: stat.state,
    prio: stat.priority,
    cpuSeconds: round2(ticks / opts.clkTck),
    cpuPercent,
    threads: stat.numThreads,
    minFlt: stat.minflt + stat.cminflt,
    majFlt: stat.majflt + stat.cmajflt,
    virtualBytes: statm.size * page,
    residentBytes: statm.resident * page,
    // From smaps, as the text log's Share. These logs have no mark for
    // statm's figure, so without smaps there is none (as for PSS).
    sharePercent: cur.smaps ? round2(sharedPercent(cur.smaps)) : null,
    pssBytes: cur.smaps ? cur.smaps.pss * KB : null,
    swapBytes: cur.smaps ? cur.smaps.swap * KB : null,
    dataBytes: statm.data * page,
    // Short read of maps: left out, as the text log leaves out the column.
    privWriteBytes: cur.maps === null ? null : cur.maps.complete ? cur.maps.kb * KB : undefined,
    extra: extraFields(extras),
  };
}

/** The lines before the first sample (each ending in '\n'). */
export function machineHead(format: MachineFormat, command: string): string {
  if (format === 'csv') return `# command: ${command}\n${[...EXPORT_FIELDS, ...EXTRA_FIELDS].join(',')}\n`;
  return `${JSON.stringify({ command })}\n`;
}

/** One sample's line (ending in '\n'): a CSV row in the header's columns, or a JSON object. */
export function machineLine(format: MachineFormat, s: Sample): string {
  const f = sampleFields(s);
  if (format === 'csv') {
    let row = '';
    for (const k of EXPORT_FIELDS) row += csvCell(f[k]) + ',';
    for (const k of EXTRA_FIELDS) row += csvCell(s.extra?.[k]) + ',';
    return row.slice(0, -1) + '\n';
  }
  const o: Record<string, unknown> = { ...f, ...s.extra };
  if (o.priv_write_bytes === undefined) delete o.priv_write_bytes;
  return JSON.stringify(o) + '\n';
}

/**
 * The machine-format side of one log in plogsrvd: reads the extras of the
 * process at each sample and makes the line. Holds two descriptors
 * (/proc/PID/io and status) until close().
 */
export class MachineLog {
  readonly format: MachineFormat;
  private readonly extras: ExtrasReader;
  private readonly opts: MachineOptions;

  constructor(pid: number, format: MachineFormat, opts: MachineOptions & { procRoot?: string }) {
    this.format = format;
    this.opts = opts;
    this.extras = new ExtrasReader(pid, { procRoot: opts.procRoot });
  }

  head(command: string): string {
    return machineHead(this.format, command);
  }

  /** The line for a sample just taken (prev: the one before, or null for the first). */
  line(cur: RawSample, prev: RawSample | null): string {
    return machineLine(this.format, machineSample(cur, prev, this.extras.read(), this.opts));
  }

  close(): void {
    this.extras.close();
  }
}
