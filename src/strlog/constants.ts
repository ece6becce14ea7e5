// <sys/strlog.h> and <sys/log.h> for plogkit/strlog: the SVR4 values, and the
// limits and names of this project's user-space log driver (strlogd).

/** Flags of strlog() (SVR4 values). */
export const SL_FATAL = 0x01;
export const SL_NOTIFY = 0x02;
export const SL_ERROR = 0x04;
export const SL_TRACE = 0x08;
export const SL_CONSOLE = 0x10;
export const SL_WARN = 0x20;
export const SL_NOTE = 0x40;
/** The flags that choose a class of logger: without one, nothing is logged. */
export const SL_CLASSES = SL_ERROR | SL_TRACE | SL_CONSOLE;
/** Every flag strlog() knows; other bits of a submission are ignored (cleared). */
export const SL_ALL = SL_FATAL | SL_NOTIFY | SL_ERROR | SL_TRACE | SL_CONSOLE | SL_WARN | SL_NOTE;

/** Registration commands (SVR4 <sys/log.h>: LOGCTL|n with LOGCTL = 'L' << 8). */
export const LOGCTL = 0x4c << 8;
export const I_TRCLOG = LOGCTL | 1;
export const I_ERRLOG = LOGCTL | 2;
export const I_CONSLOG = LOGCTL | 3;

/** The module id of the log driver itself, given to user-process messages. */
export const LOG_MID = 44;

/** The three classes of logger, as strings (wire value: see wire.ts). */
export type LogClass = 'error' | 'trace' | 'console';

/** Names accepted by `strlog -f` (and flagNames()), in SL_ value order. */
export const FLAG_NAMES: readonly (readonly [string, number])[] = [
  ['fatal', SL_FATAL],
  ['notify', SL_NOTIFY],
  ['error', SL_ERROR],
  ['trace', SL_TRACE],
  ['console', SL_CONSOLE],
  ['warn', SL_WARN],
  ['note', SL_NOTE],
];

// ---- Limits of the transport (documented in strlogd(8)). ----

/** Largest datagram the driver reads; a longer one is malformed. */
export const MAX_DATAGRAM = 65536;
/** Largest format string, in bytes of UTF-8. */
export const MAX_FORMAT = 1024;
/** Most arguments of one message. */
export const MAX_ARGS = 32;
/** Largest string argument, in bytes of UTF-8. */
export const MAX_STRING = 1024;
/** Most trace_ids in one I_TRCLOG registration. */
export const MAX_TRACE_IDS = 1024;
/** Largest frame a logger may send to the driver. */
export const MAX_REQUEST = 16 + 12 * MAX_TRACE_IDS;

/** Ticks per second of log_ctl.ltime (the SVR4 HZ of 100). */
export const HZ = 100;

/** Socket names in the runtime directory. */
export const SUBMIT_SOCKET = 'submit';
export const LOGGER_SOCKET = 'logger';
export const PID_FILE = 'strlogd.pid';

/** The runtime directory when neither an option nor $STRLOGDIR says. */
export const DEFAULT_RUNDIR = '/run/strlog';
/** strerr's log directory and strclean's default. */
export const DEFAULT_LOGDIR = '/var/adm/streams';
/** The module group of strlogd (-g). */
export const DEFAULT_GROUP = 'adm';

/** Default bound of each logger's queue in the driver, bytes. */
export const DEFAULT_QUEUE_BYTES = 1 << 20;
/** Default bound of the console backlog, bytes. */
export const DEFAULT_BACKLOG_BYTES = 64 << 10;

/** Most bytes one message's text may expand to (strerr(8)'s and strtrace(8)'s
 * line, before the escapes of control characters): the driver refuses a
 * message whose format and arguments could make it longer. SVR4's strerr
 * and strace read 8192 bytes of data. */
export const MAX_TEXT = 8192;
