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
export function parseOptions(argv: string[], options: Options, opts: { positionals?: boolean } = {}): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: !!opts.positionals, tokens: true });
  } catch (err) {
    throw new UsageError(cleanMessage((err as Error).message, argv));
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
 * about positionals; say it the way getopt does, in this project's words. */
function cleanMessage(msg: string, argv: string[]): string {
  // `--keep -1`: the value looks like an option. Say which value, and how to
  // give one that begins with a dash.
  const amb = /^Option '(-[^',]+)(?:, [^']*)?' argument is ambiguous/.exec(msg);
  if (amb) {
    const i = argv.indexOf(amb[1]!);
    const value = i >= 0 ? argv[i + 1] : undefined;
    // A long option takes --name=VALUE; a one-letter one (never spelled
    // --x here) takes -xVALUE.
    const long = /use '(--[\w-]{2,})=-XYZ'/.exec(msg)?.[1];
    const spelled = long ? `${long}=${value}` : `${amb[1]}${value}`;
    return value === undefined ? `option '${amb[1]}' needs a value` : `option '${amb[1]}' needs a value, and '${value}' looks like an option: write ${spelled} if that is the value`;
  }
  const pos = /^Unexpected argument '(.*)'\. This command does not take positional arguments/s.exec(msg);
  if (pos) return `unexpected argument '${pos[1]}': this program takes options only`;
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

/** Edit distance with transpositions (optimal string alignment): 'reprot' is 1 from 'report'. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate nearest to word (at most 2 edits away, and fewer than its length), or null. */
export function nearest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word.toLowerCase(), c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return bestD <= 2 && bestD < word.length ? best : null;
}
