// The exit codes of plogsrvd and plog, with their messages, in one place (as
// plog 0.1.0's exitcodes.h). The numbers are plog 0.1.0's, so that scripts
// written for it keep working; the man pages and --help list the same table,
// and a test checks that they do.

export interface ExitCode {
  code: number;
  /** What the code means, as the man page and --help say it. */
  meaning: string;
}

/** plogsrvd(1) exit codes (plogsrvd(1), EXIT STATUS). */
export const SERVER = {
  OK: { code: 0, meaning: 'clean shutdown (SIGTERM, SIGINT, SIGQUIT, SIGXCPU or SIGPWR)' },
  USAGE: { code: 1, meaning: 'usage error (a bad or conflicting option)' },
  PATH_TOO_LONG: { code: 2, meaning: '$PLOGDIR or runtime path is too long' },
  CHDIR: { code: 3, meaning: 'could not change directory to the runtime directory' },
  FORK: { code: 4, meaning: 'failed to fork (detach into the background)' },
  POLL: { code: 5, meaning: 'poll() failed: fatal error of the event loop or socket' },
  SOCKET_GONE: { code: 6, meaning: 'the runtime socket was deleted' },
  SERVER: { code: 7, meaning: 'could not create the server' },
  SOCKET: { code: 8, meaning: 'could not create the socket' },
  BIND: { code: 9, meaning: 'bind failed (the runtime socket or the /tmp/.plog query socket)' },
  LISTEN: { code: 10, meaning: 'listen failed' },
  REMOVE_STALE: { code: 11, meaning: 'could not remove a stale socket' },
  RUNNING: { code: 12, meaning: 'already running on this directory, or the query of the existing server failed' },
  NOMEM: { code: 13, meaning: 'not enough memory' },
  NOT_ABSOLUTE: { code: 14, meaning: 'the runtime directory is not an absolute path' },
  TMP_SOCKETS: { code: 15, meaning: 'more than 25 stale /tmp/.plog sockets of its own uid' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
} as const satisfies Record<string, ExitCode>;

/** plog(1) exit codes (plog(1), EXIT STATUS); 14 and 15 are this project's. */
export const CLIENT = {
  OK: { code: 0, meaning: 'success' },
  PATH_TOO_LONG: { code: 1, meaning: '$PLOGDIR or -d path is too long (or not absolute)' },
  SOCKET: { code: 2, meaning: 'could not create the client socket' },
  BIND: { code: 3, meaning: 'could not bind the client socket' },
  NO_SERVER: { code: 4, meaning: 'no plog server found (no socket in the runtime directory)' },
  STALE: { code: 5, meaning: 'stale socket: the socket file exists but no plogsrvd answers' },
  ACCESS: { code: 6, meaning: "permission denied on the server socket (see plogsrvd's -m)" },
  POLL: { code: 7, meaning: 'poll error' },
  TIMEOUT: { code: 8, meaning: 'request timed out (-t)' },
  NOMEM: { code: 9, meaning: 'out of memory' },
  SIGPIPE: { code: 10, meaning: 'SIGPIPE, three times' },
  USAGE: { code: 11, meaning: 'usage error (a bad or conflicting option)' },
  TMP_SOCKETS: { code: 12, meaning: 'no client socket name free in /tmp after -s tries (25 by default)' },
  RECV: { code: 13, meaning: 'receive error' },
  OLD_SERVER: { code: 14, meaning: 'the server is too old for the request (plog 0.1.0 protocol only)' },
  REFUSED: { code: 15, meaning: 'the server refused the request (no such process, permission, not logging, cannot log)' },
  INTERNAL: { code: 70, meaning: 'internal error (a bug: please report it)' },
  SEND_ERRNO: { code: 100, meaning: 'sending failed for another reason: 100 + errno' },
} as const satisfies Record<string, ExitCode>;

/** An error that ends a program with a given exit code and message. */
export class ExitError extends Error {
  readonly exitCode: number;
  constructor(exit: ExitCode | number, message: string) {
    super(message);
    this.name = 'ExitError';
    this.exitCode = typeof exit === 'number' ? exit : exit.code;
  }
}
