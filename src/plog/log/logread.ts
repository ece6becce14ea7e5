/**
 * Reading a log file back into samples: the common currency of the readers
 * (plog show, plot, report, export).
 *
 * Formats. The text log of plogsrvd (spec section 5: the command line, the
 * header, then one line per sample, read with parseLogLine() of logline.ts),
 * and the machine formats that `plog export` writes (and that logs
 * registered with `--format csv|jsonl` are to use): CSV with a header row,
 * or JSON lines, one object per sample, the field names of EXPORT_FIELDS in
 * export.ts; plogsrvd's own machine-format logs begin with `# command: ...`
 * (CSV) or `{"command": "..."}` (JSON lines), see machine-format.ts.
 * The format is told by the content, not by the file name. Text logs of
 * plog 0.1.0 (the C plogsrvd) too, told by their header: read with
 * parseLogLine010(), they have no CPU% (computed here from their user time
 * between lines), no system time and no Swap (Log.lacks says so).
 *
 * A log being written. plogsrvd appends each line with one write(2), but a
 * reader may still see the file end inside a line (a read racing the write,
 * a copy cut short, a full disk). Only complete lines count: text after the
 * last '\n' is a sample only when it is provably whole (a text line with all
 * 16 fields, the last a valid size, which no cut can leave behind; a JSON
 * object that parses); otherwise it is reported as `partialTail` and left
 * out. A text line cut before Priv&Write would read as a valid 15-field line
 * (the short-read form), which is why 15 fields are not enough at the end.
 * Lines that are not samples elsewhere in the file are counted in
 * `badLines`, not fatal: one damaged line does not hide the rest of a log.
 *
 * The file is read in chunks, up to its end at the time of reading (more
 * than its size at open when it grows meanwhile), so a log larger than the
 * longest JavaScript string still reads. LogFollower reads only what was
 * appended since its last poll.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import {
  dateOrderOfHeader, HEADER_COLUMNS, HEADER_START, LACKS_010, parseLogLine, parseLogLine010,
  type DateOrder, type Dialect, type LogRecord,
} from './logline.js';

/** One sample of a log, whatever its format. Sizes in bytes. */
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

const MAX_BAD_KEPT = 10;

// ---------------------------------------------------------------------------
// Machine formats: the field names (export.ts writes them in this order).

/** The fields of a sample in csv/jsonl, in column order. */
export const EXPORT_FIELDS = [
  'time', 'epoch_ms', 'state', 'prio', 'cpu_seconds', 'cpu_percent', 'threads', 'min_flt', 'maj_flt',
  'virtual_bytes', 'resident_bytes', 'share_percent', 'pss_bytes', 'swap_bytes', 'data_bytes', 'priv_write_bytes',
] as const;

const KNOWN = new Set<string>(EXPORT_FIELDS);

