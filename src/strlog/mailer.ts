// strerr's mail to the administrator for N (SL_NOTIFY) messages, through the
// system's mailer. Which mailer and how it is called are pure functions;
// MailQueue runs them, a few at a time, never blocking the logger.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** How to call a mailer: sendmail style (a whole message with To and
 * Subject on stdin, the address as argument) or mail style (-s SUBJECT
 * ADDRESS, the body on stdin). */
export interface Mailer {
  command: string;
  args: string[];
  style: 'sendmail' | 'mail';
}

const MAIL_NAMES = new Set(['mail', 'mailx', 'Mail', 'bsd-mailx', 's-nail', 'heirloom-mailx']);

/**
 * strerr --mailer CMD: words separated by blanks (no shell quoting); a
 * command named mail, mailx (and the like) is called mail style, anything
 * else sendmail style. null for an empty command.
 */
export function parseMailer(cmd: string): Mailer | null {
  const words = cmd.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return null;
  const [command, ...args] = words as [string, ...string[]];
  return { command, args, style: MAIL_NAMES.has(basename(command)) ? 'mail' : 'sendmail' };
}

function executable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The system's mailer: sendmail (in /usr/sbin, /usr/lib or $PATH) called
 * `sendmail -oi ADDRESS`, else mail or mailx from $PATH; null when none.
 */
export function findMailer(path = process.env.PATH ?? '', isExec: (p: string) => boolean = executable): Mailer | null {
  const dirs = path.split(':').filter(Boolean);
  for (const p of ['/usr/sbin/sendmail', '/usr/lib/sendmail', ...dirs.map((d) => join(d, 'sendmail'))]) {
    if (isExec(p)) return { command: p, args: ['-oi'], style: 'sendmail' };
  }
  for (const name of ['mail', 'mailx']) {
    for (const d of dirs) {
      const p = join(d, name);
      if (isExec(p)) return { command: p, args: [], style: 'mail' };
    }
  }
  return null;
}

/** The argv and the standard input of one mail. */
export function mailCall(m: Mailer, to: string, subject: string, body: string): { args: string[]; input: string } {
  if (m.style === 'mail') return { args: [...m.args, '-s', subject, to], input: body };
  return { args: [...m.args, to], input: `To: ${to}\nSubject: ${subject}\n\n${body}` };
}

export interface MailQueueOptions {
  /** null: no mailer was found. */
  mailer: Mailer | null;
  to: string;
  /** The start of a summary mail's subject (default "STREAMS errors"). */
  subjectPrefix?: string;
  /** Where problems are reported (strerr's error report). */
  report: (msg: string) => void;
  /** Mailers running at once (default 4) and mails waiting (default 256). */
  running?: number;
  waiting?: number;
  /** At most `mails` mails every `seconds` (default 10 a minute): the
   * messages past that are summarised in one mail when the time is up. */
  limit?: MailLimit;
}

export interface MailLimit {
  mails: number;
  seconds: number;
}

export const DEFAULT_MAIL_LIMIT: MailLimit = { mails: 10, seconds: 60 };
/** Lines quoted in a summary mail; the rest are counted. */
const SUMMARY_LINES = 100;

/** strerr --mail-limit N/SECONDS, or null. */
export function parseMailLimit(s: string): MailLimit | null {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(s);
  if (!m) return null;
  const mails = Number(m[1]);
  const seconds = Number(m[2]);
  return mails >= 1 && seconds >= 1 ? { mails, seconds } : null;
}

/**
 * Mails sent by spawning the mailer, at most a few at a time, the rest
 * waiting in a bounded queue. A missing mailer is reported once; a mailer
 * that fails is reported each time; what cannot be mailed stays only in
 * the log (the line is written before the mail is asked for).
 */
export class MailQueue {
  private readonly waitingList: { subject: string; body: string }[] = [];
  private active = 0;
  private missingReported = false;
  /** The limit's period: when it began (performance.now()), mails in it. */
  private windowStart = -Infinity;
  private inWindow = 0;
  /** Messages held for the summary mail, and the first of their lines. */
  private held = 0;
  private heldLines: string[] = [];
  private summaryTimer: NodeJS.Timeout | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  /** Mails handed to the mailer, and those that failed or were not sent. */
  sent = 0;
  failed = 0;
  /** Messages that went in summary mails, and those mails. */
  summarised = 0;
  summaries = 0;

