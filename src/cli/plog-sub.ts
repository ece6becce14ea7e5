// What the log readers (src/cli/plog-show.ts, plog-plot.ts, plog-report.ts,
// plog-export.ts) share: option parsing, loading logs, writing output, and
// turning errors into messages and exit codes (src/plog/readers/exitcodes.ts).
import { closeSync, openSync } from 'node:fs';
import { writeFully } from '../daemon/io.js';
import { parseOptions, UsageError } from './args.js';
import { internalError } from '../bugs.js';
import { ExitError } from '../plog/exitcodes.js';
import { READER } from '../plog/readers/exitcodes.js';
import { lacksText } from '../plog/log/logread.js';
import { errnoText, LogError, readLog } from '../plog/log/readlog.js';
import type { Log } from '../plog/log/sample.js';
import { escapeText } from '../escape.js';

type Options = Parameters<typeof parseOptions>[1];

/** The exit-status part of a reader's --help. */
export function exitCodesText(): string {
  return Object.values(READER)
    .map((c) => `  ${String(c.code).padStart(4)}  ${c.meaning}`)
    .join('\n');
}

/** Parse a reader's options (FILE arguments allowed); usage errors as ExitError(11). */
export function parseSub(argv: string[], options: Options): { values: Record<string, string | boolean | undefined>; files: string[] } {
  try {
    const { values, positionals } = parseOptions(argv, options, { positionals: true });
    return { values, files: positionals };
  } catch (err) {
    if (err instanceof UsageError) throw new ExitError(READER.USAGE, err.message);
    throw err;
  }
}

export function usageError(message: string): never {
  throw new ExitError(READER.USAGE, message);
}

/** An integer option within bounds. */
export function intOption(value: string | boolean | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) usageError(`${name}: a whole number from ${min} to ${max}, not '${s}'`);
  return Number(s);
}

/** --year YEAR: the year of a text log's first sample. */
export function yearOption(value: string | boolean | undefined): number | undefined {
  return intOption(value, '--year', 1970, 9999);
}

/** Read a log; LogError becomes the reader's exit code. An empty log is an error unless allowed. */
export function loadLog(path: string, year: number | undefined, allowEmpty = false): Log {
  const log = readLog(path, { year });
  if (!allowEmpty && log.samples.length === 0) throw new LogError('not-a-log', path, `${path}: no sample in it yet`);
  return log;
}

/** Whether the readers draw with Unicode and colour: a terminal, and NO_COLOR unset or empty. */
export function fancyOutput(): boolean {
  const noColor = process.env.NO_COLOR;
  return process.stdout.isTTY === true && (noColor === undefined || noColor === '');
}

/**
 * Write all of text to fd, synchronously. A reader's output may go to a
 * pager (`plog export LOG | less`) that reads nothing while its user reads
 * a page: a full pipe is waited for as long as the pager takes, where a
 * daemon's words give up after a second (writeFully).
 */
export function writeAll(fd: number, text: string): void {
  writeFully(fd, text, Infinity);
}

/** Standard output closed by its reader (`plog export ... | head`): stop quietly. */
export class OutputClosed extends Error {}

/** Write chunks to standard output. */
export function writeStdout(chunks: Iterable<string>): void {
  try {
    for (const c of chunks) writeAll(1, c);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') throw new OutputClosed();
    throw err;
  }
}

/** Write chunks to a file (created or truncated, mode 0666 less the umask); errors exit 18. */
export function writeFile(path: string, chunks: Iterable<string>): void {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new ExitError(READER.OUTPUT, `${path}: ${errnoText(err)}`);
  }
  try {
    for (const c of chunks) writeAll(fd, c);
  } catch (err) {
    throw new ExitError(READER.OUTPUT, `${path}: ${errnoText(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** Print a message about a log to standard error (prefixed with the program's
 * name), on one line: it carries file names, lines of the log and arguments,
 * which are anybody's text, so it is escaped whole (escapeText). */
export function warn(prog: string, message: string): void {
  try {
    writeAll(2, `${prog}: ${escapeText(message)}\n`);
  } catch {
    /* nowhere to say it */
  }
}

/** The exit code and message for an error of a reader. */
export function exitFor(prog: string, err: unknown): number {
  if (err instanceof OutputClosed) return READER.OK.code;
  if (err instanceof ExitError) {
    warn(prog, err.message);
    if (err.exitCode === READER.USAGE.code) warn(prog, `Try '${prog} --help'.`);
    return err.exitCode;
  }
  if (err instanceof LogError) {
    warn(prog, err.message);
    return err.kind === 'read' ? READER.READ.code : READER.NOT_A_LOG.code;
  }
  if ((err as NodeJS.ErrnoException)?.code === 'EPIPE') return READER.OK.code;
  // A stack has several lines: one warning each.
  for (const line of internalError(err).split('\n')) warn(prog, line);
  return READER.INTERNAL.code;
}

/** Run a reader: parse its arguments (--help prints usage()), then its body with them; errors become exit codes. */
export async function runReader<T>(prog: string, parse: () => T | 'help', usage: () => string, body: (args: T) => number | Promise<number>): Promise<number> {
  try {
    const args = parse();
    if (args === 'help') {
      writeStdout([usage()]);
      return READER.OK.code;
    }
    return await body(args);
  } catch (err) {
    return exitFor(prog, err);
  }
}

/** Notes about a log read with trouble, to standard error (the log is still used). */
export function warnDamage(prog: string, log: Log): void {
  if (log.lacks.length) warn(prog, `${log.path}: ${lacksText(log)}`);
  const first = log.badLines[0];
  if (log.badLineCount) {
    const where = first ? ` (line ${first.line}: '${first.text}')` : '';
    warn(prog, `${log.path}: ${log.badLineCount} line${log.badLineCount > 1 ? 's' : ''} not understood, left out${where}`);
  }
}
