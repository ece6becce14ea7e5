/**
 * Errors shared by the /proc parsers and the reader.
 *
 * src/proc is kept independent of the native addon: the errno words of its
 * messages ("Can't read 'stat': No such process") come from the project's
 * pure errno table (src/errno.ts), glibc's strerror() wording.
 */
import { errnoFromCode, strerror } from '../errno.js';

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
 * strerror()-style words for a Node system error (its `code`), e.g.
 * 'ESRCH' -> 'No such process'. Unknown codes give the error's own message
 * (or the code itself), so a message is never empty.
 */
export function errnoWords(err: unknown): string {
  const code = errCode(err);
  if (code !== undefined && errnoFromCode(code) !== undefined) return strerror(code);
  if (code !== undefined) return code;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The `code` of a Node system error ('ENOENT', ...), if any. */
export function errCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

/**
 * A /proc file could not be read. The message is the seed's wording,
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
