/**
 * The extra figures of the machine-format logs (csv, jsonl): I/O counters
 * from /proc/PID/io, context switches from /proc/PID/status and the number
 * of open descriptors (entries of /proc/PID/fd).
 *
 * Pure parsers (parseIo, parseCtxSwitches) and the reader (ExtrasReader).
 * Only logs in a machine format read these files: the text log's sampling
 * path (ProcessReader.sample) never does.
 *
 * /proc/PID/io and /proc/PID/fd are readable only by the process's owner
 * (and root): for another user's process each is null, not an error.
 */
import * as fs from 'node:fs';
import { ProcParseError } from './errors.js';
import { statusField } from './status.js';

/** /proc/PID/io (proc(5)), in bytes and calls. */
export interface ProcIo {
  /** Bytes read through read(2) and the like (any source: tty, pipe, page cache). */
  rchar: number;
  /** Bytes written through write(2) and the like. */
  wchar: number;
  syscr: number;
  syscw: number;
  /** Bytes fetched from the storage layer. */
  readBytes: number;
  /** Bytes sent to the storage layer. */
  writeBytes: number;
  cancelledWriteBytes: number;
}

const IO_KEYS: ReadonlyArray<[string, keyof ProcIo]> = [
  ['rchar', 'rchar'],
  ['wchar', 'wchar'],
  ['syscr', 'syscr'],
  ['syscw', 'syscw'],
  ['read_bytes', 'readBytes'],
  ['write_bytes', 'writeBytes'],
  ['cancelled_write_bytes', 'cancelledWriteBytes'],
];

/** A decimal count, as the kernel writes it (no sign, at most 20 digits). */
function count(file: string, key: string, v: string): number {
  if (!/^\d{1,20}$/.test(v)) throw new ProcParseError(file, `${key} is not a number: ${JSON.stringify(v)}`);
  return Number(v);
}

/** Parse /proc/PID/io. Throws ProcParseError when a line is malformed or a field is missing. */
export function parseIo(text: string): ProcIo {
  const got = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^([a-z_]+): (.*)$/.exec(line);
    if (!m) throw new ProcParseError('io', `bad line ${JSON.stringify(line.slice(0, 80))}`);
    got.set(m[1]!, m[2]!);
  }
  const out = {} as ProcIo;
  for (const [key, field] of IO_KEYS) {
    const v = got.get(key);
    if (v === undefined) throw new ProcParseError('io', `no ${key}: line`);
    out[field] = count('io', key, v);
  }
  return out;
}

export interface CtxSwitches {
  voluntary: number;
  nonvoluntary: number;
}

/** The voluntary_ctxt_switches and nonvoluntary_ctxt_switches lines of /proc/PID/status. Throws ProcParseError. */
export function parseCtxSwitches(text: string): CtxSwitches {
  const get = (key: string): number => {
    const v = statusField(text, key);
    if (v === undefined) throw new ProcParseError('status', `no ${key}: line`);
    return count('status', key, v);
  };
  return { voluntary: get('voluntary_ctxt_switches'), nonvoluntary: get('nonvoluntary_ctxt_switches') };
}

/** One reading of the extras; each part null when it could not be read. */
export interface Extras {
  io: ProcIo | null;
  /** Entries of /proc/PID/fd. */
  fds: number | null;
  ctx: CtxSwitches | null;
}

const BUF_SIZE = 8192;

/**
 * Reads the extras of one process. /proc/PID/io and /proc/PID/status are
 * opened once and read with pread(2) from offset 0 each time (as
 * ProcessReader does its files); /proc/PID/fd is listed each time.
 * Nothing throws: what cannot be opened, read or parsed is null.
 */
export class ExtrasReader {
  readonly dir: string;
  private ioFd: number | null = null;
  private statusFd: number | null = null;
  private readonly buf = Buffer.allocUnsafe(BUF_SIZE);
  private closed = false;

  constructor(pid: number, opts: { procRoot?: string } = {}) {
    this.dir = `${opts.procRoot ?? '/proc'}/${pid}`;
    this.ioFd = openQuietly(`${this.dir}/io`);
    this.statusFd = openQuietly(`${this.dir}/status`);
  }

  private readText(fd: number | null): string | null {
    if (fd === null) return null;
    try {
      let pos = 0;
      for (;;) {
        if (pos === this.buf.length) return null; // not what the kernel writes
        const n = fs.readSync(fd, this.buf, pos, this.buf.length - pos, pos);
        if (n === 0) break;
        pos += n;
      }
      return this.buf.toString('latin1', 0, pos);
    } catch {
      return null;
    }
  }

  /** Read everything now. */
  read(): Extras {
    if (this.closed) return { io: null, fds: null, ctx: null };
    let io: ProcIo | null = null;
    let ctx: CtxSwitches | null = null;
    const ioText = this.readText(this.ioFd);
    if (ioText !== null) {
      try {
        io = parseIo(ioText);
      } catch {
        io = null;
      }
    }
    const statusText = this.readText(this.statusFd);
    if (statusText !== null) {
      try {
        ctx = parseCtxSwitches(statusText);
      } catch {
        ctx = null;
      }
    }
    return { io, fds: countFds(this.dir), ctx };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [this.ioFd, this.statusFd]) {
      if (fd !== null) {
        try {
          fs.closeSync(fd);
        } catch {
          /* already gone */
        }
      }
    }
    this.ioFd = this.statusFd = null;
  }
}

function openQuietly(path: string): number | null {
  try {
    return fs.openSync(path, fs.constants.O_RDONLY);
  } catch {
    return null;
  }
}

/** The number of entries of DIR/fd (a process's open descriptors), or null when it cannot be listed. */
export function countFds(procPidDir: string): number | null {
  try {
    // One call into libuv for the whole directory (fs.Dir would make one per 32 entries, and an object per entry).
    return fs.readdirSync(`${procPidDir}/fd`).length;
  } catch {
    return null;
  }
}
