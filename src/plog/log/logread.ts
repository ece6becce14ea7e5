/**
 * Reading a log back into samples: the common currency of the readers
 * (plog show, plot, report, export, web). LogParser is fed chunks of text
 * and gives a Log (src/plog/log/sample.ts); src/plog/log/readlog.ts feeds
 * it from files.
 *
 * Formats. The text log of plogsrvd (plogsrvd(1), LOG FILES: the command
 * line, the header, then one line per sample, read with parseLogLine() of
 * logline.ts), and the machine formats that `plog export` writes (and that
 * logs registered with `--format csv|jsonl` use): CSV with a header row,
 * or JSON lines, one object per sample, the field names of EXPORT_FIELDS in
 * fields.ts; plogsrvd's own machine-format logs begin with `# command: ...`
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
 */
import { basename } from 'node:path';
import { HEADER_COLUMNS } from './logline.js';
import { dateOrderOfHeader, HEADER_START, LACKS_010, parseLogLine, parseLogLine010, type DateOrder, type Dialect, type LogRecord } from './lineparse.js';
import { sampleFromFields, splitCsv, type Value } from './fields.js';
import { assignPacked, packClock } from './logtime.js';
import type { Log, LogFormat, Sample, TimeOptions, YearSource } from './sample.js';

const MAX_BAD_KEPT = 10;

const KB = 1024;

/** A sample of a text log's line (its time set apart: see assignPacked). */
export function sampleFromRecord(r: LogRecord, line: number, timeMs: number): Sample {
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
      this.command = m ? m[1]! : '';
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
        this.csvNames.forEach((name, i) => byName.set(name, cells[i]!)); // as many cells as names, checked above
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
      // One clock was pushed with each sample, so times[i] is there; from010 holds indexes of text.
      for (let i = 0; i < text.length; i++) text[i]!.timeMs = times[i]!;
      // plog 0.1.0 has no CPU% column: the user time between two of its
      // lines over the wall time between them, as formatLine computes it.
      for (const i of from010) text[i]!.cpuPercent = i > 0 ? cpuPercentBetween(text[i - 1]!, text[i]!) : null;
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
