/**
 * Errors shared by the /proc parsers and the reader.
 *
 * src/proc is kept independent of the native addon: the errno words of its
 * messages ("Can't read 'stat': No such process") come from the project's
 * pure errno table (src/errno.ts), glibc's strerror() wording.
 */
import { errCode, errnoWords } from '../errno.js';

// The errno words live in the one table (src/errno.ts); their users here and
// in src/plog import them from this module too.
export { errCode, errnoWords };

/** Thrown by the pure parsers when a /proc file's text is not what Linux writes. */
export class ProcParseError extends Error {
  override name = 'ProcParseError';
  /** Which file kind was being parsed ('stat', 'statm', 'smaps', 'status', ...). */
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`Malformed '${file}': ${detail}`);
    this.file = file;
  }
}

/**
 * A /proc file could not be read. The message is in plog 0.1.0's words,
 * `Can't read 'stat': No such process`; `code` is the errno name when the
 * cause was a system error ('ESRCH', 'ENOENT', 'EACCES', ...), and is
 * 'EPARSE' when the file was read but its text was malformed.
 */
export class ProcReadError extends Error {
  override name = 'ProcReadError';
  readonly file: string;
  readonly code: string;
  constructor(file: string, cause: unknown) {
    const words = cause instanceof ProcParseError ? cause.message : errnoWords(cause);
    super(`Can't read '${file}': ${words}`, { cause });
    this.file = file;
    this.code = cause instanceof ProcParseError ? 'EPARSE' : (errCode(cause) ?? 'EUNKNOWN');
  }
}
