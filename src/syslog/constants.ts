// The <syslog.h> constants with glibc's numeric values, and its macros as
// functions. The values are part of the wire format (PRI = facility | level),
// so they must match glibc exactly, not merely be distinct.

// Levels (severities), highest first.
export const LOG_EMERG = 0;
export const LOG_ALERT = 1;
export const LOG_CRIT = 2;
export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_NOTICE = 5;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

// Facilities, already shifted left by 3 as in glibc.
export const LOG_KERN = 0 << 3;
export const LOG_USER = 1 << 3;
export const LOG_MAIL = 2 << 3;
export const LOG_DAEMON = 3 << 3;
export const LOG_AUTH = 4 << 3;
export const LOG_SYSLOG = 5 << 3;
export const LOG_LPR = 6 << 3;
export const LOG_NEWS = 7 << 3;
export const LOG_UUCP = 8 << 3;
export const LOG_CRON = 9 << 3;
export const LOG_AUTHPRIV = 10 << 3;
export const LOG_FTP = 11 << 3;
// 12..15 are reserved for system use in glibc (NTP, security, console,
// clock on BSD); glibc's header does not name them, so neither do we.
export const LOG_LOCAL0 = 16 << 3;
export const LOG_LOCAL1 = 17 << 3;
export const LOG_LOCAL2 = 18 << 3;
export const LOG_LOCAL3 = 19 << 3;
export const LOG_LOCAL4 = 20 << 3;
export const LOG_LOCAL5 = 21 << 3;
export const LOG_LOCAL6 = 22 << 3;
export const LOG_LOCAL7 = 23 << 3;

/** Number of facilities (glibc LOG_NFACILITIES). */
export const LOG_NFACILITIES = 24;
/** Mask to extract the level from a priority. */
export const LOG_PRIMASK = 0x07;
/** Mask to extract the facility from a priority. */
export const LOG_FACMASK = 0x03f8;

// openlog() options.
export const LOG_PID = 0x01;
export const LOG_CONS = 0x02;
export const LOG_ODELAY = 0x04;
export const LOG_NDELAY = 0x08;
export const LOG_NOWAIT = 0x10;
export const LOG_PERROR = 0x20;

/** The mask bit of one level, for setlogmask(). */
export function LOG_MASK(pri: number): number {
  return 1 << pri;
}

/** The mask of every level up to and including `pri`. */
export function LOG_UPTO(pri: number): number {
  return (1 << (pri + 1)) - 1;
}

/** The level part of a priority. */
export function LOG_PRI(p: number): number {
  return p & LOG_PRIMASK;
}

/** The facility number (0..23, not shifted) of a priority. */
export function LOG_FAC(p: number): number {
  return (p & LOG_FACMASK) >> 3;
}

/** A priority from a facility (shifted, as LOG_DAEMON) and a level. glibc's
 * macro is `((fac) | (pri))`; it expects an already shifted facility. */
export function LOG_MAKEPRI(fac: number, pri: number): number {
  return fac | pri;
}

/** Level names as rsyslog and syslog.conf spell them (glibc prioritynames). */
export const LEVEL_NAMES: readonly string[] = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** Facility names by facility number (glibc facilitynames; 12..15 unnamed). */
export const FACILITY_NAMES: readonly (string | undefined)[] = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  undefined,
  undefined,
  undefined,
  undefined,
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
];
