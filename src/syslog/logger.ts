// The Logger: one ident, option set, facility, mask and transport, with the
// POSIX functions as methods. index.ts puts one shared instance behind the
// process-global openlog()/syslog()/... ; libraries that must not touch that
// global state make their own.

import { Buffer } from 'node:buffer';
import { openSync, writeSync, closeSync, constants as fsc } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { basename, extname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import {
  LOG_CONS,
  LOG_DEBUG,
  LOG_ALERT,
  LOG_CRIT,
  LOG_EMERG,
  LOG_ERR,
  LOG_FACMASK,
  LOG_INFO,
  LOG_MASK,
  LOG_NDELAY,
  LOG_NOTICE,
  LOG_PERROR,
  LOG_PID,
  LOG_PRI,
  LOG_PRIMASK,
  LOG_USER,
  LOG_WARNING,
} from './constants.js';
import { consoleLine, formatRfc3164, formatRfc5424, perrorLine, type StructuredData, type SyslogMessage } from './format.js';
import { format } from './printf.js';
import { noNul } from './format.js';
import { DEFAULT_LIMITS, type DropReason, type QueueLimits, type Transport, type TransportHooks } from './transport.js';
import { defaultSocketPath, UnixTransport } from './transport-unix.js';
import { StreamTransport, UdpTransport, type NetTarget } from './transport-net.js';

export type RemoteFormat = 'rfc3164' | 'rfc5424';

export interface LoggerOptions {
  /** The tag; default: the program's name (see defaultIdent()). */
  ident?: string;
  /** openlog() options: LOG_PID | LOG_CONS | LOG_NDELAY | LOG_PERROR ... */
  option?: number;
  /** Default facility for priorities without one (default LOG_USER). */
  facility?: number;
  /** Initial setlogmask() mask (default 0xff: everything). */
  mask?: number;
  /** Local socket path (default $PLOG_SYSLOG_SOCKET, else /dev/log). */
  path?: string;
  /** Destination: unix:///dev/log, udp://host:514, tcp://host:601, tls://host:6514. */
  url?: string;
  /** Wire format for udp/tcp/tls (default rfc5424). The local socket always
   * gets glibc's line, which every local receiver parses. */
  format?: RemoteFormat;
  /** HOSTNAME for remote formats (default os.hostname()). */
  hostname?: string;
  /** RFC 5424: prefix MSG with a UTF-8 BOM. */
  bom?: boolean;
  /** TLS options for tls:// (ca, cert, key, servername, rejectUnauthorized...). */
  tls?: tls.ConnectionOptions;
  /** Queue bounds and the stall timeout, see QueueLimits. */
  queueMessages?: number;
  queueBytes?: number;
  stallTimeout?: number;
  /** Where LOG_CONS writes (default /dev/console). */
  console?: string;
  /** Where LOG_PERROR writes (default process.stderr). */
  stderr?: { write(s: string): unknown };
}

/** Extra fields for Logger#log (RFC 5424 only; other formats ignore them). */
export interface LogMeta {
  msgid?: string;
  structuredData?: StructuredData;
}

/** What %m prints, as vsyslog's fourth argument: an errno number, a code
 * ('ENOENT') or an Error (its code/errno, else its message). */
export type ErrnoLike = number | string | Error | null | undefined;

/** glibc's default ident is program_invocation_short_name; for Node the
 * script's base name without extension (`plogsrvd` for
 * dist/src/cli/plogsrvd.js), else process.title. */
export function defaultIdent(): string {
  const script = process.argv[1];
  if (script) {
    if (script === identOf) return ident;
    const b = basename(script);
    const ext = extname(b);
    identOf = script;
    ident = ext ? b.slice(0, -ext.length) : b;
    return ident;
  }
  return process.title;
}
// defaultIdent() of the last script path seen (it is asked once a message).
let identOf: string | undefined;
let ident = '';

/** A parsed destination. */
export type Destination = { protocol: 'unix'; path: string } | NetTarget;

const DEFAULT_PORTS = { udp: 514, tcp: 601, tls: 6514 } as const;

/** Parse unix:///path, udp://host[:port], tcp://host[:port], tls://host[:port]. */
export function parseDestination(url: string): Destination {
  const m = /^([a-z]+):\/\/(.*)$/i.exec(url);
  if (!m) throw new TypeError(`syslog: not a destination URL: ${url}`);
  const protocol = m[1]!.toLowerCase();
  if (protocol === 'unix') {
    const path = decodeURIComponent(m[2]!);
    if (!path) throw new TypeError(`syslog: no socket path in ${url}`);
    return { protocol: 'unix', path };
  }
  if (protocol !== 'udp' && protocol !== 'tcp' && protocol !== 'tls') {
    throw new TypeError(`syslog: unknown protocol in ${url} (unix, udp, tcp, tls)`);
  }
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new TypeError(`syslog: no host in ${url}`);
  const port = u.port ? Number(u.port) : DEFAULT_PORTS[protocol];
  return { protocol, host, port };
}

const INTERNALLOG = LOG_ERR | LOG_CONS | LOG_PERROR | LOG_PID;

/** What syslog()'s %m prints: the first Error among the arguments, if any. */
export function firstError(args: readonly unknown[]): Error | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a instanceof Error) return a;
  }
  return undefined;
}

