// plog export: a log as CSV or JSON lines (src/plog/log/export.ts). Loaded by
// plog.ts on demand.
import { toCsv, toJsonl } from '../plog/log/export.js';
import { READER } from '../plog/readers/exitcodes.js';
import { version } from '../version.js';
import { exitCodesText, loadLog, parseSub, runReader, usageError, warn, warnDamage, writeFile, writeStdout, yearOption } from './plog-sub.js';

const PROG = 'plog export';

export function usage(): string {
  return `plog export ${version()} - a log as CSV or JSON lines

Usage:
  plog export --csv|--jsonl [-o OUT] [--year YEAR] FILE
  plog export -h | --help

Every field of every sample: time (ISO 8601 local time with its UTC offset),
epoch_ms, state, prio, cpu_seconds, cpu_percent, threads, min_flt, maj_flt,
virtual_bytes, resident_bytes, share_percent, pss_bytes, swap_bytes,
data_bytes, priv_write_bytes (sizes in bytes). A value the log does not have
('-') is an empty cell in CSV and null in JSON. A last line still being
written is left out.

Options:
  --csv          CSV with a header row
  --jsonl        JSON lines: one object per sample
  -o, --output OUT  write to OUT instead of standard output
  --year YEAR    the year of the first sample (default: from the file's
                 modification time, as the log's dates have no year)
  -h, --help     this text

Exit status:
${exitCodesText()}
`;
}

export function parse(argv: string[]): { file: string; format: 'csv' | 'jsonl'; output: string | undefined; year: number | undefined } | 'help' {
  const { values, files } = parseSub(argv, {
    csv: { type: 'boolean' },
    jsonl: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    year: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (values.csv && values.jsonl) usageError('--csv and --jsonl exclude each other');
  if (!values.csv && !values.jsonl) usageError('give --csv or --jsonl');
  if (files.length !== 1) usageError(files.length ? 'one log file at a time' : 'no log file given (see plog export --help)');
  return { file: files[0]!, format: values.csv ? 'csv' : 'jsonl', output: values.output === undefined ? undefined : String(values.output), year: yearOption(values.year) };
}

export async function main(argv: string[]): Promise<number> {
  return runReader(
    PROG,
    () => parse(argv),
    usage,
    (args) => {
      // An empty log exports as a header row (CSV) or nothing (JSON lines).
      const log = loadLog(args.file, args.year, true);
      warnDamage(PROG, log);
      if (log.partialTail !== null) warn(PROG, `${log.path}: the last line is unfinished (being written?) and left out`);
      const chunks = args.format === 'csv' ? toCsv(log) : toJsonl(log);
      if (args.output === undefined || args.output === '-') writeStdout(chunks);
      else writeFile(args.output, chunks);
      return READER.OK.code;
    },
  );
}
