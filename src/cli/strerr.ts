#!/usr/bin/env node
// strerr(8): the STREAMS error logger. Registers with strlogd as the error
// logger and appends each message to DIR/error.MM-DD (the message's day),
// mailing the administrator the N (SL_NOTIFY) ones.
import '../daemon/no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { parseOptions, exitOnError, helpOrVersion } from './args.js';
import { accessSync, closeSync, constants as fsc, fstatSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { internalError } from '../bugs.js';
import { LogStream, unreachable } from '../strlog/client.js';
import { DEFAULT_LOGDIR, SL_NOTIFY } from '../strlog/constants.js';
import { ExitError, exitStatusHelp, STRERR } from '../strlog/exitcodes.js';
import { errLine, errorFileName, seq6 } from '../strlog/lines.js';
import { DEFAULT_MAIL_LIMIT, findMailer, MailQueue, parseMailer, parseMailLimit, type MailLimit, type Mailer } from '../strlog/mailer.js';
import { resolveRunDir } from '../strlog/rundir.js';
import type { LogMessage } from '../strlog/wire.js';
import { version } from '../version.js';
import {
  createReporter,
  daemonSignals,
  detach,
  isShuttingDown,
  notifyFailure,
  notifyReady,
  onReload,
  onReopen,
  shutdown,
  type Reporter,
} from '../daemon/index.js';

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

interface Options {
  logdir: string;
  to: string;
  mailer: Mailer | null;
  limit: MailLimit;
  rundir: string;
  daemon: boolean;
}

function parse(argv: string[]): Options | 'help' | 'version' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseOptions(argv, {
      d: { type: 'string', short: 'd' },
      a: { type: 'string', short: 'a' },
      mailer: { type: 'string' },
      'mail-limit': { type: 'string' },
      rundir: { type: 'string' },
      daemon: { type: 'boolean' },
      h: { type: 'boolean', short: 'h' },
      help: { type: 'boolean' },
      version: { type: 'boolean' },
    }));
  } catch (err) {
    throw new ExitError(STRERR.USAGE, (err as Error).message);
  }
  if (values.h || values.help) return 'help';
  if (values.version) return 'version';
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
  return { logdir: resolve(d), to, mailer, limit, rundir: rd.dir, daemon: !!values.daemon };
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

/**
 * The log files: one open at a time, chosen by each message's day. Files
 * are opened O_APPEND|O_CREAT|O_NOFOLLOW and must be our own plain file with
 * one link (the directory may be shared): nothing planted at a log's name
 * is ever written to. When the day's file is not usable so (a second link,
 * another owner, a symbolic link), the day's messages go to the first of
 * error.MM-DD.1, .2 ... that is, and strerr says so: a message is written
 * or reported lost, never silently dropped.
 */
class ErrorLog {
  private fd = -1;
  /** The day's name (error.MM-DD) and the file it is written to. */
  private name = '';
  private path = '';
  private complained = new Set<string>();
  private writeFailing = false;
  /** Lines not written since the last report. */
  private lost = 0;
  private lostReportAt = -Infinity;
  constructor(
    private readonly dir: string,
    private readonly report: Reporter,
  ) {}

