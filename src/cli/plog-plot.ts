// plog plot: one or more logs as an SVG chart, or an HTML page with the
// chart and a summary (src/plog/readers/chart-svg.ts). Loaded by plog.ts on demand.
import type { Log } from '../plog/log/sample.js';
import { renderHtml, renderSvg, type PlotOptions } from '../plog/readers/chart-svg.js';
import { READER } from '../plog/readers/exitcodes.js';
import { version } from '../version.js';
import { exitCodesText, loadLog, parseSub, runReader, usageError, warnDamage, writeFile, writeStdout, yearOption, warn } from './plog-sub.js';

const PROG = 'plog plot';

export function usage(): string {
  return `plog plot ${version()} - a chart of one or more logs for a bug report (SVG or HTML)

Usage:
  plog plot -o OUT.svg|OUT.html|- [--clock|--elapsed] [--title TEXT] [--size WxH] [--year YEAR] FILE...
  plog plot -h | --help

Memory (RSS, PSS, and Swap when used) and CPU% over time, with the command
line as the title. Several FILEs are drawn on one chart to compare runs: a
colour per log, a line style per figure.

Options:
  -o, --output OUT  where to write: OUT.svg (an SVG image), OUT.html or OUT.htm
                    (a page with the chart and a summary table), '-' (SVG on
                    standard output)
  --clock           time axis in local clock time (the default for one log)
  --elapsed         time axis as the time since each log's first sample (the
                    default for several logs, so that runs line up)
  --title TEXT      the title (default: the command line)
  --size WxH        the picture's size in pixels (default 1200x800)
  --year YEAR       the year of the first sample (default: from the file's
                    modification time, as the log's dates have no year)
  -h, --help        this text

Exit status:
${exitCodesText()}
`;
}

export interface PlotArgs {
  files: string[];
  output: string;
  format: 'svg' | 'html';
  opts: PlotOptions;
  year: number | undefined;
}

/** Parse plog plot's arguments (pure). */
export function parse(argv: string[]): PlotArgs | 'help' {
  const { values, files } = parseSub(argv, {
    output: { type: 'string', short: 'o' },
    clock: { type: 'boolean' },
    elapsed: { type: 'boolean' },
    title: { type: 'string' },
    size: { type: 'string' },
    year: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (values.clock && values.elapsed) usageError('--clock and --elapsed exclude each other');
  if (values.output === undefined) usageError('-o OUT.svg|OUT.html is needed (or -o - for SVG on standard output)');
  if (files.length === 0) usageError('no log file given (see plog plot --help)');
  const output = String(values.output);
  let format: 'svg' | 'html';
  if (output === '-' || /\.svg$/i.test(output)) format = 'svg';
  else if (/\.html?$/i.test(output)) format = 'html';
  else usageError(`-o: the output's name must end in .svg, .html or .htm (or be '-'), not '${output}'`);
  if (files.filter((f) => f === '-').length > 1) usageError("standard input ('-') can be read once only");
  const opts: PlotOptions = {};
  if (values.clock) opts.time = 'clock';
  if (values.elapsed) opts.time = 'elapsed';
  if (values.title !== undefined) opts.title = String(values.title);
  if (values.size !== undefined) {
    const m = /^(\d{3,5})x(\d{3,5})$/.exec(String(values.size));
    if (!m || Number(m[1]) < 400 || Number(m[2]) < 300 || Number(m[1]) > 10000 || Number(m[2]) > 10000) {
      usageError(`--size: WIDTHxHEIGHT in pixels, from 400x300 to 10000x10000, not '${values.size}'`);
    }
    opts.width = Number(m[1]);
    opts.height = Number(m[2]);
  }
  return { files, output, format, opts, year: yearOption(values.year) };
}

export async function main(argv: string[]): Promise<number> {
  return runReader(
    PROG,
    () => parse(argv),
    usage,
    (args) => {
      const logs: Log[] = args.files.map((f) => loadLog(f, args.year));
      for (const log of logs) {
        warnDamage(PROG, log);
        if (log.partialTail !== null) warn(PROG, `${log.path}: the last line is unfinished (being written?) and left out`);
      }
      const text = args.format === 'html' ? renderHtml(logs, args.opts) : renderSvg(logs, args.opts);
      if (args.output === '-') writeStdout([text]);
      else writeFile(args.output, [text]);
      return READER.OK.code;
    },
  );
}
