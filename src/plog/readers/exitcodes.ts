// Exit codes of plog's log readers (plog show, plot, report, export).
// Usage (11) and internal error (70) are plog's own codes (src/plog/exitcodes.ts);
// the others are numbers plog(1) does not use, so that a script running
// plog can tell every failure apart. plog(1), SUBCOMMANDS, lists the same
// table, and each reader's --help; a test checks that they agree.
import type { ExitCode } from '../exitcodes.js';

export const READER = {
  OK: { code: 0, meaning: 'success' },
  USAGE: { code: 11, meaning: 'usage error (a bad or conflicting option)' },
  READ: { code: 16, meaning: 'a log file cannot be read (missing, permission denied, a directory)' },
  NOT_A_LOG: { code: 17, meaning: 'not a plog log, or no sample in it yet' },
  OUTPUT: { code: 18, meaning: 'the output file cannot be written' },
  LEAK: { code: 19, meaning: 'plog report --fail-on-leak: a log is a leak suspect' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;
