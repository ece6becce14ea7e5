#!/usr/bin/env node
// strerr(8): the STREAMS error logger. Registers with strlogd as the error
// logger and appends each message to DIR/error.MM-DD (the message's day),
// mailing the administrator the N (SL_NOTIFY) ones.
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { accessSync, constants as fsc, mkdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { LogStream, unreachable } from '../strlog/client.js';
import { DEFAULT_LOGDIR, SL_NOTIFY } from '../strlog/constants.js';
import { ErrorLog } from '../strlog/errorlog.js';
import { ExitError, exitStatusHelp, STRERR } from '../strlog/exitcodes.js';
import { errLine, errorFileName, seq6 } from '../strlog/lines.js';
import { DEFAULT_MAIL_LIMIT, findMailer, MailQueue, parseMailer, parseMailLimit, type MailLimit, type Mailer } from '../strlog/mailer.js';
import { resolveRunDir } from '../strlog/rundir.js';
import type { LogMessage } from '../strlog/wire.js';
import { version } from '../version.js';
import { parseDaemonArgs, runDaemon, type DaemonBasics, type DaemonContext } from '../daemon/run.js';
import { isShuttingDown, notifyFailure, onReload, onReopen } from '../daemon/index.js';

const PROG = 'strerr';
export const EXISTS_MESSAGE = 'ERROR: error logger already exists';

export function usage(): string {
  return `strerr ${version()} - STREAMS error logger

Usage:
  strerr [-d LOGDIR] [-a ADDR] [--mailer CMD] [--mail-limit N/SECONDS]
         [--rundir DIR] [--daemon]
  strerr -h | --help | --version

Registers with strlogd as the error logger and appends each message to
LOGDIR/error.MM-DD (MM-DD: the message's local day) as
  SEQ TIME TICKS FLAGS MID SID TEXT
FLAGS: F fatal, N notify (the line is also mailed), T also sent to a tracer.

Options:
  -d LOGDIR     the log directory (default ${DEFAULT_LOGDIR}; created if missing)
  -a ADDR       who gets the mail of N messages (default root)
  --mailer CMD  the mailer: words separated by blanks; a command named
                mail or mailx gets -s SUBJECT ADDR and the line, any other
                (sendmail style) ADDR and a message with To and Subject
                (default: sendmail -oi, else mail, else none)
  --mail-limit N/SECONDS
                at most N mails every SECONDS (default ${DEFAULT_MAIL_LIMIT.mails}/${DEFAULT_MAIL_LIMIT.seconds}); the N
                messages past that go in one summary mail when the time is up
  --rundir DIR  strlogd's runtime directory (default $STRLOGDIR, else /run/strlog)
  --daemon      detach into the background (errors then go to syslog)
  -h, --help    this text
  --version     the version

Exit status:
${exitStatusHelp(STRERR)}
`;
}

interface Options extends DaemonBasics {
  logdir: string;
  to: string;
  mailer: Mailer | null;
  limit: MailLimit;
  rundir: string;
  daemon: boolean;
}

function parse(argv: string[]): Options | 'help' | 'version' {
  const values = parseDaemonArgs(
    argv,
    {
      d: { type: 'string', short: 'd' },
      a: { type: 'string', short: 'a' },
      mailer: { type: 'string' },
      'mail-limit': { type: 'string' },
      rundir: { type: 'string' },
      daemon: { type: 'boolean' },
    },
    STRERR.USAGE.code,
  );
  if (values === 'help' || values === 'version') return values;
  const to = values.a === undefined ? 'root' : String(values.a);
  if (to === '' || to.startsWith('-') || /\s/.test(to)) throw new ExitError(STRERR.USAGE, `-a takes a mail address, not '${to}'`);
  let mailer: Mailer | null;
  if (values.mailer !== undefined) {
    mailer = parseMailer(String(values.mailer));
    if (!mailer) throw new ExitError(STRERR.USAGE, '--mailer takes a command');
  } else {
    mailer = findMailer();
  }
  let limit = DEFAULT_MAIL_LIMIT;
  if (values['mail-limit'] !== undefined) {
    const l = parseMailLimit(String(values['mail-limit']));
    if (!l) throw new ExitError(STRERR.USAGE, `--mail-limit takes N/SECONDS (both at least 1), not '${String(values['mail-limit'])}'`);
    limit = l;
  }
  const rd = resolveRunDir(values.rundir === undefined ? undefined : String(values.rundir));
  if (!rd.ok) throw new ExitError(STRERR.USAGE, rd.message);
  const d = values.d === undefined ? DEFAULT_LOGDIR : String(values.d);
  if (d === '') throw new ExitError(STRERR.USAGE, '-d takes a directory');
  const logdir = resolve(d);
  const daemon = !!values.daemon;
  // Detached (--daemon), errors go to syslog and the log directory is its cwd.
  return { logdir, to, mailer, limit, rundir: rd.dir, daemon, runtimeDir: logdir, foreground: !daemon, dest: daemon ? 'syslog' : 'stderr' };
}

function prepareLogDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, fsc.W_OK | fsc.X_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ExitError(STRERR.LOGDIR, `cannot use the log directory ${dir}: ${e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'not a directory' : e.message}`);
  }
}

