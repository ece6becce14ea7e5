#!/usr/bin/env node
// strtrace(8): the STREAMS trace logger (SVR4 strace(1M); on Linux that name
// is the system call tracer's). Registers with strlogd as a tracer for the
// given mid sid level triples and prints each message on stdout, unbuffered.
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { readFileSync } from 'node:fs';
import { internalError } from '../bugs.js';
import { writeFully } from '../daemon/io.js';
import { MAX_TRACE_IDS } from '../strlog/constants.js';
import { LogStream, unreachable } from '../strlog/client.js';
import { ExitError, exitStatusHelp, STRTRACE } from '../strlog/exitcodes.js';
import { parseTriples } from '../strlog/filter.js';
import { traceLine } from '../strlog/lines.js';
import { resolveRunDir } from '../strlog/rundir.js';
import type { LogMessage, TraceId } from '../strlog/wire.js';
import { exitOnError, helpOrVersion } from './args.js';
import { version } from '../version.js';

const PROG = 'strtrace';

export function usage(): string {
  return `strtrace ${version()} - print STREAMS trace messages

Usage:
  strtrace [--rundir DIR] [mid sid level | -]...
  strtrace -h | --help | --version

Registers with strlogd as a trace logger and prints each message it
gets, as soon as it gets it, as
  SEQ TIME TICKS LEVEL FLAGS MID SID TEXT
FLAGS: F fatal, N notify, E also sent to the error logger.

A message is printed when one triple matches it: its mid and sid equal
the triple's, and its level is at most the triple's; 'all' in a field
matches anything. No triple means 'all all all'. A '-' reads triples
from standard input, to its end, in its place (as illumos' strace).

Options:
  --rundir DIR  strlogd's runtime directory (default $STRLOGDIR, else /run/strlog)
  -h, --help    this text
  --version     the version

Exit status:
${exitStatusHelp(STRTRACE)}
`;
}

function parse(argv: string[]): { rundir: string; ids: TraceId[] } | 'help' | 'version' {
  let rundir: string | undefined;
  const words: string[] = [];
  let fromStdin = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--version') return 'version';
    if (a === '--rundir') {
      if (i + 1 >= argv.length) throw new ExitError(STRTRACE.USAGE, "option '--rundir <value>' argument missing");
      rundir = argv[++i]!;
    } else if (a.startsWith('--rundir=')) {
      rundir = a.slice('--rundir='.length);
    } else if (a === '-') {
      // As illumos' strace: the triplets on standard input, to its end,
      // then the rest of the command line.
      words.push(...readTriplets());
      fromStdin = true;
    } else if (a.startsWith('-') && !/^-\d+$/.test(a)) {
      throw new ExitError(STRTRACE.USAGE, `unknown option '${a}'`);
    } else {
      words.push(a);
    }
  }
  if (fromStdin && words.length === 0) throw new ExitError(STRTRACE.USAGE, 'no mid sid level triple on standard input or the command line');
  const t = parseTriples(words);
  if (!t.ok) throw new ExitError(STRTRACE.USAGE, t.error);
  if (t.ids.length > MAX_TRACE_IDS) throw new ExitError(STRTRACE.USAGE, `at most ${MAX_TRACE_IDS} triples, not ${t.ids.length}`);
  const rd = resolveRunDir(rundir);
  if (!rd.ok) throw new ExitError(STRTRACE.USAGE, rd.message);
  return { rundir: rd.dir, ids: t.ids };
}

/** The words of standard input, to its end (bounded: no more than a registration takes). */
function readTriplets(): string[] {
  let text: string;
  try {
    text = readFileSync(0, 'utf8');
  } catch (err) {
    throw new ExitError(STRTRACE.USAGE, `cannot read the triples on standard input: ${(err as Error).message}`);
  }
  const max = 3 * MAX_TRACE_IDS * 12;
  if (text.length > max) throw new ExitError(STRTRACE.USAGE, `more than ${MAX_TRACE_IDS} triples on standard input`);
  return text.split(/[ \t\n]+/).filter(Boolean);
}

/**
 * Write all of buf to stdout, however long it takes: a reader that does not
 * keep up holds us here, we stop reading from strlogd, and the driver's
 * queue for us drops its oldest messages (gaps in our sequence numbers).
 */
function output(buf: Buffer): void {
  try {
    writeFully(1, buf, Infinity);
  } catch {
    // EPIPE and the like: nobody reads our output any more.
    process.exit(STRTRACE.OK.code);
  }
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    exitOnError(PROG, err, STRTRACE.USAGE.code);
  }
  if (helpOrVersion(PROG, opts, usage)) return;

  let stream: LogStream;
  try {
    stream = await LogStream.open('trace', { rundir: opts.rundir, ids: opts.ids });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') {
      process.stderr.write(`${PROG}: strlogd refused the tracer: ${(err as Error).message} (root or strlogd's module group only)\n`);
      process.exit(STRTRACE.REFUSED.code);
    }
    process.stderr.write(`${PROG}: ${unreachable(opts.rundir, err)}\n`);
    process.exit(STRTRACE.NO_DRIVER.code);
  }
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stopping = true;
      stream.close();
      process.exit(STRTRACE.OK.code);
    });
  }
  stream.on('messages', (batch: LogMessage[]) => {
    let text = '';
    for (const m of batch) text += traceLine(m);
    output(Buffer.from(text));
  });
  stream.on('close', () => {
    if (stopping) return;
    process.stderr.write(`${PROG}: strlogd closed the connection (${opts.rundir})\n`);
    process.exit(STRTRACE.DRIVER_GONE.code);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${PROG}: ${internalError(err)}\n`);
  process.exit(STRTRACE.INTERNAL.code);
});