  constructor(private readonly o: MailQueueOptions) {}

  /**
   * Mail one message (`line`: its line in the log, for a summary). Past
   * the limit, or with too many mails waiting for the mailer, it is held
   * and goes in the summary mail at the end of the limit's period.
   */
  send(subject: string, body: string, line: string = body): void {
    const now = performance.now();
    const lim = this.o.limit ?? DEFAULT_MAIL_LIMIT;
    if (now - this.windowStart >= lim.seconds * 1000 && this.held === 0) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.held > 0 || this.inWindow >= lim.mails || this.waitingList.length >= (this.o.waiting ?? 256)) {
      this.hold(line, now, lim);
      return;
    }
    this.inWindow++;
    this.mail(subject, body);
  }

  private hold(line: string, now: number, lim: MailLimit): void {
    this.held++;
    if (this.heldLines.length < SUMMARY_LINES) this.heldLines.push(line.replace(/\n$/, ''));
    if (this.summaryTimer) return;
    const due = Math.max(this.windowStart + lim.seconds * 1000 - now, 0);
    this.summaryTimer = setTimeout(() => this.summarise(), due);
  }

  /** The held messages in one mail, the first of a new period. */
  private summarise(): void {
    this.summaryTimer = null;
    const n = this.held;
    if (n === 0) return;
    const lim = this.o.limit ?? DEFAULT_MAIL_LIMIT;
    const lines = this.heldLines;
    this.held = 0;
    this.heldLines = [];
    this.windowStart = performance.now();
    this.inWindow = 1;
    this.summarised += n;
    this.summaries++;
    const more = n > lines.length ? `... and ${n - lines.length} more (see the log)\n` : '';
    this.mail(
      `${this.o.subjectPrefix ?? 'STREAMS errors'}: ${n} more messages`,
      `${n} messages to be mailed came past the limit of ${lim.mails} mails every ${lim.seconds} s; here they are in one mail:\n\n${lines.join('\n')}\n${more}`,
    );
  }

  /** Mail the summary of the held messages now (strerr stopping). */
  flushHeld(): void {
    if (this.summaryTimer) {
      clearTimeout(this.summaryTimer);
      this.summarise();
    }
  }

  private mail(subject: string, body: string): void {
    if (!this.o.mailer || this.missingReported) {
      // No mailer, or one that turned out not to exist: reported once.
      this.failed++;
      this.missing('no mailer found (sendmail, mail or mailx; see --mailer)');
      return;
    }
    this.waitingList.push({ subject, body });
    this.next();
  }

  /** Resolves when no mailer runs and none waits (or after ms). */
  idle(ms = 5000): Promise<void> {
    if (this.active === 0 && this.waitingList.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private missing(why: string): void {
    if (this.missingReported) return;
    this.missingReported = true;
    this.o.report(`${why}: N messages are not mailed to ${this.o.to}; they are kept in the log`);
  }

  private next(): void {
    const m = this.o.mailer!;
    while (this.active < (this.o.running ?? 4) && this.waitingList.length > 0) {
      const mail = this.waitingList.shift()!;
      const call = mailCall(m, this.o.to, mail.subject, mail.body);
      this.active++;
      let done = false;
      const finish = (problem: string | null, missing = false): void => {
        if (done) return;
        done = true;
        this.active--;
        if (problem === null) this.sent++;
        else {
          this.failed++;
          if (missing) this.missing(problem);
          else this.o.report(problem);
        }
        this.next();
        if (this.active === 0 && this.waitingList.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      };
      const child = spawn(m.command, call.args, { stdio: ['pipe', 'ignore', 'ignore'] });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'EACCES') finish(`mailer ${m.command} cannot be run (${err.code})`, true);
        else finish(`mailer ${m.command}: ${err.message}`);
      });
      child.on('exit', (code, signal) => {
        if (code === 0) finish(null);
        else finish(`mailer ${m.command} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}: a message to ${this.o.to} may not have gone`);
      });
      child.stdin.on('error', () => {});
      child.stdin.end(call.input);
    }
  }
}
