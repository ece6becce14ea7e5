// plog report: peak, mean and growth of each memory figure of a log, and a
// plain verdict when memory grows steadily (src/plog/readers/report.ts). Loaded by
// plog.ts on demand.
import { buildReport, formatReport, LEAK_RULE, reportJson } from '../plog/readers/report.js';
import { READER } from '../plog/readers/exitcodes.js';
import { version } from '../version.js';
import { safeJson } from '../escape.js';
import { exitCodesText, exitFor, fancyOutput, loadLog, OutputClosed, parseSub, runReader, usageError, warnDamage, writeStdout, yearOption } from './plog-sub.js';

const PROG = 'plog report';

export function usage(): string {
  return `plog report ${version()} - peak, mean and growth of a log's memory, and a leak verdict

Usage:
  plog report [--json] [--fail-on-leak] [--year YEAR] FILE...
  plog report -h | --help

For RSS, PSS, Swap, Virtual, Data+stack and Priv&Write: first, last, min,
peak (and when), mean, and growth: the least-squares slope per hour with
its fit (r²: 1 is a straight line). CPU%: mean and peak; CPU time used.

Verdict: a LEAK SUSPECT when RSS, PSS or Swap grows steadily: slope > 0 with
r² >= ${LEAK_RULE.minR2}, fitted growth >= ${LEAK_RULE.minGrowthOfMean * 100}% of the mean and >= 1 MiB, slope >= ${LEAK_RULE.minSlopeOfMeanPerHour * 100}% of
the mean an hour, still growing in the later half (slope >= ${LEAK_RULE.minLateSlopeRatio * 100}% of the
whole), over at least ${LEAK_RULE.minSamples} samples and ${LEAK_RULE.minSpanMs / 60000} minutes. Shorter logs that grow get "grows
steadily, too short to tell".

Options:
  --json          the report as one JSON object per log (a line each): sizes
                  in bytes, times in epoch ms and ISO 8601
  --fail-on-leak  exit ${READER.LEAK.code} when a log is a leak suspect (for CI)
  --year YEAR     the year of the first sample (default: from the file's
                  modification time, as the log's dates have no year)
  -h, --help      this text

Exit status:
${exitCodesText()}
`;
}

export function parse(argv: string[]): { files: string[]; json: boolean; failOnLeak: boolean; year: number | undefined } | 'help' {
  const { values, files } = parseSub(argv, {
    json: { type: 'boolean' },
    'fail-on-leak': { type: 'boolean' },
    year: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (files.length === 0) usageError('no log file given (see plog report --help)');
  return { files, json: !!values.json, failOnLeak: !!values['fail-on-leak'], year: yearOption(values.year) };
}

export async function main(argv: string[]): Promise<number> {
  return runReader(
    PROG,
    () => parse(argv),
    usage,
    (args) => {
      let status: number = READER.OK.code;
      let leak = false;
      args.files.forEach((path, i) => {
        try {
          const log = loadLog(path, args.year);
          warnDamage(PROG, log);
          const r = buildReport(log);
          if (r.verdict.kind === 'leak-suspect') leak = true;
          if (args.json) writeStdout([safeJson(reportJson(r)) + '\n']);
          else writeStdout([(i > 0 ? '\n' : '') + formatReport(r, log, { ascii: !fancyOutput() })]);
        } catch (err) {
          if (err instanceof OutputClosed) throw err;
          const code = exitFor(PROG, err);
          if (status === READER.OK.code) status = code;
        }
      });
      if (status === READER.OK.code && leak && args.failOnLeak) return READER.LEAK.code;
      return status;
    },
  );
}
