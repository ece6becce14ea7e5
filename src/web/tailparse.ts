/**
 * plog web's reading of a log that grows: each read takes only the bytes
 * appended since the last one, never the file again from its start, and
 * gives the new samples with the byte range of each one's line.
 *
 * Parsing is logread.ts's LogParser, not a second parser: a batch of new
 * complete lines (but for the fast path's, below) is handed to a fresh
 * LogParser behind the log's "prefix" (the lines before its first sample: a text log's command line
 * and header, a CSV log's header row, a JSON-lines log's {"command"} line),
 * which tell the parser the format (and, for text logs, the columns and
 * the date form), and behind the last sample line read before (the
 * "context"), so that a date going back at the new year or in the hour
 * repeated at the end of daylight saving time is placed after it as
 * readLog() places it. Work per read is proportional to what was appended.
 *
 * Bounds: a line longer than MAX_LINE (no log line comes near it) is
 * skipped and counted as a bad line, so a file without newlines cannot make
 * the reader hold it whole; a file whose first lines are not a log's is
 * given up (notALog) after a few lines.
 *
 * The common case has a fast path (fast()): a text log of ours whose
 * header is known, a batch of sample lines only. Each line is read with
 * the line parser LogParser uses for it (parseLogLine, in the date order
 * the header says; parseLogLineQuick first, which gives parseLogLine's
 * record for a plain line without its arrays, and leaves it any other) and the batch's times placed as LogParser places them
 * (assignPacked over the batch's lines), without a LogParser and without
 * parsing the prefix again: the same samples, at a fraction of the work
 * (500 logs at 1 s are 500 batches of one line a second). Anything else in
 * the batch (a header, a blank or damaged line, a date going back before
 * the last sample's) sends the whole batch the parser's way.
 *
 * Pure: bytes in, samples out; FileTail (tail.ts) does the file I/O.
 */
import { LogParser, sampleFromRecord } from '../plog/log/logread.js';
import { dateOrderOfHeader, parseLogLine, parseLogLineQuick, type DateOrder } from '../plog/log/lineparse.js';
import { assignPacked, packClock } from '../plog/log/logtime.js';
import { type Log, type LogFormat, type Sample } from '../plog/log/sample.js';

/** No log line is near this long; a longer one is skipped as damaged. */
export const MAX_LINE = 64 * 1024;
/** A file whose first lines hold no sample after this many lines is not a log. */
const MAX_START_LINES = 32;
/** How many lines are parsed together: few, so that what a parse makes dies young (a log read first is long). */
const BATCH_LINES = 256;
/** A text log's header line (written again where plogsrvd takes a log up after a restart). */
const HEADER_RE = /^Date +Time +State\b/;

/** A sample and where its line is in the file. */
export interface Located {
  sample: Sample;
  /** Byte offset of the line's first byte, and just after its last (the '\n' excluded). */
  start: number;
  end: number;
}

interface Line {
  text: string;
  start: number;
  end: number;
}

/** What a log looks like once its first sample has been read. */
export interface TailInfo {
  format: LogFormat;
  command: string;
  withSeconds: boolean;
  /** The columns the log does not have (a plog 0.1.0 log's), in words. */
  lacks: string[];
}

export class TailParser {
  /** Bytes pushed so far (the next byte's offset in the file). */
  pos = 0;
  /** Complete lines seen. */
  lines = 0;
  /** The lines that tell a batch what it is reading; null until the first sample. */
  private prefix: string[] | null = null;
  /** Lines before the first sample, kept until it comes. */
  private startLines: Line[] = [];
  /** The last sample line, and its time: parsed again before a batch whose first date goes back (time continuity). */
  private context: string | null = null;
  private contextMs = -Infinity;
  /** Bytes of the unfinished last line. */
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Inside a line longer than MAX_LINE: dropping bytes up to its '\n'. */
  private skipping = false;
  /** A last line without '\n' that was whole and already given as a sample: its offset. */
  private tailGiven = -1;
  info: TailInfo | null = null;
  /** The first parse's Log, its samples left out: what a Log of this file looks like (log()). */
  private template: Log | null = null;
  notALog = false;
  badLineCount = 0;
  /** The first few bad lines (number, text cut to 200 characters). */
  readonly badLines: Array<{ line: number; text: string }> = [];

  constructor(readonly path: string) {}

  /** Whether an unfinished last line is waiting (being written, or cut). */
  get partialTail(): boolean {
    return this.pendingLen > 0 && this.tailGiven < 0;
  }

  /** The prefix, once known (for parseRange of another reader of the same file). */
  get prefixLines(): readonly string[] | null {
    return this.prefix;
  }