  /** Append `count` lines to the file of the day `name`; false when they could not be written. */
  append(name: string, text: string, count: number): boolean {
    if (name !== this.name) {
      this.close();
      if (!this.open(name)) return this.lose(count);
    }
    const buf = Buffer.from(text);
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off);
      if (this.writeFailing) this.recovered();
      return true;
    } catch (err) {
      if (!this.writeFailing) this.report.error(`cannot write to ${this.path}: ${(err as Error).message}; messages are lost (their number is reported)`);
      this.writeFailing = true;
      return this.lose(count);
    }
  }

  /** Open the day's file, or the first usable alternative name; false when none. */
  private open(name: string): boolean {
    const base = join(this.dir, name);
    let why = '';
    for (let n = 0; n < 100; n++) {
      const path = n === 0 ? base : `${base}.${n}`;
      const r = this.openOne(path);
      if (typeof r === 'number') {
        this.fd = r;
        this.name = name;
        this.path = path;
        if (n > 0 && !this.complained.has(name)) this.report.error(`cannot use ${base}: ${why}; this day's messages go to ${path}`);
        this.complained.add(name);
        return true;
      }
      if (n === 0) why = r.why;
      if (!r.other) break; // not a file planted at the name: another name would fail the same way
    }
    if (!this.complained.has(name)) this.report.error(`cannot open ${base}: ${why}; its messages are lost (their number is reported)`);
    this.complained.add(name);
    return false;
  }

  /** A descriptor of our own file at path, or why not (other: the name is taken by someone else's file). */
  private openOne(path: string): number | { why: string; other: boolean } {
    let fd: number;
    try {
      fd = openSync(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A symbolic link (ELOOP), a FIFO without reader (ENXIO), a directory.
      const other = code === 'ELOOP' || code === 'ENXIO' || code === 'EISDIR' || code === 'ETXTBSY';
      return { why: code === 'ELOOP' ? 'a symbolic link (not followed)' : (err as Error).message, other };
    }
    const st = fstatSync(fd);
    const euid = process.geteuid?.() ?? st.uid;
    if (st.isFile() && st.nlink === 1 && st.uid === euid) return fd;
    closeSync(fd);
    return { why: !st.isFile() ? 'not a regular file' : st.nlink !== 1 ? 'it has other links' : `owned by uid ${st.uid}`, other: true };
  }

  private lose(count: number): false {
    this.lost += count;
    // Said at once the first time, then at most every 10 s while it lasts.
    const now = performance.now();
    if (now - this.lostReportAt >= 10_000) {
      this.lostReportAt = now;
      this.reportLost();
    }
    return false;
  }

  /** The file the lines of the day `name` go to. */
  where(name: string): string {
    return name === this.name ? this.path : join(this.dir, name);
  }

  private recovered(): void {
    this.writeFailing = false;
    this.reportLost();
  }

  /** Say how many lines were lost since the last time. */
  reportLost(): void {
    if (this.lost === 0) return;
    this.report.error(`${this.lost} messages could not be written (${this.path || join(this.dir, this.name || 'error.*')})`);
    this.lost = 0;
  }

  close(): void {
    this.reportLost();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.name = '';
    this.path = '';
  }
}

async function main(): Promise<void> {
  let opts: Options | 'help' | 'version';
  try {
    opts = parse(process.argv.slice(2));
    if (helpOrVersion(PROG, opts, usage)) return;
    prepareLogDir(opts.logdir);
  } catch (err) {
    exitOnError(PROG, err, STRERR.USAGE.code);
  }
  const o = opts;
  if (o.daemon) {
    try {
      await detach({ name: PROG, runtimeDir: o.logdir, failCode: STRERR.FORK.code });
    } catch (err) {
      process.stderr.write(`${PROG}: could not detach: ${(err as Error).message}\n`);
      process.exit(STRERR.FORK.code);
    }
  }
  const sink = o.daemon ? (await import('../daemon/syslog-sink.js')).syslogSink(PROG) : undefined;
  const report = createReporter({ program: PROG, dest: o.daemon ? 'syslog' : 'stderr', syslog: sink });

  const log = new ErrorLog(o.logdir, report);
  const host = hostname();
  const mail = new MailQueue({ mailer: o.mailer, to: o.to, limit: o.limit, subjectPrefix: `STREAMS errors on ${host}`, report: (m) => report.error(m) });
  let stream: LogStream | null = null;
  // Every signal that would end us by default is decided (DAEMON_SIGNALS,
  // strerr(8) SIGNALS), before we register: strlogd may send us messages at once.
  daemonSignals(async () => {
    stream?.close();
    log.close();
    mail.flushHeld();
    await mail.idle(2000);
    report.close();
  });
  // SIGHUP and SIGUSR1 (logrotate): close the day's file; the next message
  // opens error.MM-DD by its name again, a new file if it was moved away.
  onReload(() => log.close());
  onReopen(() => log.close());

  try {
    stream = await LogStream.open('error', { rundir: o.rundir });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The seed's words, alone on the line, status 1.
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
  notifyReady();
}

main().catch((err: unknown) => {
  process.stderr.write(`${PROG}: ${internalError(err)}\n`);
  void shutdown(STRERR.INTERNAL.code);
});
