#!/usr/bin/env node
// strclean(8): remove old STREAMS error logs. It first logs what it does as
// an ERROR|NOTIFY message, so that strerr records (and mails) it.
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { accessSync, constants as fsc, lstatSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { errnoWords } from '../errno.js';
import { join, resolve } from 'node:path';
import { internalError } from '../bugs.js';
import { StrlogClient } from '../strlog/index.js';
import { DEFAULT_LOGDIR, SL_ERROR, SL_NOTIFY } from '../strlog/constants.js';
import { ExitError, exitStatusHelp, STRCLEAN } from '../strlog/exitcodes.js';
import { parseInteger } from '../strlog/options.js';
import { resolveRunDir } from '../strlog/rundir.js';
import { version } from '../version.js';
import { parseOptions, exitOnError, helpOrVersion } from './args.js';

const PROG = 'strclean';

export function usage(): string {
  return `strclean ${version()} - remove old STREAMS error logs

Usage:
  strclean [-d DIR] [-a DAYS] [--rundir DIR]
  strclean -h | --help | --version

Removes the files error.* in DIR not modified for more than DAYS days
(DAYS times 24 hours). Once it has checked DIR, it first logs
  strclean - removing log files more than DAYS days old
as an ERROR|NOTIFY message (strerr records and mails it).

Options:
  -d DIR        the log directory (default ${DEFAULT_LOGDIR})
  -a DAYS       the age in days, at least 1 (default 3)
  --rundir DIR  strlogd's runtime directory (default $STRLOGDIR, else /run/strlog)
  -h, --help    this text
  --version     the version

Exit status:
${exitStatusHelp(STRCLEAN)}
`;
}

interface Options {
  dir: string;
  days: number;
  rundir: string;
}

function parse(argv: string[]): Options | 'help' | 'version' {
  let values: Record<string, string | boolean | undefined>;
  // As getopt: -a and -d take the next word whatever it is (-a -3 is an age).
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if ((w === '-a' || w === '-d') && i + 1 < argv.length) args.push(w + argv[++i]!);
    else if (w === '--') {
      args.push(...argv.slice(i));
      break;
    } else args.push(w);
  }
  try {
    ({ values } = parseOptions(args, {
      d: { type: 'string', short: 'd' },
      a: { type: 'string', short: 'a' },
      rundir: { type: 'string' },
      h: { type: 'boolean', short: 'h' },
      help: { type: 'boolean' },
      version: { type: 'boolean' },
    }));
  } catch (err) {
    throw new ExitError(STRCLEAN.USAGE, (err as Error).message);
  }
  if (values.h || values.help) return 'help';
  if (values.version) return 'version';
  let days = 3;
  if (values.a !== undefined) {
    const n = parseInteger(String(values.a), -1e9, 1e9);
    if (n === null) throw new ExitError(STRCLEAN.USAGE, `-a takes a number of days, not '${String(values.a)}'`);
    if (n < 1) throw new ExitError(STRCLEAN.AGE, `the age must be at least 1 day, not ${n}`);
    days = n;
  }
  const d = values.d === undefined ? DEFAULT_LOGDIR : String(values.d);
  if (d === '') throw new ExitError(STRCLEAN.USAGE, '-d takes a directory');
  const rd = resolveRunDir(values.rundir === undefined ? undefined : String(values.rundir));
  if (!rd.ok) throw new ExitError(STRCLEAN.USAGE, rd.message);
  return { dir: resolve(d), days, rundir: rd.dir };
}

/** The user interface, as SVR4's strclean (a putmsg): mid 44, sid our pid. */
async function announce(o: Options): Promise<void> {
  const client = new StrlogClient({ rundir: o.rundir });
  try {
    const ack = await client.submitWait({ flags: SL_ERROR | SL_NOTIFY, user: true }, 'strclean - removing log files more than %d days old', [o.days], 3000);
    if (!ack) {
      const why = client.submitter.lastError?.message ?? 'no answer';
      process.stderr.write(`${PROG}: could not log to strlogd in ${o.rundir} (${why}); cleaning anyway\n`);
    }
  } finally {
    client.close();
  }
}

/**
 * The log directory must be one (3, as SVR4's and illumos' strclean: also
 * when it does not exist) that strclean can read, write and search (4),
 * before anything is logged: a message about cleaning a directory that is
 * not there would be mailed to root for nothing.
 */
function checkDir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ExitError(STRCLEAN.NOT_DIR, `${dir}: no such directory`);
    throw new ExitError(STRCLEAN.ACCESS, `cannot access the directory ${dir}: ${errnoWords(err)}`);
  }
  if (!st.isDirectory()) throw new ExitError(STRCLEAN.NOT_DIR, `${dir} is not a directory`);
  try {
    accessSync(dir, fsc.R_OK | fsc.W_OK | fsc.X_OK);
  } catch (err) {
    throw new ExitError(STRCLEAN.ACCESS, `cannot access the directory ${dir}: ${errnoWords(err)}`);
  }
}

function clean(o: Options): number {
  let names: string[];
  try {
    names = readdirSync(o.dir);
  } catch (err) {
    throw new ExitError(STRCLEAN.ACCESS, `cannot read ${o.dir}: ${(err as Error).message}`);
  }
  const cutoff = Date.now() - o.days * 86_400_000;
  let status: number = STRCLEAN.OK.code;
  for (const name of names.sort()) {
    if (!name.startsWith('error.')) continue;
    const path = join(o.dir, name);
    try {
      const st = lstatSync(path);
      // Files and the links an old setup may have left; never a directory.
      if (st.isDirectory() || st.mtimeMs >= cutoff) continue;
      unlinkSync(path);
    } catch (err) {
      process.stderr.write(`${PROG}: cannot remove ${path}: ${(err as Error).message}\n`);
      status = STRCLEAN.ACCESS.code;
    }
  }
  return status;
}

async function main(): Promise<void> {
  let status: number;
  try {
    const o = parse(process.argv.slice(2));
    if (helpOrVersion(PROG, o, usage)) return;
    checkDir(o.dir);
    await announce(o);
    status = clean(o);
  } catch (err) {
    exitOnError(PROG, err, STRCLEAN.USAGE.code);
  }
  process.exit(status);
}

main().catch((err: unknown) => {
  process.stderr.write(`${PROG}: ${internalError(err)}\n`);
  process.exit(STRCLEAN.INTERNAL.code);
});
