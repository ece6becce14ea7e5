// strerr's mail to the administrator for N (SL_NOTIFY) messages, through the
// system's mailer. Which mailer and how it is called are pure functions;
// MailQueue runs them, a few at a time, never blocking the logger.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { basename, join } from 'node:path';

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
  /** Where problems are reported (strerr's error report). */
  report: (msg: string) => void;
  /** Mailers running at once (default 4) and mails waiting (default 256). */
  running?: number;
  waiting?: number;
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
  private overflowReported = false;
  private readonly idleWaiters: (() => void)[] = [];
  /** Mails handed to the mailer, and those that failed or were not sent. */
  sent = 0;
  failed = 0;

  constructor(private readonly o: MailQueueOptions) {}

  send(subject: string, body: string): void {
    if (!this.o.mailer || this.missingReported) {
      // No mailer, or one that turned out not to exist: reported once.
      this.failed++;
      this.missing('no mailer found (sendmail, mail or mailx; see --mailer)');
      return;
    }
    if (this.waitingList.length >= (this.o.waiting ?? 256)) {
      this.failed++;
      if (!this.overflowReported) this.o.report(`too many mails waiting: messages not mailed to ${this.o.to} (they are in the log)`);
      this.overflowReported = true;
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
      if (this.waitingList.length === 0) this.overflowReported = false;
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
