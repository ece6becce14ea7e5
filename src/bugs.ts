// What every program (plogsrvd, plog and its subcommands, strlogd, strerr,
// strtrace, strclean, strlog) says when it meets an error it did not expect:
// a bug of ours, with its stack and where to report it (package.json's
// "bugs", the one place the address is written).
import { packageInfo } from './version.js';

/**
 * The lines for an unexpected error, without the program's name: the error
 * with its stack, then where to report it. The native addon missing is no
 * bug but an install without it (src/native.ts AddonMissingError): its
 * message says how to build it, and that is all.
 */
export function internalError(err: unknown): string {
  if (err instanceof Error && err.name === 'AddonMissingError') return err.message;
  const what = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  const { name, version, bugs } = packageInfo();
  const where = bugs ? `please report it at ${bugs}` : 'please report it (see "bugs" in its package.json)';
  return `internal error: ${what}\nThis is a bug of ${name} ${version}: ${where}, with the lines above.`;
}