/** wallClock()'s epoch milliseconds at performance.now() 0. */
let clockOffset = performance.timeOrigin;
/** How far the two clocks may seem apart before wallClock() sets its offset
 * again: more than the time between reading them in a busy process. */
const RESYNC_MS = 5;

/**
 * The wall clock now, in epoch milliseconds with microseconds in the
 * fraction, read for every message as glibc reads time() for every message:
 * a step of the clock (NTP, settimeofday, a VM resumed) shows in the very
 * next message. Date.now() is the wall clock but in whole milliseconds;
 * performance.now() has the microseconds RFC 5424 can carry, but is
 * monotonic: added to the time at start alone, it never saw a step. So the
 * result is always within Date.now()'s millisecond, its fraction from the
 * monotonic clock (set again from Date.now() after a step): it never goes
 * back unless the wall clock does.
 */
export function wallClock(): number {
  const p = performance.now();
  const d = Date.now();
  let t = clockOffset + p;
  if (t < d - RESYNC_MS || t >= d + 1 + RESYNC_MS) {
    clockOffset = d + 0.5 - p;
    t = d + 0.5;
  }
  return t < d ? d : t > d + 0.999 ? d + 0.999 : t;
}

export class Logger {
  private ident: string | null;
  private readonly initialIdent: string | null;
  private option: number;
  private facility: number;
  private mask: number;
  private transport: Transport | null = null;
  /** Transports let go by closelog(), until they are closed. */
  private readonly closing = new Map<Promise<void>, Transport>();
  /** The same, until they have handed their queue to the kernel. */
  private readonly draining = new Set<Promise<void>>();
  /** Messages logged while an old transport still delivers: they wait here,
   * so that nothing logged after closelog() overtakes what was logged
   * before it (see hold()). */
  private held: SyslogMessage[] = [];
  private heldBytes = 0;
  /** Settles once the draining transports are done and `held` went out. */
  private releasing: Promise<void> | null = null;
  /** close() was called with messages held: close their transport too. */
  private closeAfterRelease = false;
  private drops = 0;
  private readonly dropsBy: Record<DropReason, number> = { overflow: 0, undeliverable: 0, stalled: 0, closed: 0 };
  private readonly opts: LoggerOptions;
  private readonly hooks: TransportHooks;

  constructor(opts: LoggerOptions = {}) {
    this.opts = { ...opts };
    this.initialIdent = opts.ident === undefined || opts.ident === null ? null : noNul(String(opts.ident));
    this.ident = this.initialIdent;
    this.option = opts.option ?? 0;
    this.facility = LOG_USER;
    if (opts.facility !== undefined) this.setFacility(opts.facility);
    this.mask = opts.mask || 0xff;
    if (opts.url !== undefined) parseDestination(opts.url); // fail early on a bad URL
    this.hooks = { drop: (m, reason) => this.onDrop(m, reason) };
    if (this.option & LOG_NDELAY) this.getTransport().connect();
  }

  /** Messages that never reached the receiver, since this Logger was made. */
  get dropped(): number {
    return this.drops;
  }

  /** The same, by reason: overflow (queue full), undeliverable (no receiver
   * or send failed after one reconnect), stalled, closed. */
  get droppedBy(): Readonly<Record<DropReason, number>> {
    return { ...this.dropsBy };
  }

  /** Messages waiting in the queue for the receiver. */
  get queued(): number {
    let n = (this.transport?.queued ?? 0) + this.held.length;
    for (const t of this.closing.values()) n += t.queued;
    return n;
  }

  /** openlog(3): ident (undefined/null keeps the current one), options,
   * default facility: LOG_KERN (0) too, as glibc since 2.34; a value with
   * bits outside LOG_FACMASK keeps the current one, as glibc; so does a
   * facility left out (undefined), which C cannot leave out. */
  openlog(ident?: string | null, option = 0, facility?: number): void {
    if (ident !== undefined && ident !== null) this.ident = noNul(String(ident));
    this.option = option;
    this.setFacility(facility);
    if (this.option & LOG_NDELAY) this.getTransport().connect();
  }

  /** setlogmask(3): returns the previous mask; 0 leaves it unchanged. */
  setlogmask(mask: number): number {
    const old = this.mask;
    if (mask !== 0) this.mask = mask;
    return old;
  }

