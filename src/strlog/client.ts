// The two kinds of client of strlogd: a Submitter sends messages (strlog()
// and the strlog command), a LogStream is a logger (strerr, strtrace, a
// console logger) or a one-off STATS question.
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { SystemError } from '../native.js';
import { errCode, errnoFromCode, strerror } from '../errno.js';
import type { DriverStats } from './driver.js';
import { checkPeer, NotDriverError, runDirOf } from './peer.js';
import { loggerPath } from './rundir.js';
import { decodeDelivery, decodeReply, encodeRegister, F_DELIVERY, F_REPLY, F_STATS, F_STATS_REPLY, frame, FrameReader, MAX_DELIVERY, type LogMessage, type Role, type TraceId } from './wire.js';

export { runDirOf, NotDriverError };
export { Submitter, type SubmitterOptions } from './submitter.js';

export interface LogStreamOptions {
  rundir?: string;
  /** For 'trace': the filters (one or more). */
  ids?: readonly TraceId[];
}

/** The errno name of a refused registration, on the error LogStream.open rejects with. */
function refusal(errno: number, role: Role): SystemError {
  return new SystemError(errno, role === 'error' ? 'I_ERRLOG' : role === 'trace' ? 'I_TRCLOG' : 'I_CONSLOG');
}

/**
 * A logger's connection to strlogd. Events: 'messages' (LogMessage[], in
 * sequence, one array per chunk read), 'close' (the driver closed the
 * connection or close() was called).
 */
export class LogStream extends EventEmitter {
  /** Deliveries that could not be decoded (never expected). */
  malformed = 0;
  private constructor(
    readonly socket: Socket,
    readonly role: Role,
  ) {
    super();
  }

  /**
   * Connect and register. Rejects with a SystemError: ENOENT or
   * ECONNREFUSED (no driver), or the driver's refusal: EBUSY (an error
   * logger exists), EINVAL (no complete trace_ids), EPERM (not allowed).
   */
  static open(role: Role, opts: LogStreamOptions = {}): Promise<LogStream> {
    const dir = runDirOf(opts.rundir);
    const path = loggerPath(dir);
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const reader = new FrameReader(MAX_DELIVERY);
      let ls: LogStream | null = null;
      const fail = (err: Error): void => {
        sock.destroy();
        reject(err);
      };
      sock.once('error', fail);
      sock.once('close', () => {
        if (!ls) fail(new SystemError(osConstants.errno.ECONNRESET, 'register', path));
      });
      sock.on('connect', () => {
        try {
          checkPeer(sock, dir, path);
        } catch (err) {
          return fail(err as Error);
        }
        sock.write(encodeRegister(role, opts.ids ?? []));
      });
      sock.on('data', (chunk: Buffer) => {
        const frames = reader.push(chunk);
        if (reader.error) {
          sock.destroy();
          if (!ls) reject(new Error(`strlog: ${path}: ${reader.error}`));
          return;
        }
        let batch: LogMessage[] | null = null;
        for (const f of frames) {
          if (!ls) {
            const errno = f.type === F_REPLY ? decodeReply(f.body) : null;
            if (errno === null) return fail(new Error(`strlog: ${path}: unexpected answer to a registration`));
            if (errno !== 0) return fail(refusal(errno, role));
            ls = new LogStream(sock, role);
            sock.off('error', fail);
            sock.on('error', () => {});
            sock.on('close', () => ls!.emit('close'));
            resolve(ls);
            continue;
          }
          if (f.type !== F_DELIVERY) continue;
          const m = decodeDelivery(f.body);
          if (!m) {
            ls.malformed++;
            continue;
          }
          (batch ??= []).push(m);
        }
        if (batch && ls) ls.deliver(batch);
      });
    });
  }

  private early: LogMessage[][] | null = null;

  /** Emit a batch; batches that come before anyone listens (in the chunk
   * that carried the registration's reply) wait, in order, for a turn of
   * the event loop so that the caller of open() can add its listener. */
  private deliver(batch: LogMessage[]): void {
    if (this.early) {
      this.early.push(batch);
      return;
    }
    if (this.listenerCount('messages') > 0) {
      this.emit('messages', batch);
      return;
    }
    this.early = [batch];
    setImmediate(() => {
      const e = this.early!;
      this.early = null;
      for (const b of e) this.emit('messages', b);
    });
  }

  /** Stop reading (the driver's queue for us fills, then drops). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Ask strlogd for its counters (the STATS request). */
export function driverStats(rundir?: string, timeout = 5000): Promise<DriverStats> {
  const dir = runDirOf(rundir);
  const path = loggerPath(dir);
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const reader = new FrameReader(16 << 20);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`strlog: no STATS answer from ${path} within ${timeout} ms`));
    }, timeout);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => {
      try {
        checkPeer(sock, dir, path);
      } catch (err) {
        clearTimeout(timer);
        sock.destroy();
        return reject(err);
      }
      sock.write(frame(F_STATS));
    });
    sock.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.type !== F_STATS_REPLY) continue;
        clearTimeout(timer);
        sock.destroy();
        try {
          resolve(JSON.parse(f.body.toString('utf8')) as DriverStats);
        } catch (err) {
          reject(err);
        }
        return;
      }
    });
  });
}

/**
 * Why a program could not reach strlogd in dir, in words: no driver there
 * (no socket, or a socket nobody listens on), no permission, or the
 * system's reason; err is what connecting or sending threw.
 */
export function unreachable(dir: string, err: unknown): string {
  // Not strlogd at all (another user's socket): that, and who serves it.
  if (err instanceof NotDriverError) return err.message.replace(/^strlog: /, '');
  const code = errCode(err);
  const where = `strlogd in ${dir}`;
  if (code === 'ENOENT') return `no ${where}: ${loggerPath(dir)} does not exist (is strlogd running?)`;
  if (code === 'ECONNREFUSED') return `no ${where}: nobody listens on ${loggerPath(dir)} (a strlogd that stopped?)`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot reach ${where}: ${strerror(code)} (its group, strlogd -g, keeps you out?)`;
  if (code !== undefined && errnoFromCode(code) !== undefined) return `cannot reach ${where}: ${strerror(code)}`;
  return `cannot reach ${where}: ${(err as Error).message.replace(/^strlog: /, '')}`;
}