  /**
   * The next bytes of the file (in order, from pos). anchorMs: the file's
   * modification time, which places a text log's year-less dates.
   * Returns the samples completed by these bytes.
   */
  push(buf: Buffer, anchorMs: number): Located[] {
    const lines: Line[] = [];
    let from = 0;
    const base = this.pos;
    this.pos += buf.length;
    for (;;) {
      const nl = buf.indexOf(10, from);
      if (nl < 0) break;
      const part = buf.subarray(from, nl);
      if (this.skipping) {
        this.skipping = false;
      } else if (this.pendingLen + part.length > MAX_LINE) {
        this.bad('(a line longer than 64 KiB, left out)');
      } else {
        const start = base + from - this.pendingLen;
        const bytes = this.pendingLen ? Buffer.concat([...this.pending, part]) : part;
        lines.push({ text: bytes.toString('utf8'), start, end: base + nl });
      }
      this.pending = [];
      this.pendingLen = 0;
      this.lines++;
      from = nl + 1;
    }
    if (from < buf.length && !this.skipping) {
      const rest = buf.subarray(from);
      if (this.pendingLen + rest.length > MAX_LINE) {
        this.skipping = true;
        this.pending = [];
        this.pendingLen = 0;
        this.bad('(a line longer than 64 KiB, left out)');
      } else {
        // Copied: the caller's buffer is reused for the next read.
        this.pending.push(Buffer.from(rest));
        this.pendingLen += rest.length;
      }
    }
    const out: Located[] = [];
    const firstLineNo = this.lines - lines.length + 1;
    for (let i = 0; i < lines.length; i += BATCH_LINES) {
      this.take(lines.slice(i, i + BATCH_LINES), firstLineNo + i, anchorMs, out);
    }
    // A last line with no '\n' yet counts when it is provably whole (logread.ts).
    if (this.pendingLen > 0 && !this.skipping && this.prefix !== null) {
      const start = this.pos - this.pendingLen;
      if (start !== this.tailGiven) {
        const text = Buffer.concat(this.pending).toString('utf8');
        const log = this.parse([text], false, anchorMs);
        const k0 = this.prefix.length + (this.context !== null ? 1 : 0);
        const s = log.samples.find((x) => x.line === k0 + 1);
        if (s) {
          s.line = this.lines + 1;
          out.push({ sample: s, start, end: this.pos });
          this.tailGiven = start;
        }
      }
    }
    return out;
  }

  private bad(text: string, line = this.lines + 1): void {
    this.badLineCount++;
    if (this.badLines.length < 10) this.badLines.push({ line, text: text.length > 200 ? text.slice(0, 200) + '...' : text });
  }

  /** The date order of a text log of ours whose header is known (the fast path); null otherwise. */
  private order(): DateOrder | null {
    const header = this.prefix?.[1];
    if (this.info?.format !== 'text' || this.prefix?.length !== 2 || header === undefined) return null;
    const h = dateOrderOfHeader(header);
    return h !== null && h.dialect === 'plog' ? h.order : null;
  }

  /**
   * The samples of complete lines as LogParser gives them after the prefix
   * (line: the index in texts + 1), when every line is a sample line of a
   * text log of ours; null otherwise (then the parser reads the batch).
   * own: the reader's batch (a line with seconds marks the log so), not a range read again.
   */
  private fast(texts: string[], anchorMs: number, own: boolean): Sample[] | null {
    const order = this.order();
    if (order === null) return null;
    const samples: Sample[] = [];
    const clocks: number[] = [];
    let withSeconds = false;
    for (const [i, t] of texts.entries()) {
      // LogParser takes a '\r' off a line's end: its way.
      if (t.length === 0 || t.charCodeAt(t.length - 1) === 13) return null;
      const r = parseLogLineQuick(t, order) ?? parseLogLine(t, { order });
      if (r === null) return null;
      if (r.second !== null) withSeconds = true;
      samples.push(sampleFromRecord(r, i + 1, 0));
      clocks.push(packClock(r));
    }
    const times = assignPacked(clocks, { anchorMs, anchorSource: 'mtime' });
    // assignPacked gives one time per clock: i is below both lengths.
    samples.forEach((s, i) => (s.timeMs = times[i]!));
    if (own && withSeconds && this.info) this.info.withSeconds = true;
    return samples;
  }

  /** A LogParser run over the prefix, the context and these lines. */
  private parse(texts: string[], complete: boolean, anchorMs: number, withContext = true): Log {
    const p = new LogParser();
    if (this.prefix && this.prefix.length) p.push(this.prefix.join('\n') + '\n');
    if (withContext && this.context !== null) p.push(this.context + '\n');
    p.push(texts.join('\n') + (complete ? '\n' : ''));
    return p.result(this.path, { anchorMs, anchorSource: 'mtime' });
  }

