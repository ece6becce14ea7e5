// Matching the selections' regular expressions (plog -r) off plogsrvd's own
// thread. An expression is another user's code: even with the linear-time
// engine (src/plog/ops/linear-regex.ts) a match costs the text's length times
// the expression's size, up to about a second for 255 bytes of nested groups
// against 4096 characters. So matching runs in a worker thread
// (src/plog/ops/regex-worker.ts) and the server's thread, which answers every
// user and takes every sample, only hands it questions and takes answers:
//
// - one question at a time, taken in turn from each uid's queue (a uid with
//   many processes or expensive expressions does not hold up the others');
// - the time each match took is charged to the uid that asked for the
//   selection, like a request's time (RateLimits.spend: one request per
//   millisecond); a uid whose budget is spent waits until it refills;
// - a match that takes longer than MATCH_DEADLINE_MS (which the linear
//   engine does not reach on 4096 characters: a safety net) is given up: the
//   worker is ended and a new one started for the next question;
// - at most MAX_QUEUED_PER_UID questions wait per uid.
import { Worker } from 'node:worker_threads';
import type { MatchAnswer, MatchQuestion } from './regex-worker.js';

/** A match that takes longer is given up (its process is not logged). */
export const MATCH_DEADLINE_MS = 1000;
/** Questions waiting per uid; more are refused (asked again at a later scan). */
export const MAX_QUEUED_PER_UID = 1024;
/** How soon a uid over its budget is looked at again. */
const BUDGET_RETRY_MS = 100;

export interface MatchJob {
  /** Whose selection: the time is charged to this uid. */
  uid: number;
  pattern: string;
  text: string;
  /** Whether the question still matters (its selection was not stopped); asked before it is sent. */
  wanted: () => boolean;
  /** The answer: true or false, or null when there is none (given up, or the worker failed: why). */
  done: (matched: boolean | null, why?: string) => void;
}

export class RegexMatcher {
  private worker: Worker | null = null;
  /** uid -> its questions; the Map's order is the turn (a uid served goes to the back). */
  private readonly queues = new Map<number, MatchJob[]>();
  private busy: { id: number; job: MatchJob; timer: NodeJS.Timeout } | null = null;
  private retry: NodeJS.Timeout | null = null;
  private nextId = 1;
  /** Whose question was sent last. */
  private lastUid = -1;
  /** Questions answered, and matches given up (for tests and -v). */
  readonly counts = { answered: 0, givenUp: 0 };

  constructor(
    /** Charge uid ms of server time; false while its budget is spent (RateLimits.spend, src/plog/engine/limits.ts). */
    private readonly spend: (uid: number, ms: number) => boolean,
    private readonly workerUrl: URL = new URL('./regex-worker.js', import.meta.url),
  ) {}

  /** Queue a question; false when the uid has too many waiting (nothing queued). */
  match(job: MatchJob): boolean {
    let q = this.queues.get(job.uid);
    if (!q) {
      q = [];
      this.queues.set(job.uid, q);
    }
    if (q.length >= MAX_QUEUED_PER_UID) return false;
    q.push(job);
    this.pump();
    return true;
  }

  /** Questions waiting or being answered. */
  get pending(): number {
    let n = this.busy ? 1 : 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Send the next question, from the next uid in turn that has budget
   * (the uid served last only when no other one has a question). */
  private pump(): void {
    if (this.busy) return;
    let over = false;
    let chosen: number | null = null;
    for (const [uid, q] of this.queues) {
      while (q[0] !== undefined && !q[0].wanted()) q.shift();
      if (q.length === 0) {
        this.queues.delete(uid);
        continue;
      }
      if (!this.spend(uid, 0)) {
        over = true;
        continue;
      }
      if (chosen === null || chosen === this.lastUid) chosen = uid;
      if (chosen !== this.lastUid) break;
    }
    if (chosen !== null) {
      const q = this.queues.get(chosen)!;
      const job = q.shift()!;
      // To the back of the turn.
      this.queues.delete(chosen);
      if (q.length > 0) this.queues.set(chosen, q);
      this.lastUid = chosen;
      this.send(job);
      return;
    }
    if (over && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.pump();
      }, BUDGET_RETRY_MS);
      this.retry.unref();
    }
  }

  private send(job: MatchJob): void {
    const w = this.worker ?? this.start();
    const id = this.nextId++;
    const timer = setTimeout(() => this.giveUp(id), MATCH_DEADLINE_MS);
    timer.unref();
    this.busy = { id, job, timer };
    w.postMessage({ id, pattern: job.pattern, text: job.text } satisfies MatchQuestion);
  }

  private start(): Worker {
    const w = new Worker(this.workerUrl);
    // Never what keeps the daemon's process alive.
    w.unref();
    w.on('message', (a: MatchAnswer) => {
      if (this.worker !== w || !this.busy || a.id !== this.busy.id) return;
      const { job, timer } = this.busy;
      clearTimeout(timer);
      this.busy = null;
      this.counts.answered++;
      this.spend(job.uid, a.ms);
      job.done(a.matched, a.error);
      this.pump();
    });
    const failed = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = null;
      this.fail(why);
    };
    w.on('error', (err) => failed(`the matching thread failed: ${err.message}`));
    w.on('exit', (code) => failed(`the matching thread ended (exit ${code})`));
    this.worker = w;
    return w;
  }

  /** The question being answered took too long: end the worker (a new one takes the next question). */
  private giveUp(id: number): void {
    if (!this.busy || this.busy.id !== id) return;
    const w = this.worker;
    this.worker = null;
    void w?.terminate();
    this.counts.givenUp++;
    this.spend(this.busy.job.uid, MATCH_DEADLINE_MS);
    this.fail(`matching took over ${MATCH_DEADLINE_MS} ms: given up`);
  }

  private fail(why: string): void {
    const b = this.busy;
    this.busy = null;
    if (b) {
      clearTimeout(b.timer);
      b.job.done(null, why);
    }
    this.pump();
  }

  /** Drop every question, end the worker (a later match() starts again). */
  stop(): void {
    this.queues.clear();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (this.busy) clearTimeout(this.busy.timer);
    this.busy = null;
    const w = this.worker;
    this.worker = null;
    void w?.terminate();
  }
}