  /** closelog(3): let the connection go. What is still queued is delivered in
   * the background (within stallTimeout), before anything logged after this
   * call; the next syslog() reconnects. The ident goes back to this Logger's
   * initial one (glibc: the program name). */
  closelog(): void {
    void this.close();
  }

  /** closelog(), resolving when every connection let go is closed, that of
   * messages held behind an earlier closelog() too. */
  close(): Promise<void> {
    this.ident = this.initialIdent;
    if (this.held.length > 0) this.closeAfterRelease = true;
    const t = this.transport;
    this.transport = null;
    if (t) this.letGo(t);
    return this.settled();
  }

  /** Close at once; queued messages are dropped (and counted). */
  destroy(): void {
    this.ident = this.initialIdent;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.closeAfterRelease = false;
    for (const m of held) this.onDrop(m, 'closed');
    this.transport?.destroy();
    this.transport = null;
  }

  /** Resolves when every message so far has been handed to the kernel or dropped. */
  async flush(): Promise<void> {
    await this.settled();
    await this.transport?.flush();
  }

  /** syslog(3). %m prints the error in force: the first Error among `args`
   * (it may also be consumed by another conversion), else "Success". */
  syslog(priority: number, fmt: string, ...args: unknown[]): void {
    this.vsyslog(priority, fmt, args, firstError(args));
  }

  /** vsyslog(3): the arguments as an array; `errno` is what %m prints. */
  vsyslog(priority: number, fmt: string, args: readonly unknown[] = [], errno?: ErrnoLike): void {
    const pri = this.priority(priority);
    if ((LOG_MASK(LOG_PRI(pri)) & this.mask) === 0) return;
    this.emit(pri, format(String(fmt), args, errno));
  }

  /** A message as is, without printf formatting, with RFC 5424 extras. */
  log(priority: number, message: string, meta: LogMeta = {}): void {
    const pri = this.priority(priority);
    if ((LOG_MASK(LOG_PRI(pri)) & this.mask) === 0) return;
    this.emit(pri, String(message), meta);
  }