  private take(lines: Line[], firstLineNo: number, anchorMs: number, out: Located[]): void {
    if (this.notALog || lines.length === 0) return;
    if (this.prefix === null) {
      this.startLines.push(...lines);
      const texts = this.startLines.map((l) => l.text);
      const p = new LogParser();
      p.push(texts.join('\n') + '\n');
      const log = p.result(this.path, { anchorMs, anchorSource: 'mtime' });
      const [firstSample] = log.samples;
      if (firstSample === undefined) {
        if ((!p.looksLikeLog && this.startLines.length >= 2) || this.startLines.length > MAX_START_LINES) {
          this.notALog = true;
          this.startLines = [];
        }
        return;
      }
      const first = firstSample.line - 1;
      this.prefix = texts.slice(0, Math.min(first, 2));
      this.info = { format: log.format, command: log.command, withSeconds: log.withSeconds, lacks: log.lacks };
      this.template = { ...log, samples: [] };
      const startNo = this.lines - this.startLines.length + 1;
      this.badLineCount += log.badLineCount;
      for (const b of log.badLines) if (this.badLines.length < 10) this.badLines.push({ line: b.line, text: b.text });
      this.emit(log.samples, this.startLines, 0, startNo, out);
      this.startLines = [];
      this.noteHeaders(texts.slice(first));
      return;
    }
    // Most batches need nothing before them but the prefix. A batch whose
    // first date is before the last sample's (the new year placed by the
    // anchor is right already, but the hour repeated when clocks go back is
    // not) is parsed again after that sample, as readLog() would see it.
    const texts = lines.map((l) => l.text);
    const quick = this.fast(texts, anchorMs, true);
    const first = quick?.[0];
    if (quick !== null && (first === undefined || this.context === null || first.timeMs >= this.contextMs)) {
      this.emit(quick, lines, 0, firstLineNo, out);
      return;
    }
    let log = this.parse(texts, true, anchorMs, false);
    let k0 = this.prefix.length;
    const firstNew = log.samples.find((x) => x.line > k0);
    if (this.context !== null && firstNew && firstNew.timeMs < this.contextMs) {
      log = this.parse(texts, true, anchorMs, true);
      k0 = this.prefix.length + 1;
    }
    this.badLineCount += log.badLineCount;
    for (const b of log.badLines) if (this.badLines.length < 10 && b.line > k0) this.badLines.push({ line: b.line - k0 - 1 + firstLineNo, text: b.text });
    if (log.withSeconds && this.info) this.info.withSeconds = true;
    this.emit(log.samples, lines, k0, firstLineNo, out);
    this.noteHeaders(texts);
  }

  /** Samples of a parse (line numbers relative to it) as Located, skipping the prefix and context. */
  private emit(samples: Sample[], lines: Line[], k0: number, firstLineNo: number, out: Located[]): void {
    for (const s of samples) {
      const i = s.line - k0 - 1;
      const l = lines[i];
      if (l === undefined) continue; // i out of range (negative too)
      if (l.start === this.tailGiven) {
        // Given already while it had no '\n'.
        this.tailGiven = -1;
        this.context = l.text;
        this.contextMs = s.timeMs;
        continue;
      }
      s.line = firstLineNo + i;
      out.push({ sample: s, start: l.start, end: l.end });
      this.context = l.text;
      this.contextMs = s.timeMs;
    }
    const last = lines[lines.length - 1];
    if (this.tailGiven >= 0 && last !== undefined && last.start >= this.tailGiven) this.tailGiven = -1;
  }

  /** A text log's header again (plogsrvd --resume): the lines after it are read with it. */
  private noteHeaders(texts: string[]): void {
    if (!this.prefix || this.info?.format !== 'text' || this.prefix.length < 2) return;
    for (const t of texts) if (HEADER_RE.test(t)) this.prefix[1] = t;
  }

  /** A Log of this file holding the samples given (for the readers' functions that take a Log). */
  log(samples: Sample[], name: string): Log | null {
    if (!this.template || !this.info) return null;
    return {
      ...this.template,
      path: this.path,
      name,
      samples,
      withSeconds: this.info.withSeconds,
      badLines: this.badLines.slice(),
      badLineCount: this.badLineCount,
      partialTail: null,
      bytes: this.pos,
    };
  }

  /**
   * Parse a range of the file read again (whole lines, starting at a line's
   * first byte), with this log's prefix, without touching the reader's
   * state: for the blocks of samples that the engine does not keep.
   * lineNo: the number of the range's first line, when known.
   */
  parseRange(buf: Buffer, start: number, anchorMs: number, lineNo = 0): Located[] {
    if (this.prefix === null) return [];
    const lines: Line[] = [];
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(10, from);
      if (nl < 0) break;
      if (nl - from <= MAX_LINE) lines.push({ text: buf.toString('utf8', from, nl), start: start + from, end: start + nl });
      from = nl + 1;
    }
    const out: Located[] = [];
    for (let i = 0; i < lines.length; i += BATCH_LINES) {
      const chunk = lines.slice(i, i + BATCH_LINES);
      const texts = chunk.map((l) => l.text);
      const quick = this.fast(texts, anchorMs, false);
      const k0 = quick !== null ? 0 : this.prefix.length;
      for (const s of quick ?? this.parse(texts, true, anchorMs, false).samples) {
        const j = s.line - k0 - 1;
        const l = chunk[j];
        if (l === undefined) continue; // j out of range (negative too)
        s.line = lineNo ? lineNo + i + j : 0;
        out.push({ sample: s, start: l.start, end: l.end });
      }
    }
    return out;
  }
}
