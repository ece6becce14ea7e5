/**
 * plogkit/strlog: strlog(7) for Node, over strlogd (the user-space STREAMS log
 * driver of this project). See strlog(3).
 *
 * ```ts
 * import { strlog, SL_ERROR, SL_NOTIFY } from 'plogkit/strlog';
 * strlog(1234, 0, 0, SL_ERROR | SL_NOTIFY, 'disk %s: %d bad blocks', 'sda', 12);
 * ```
 *
 * strlog() never blocks and never waits for strlogd: it hands the message
 * to the driver's socket (or, when that is momentarily full, to a bounded
 * queue in the process that is sent as soon as the socket is writable) and
 * returns 1; it returns 0 when nothing is to be logged (no SL_ERROR,
 * SL_TRACE or SL_CONSOLE) or the message had to be dropped (no driver, the
 * queue full: see strlogDropped()). strlogWait() sends the same message and
 * resolves to the driver's own answer: which classes took it, and its
 * sequence numbers.
 */
import { SystemError } from '../native.js';
import { LOG_FACMASK } from '../syslog/constants.js';
import { MAX_TEXT, SL_CLASSES } from './constants.js';
import { Submitter, type SubmitterOptions } from './client.js';
import { checkFormat, messageBound } from './format.js';
import { encodeData, encodeSubmission, IFACE_MODULE, IFACE_USER, type Ack } from './wire.js';

export * from './constants.js';
export { checkFormat, expand, oneLine, isStrlogArg, type StrlogArg, type FormatCheck } from './format.js';
export { matches, matchOne, parseTriples } from './filter.js';
export { Submitter, LogStream, driverStats, type SubmitterOptions, type LogStreamOptions } from './client.js';
export { resolveRunDir } from './rundir.js';
export type { Ack, LogMessage, LogCtl, TraceId, Role } from './wire.js';
export type { DriverStats, LoggerStats } from './driver.js';

/** A message as submitted. mid and sid are used only by the module interface. */
export interface StrlogMessage {
  mid?: number;
  sid?: number;
  level?: number;
  flags: number;
  /** Use the user interface (putmsg): the driver gives mid 44 and the pid as sid. */
  user?: boolean;
  /** A facility (LOG_LOCAL0...) for the pri of every copy, instead of kern/user. */
  facility?: number;
}

export interface StrlogClientOptions extends SubmitterOptions {
  /** Default facility of this client's messages (see StrlogMessage.facility). */
  facility?: number;
}

function intIn(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`strlog: ${name} must be an integer from ${lo} to ${hi}, not ${String(v)}`);
  return v;
}

/**
 * Encode one submission record, checking everything the driver would
 * reject: mid and sid short, level a signed char, flags an unsigned short,
 * a strlog format (TypeError otherwise) and integer or string arguments.
 */
export function encodeMessage(m: StrlogMessage, fmt: string, args: readonly unknown[], token = 0): Buffer {
  const mid = intIn('mid', m.mid ?? 0, -32768, 32767);
  const sid = intIn('sid', m.sid ?? 0, -32768, 32767);
  const level = intIn('level', m.level ?? 0, -128, 127);
  const flags = intIn('flags', m.flags, 0, 0xffff);
  if (typeof fmt !== 'string') throw new TypeError('strlog: the format must be a string');
  const check = checkFormat(fmt);
  if (!check.ok) throw new TypeError(`strlog: ${check.error}`);
  let facility = 0;
  if (m.facility !== undefined) {
    if (!Number.isInteger(m.facility) || (m.facility & ~LOG_FACMASK) !== 0) throw new RangeError(`strlog: not a facility: ${String(m.facility)}`);
    facility = m.facility >> 3;
  }
  const bound = messageBound(fmt, args);
  if (bound > MAX_TEXT) throw new RangeError(`strlog: the message can expand to ${bound} bytes, more than ${MAX_TEXT} (strlogd would drop it)`);
  return encodeSubmission({ iface: m.user ? IFACE_USER : IFACE_MODULE, flags, mid, sid, level, facility, token }, encodeData(fmt, args));
}

