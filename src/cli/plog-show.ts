// plog show: a log in the terminal as charts of RSS, PSS (Swap) and CPU%
// over time (src/plog/readers/chart-term.ts). Loaded by plog.ts on demand.
import { LogFollower } from '../plog/log/readlog.js';
import type { Log } from '../plog/log/sample.js';
import { buildReport } from '../plog/readers/report.js';
import { renderShow, type TermOptions } from '../plog/readers/chart-term.js';
import { READER } from '../plog/readers/exitcodes.js';
import { version } from '../version.js';
import { escapeText } from '../escape.js';
import { exitCodesText, exitFor, fancyOutput, intOption, loadLog, OutputClosed, parseSub, runReader, usageError, warnDamage, writeStdout, yearOption } from './plog-sub.js';

const PROG = 'plog show';

export function usage(): string {
  return `plog show ${version()} - a log in the terminal: charts of RSS, PSS, Swap and CPU% over time

Usage:
  plog show [-w COLUMNS] [--height ROWS] [--ascii|--unicode] [--year YEAR] FILE...
  plog show -f [-w COLUMNS] [--height ROWS] [--ascii|--unicode] [--year YEAR] FILE
  plog show -h | --help

Options:
  -w, --width COLUMNS  width of the charts (default: the terminal's, else $COLUMNS, else 80)
  --height ROWS        rows of each chart, 2 to 100 (default 8)
  --ascii              plain 7-bit text ('#' bars), the default when standard
                       output is not a terminal or NO_COLOR is set
  --unicode            block characters (colour only on a terminal without NO_COLOR)
  --year YEAR          the year of the first sample (default: from the file's
                       modification time, as the log's dates have no year)
  -f, --follow         redraw as the log grows (one FILE), until interrupted
  -h, --help           this text

FILE is a log of plogsrvd (text), or one written by plog export (csv, jsonl);
'-' reads standard input. A last line still being written is left out.

Exit status:
${exitCodesText()}
`;
}

interface ShowArgs {
  files: string[];
  term: TermOptions;
  year: number | undefined;
  follow: boolean;
}

/** Parse plog show's arguments (pure but for the terminal's width and style). */
export function parse(argv: string[]): ShowArgs | 'help' {
  const { values, files } = parseSub(argv, {
    width: { type: 'string', short: 'w' },
    height: { type: 'string' },
    ascii: { type: 'boolean' },
    unicode: { type: 'boolean' },
    year: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (values.ascii && values.unicode) usageError('--ascii and --unicode exclude each other');
  if (files.length === 0) usageError('no log file given (see plog show --help)');
  const follow = !!values.follow;
  if (follow && files.length > 1) usageError('-f follows one log, not several');
  if (follow && files[0] === '-') usageError('-f needs a file, not standard input');
  const envCols = Number(process.env.COLUMNS);
  const width = intOption(values.width, '--width', 30, 1000) ?? (process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : Number.isInteger(envCols) && envCols >= 30 ? envCols : 80);
  const height = intOption(values.height, '--height', 2, 100) ?? 8;
  const fancy = fancyOutput();
  const unicode = values.unicode ? true : values.ascii ? false : fancy;
  return { files, year: yearOption(values.year), follow, term: { width, height, unicode, color: unicode && fancy } };
}

function show(log: Log, term: TermOptions): string {
  return renderShow(log, buildReport(log), term);
}

async function follow(args: ShowArgs): Promise<number> {
  // parseShowArgs() takes -f with exactly one file
  const f = new LogFollower(args.files[0]!, { year: args.year });
  const clear = process.stdout.isTTY ? '\x1b[H\x1b[2J' : '';
  for (;;) {
    const { log, changed } = f.poll();
    if (changed) {
      writeStdout([clear + (log.samples.length ? show(log, args.term) : `${escapeText(log.path)}: no samples yet\n`) + (clear ? '' : '\n')]);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function main(argv: string[]): Promise<number> {
  return runReader(
    PROG,
    () => parse(argv),
    usage,
    async (args) => {
      if (args.follow) return follow(args);
      let status: number = READER.OK.code;
      args.files.forEach((path, i) => {
        try {
          const log = loadLog(path, args.year);
          warnDamage(PROG, log);
          writeStdout([(i > 0 ? '\n' : '') + show(log, args.term)]);
        } catch (err) {
          if (err instanceof OutputClosed) throw err;
          // One bad file does not stop the others; the first failure is the exit status.
          const code = exitFor(PROG, err);
          if (status === READER.OK.code) status = code;
        }
      });
      return status;
    },
  );
}
