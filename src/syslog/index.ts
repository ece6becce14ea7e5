// plogkit/syslog: the POSIX syslog API for Node over the project's own
// transports. The process-global functions share one default Logger, as the
// C functions share one connection; `new Logger()` gives an independent one.

import type { ErrnoLike, LoggerOptions } from './logger.js';
import { Logger, firstError } from './logger.js';

export * from './constants.js';
export { format } from './printf.js';
export { strerror, errorText, errnoFromCode } from '../errno.js';
export {
  formatLocal,
  formatRfc3164,
  formatRfc5424,
  rfc5424Timestamp,
  bsdTimestamp,
  formatStructuredData,
  escapeParamValue,
  octetFrame,
  nulFrame,
  type SyslogMessage,
  type StructuredData,
  type SdValue,
} from './format.js';
export { Logger, defaultIdent, parseDestination, type LoggerOptions, type LogMeta, type ErrnoLike, type Destination, type RemoteFormat } from './logger.js';
export { defaultSocketPath, UnixTransport } from './transport-unix.js';
export { UdpTransport, StreamTransport } from './transport-net.js';
export type { DropReason, QueueLimits, Transport, TransportHooks } from './transport.js';

let shared: Logger | null = null;

/** The Logger behind the process-global functions (made on first use). */
export function defaultLogger(): Logger {
  return (shared ??= new Logger());
}

/** Replace the process-global Logger by one made with `opts` (destination,
 * queue limits, ident...). The old one is closed (closelog). */
export function configureSyslog(opts: LoggerOptions): Logger {
  const old = shared;
  shared = new Logger(opts);
  if (old) old.closelog();
  return shared;
}

export function openlog(ident?: string | null, option = 0, facility?: number): void {
  defaultLogger().openlog(ident, option, facility);
}

export function syslog(priority: number, fmt: string, ...args: unknown[]): void {
  // As Logger#syslog, without spreading the arguments a second time.
  defaultLogger().vsyslog(priority, fmt, args, firstError(args));
}

export function vsyslog(priority: number, fmt: string, args: readonly unknown[] = [], errno?: ErrnoLike): void {
  defaultLogger().vsyslog(priority, fmt, args, errno);
}

export function setlogmask(mask: number): number {
  return defaultLogger().setlogmask(mask);
}

export function closelog(): void {
  shared?.closelog();
}
