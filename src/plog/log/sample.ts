// What a plog log reads back as, whatever its format (text, csv, jsonl,
// plog 0.1.0's text): the Sample and the Log the readers share (plog show,
// plot, report, export, web). Types only; src/plog/log/logread.ts makes them.
import type { Dialect } from './lineparse.js';

export interface Sample {
  /** Epoch milliseconds. For text logs reconstructed from local `MM-DD H:MM[:SS[.mmm]]` (see assignTimes). */
  timeMs: number;
  /** 1-based line number in the file. */
  line: number;
  state: string;
  prio: number;
  /** CPU time (user + system) since the process started, seconds (whole seconds in text logs). */
  cpuSeconds: number;
  /** Average CPU use over the interval before this sample; null for '-' (the first sample). */
  cpuPercent: number | null;
  threads: number;
  minFlt: number;
  majFlt: number;
  virtualBytes: number;
  residentBytes: number;
  /** null where the log has none (plog 0.1.0's `-nan%` for a zombie). */
  sharePercent: number | null;
  /** null for '-' (smaps unreadable). */
  pssBytes: number | null;
  swapBytes: number | null;
  dataBytes: number;
  /** null for '-' (maps unreadable); undefined when the column was left out (short read of maps). */
  privWriteBytes: number | null | undefined;
  /** Fields of machine-format logs beyond the text log's (I/O bytes, fds, context switches...), by name. */
  extra?: Record<string, number | string | null>;
}

export type LogFormat = 'text' | 'csv' | 'jsonl';

/** How the year of a text log's dates was chosen (see assignTimes). */
export type YearSource = 'mtime' | 'now' | 'option' | 'absolute';

export interface Log {
  /** As given (may be relative); '-' for standard input. */
  path: string;
  /** The file's base name, for titles and legends. */
  name: string;
  format: LogFormat;
  /** Line 1 of a text log (escaped as plogsrvd wrote it); '' when the format has none. */
  command: string;
  /** Text logs: whether the times have seconds (sub-minute or odd intervals). */
  withSeconds: boolean;
  /** Text logs: whether the times have milliseconds (intervals that are not whole seconds). */
  withMillis: boolean;
  /** Text logs: who wrote it ('plog-0.1.0': the C plogsrvd); 'plog' for the other formats. */
  dialect: Dialect;
  /** The columns the log does not have (a plog 0.1.0 log's), in words; empty for ours. */
  lacks: string[];
  samples: Sample[];
  /** The first few lines that are neither the command line, the header nor a sample. */
  badLines: Array<{ line: number; text: string }>;
  /** How many such lines in all. */
  badLineCount: number;
  /** An unfinished last line (the log is being written, or was cut), left out; null if none. */
  partialTail: string | null;
  yearSource: YearSource;
  /** Bytes read. */
  bytes: number;
}

/** Options for placing text-log dates in time. */
export interface TimeOptions {
  /** The year of the first sample (overrides the anchor). */
  year?: number;
  /** An instant at or shortly after the last sample: the file's mtime, or now. */
  anchorMs?: number;
  /** What the anchor is, for Log.yearSource. */
  anchorSource?: 'mtime' | 'now';
}
