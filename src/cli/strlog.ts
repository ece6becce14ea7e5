#!/usr/bin/env node
// strlog(1): submit a message to strlogd from the shell, as logger(1) does
// for syslog. Waits for the driver's answer, which the exit status tells.
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { internalError } from '../bugs.js';
import { StrlogClient } from '../strlog/index.js';
import { unreachable } from '../strlog/client.js';
import { SL_ERROR } from '../strlog/constants.js';
import { ExitError, exitStatusHelp, STRLOG } from '../strlog/exitcodes.js';
import { checkFormat } from '../strlog/format.js';
import { parseArg, parseFlags, parseInteger } from '../strlog/options.js';
import { resolveRunDir } from '../strlog/rundir.js';
import { FACILITY_NAMES } from '../syslog/constants.js';
import { exitOnError, helpOrVersion } from './args.js';
import { version } from '../version.js';

const PROG = 'strlog';

export function usage(): string {
  return `strlog ${version()} - submit a message to the STREAMS log driver

Usage:
  strlog [-m MID] [-s SID] [-l LEVEL] [-f FLAGS] [-p FACILITY] [-t SECONDS]
         [--rundir DIR] [--] FORMAT [ARG...]
  strlog -h | --help | --version

FORMAT is a printf format with %d %i %u %o %x %X %c %s (flags, width and
precision up to 999, l) and %%; each ARG that is an integer (decimal, or
0x hex) is passed as an integer, any other as a string. The loggers
expand them.

Options:
  -m MID        module id (-32768..32767): with -m or -s the message uses the
                module interface, open to root and strlogd's module group;
                without them, or for anyone else, it is a user process's
                message: mid 44, sid our pid
  -s SID        sub-id (-32768..32767)
  -l LEVEL      the level tracers filter on (-128..127, default 0)
  -f FLAGS      comma list of error, trace, console, fatal, notify, warn,
                note, or a number (default error)
  -p FACILITY   syslog facility of the message's priorities (user, daemon,
                local0...; default kern for the module interface, user else)
  -t SECONDS    how long to wait for strlogd's answer (default 5)
  --rundir DIR  strlogd's runtime directory (default $STRLOGDIR, else /run/strlog)
  -h, --help    this text
  --version     the version

Exit status:
${exitStatusHelp(STRLOG)}
`;
}

interface Options {
  mid?: number;
  sid?: number;
  level: number;
  flags: number;
  facility?: number;
  timeout: number;
  rundir: string;
  fmt: string;
  args: (number | bigint | string)[];
}

function parse(argv: string[]): Options | 'help' | 'version' {
  const o: Partial<Options> & { level: number; flags: number; timeout: number } = { level: 0, flags: SL_ERROR, timeout: 5000 };
  let rundir: string | undefined;
  let i = 0;
  const value = (opt: string): string => {
    if (i + 1 >= argv.length) throw new ExitError(STRLOG.USAGE, `option ${opt} needs a value`);
    return argv[++i]!;
  };
  const int = (opt: string, v: string, lo: number, hi: number): number => {
    const n = parseInteger(v, lo, hi);
    if (n === null) throw new ExitError(STRLOG.USAGE, `${opt} takes an integer from ${lo} to ${hi}, not '${v}'`);
    return n;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--version') return 'version';
    if (a === '-m') o.mid = int('-m', value(a), -32768, 32767);
    else if (a === '-s') o.sid = int('-s', value(a), -32768, 32767);
    else if (a === '-l') o.level = int('-l', value(a), -128, 127);
    else if (a === '-f') {
      const f = parseFlags(value(a));
      if (!f.ok) throw new ExitError(STRLOG.USAGE, `-f: ${f.error}`);
      o.flags = f.flags;
    } else if (a === '-p') {
      const v = value(a);
      const n = FACILITY_NAMES.indexOf(v.toLowerCase());
      if (n < 0) throw new ExitError(STRLOG.USAGE, `-p takes a facility name (user, daemon, local0...), not '${v}'`);
      o.facility = n << 3;
    } else if (a === '-t') {
      const v = value(a);
      const t = Number(v);
      if (!/^\d+(\.\d+)?$/.test(v) || t <= 0 || t > 3600) throw new ExitError(STRLOG.USAGE, `-t takes a number of seconds, not '${v}'`);
      o.timeout = t * 1000;
    } else if (a === '--rundir') rundir = value(a);
    else if (a.startsWith('--rundir=')) rundir = a.slice('--rundir='.length);
    else throw new ExitError(STRLOG.USAGE, `unknown option '${a}'`);
  }
  if (i >= argv.length) throw new ExitError(STRLOG.USAGE, 'no FORMAT given');
  const fmt = argv[i]!;
  const check = checkFormat(fmt);
  if (!check.ok) throw new ExitError(STRLOG.USAGE, `bad FORMAT: ${check.error}`);
  const rd = resolveRunDir(rundir);
  if (!rd.ok) throw new ExitError(STRLOG.USAGE, rd.message);
  const args = argv.slice(i + 1).map(parseArg);
  if (args.length > 32) throw new ExitError(STRLOG.USAGE, `at most 32 ARGs, not ${args.length}`);
  return { ...o, rundir: rd.dir, fmt, args };
}

async function main(): Promise<void> {
  let o: Options;
  try {
    const p = parse(process.argv.slice(2));
    if (helpOrVersion(PROG, p, usage)) return;
    o = p;
  } catch (err) {
    exitOnError(PROG, err, STRLOG.USAGE.code);
  }
  const client = new StrlogClient({ rundir: o.rundir });
  const module = o.mid !== undefined || o.sid !== undefined;
  let ack;
  try {
    ack = await client.submitWait({ mid: o.mid ?? 0, sid: o.sid ?? 0, level: o.level, flags: o.flags, user: !module, facility: o.facility }, o.fmt, o.args, o.timeout);
  } catch (err) {
    // Sizes over the limits (a string ARG over 1024 bytes...).
    process.stderr.write(`${PROG}: ${(err as Error).message.replace(/^strlog: /, '')}\n`);
    process.exit(STRLOG.USAGE.code);
  }
  const lastError = client.submitter.lastError;
  client.close();
  if (!ack) {
    if (lastError) {
      process.stderr.write(`${PROG}: ${unreachable(o.rundir, lastError)}\n`);
      process.exit(STRLOG.NO_DRIVER.code);
    }
    process.stderr.write(`${PROG}: strlogd in ${o.rundir} did not answer within ${o.timeout / 1000} s\n`);
    process.exit(STRLOG.NO_ANSWER.code);
  }
  if (ack.result === 2) {
    process.stderr.write(`${PROG}: not logged: strlogd dropped it (over the limits of its uid, or longer than 8192 bytes expanded; see strlogd(8))\n`);
    process.exit(STRLOG.NOT_LOGGED.code);
  }
  if (ack.result === 0) {
    process.stderr.write(`${PROG}: not logged: no logger takes any class of the message (no error logger, no matching tracer, no console flag)\n`);
    process.exit(STRLOG.NOT_LOGGED.code);
  }
  process.exit(STRLOG.OK.code);
}

main().catch((err: unknown) => {
  process.stderr.write(`${PROG}: ${internalError(err)}\n`);
  process.exit(STRLOG.INTERNAL.code);
});