  emerg(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_EMERG, fmt, ...args);
  }
  alert(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_ALERT, fmt, ...args);
  }
  crit(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_CRIT, fmt, ...args);
  }
  err(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_ERR, fmt, ...args);
  }
  warning(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_WARNING, fmt, ...args);
  }
  notice(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_NOTICE, fmt, ...args);
  }
  info(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_INFO, fmt, ...args);
  }
  debug(fmt: string, ...args: unknown[]): void {
    this.syslog(LOG_DEBUG, fmt, ...args);
  }

  // ---- internals ----

  /**
   * glibc's check of a priority: bits outside LOG_PRIMASK | LOG_FACMASK are
   * reported (at LOG_ERR|LOG_CONS|LOG_PERROR|LOG_PID used as a priority,
   * i.e. auth.err: the option bits land in the facility), then masked off.
   * A priority that is not a whole number of 32 bits (a misspelled
   * constant gives undefined; NaN, null, a string, 1.5, a bigint) is
   * reported the same way, and the message goes at LOG_ERR of the default
   * facility: it went out as LOG_EMERG, which syslogd broadcasts to every
   * terminal. No TypeError: syslog() is called on error paths, where
   * throwing would lose the message and the error being reported.
   */
  private priority(priority: unknown): number {
    if (typeof priority !== 'number' || (priority | 0) !== priority) {
      this.vsyslog(INTERNALLOG, 'syslog: unknown facility/priority: %s', [shown(priority)]);
      return LOG_ERR;
    }
    if (priority & ~(LOG_PRIMASK | LOG_FACMASK)) {
      this.vsyslog(INTERNALLOG, 'syslog: unknown facility/priority: %x', [priority]);
      return priority & (LOG_PRIMASK | LOG_FACMASK);
    }
    return priority;
  }

  /** glibc's openlog_internal: `if ((logfac & ~LOG_FACMASK) == 0)
   * LogFacility = logfac;`, so 0 is LOG_KERN. What is not a whole number
   * of 32 bits (undefined, NaN, a string, 2 ** 40) is no facility and keeps
   * the current one. */
  private setFacility(facility: unknown): void {
    if (typeof facility === 'number' && (facility | 0) === facility && (facility & ~LOG_FACMASK) === 0) this.facility = facility;
  }

  private emit(pri: number, msg: string, meta: LogMeta = {}): void {
    if ((pri & LOG_FACMASK) === 0) pri |= this.facility;
    const m: SyslogMessage = {
      pri,
      // Microseconds for RFC 5424; the local line shows whole seconds.
      time: wallClock(),
      ident: this.ident ?? defaultIdent(),
      pid: this.option & LOG_PID ? process.pid : undefined,
      msg: noNul(msg),
      msgid: meta.msgid,
      structuredData: meta.structuredData,
    };
    if (this.option & LOG_PERROR) {
      try {
        (this.opts.stderr ?? process.stderr).write(perrorLine(m));
      } catch {
        // stderr closed (a daemon): nothing to do, as glibc's dprintf.
      }
    }
    if (this.draining.size > 0 || this.held.length > 0) this.hold(m);
    else this.getTransport().send(m);
  }

  /** Close a transport let go, in the background; tracked until it is done. */
  private letGo(t: Transport): void {
    const p: Promise<void> = t.close().then(
      () => void this.closing.delete(p),
      () => void this.closing.delete(p),
    );
    this.closing.set(p, t);
    const d: Promise<void> = t.flush().then(
      () => void this.draining.delete(d),
      () => void this.draining.delete(d),
    );
    this.draining.add(d);
  }

  /** Resolves when no transport is closing and nothing is held. */
  private async settled(): Promise<void> {
    while (this.closing.size > 0 || this.releasing) await Promise.all([...this.closing.keys(), this.releasing]);
  }

  /**
   * Keep a message until the transports let go by closelog() have handed
   * their queues to the kernel. A new connection sends at once, and the receiver takes
   * from whichever connection has something when it makes room: without
   * this, messages logged after closelog() overtook those before it
   * (a0 ... a10 b0 ... b14 a11 ... a14 with a slow receiver). Held messages
   * count against the same bounds as a transport's queue.
   */
  private hold(m: SyslogMessage): void {
    const o = this.opts;
    const bytes = Buffer.byteLength(m.msg) + 64;
    if (this.held.length >= (o.queueMessages ?? DEFAULT_LIMITS.queueMessages) || this.heldBytes + bytes > (o.queueBytes ?? DEFAULT_LIMITS.queueBytes)) {
      this.onDrop(m, 'overflow');
      return;
    }
    this.held.push(m);
    this.heldBytes += bytes;
    this.releasing ??= (async () => {
      while (this.draining.size > 0) await Promise.all(this.draining);
    })().then(() => {
      this.releasing = null;
      this.release();
    });
  }

  /** The held messages, in order, to the transport in use now. */
  private release(): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length === 0) return;
    const t = this.getTransport();
    for (const m of held) t.send(m);
    if (this.closeAfterRelease) {
      this.closeAfterRelease = false;
      this.transport = null;
      this.letGo(t);
    }
  }

  private getTransport(): Transport {
    if (this.transport) return this.transport;
    const o = this.opts;
    const limits: Partial<QueueLimits> = {};
    if (o.queueMessages !== undefined) limits.queueMessages = o.queueMessages;
    if (o.queueBytes !== undefined) limits.queueBytes = o.queueBytes;
    if (o.stallTimeout !== undefined) limits.stallTimeout = o.stallTimeout;
    const dest: Destination = o.url ? parseDestination(o.url) : { protocol: 'unix', path: o.path ?? defaultSocketPath() };
    if (dest.protocol === 'unix') {
      this.transport = new UnixTransport(dest.path, this.hooks, limits);
    } else {
      const host = o.hostname ?? osHostname();
      const fmt = o.format ?? 'rfc5424';
      const render = (m: SyslogMessage): Buffer => Buffer.from(fmt === 'rfc3164' ? formatRfc3164(m, host) : formatRfc5424(m, { hostname: host, bom: !!o.bom }));
      this.transport = dest.protocol === 'udp' ? new UdpTransport(dest, render, this.hooks, limits) : new StreamTransport(dest, render, this.hooks, limits, { tls: o.tls });
    }
    return this.transport;
  }

  private onDrop(m: SyslogMessage, reason: DropReason): void {
    this.drops++;
    this.dropsBy[reason]++;
    // LOG_CONS is for a receiver that is not there, as in glibc; a receiver
    // that is merely slow (overflow) must not turn into a console flood.
    if (reason === 'undeliverable' && this.option & LOG_CONS) writeConsole(this.opts.console ?? '/dev/console', consoleLine(m));
  }
}

/** A value as the report of a bad priority shows it: strings quoted, bigints with n. */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return String(v);
  } catch {
    return typeof v; // an object without toString
  }
}

/** glibc's LOG_CONS write: open the console O_WRONLY|O_NOCTTY (never becoming
 * our controlling terminal; libuv adds O_CLOEXEC) and, unlike glibc, O_NONBLOCK so that a stuck
 * console cannot block the event loop either; a short write is not retried. */
function writeConsole(path: string, line: string): void {
  let fd = -1;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_NOCTTY | fsc.O_NONBLOCK | fsc.O_APPEND);
    writeSync(fd, line);
  } catch {
    // No console either: the message is lost, and already counted.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
