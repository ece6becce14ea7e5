// A SyslogSink backed by this project's syslog library (plogkit/syslog). Kept
// apart from the rest of the kit so that the kit does not depend on it.
import { Logger, LOG_DAEMON, LOG_ERR, LOG_PID } from '../syslog/index.js';
import type { SyslogSink } from './report.js';

/**
 * A sink for createReporter() that logs to syslog as `program[PID]`, facility
 * LOG_DAEMON, level LOG_ERR (where plog 0.1.0's plogsrvd sent its errors in the background; plogsrvd(1) -e).
 */
export function syslogSink(program: string): SyslogSink {
  const logger = new Logger({ ident: program, option: LOG_PID, facility: LOG_DAEMON });
  return {
    error(msg: string): void {
      logger.syslog(LOG_ERR, '%s', msg);
    },
    close(): void {
      void logger.close(); // it resolves once the transport is let go, and never rejects
    },
  };
}
