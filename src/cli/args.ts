// Option parsing shared by the command-line programs: node:util's parseArgs
// with the strictness of getopt(3) that users of C tools expect.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitError } from '../plog/exitcodes.js';
import { version } from '../version.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse argv like getopt(3) plus GNU long options: one-letter options only in
 * their short form (parseArgs would also take `--p`), every option at most
 * once (a repeated `-q pid -q dir` is a mistake, not "the last one wins"),
 * positionals only when allowed. Throws UsageError with a one-line message.
 */
export function parseOptions(
  argv: string[],
  options: Options,
  opts: { positionals?: boolean } = {},
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: !!opts.positionals, tokens: true });
  } catch (err) {
    throw new UsageError(cleanMessage((err as Error).message));
  }
  const seen = new Set<string>();
  for (const tok of parsed.tokens ?? []) {
    if (tok.kind !== 'option') continue;
    if (tok.name.length === 1 && tok.rawName.startsWith('--')) throw new UsageError(`unknown option '${tok.rawName}'`);
    const shown = tok.name.length === 1 ? `-${tok.name}` : `--${tok.name}`;
    if (seen.has(tok.name)) throw new UsageError(`option ${shown} given more than once`);
    seen.add(tok.name);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

/** parseArgs' messages name the option as "-p, --p <value>" and end with advice
 * about positionals; say it the way getopt does. */
function cleanMessage(msg: string): string {
  return msg
    .replace(/\. To specify a positional.*$/s, '')
    .replace(/'-(\w), --\1(?: <value>)?'/g, "'-$1'")
    .replace(/^Option '(-\w)' argument missing$/, "option '$1' needs a value")
    .replace(/^Unknown option '([^']+)'$/, "unknown option '$1'");
}

/**
 * End a program over an error of its start: an ExitError's message on
 * stderr as `prog: message` (with the --help hint after a usage error) and
 * its exit code; anything else is a bug and is rethrown.
 */
export function exitOnError(prog: string, err: unknown, usageCode: number): never {
  if (err instanceof ExitError) {
    process.stderr.write(`${prog}: ${err.message}\n`);
    if (err.exitCode === usageCode) process.stderr.write(`Try '${prog} --help'.\n`);
    process.exit(err.exitCode);
  }
  throw err;
}

/**
 * --help and --version, the same in every program: the usage text, or
 * `prog VERSION`, on stdout. True when parse() asked for one of them (the
 * program then ends with status 0); false leaves parsed narrowed to its options.
 */
export function helpOrVersion<T>(prog: string, parsed: T | 'help' | 'version', usage: () => string): parsed is Extract<T | 'help' | 'version', 'help' | 'version'> {
  if (parsed === 'help') process.stdout.write(usage());
  else if (parsed === 'version') process.stdout.write(`${prog} ${version()}\n`);
  else return false;
  return true;
}