/** Split a CSV row (RFC 4180: quoted fields, "" for a quote inside); null if a quote is not closed. */
export function splitCsv(row: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (row[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = row.indexOf('"', i);
        if (q < 0) return null;
        v += row.slice(i, q);
        if (row[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i >= row.length) return out;
      if (row[i] !== ',') return null;
      i++;
    } else {
      const c = row.indexOf(',', i);
      if (c < 0) {
        out.push(row.slice(i));
        return out;
      }
      out.push(row.slice(i, c));
      i = c + 1;
    }
  }
}

type Value = number | string | null | undefined;

/** A sample from named values (csv cells or a JSON object); null if a required field is missing or wrong. */
function sampleFromFields(get: (name: string) => Value, names: readonly string[], line: number): Sample | null {
  const num = (name: string, nullable: boolean): number | null | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (v === null || v === '' || v === '-') return nullable ? null : undefined;
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  let timeMs = num('epoch_ms', false);
  if (timeMs === undefined || timeMs === null) {
    const t = get('time');
    timeMs = typeof t === 'string' ? Date.parse(t) : NaN;
    if (!Number.isFinite(timeMs)) return null;
  }
  const req = (name: string): number | null => {
    const v = num(name, false);
    return v === undefined || v === null ? null : v;
  };
  const fields = {
    prio: req('prio'), cpuSeconds: req('cpu_seconds'), threads: req('threads'), minFlt: req('min_flt'),
    majFlt: req('maj_flt'), virtualBytes: req('virtual_bytes'), residentBytes: req('resident_bytes'),
    dataBytes: req('data_bytes'),
  };
  for (const v of Object.values(fields)) if (v === null) return null;
  const opt = (name: string): number | null => {
    const v = num(name, true);
    return v === undefined ? null : v;
  };
  const priv = num('priv_write_bytes', true);
  const state = get('state');
  const s: Sample = {
    timeMs,
    line,
    state: typeof state === 'string' && state !== '' ? state : '?',
    prio: fields.prio!,
    cpuSeconds: fields.cpuSeconds!,
    cpuPercent: opt('cpu_percent'),
    threads: fields.threads!,
    minFlt: fields.minFlt!,
    majFlt: fields.majFlt!,
    virtualBytes: fields.virtualBytes!,
    residentBytes: fields.residentBytes!,
    // Empty in an export of a plog 0.1.0 log's zombie lines (`-nan%`).
    sharePercent: opt('share_percent'),
    pssBytes: opt('pss_bytes'),
    swapBytes: opt('swap_bytes'),
    dataBytes: fields.dataBytes!,
    privWriteBytes: priv,
  };
  for (const name of names) {
    if (KNOWN.has(name)) continue;
    const v = get(name);
    if (v === undefined) continue;
    if (s.extra === undefined) s.extra = {};
    s.extra[name] = v === '' ? null : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Text logs: from a LogRecord to a Sample, and the dates placed in time.

/** The wall-clock fields of a text-log line (a LogRecord has them). */
export interface WallClock {
  day: number;
  month: number;
  hour: number;
  minute: number;
  second: number | null;
  /** Absent or null when the line has no milliseconds. */
  millisecond?: number | null;
}

/** A wall clock packed into one number (a parser keeps one per sample, not an object). */
function packClock(r: WallClock): number {
  return ((((r.month * 32 + r.day) * 24 + r.hour) * 60 + r.minute) * 60 + (r.second ?? 0)) * 1000 + (r.millisecond ?? 0);
}

function unpackClock(k: number): WallClock {
  const millisecond = k % 1000;
  k = (k - millisecond) / 1000;
  const second = k % 60;
  k = (k - second) / 60;
  const minute = k % 60;
  k = (k - minute) / 60;
  const hour = k % 24;
  k = (k - hour) / 24;
  const day = k % 32;
  return { month: (k - day) / 32, day, hour, minute, second, millisecond };
}

const KB = 1024;

function sampleFromRecord(r: LogRecord, line: number, timeMs: number): Sample {
  return {
    timeMs,
    line,
    state: r.state,
    prio: r.prio,
    cpuSeconds: r.cpuSeconds,
    cpuPercent: r.cpuPercent,
    threads: r.threads,
    minFlt: r.minFlt,
    majFlt: r.majFlt,
    virtualBytes: r.virtualKb * KB,
    residentBytes: r.residentKb * KB,
    sharePercent: r.sharePercent,
    pssBytes: r.pssKb === null ? null : r.pssKb * KB,
    swapBytes: r.swapKb === null ? null : r.swapKb * KB,
    dataBytes: r.dataKb * KB,
    privWriteBytes: r.privWriteKb === undefined ? undefined : r.privWriteKb === null ? null : r.privWriteKb * KB,
  };
}

/** Day of the year, roughly (31 days a month): enough to compare dates of one year. */
const dayKey = (r: WallClock): number => r.month * 31 + r.day;

function localMs(year: number, r: WallClock): number {
  return new Date(year, r.month - 1, r.day, r.hour, r.minute, r.second ?? 0, r.millisecond ?? 0).getTime();
}

function sameWallClock(ms: number, r: WallClock): boolean {
  const d = new Date(ms);
  return d.getDate() === r.day && d.getMonth() + 1 === r.month && d.getHours() === r.hour && d.getMinutes() === r.minute;
}

/**
 * Absolute times for a text log's samples, whose dates are local
 * `MM-DD H:MM[:SS[.mmm]]` (or day-month) with no year.
 *
 * - Midnight needs nothing: every line carries its day and month.
 * - New year: samples are in time order, so a date that goes back by more
 *   than half a year from the previous sample's (31-12 -> 01-01) starts the
 *   next year. A smaller step back (a clock set back, the end of daylight
 *   saving time) stays in the same year.
 * - The year itself: `year` when given (the year of the first sample);
 *   otherwise the last sample is placed in the latest year that puts it no
 *   later than the anchor (+1 day of slack) — the anchor being the file's
 *   mtime, which is the time of the last write, i.e. of the last sample
 *   (a copy made later only moves it later, which the rule allows), or
 *   now when there is no file (standard input). Wrong only for a log copied
 *   more than a year after it was written, or with two samples more than
 *   half a year apart; --year fixes both.
 * - Daylight saving time: a wall-clock time repeated when clocks go back
 *   maps to its first occurrence; when that would put a sample before the
 *   previous one, the later occurrence of the same wall-clock time (up to
 *   2 h later) is taken. Times that do not exist (clocks going forward)
 *   move forward, as JavaScript's Date does.
 */
export function assignTimes(records: readonly WallClock[], opts: TimeOptions = {}): number[] {
  return assignPacked(records.map(packClock), opts);
}

function assignPacked(keys: readonly number[], opts: TimeOptions): number[] {
  const n = keys.length;
  // One record unpacked at a time: a long log keeps only its packed numbers.
  const records = { at: (i: number): WallClock => unpackClock(keys[i]) };
  if (n === 0) return [];
  const yearOffset: number[] = new Array<number>(n);
  yearOffset[0] = 0;
  for (let i = 1; i < n; i++) {
    const back = dayKey(records.at(i - 1)) - dayKey(records.at(i));
    yearOffset[i] = yearOffset[i - 1] + (back > 183 ? 1 : 0);
  }
  let firstYear: number;
  if (opts.year !== undefined) {
    firstYear = opts.year;
  } else {
    const anchor = opts.anchorMs ?? Date.now();
    const limit = anchor + 86_400_000;
    const last = records.at(n - 1);
    let lastYear = new Date(anchor).getFullYear() + 1;
    while (localMs(lastYear, last) > limit) lastYear--;
    firstYear = lastYear - yearOffset[n - 1];
  }
  const out: number[] = new Array<number>(n);
  // Local time of the minute, cached: a fast log has hundreds of samples a minute.
  let cacheKey = NaN;
  let cacheMs = 0;
  for (let i = 0; i < n; i++) {
    const r = records.at(i);
    const inMinute = (r.second ?? 0) * 1000 + (r.millisecond ?? 0);
    const minuteKey = (keys[i] - inMinute) * 10_000 + (firstYear + yearOffset[i]);
    if (minuteKey !== cacheKey) {
      cacheKey = minuteKey;
      cacheMs = localMs(firstYear + yearOffset[i], { ...r, second: 0, millisecond: 0 });
    }
    let t = cacheMs + inMinute;
    if (i > 0 && t < out[i - 1]) {
      // The second pass of a repeated hour: the same wall clock, later.
      for (let k = 1; k <= 8; k++) {
        const later = t + k * 15 * 60_000;
        if (later >= out[i - 1] && sameWallClock(later, r)) {
          t = later;
          break;
        }
      }
    }
    out[i] = t;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The parser: fed chunks of text, gives a Log.

/** Our header with single spaces, to recognise its beginning. */
const HEADER_TEXT = HEADER_COLUMNS.join(' ').replace(/ +/g, ' ');
const CSV_HEADER = /^"?time"?,.*\bepoch_ms\b/;

/**
 * A text line with no '\n' after it, when it is a sample (see the file's
 * comment): one of ours only when provably whole; plog 0.1.0 wrote its '\n'
 * before each line, never after, so its last line always ends so and is
 * taken when it has all its fields.
 */
function wholeTextLine(line: string, dialect: Dialect | null, order: DateOrder): { r: LogRecord; dialect: Dialect } | null {
  if (dialect !== 'plog-0.1.0') {
    const r = parseLogLine(line, { order });
    if (r !== null && r.privWriteKb !== undefined) return { r, dialect: 'plog' };
  }
  if (dialect !== 'plog') {
    const r = parseLogLine010(line);
    if (r !== null) return { r, dialect: 'plog-0.1.0' };
  }
  return null;
}

/**
 * Accumulates a log from chunks of its text. Complete lines are parsed as
 * they come; the text after the last '\n' is kept until more arrives.
 */
export class LogParser {
  private pending = '';
  private lineNo = 0;
  private format: LogFormat | null = null;
  private command = '';
  private withSeconds = false;
  private withMillis = false;
  /** Text logs: the dialect and date order the last header said (null: no header yet). */
  private dialect: Dialect | null = null;
  private order: DateOrder = 'month-day';
  /** Text logs: whether any line was plog 0.1.0's. */
  private saw010 = false;
  private csvNames: string[] = [];
  /** Text logs: the samples (times set by result()), and each one's wall clock, packed. */
  private readonly text: Sample[] = [];
  private readonly clocks: number[] = [];
  /** Text logs: the indexes in text of plog 0.1.0's lines (their CPU% is computed in result()). */
  private readonly from010: number[] = [];
  private readonly machine: Sample[] = [];
  private readonly badLines: Array<{ line: number; text: string }> = [];
  private badLineCount = 0;
  private headerSeen = false;
  bytes = 0;

  /** Feed the next piece of the file (any size, any boundary). */
  push(chunk: string): void {
    this.bytes += Buffer.byteLength(chunk);
    let text = this.pending + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    text = text.slice(start);
    this.pending = text;
  }

  private bad(line: string): void {
    this.badLineCount++;
    if (this.badLines.length < MAX_BAD_KEPT) this.badLines.push({ line: this.lineNo, text: line.length > 200 ? line.slice(0, 200) + '...' : line });
  }

  /** One complete line (without its '\n'). */
  private line(raw: string): void {
    this.lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.format === null) {
      // The first line tells the format: a JSON object, a CSV header, or a text log's command line.
      if (line.startsWith('{')) this.format = 'jsonl';
      else if (CSV_HEADER.test(line)) {
        this.format = 'csv';
        this.csvNames = splitCsv(line) ?? [];
        return;
      } else {
        this.format = 'text';
        this.command = line;
        return;
      }
    }
    if (this.format === 'text' && this.lineNo === 2 && this.command.startsWith('#') && CSV_HEADER.test(line)) {
      // A CSV log may begin with a comment '# command: COMMAND LINE'.
      this.format = 'csv';
      this.csvNames = splitCsv(line) ?? [];
      const m = /^# ?command: ?(.*)$/.exec(this.command);
      this.command = m ? m[1] : '';
      return;
    }
    switch (this.format) {
      case 'text': {
        // A header says the dialect and date order of the lines after it,
        // wherever it is: plogsrvd writes one again where it takes up a log
        // after a restart (--resume), as the version before may have
        // written the lines above it the other way round.
        const h = HEADER_START.test(line) ? dateOrderOfHeader(line) : null;
        if (h) {
          this.headerSeen = true;
          this.dialect = h.dialect;
          this.order = h.order;
          return;
        }
        if (line === '') {
          // plog 0.1.0 began each line with its '\n': no blank line in its logs but at a cut.
          return this.bad(line);
        }
        const w = this.dialect === 'plog' ? { r: parseLogLine(line, { order: this.order }), dialect: 'plog' as const } : wholeTextLine(line, this.dialect, this.order);
        if (w === null || w.r === null) return this.bad(line);
        this.addText(w.r, w.dialect, this.lineNo, this.text, this.clocks, this.from010);
        return;
      }
      case 'csv': {
        if (line.startsWith('#') || line === '') return;
        const cells = splitCsv(line);
        if (cells === null || cells.length !== this.csvNames.length) return this.bad(line);
        const byName = new Map<string, string>();
        this.csvNames.forEach((name, i) => byName.set(name, cells[i]));
        const s = sampleFromFields((name) => byName.get(name), this.csvNames, this.lineNo);
        if (s === null) return this.bad(line);
        this.machine.push(s);
        return;
      }
      case 'jsonl': {
        if (line === '') return;
        if (this.lineNo === 1 && this.jsonCommand(line)) return;
        const s = this.jsonSample(line);
        if (s === null) return this.bad(line);
        this.machine.push(s);
        return;
      }
    }
  }

  private addText(r: LogRecord, dialect: Dialect, line: number, text: Sample[], clocks: number[], from010: number[]): void {
    if (r.second !== null) this.withSeconds = true;
    if (r.millisecond !== null) this.withMillis = true;
    if (dialect === 'plog-0.1.0') {
      this.saw010 = true;
      from010.push(text.length);
    }
    text.push(sampleFromRecord(r, line, 0));
    clocks.push(packClock(r));
  }

  /** A JSON-lines log written by plogsrvd starts with {"command": "..."} (no sample fields): the command line. */
  private jsonCommand(line: string): boolean {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      return false;
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return false;
    const r = o as Record<string, unknown>;
    if (typeof r.command !== 'string' || 'epoch_ms' in r || 'time' in r) return false;
    this.command = r.command;
    return true;
  }

  private jsonSample(line: string): Sample | null {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return null;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
    const o = obj as Record<string, unknown>;
    const get = (name: string): Value => {
      const v = o[name];
      return typeof v === 'number' || typeof v === 'string' || v === null ? v : undefined;
    };
    return sampleFromFields(get, Object.keys(o), this.lineNo);
  }

  /** Whether anything that looks like a log has been read (a text log's header, or a sample). */
  get looksLikeLog(): boolean {
    if (this.headerSeen || this.text.length > 0 || this.machine.length > 0 || this.format === 'csv') return true;
    if (this.format === 'jsonl' && this.lineNo === 1 && this.command !== '') return true; // {"command": ...} only, so far
    // A text log caught between its command line and its header being
    // written; or plog 0.1.0's, whose header has no '\n' until its first sample.
    if (this.format !== 'text' || this.lineNo !== 1 || this.pending === '') return false;
    return HEADER_TEXT.startsWith(this.pending.replace(/ +/g, ' ')) || HEADER_START.test(this.pending);
  }

  /** The log as read so far. The pending text is a sample only if provably whole. */
  result(path: string, time: TimeOptions = {}): Log {
    let partialTail: string | null = null;
    const text = this.text.slice();
    const clocks = this.clocks.slice();
    const from010 = this.from010.slice();
    const machine = this.machine.slice();
    const saved = { withSeconds: this.withSeconds, withMillis: this.withMillis, saw010: this.saw010 };
    const tail = this.pending.endsWith('\r') ? this.pending.slice(0, -1) : this.pending;
    if (tail !== '') {
      const line = this.lineNo + 1;
      let whole = false;
      if (this.format === 'text' && !HEADER_START.test(tail)) {
        const w = wholeTextLine(tail, this.dialect, this.order);
        if (w) {
          this.addText(w.r, w.dialect, line, text, clocks, from010);
          whole = true;
        }
      } else if (this.format === 'text') {
        // plog 0.1.0's header before its first sample (no '\n' after it yet).
        whole = dateOrderOfHeader(tail)?.dialect === 'plog-0.1.0' && tail.endsWith(' MajFlts');
      } else if (this.format === 'jsonl' || (this.format === null && tail.startsWith('{'))) {
        const s = this.jsonSample(tail);
        if (s) {
          machine.push({ ...s, line });
          whole = true;
        }
      }
      if (!whole) partialTail = tail;
    }
    let samples: Sample[];
    let yearSource: YearSource = 'absolute';
    if (this.format === 'text') {
      const times = assignPacked(clocks, time);
      // The parser's own samples get their times in place (the same for every result()).
      for (let i = 0; i < text.length; i++) text[i].timeMs = times[i];
      // plog 0.1.0 has no CPU% column: the user time between two of its
      // lines over the wall time between them, as formatLine computes it.
      for (const i of from010) text[i].cpuPercent = i > 0 ? cpuPercentBetween(text[i - 1], text[i]) : null;
      samples = text;
      yearSource = time.year !== undefined ? 'option' : (time.anchorSource ?? 'now');
    } else {
      samples = machine;
    }
    const log: Log = {
      path,
      name: path === '-' ? 'stdin' : basename(path),
      format: this.format ?? 'text',
      command: this.command,
      withSeconds: this.withSeconds,
      withMillis: this.withMillis,
      dialect: this.saw010 ? 'plog-0.1.0' : 'plog',
      lacks: this.saw010 ? [...LACKS_010] : [],
      samples,
      badLines: this.badLines.slice(),
      badLineCount: this.badLineCount,
      partialTail,
      yearSource,
      bytes: this.bytes,
    };
    // The unfinished tail is not the parser's yet: forget what it set.
    this.withSeconds = saved.withSeconds;
    this.withMillis = saved.withMillis;
    this.saw010 = saved.saw010;
    return log;
  }
}

/** What a log lacks, in words for a note: '' for a log of ours. */
export function lacksText(log: Log): string {
  if (log.lacks.length === 0) return '';
  return `a log of plog 0.1.0, which has no ${log.lacks.join('; no ')}`;
}

/** CPU% between two samples (CPU time used over wall time), one decimal; null when it cannot be told. */
function cpuPercentBetween(prev: Sample, cur: Sample): number | null {
  const wallS = (cur.timeMs - prev.timeMs) / 1000;
  const usedS = cur.cpuSeconds - prev.cpuSeconds;
  return wallS > 0 && usedS >= 0 ? Math.round((usedS / wallS) * 1000) / 10 : null;
}

/** Parse a whole log held in a string (tests, standard input). */
export function parseLog(text: string, path = '-', time: TimeOptions = {}): Log {
  const p = new LogParser();
  p.push(text);
  return p.result(path, time);
}

// ---------------------------------------------------------------------------
// Files.

/** Why a log could not be read. */
export class LogError extends Error {
  /** 'read': the file cannot be read (errno in the message); 'not-a-log': no sample and no header in it. */
  readonly kind: 'read' | 'not-a-log';
  readonly path: string;
  constructor(kind: 'read' | 'not-a-log', path: string, message: string) {
    super(message);
    this.name = 'LogError';
    this.kind = kind;
    this.path = path;
  }
}

const CHUNK = 1 << 20;

/** A system error in words, as strerror(3) says it ('No such file or directory'). */
export function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    ELOOP: 'Too many levels of symbolic links',
    EIO: 'Input/output error',
    ENOSPC: 'No space left on device',
    EROFS: 'Read-only file system',
    EDQUOT: 'Disk quota exceeded',
    EFBIG: 'File too large',
  };
  return (e.code && words[e.code]) ?? e.message;
}

/**
 * Read a log file (or '-' for standard input) to its current end. Throws
 * LogError('read') when it cannot be read, LogError('not-a-log') when there
 * is nothing in it that a plog log would have (no header, no sample).
 * A log with a header but no sample yet (just created) is returned empty.
 */
export function readLog(path: string, opts: { year?: number } = {}): Log {
  let fd: number;
  let st: Stats;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (err) {
    throw new LogError('read', path, `${path}: ${errnoText(err)}`);
  }
  const parser = new LogParser();
  try {
    st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    const buf = Buffer.alloc(CHUNK);
    const dec = new StringDecoder('utf8');
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, CHUNK, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        if ((err as NodeJS.ErrnoException).code === 'EOF') break;
        throw err;
      }
      if (n === 0) break;
      parser.push(dec.write(buf.subarray(0, n)));
    }
    parser.push(dec.end());
  } catch (err) {
    throw new LogError('read', path, `${path}: ${errnoText(err)}`);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  if (!parser.looksLikeLog) throw new LogError('not-a-log', path, `${path}: not a plog log (no header and no sample line)`);
  const time: TimeOptions =
    opts.year !== undefined
      ? { year: opts.year }
      : path === '-' || !st.isFile()
        ? { anchorMs: Date.now(), anchorSource: 'now' }
        : { anchorMs: Math.max(st.mtimeMs, 0), anchorSource: 'mtime' };
  return parser.result(path, time);
}

/** How far headerBeforeResume() looks for the end of the command line (a log's owner may make it long). */
const RESUME_LOOK = 1 << 20;

/**
 * Whether a text log taken up again (plogsrvd --resume) needs this
 * version's header written again before its next line: when the header at
 * its top says day-month dates (a version before wrote them), so that the
 * readers read the lines after it month-day (a header says the order of the
 * lines after it, wherever it is). The log's descriptor is write-only
 * (O_APPEND): its beginning is read through /proc/self/fd/FD, the very file
 * open on it, never by name; at most RESUME_LOOK bytes to find line 2, and
 * a header's length of it. False when it cannot tell.
 */
export function headerBeforeResume(fd: number): boolean {
  let rfd: number;
  try {
    rfd = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    let start = -1;
    for (let pos = 0; pos < RESUME_LOOK && start < 0; ) {
      const n = readSync(rfd, buf, 0, buf.length, pos);
      if (n === 0) return false;
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) start = pos + nl + 1;
      pos += n;
    }
    if (start < 0) return false;
    const n = readSync(rfd, buf, 0, 512, start);
    const line2 = buf.subarray(0, n).toString('latin1');
    const end = line2.indexOf('\n');
    return end >= 0 && dateOrderOfHeader(line2.slice(0, end))?.order === 'day-month';
  } catch {
    return false;
  } finally {
    closeSync(rfd);
  }
}