/** Options, then the log directory: its errors reach the user before there is a daemon. */
function prepare(argv: string[]): Options | 'help' | 'version' {
  const opts = parse(argv);
  if (opts !== 'help' && opts !== 'version') prepareLogDir(opts.logdir);
  return opts;
}

async function start(o: Options, ctx: DaemonContext): Promise<void> {
  const { report } = ctx;
  const log = new ErrorLog(o.logdir, report);
  const host = hostname();
  const mail = new MailQueue({ mailer: o.mailer, to: o.to, limit: o.limit, subjectPrefix: `STREAMS errors on ${host}`, report: (m) => report.error(m) });
  let stream: LogStream | null = null;
  // Set before we register: strlogd may send us messages at once.
  ctx.onStop(async () => {
    stream?.close();
    log.close();
    mail.flushHeld();
    await mail.idle(2000);
  });
  // SIGHUP and SIGUSR1 (logrotate): close the day's file; the next message
  // opens error.MM-DD by its name again, a new file if it was moved away.
  onReload(() => log.close());
  onReopen(() => log.close());

  try {
    stream = await LogStream.open('error', { rundir: o.rundir });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The SVR4 strerr's words, alone on the line, status 1.
    if (code === 'EBUSY') notifyFailure(STRERR.EXISTS.code, EXISTS_MESSAGE);
    if (code === 'EPERM') return report.fatal(STRERR.REFUSED.code, `strlogd refused the error logger: ${(err as Error).message} (root or strlogd's module group only)`);
    return report.fatal(STRERR.NO_DRIVER.code, unreachable(o.rundir, err));
  }

  stream.on('messages', (batch: LogMessage[]) => {
    // One write per file per batch; mail after the lines are written.
    let name = '';
    let text = '';
    let count = 0;
    let notify: { m: LogMessage; line: string; file: string }[] | null = null;
    for (const m of batch) {
      const file = errorFileName(m.ttime);
      if (file !== name) {
        if (text) log.append(name, text, count);
        name = file;
        text = '';
        count = 0;
      }
      const line = errLine(m);
      text += line;
      count++;
      if (m.flags & SL_NOTIFY) (notify ??= []).push({ m, line, file });
    }
    if (text) log.append(name, text, count);
    if (notify) {
      for (const n of notify) {
        mail.send(`STREAMS error ${seq6(n.m.seq)} on ${host} (mid ${n.m.mid} sid ${n.m.sid})`, `${n.line}\n(${log.where(n.file)})\n`, n.line);
      }
    }
  });
  stream.on('close', () => {
    if (isShuttingDown()) return;
    void report.fatal(STRERR.DRIVER_GONE.code, `strlogd closed the connection (${o.rundir})`);
  });
}

runDaemon({
  name: PROG,
  usage,
  codes: { usage: STRERR.USAGE.code, fork: STRERR.FORK.code, internal: STRERR.INTERNAL.code },
  forkWords: 'could not detach',
  prepare,
  start,
});
