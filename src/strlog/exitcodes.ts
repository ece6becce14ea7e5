// The exit codes of the strlog programs, with their meanings, in one place:
// --help prints these tables, the man pages list them, and
// test/strlog-manpages.test.ts checks that all three agree.
import type { ExitCode } from '../plog/exitcodes.js';

export type { ExitCode };
export { ExitError } from '../plog/exitcodes.js';

/** strlogd(8). */
export const STRLOGD = {
  OK: { code: 0, meaning: 'clean shutdown (SIGTERM, SIGINT, SIGQUIT, SIGXCPU or SIGPWR)' },
  USAGE: { code: 1, meaning: 'usage error (a bad option or argument)' },
  RUNDIR: { code: 2, meaning: 'the runtime directory is unusable (not absolute, too long, cannot be created or entered)' },
  GROUP: { code: 3, meaning: 'the module group given with -g does not exist' },
  FORK: { code: 4, meaning: 'could not detach into the background' },
  RUNNING: { code: 5, meaning: 'a strlogd is already running on this runtime directory' },
  SOCKET: { code: 6, meaning: 'could not create or bind its sockets' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;

/** strerr(8). */
export const STRERR = {
  OK: { code: 0, meaning: 'stopped by SIGTERM, SIGINT, SIGQUIT, SIGXCPU or SIGPWR' },
  EXISTS: { code: 1, meaning: 'an error logger already exists (ERROR: error logger already exists)' },
  USAGE: { code: 2, meaning: 'usage error (a bad option or argument)' },
  NO_DRIVER: { code: 3, meaning: 'cannot connect to strlogd in the runtime directory' },
  LOGDIR: { code: 4, meaning: 'the log directory cannot be created or used' },
  REFUSED: { code: 5, meaning: 'strlogd refused the registration (not root nor in its module group)' },
  DRIVER_GONE: { code: 6, meaning: 'strlogd closed the connection (it stopped)' },
  FORK: { code: 7, meaning: 'could not detach into the background (--daemon)' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;

/** strtrace(8). */
export const STRTRACE = {
  OK: { code: 0, meaning: 'stopped by SIGTERM or SIGINT, or its output was closed' },
  USAGE: { code: 1, meaning: 'usage error (a bad option or a malformed mid sid level triple)' },
  NO_DRIVER: { code: 2, meaning: 'cannot connect to strlogd in the runtime directory' },
  REFUSED: { code: 3, meaning: 'strlogd refused the registration (not root nor in its module group)' },
  DRIVER_GONE: { code: 4, meaning: 'strlogd closed the connection (it stopped)' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;

/** strclean(8): 1 to 4 are the SVR4 strclean's. */
export const STRCLEAN = {
  OK: { code: 0, meaning: 'success' },
  USAGE: { code: 1, meaning: 'usage error (a bad option or argument)' },
  AGE: { code: 2, meaning: 'the age given with -a is below 1 day' },
  NOT_DIR: { code: 3, meaning: 'the log directory does not exist or is not a directory' },
  ACCESS: { code: 4, meaning: 'cannot read, write or search the log directory, or remove a file in it' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;

/** strlog(1). */
export const STRLOG = {
  OK: { code: 0, meaning: 'logged: every logger meant to get the message got it' },
  USAGE: { code: 1, meaning: 'usage error (a bad option, flag, number or format)' },
  NOT_LOGGED: { code: 2, meaning: 'not logged: no logger takes any class of the message, or a limit of strlogd dropped it' },
  NO_DRIVER: { code: 3, meaning: 'cannot reach strlogd in the runtime directory' },
  NO_ANSWER: { code: 4, meaning: 'strlogd did not acknowledge the message in time (-t)' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;

/** The "Exit status:" part of a --help text. */
export function exitStatusHelp(table: Record<string, ExitCode>): string {
  return Object.values(table)
    .map((c) => `  ${String(c.code).padStart(3)}  ${c.meaning}`)
    .join('\n');
}