/** An independent connection to strlogd (strlog() uses a shared one). */
export class StrlogClient {
  readonly submitter: Submitter;
  private readonly facility: number | undefined;

  constructor(opts: StrlogClientOptions = {}) {
    this.submitter = new Submitter(opts);
    this.facility = opts.facility;
  }

  /** Messages dropped in this process (no driver, queue full, driver stuck). */
  get dropped(): number {
    return this.submitter.dropped;
  }

  /** strlog(mid, sid, level, flags, fmt, ...args): 1 when handed to the driver, else 0. */
  strlog(mid: number, sid: number, level: number, flags: number, fmt: string, ...args: unknown[]): 0 | 1 {
    return this.submit({ mid, sid, level, flags }, fmt, args);
  }

  /** The user interface (a putmsg to the driver): mid 44, sid our pid. */
  putlog(level: number, flags: number, fmt: string, ...args: unknown[]): 0 | 1 {
    return this.submit({ level, flags, user: true }, fmt, args);
  }

  /** Submit a message; 1 when handed to the driver, 0 when not to be logged or dropped. */
  submit(m: StrlogMessage, fmt: string, args: readonly unknown[] = []): 0 | 1 {
    const rec = encodeMessage(this.withFacility(m), fmt, args);
    if (!(m.flags & SL_CLASSES)) return 0;
    return this.submitter.send(rec) ? 1 : 0;
  }

  /**
   * Submit and wait for the driver's acknowledgement: result 1 when every
   * class left in `flags` (the bits of classes nobody takes are cleared)
   * has its sequence number and its loggers their copies; null when the
   * message was dropped before the driver or no answer came in `timeout` ms.
   */
  async submitWait(m: StrlogMessage, fmt: string, args: readonly unknown[] = [], timeout = 5000): Promise<Ack | null> {
    const token = this.submitter.token();
    const rec = encodeMessage(this.withFacility(m), fmt, args, token);
    return this.submitter.request(rec, token, timeout);
  }

  /** strlog() that resolves to the driver's answer (see submitWait). */
  strlogWait(mid: number, sid: number, level: number, flags: number, fmt: string, ...args: unknown[]): Promise<Ack | null> {
    return this.submitWait({ mid, sid, level, flags }, fmt, args);
  }

  /** Resolves when nothing waits in this process for the driver. */
  flush(): Promise<void> {
    return this.submitter.flush();
  }

  close(): void {
    this.submitter.close();
  }

  private withFacility(m: StrlogMessage): StrlogMessage {
    return m.facility === undefined && this.facility !== undefined ? { ...m, facility: this.facility } : m;
  }
}

let shared: StrlogClient | null = null;

/** The client behind strlog() (made on first use, for $STRLOGDIR or /run/strlog). */
export function defaultClient(): StrlogClient {
  return (shared ??= new StrlogClient());
}

/** Replace the client behind strlog() (another runtime directory, queue size...). */
export function configureStrlog(opts: StrlogClientOptions): StrlogClient {
  shared?.close();
  shared = new StrlogClient(opts);
  return shared;
}

/**
 * strlog(7): submit a message to the STREAMS log driver. Returns 1 when it
 * was handed to strlogd, 0 when there is nothing to log (none of SL_ERROR,
 * SL_TRACE, SL_CONSOLE) or it was dropped before reaching the driver.
 * Throws RangeError/TypeError for arguments C could not have passed (mid
 * out of a short, a format with %f...). Callers outside root and strlogd's
 * module group are logged as user processes (mid 44, sid their pid).
 */
export function strlog(mid: number, sid: number, level: number, flags: number, fmt: string, ...args: unknown[]): 0 | 1 {
  return defaultClient().strlog(mid, sid, level, flags, fmt, ...args);
}

/** strlog() with the driver's answer (see StrlogClient.submitWait). */
export function strlogWait(mid: number, sid: number, level: number, flags: number, fmt: string, ...args: unknown[]): Promise<Ack | null> {
  return defaultClient().strlogWait(mid, sid, level, flags, fmt, ...args);
}

/** Messages strlog() dropped in this process since it started. */
export function strlogDropped(): number {
  return shared?.dropped ?? 0;
}

export { SystemError };