/**
 * Follows a log being written: each poll() reads what was appended since
 * the last one. A file that shrank or was replaced is read again from its
 * start. Dates are placed with now as the anchor (the log is live).
 */
export class LogFollower {
  private parser = new LogParser();
  private offset = 0;
  private ino = -1;
  private dec = new StringDecoder('utf8');
  private readonly year: number | undefined;

  constructor(readonly path: string, opts: { year?: number } = {}) {
    this.year = opts.year;
  }

  /** Read what is new; returns the whole log so far, and whether anything changed. */
  poll(): { log: Log; changed: boolean } {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      throw new LogError('read', this.path, `${this.path}: ${errnoText(err)}`);
    }
    let changed = false;
    try {
      const st = fstatSync(fd);
      if (st.ino !== this.ino || st.size < this.offset) {
        this.parser = new LogParser();
        this.dec = new StringDecoder('utf8');
        this.offset = 0;
        this.ino = st.ino;
        changed = true;
      }
      const buf = Buffer.alloc(CHUNK);
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, this.offset);
        if (n === 0) break;
        this.offset += n;
        this.parser.push(this.dec.write(buf.subarray(0, n)));
        changed = true;
      }
    } catch (err) {
      throw new LogError('read', this.path, `${this.path}: ${errnoText(err)}`);
    } finally {
      closeSync(fd);
    }
    const time: TimeOptions = this.year !== undefined ? { year: this.year } : { anchorMs: Date.now(), anchorSource: 'now' };
    return { log: this.parser.result(this.path, time), changed };
  }
}
