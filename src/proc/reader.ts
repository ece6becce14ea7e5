/**
 * The I/O edge of src/proc: reads one process's /proc files and hands the
 * bytes to the pure parsers.
 *
 * A ProcessReader opens /proc/PID/{stat,statm,smaps_rollup|smaps,maps} once
 * and keeps the descriptors (Node opens them O_CLOEXEC). Each sample() reads
 * every file from offset 0 with pread(2), so no lseek and no reopen.
 *
 * These are seq_file files: one read(2) returns at most about one page
 * (the kernel's seq buffer), not the whole file, so a file is read by
 * successive preads at the running offset until one returns 0. The first
 * pread at offset 0 restarts the kernel's walk; the following ones continue
 * it without re-walking (their offset is where the last one stopped).
 *
 * Once the process has exited and been reaped, reads on the kept
 * descriptors fail with ESRCH, even if the pid has been reused by a new
 * process: logging then stops with `Can't read 'stat': No such process`.
 * (A zombie's stat still reads, with state Z.)
 *
 * The parsers read the bytes in the scratch buffer directly: no string is
 * made of a whole file (a large process's maps is megabytes). The one name
 * kept (stat's comm) is decoded as latin1, one character per byte, so its
 * bytes are kept exactly.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ProcReadError, errCode } from './errors.js';
import { parseStatBytes, type ProcStat } from './stat.js';
import { parseStatmBytes, type Statm } from './statm.js';
import { parseSmapsBytes, type SmapsSummary } from './smaps.js';
import { privateWritableKbBytes, type MapsSummary } from './maps.js';
import { parseStatusIds, type StatusIds } from './status.js';
import { openPath, readAt } from '../native.js';

export interface RawSample {
  /** Date.now() when the sample was taken (just before reading). */
  timeMs: number;
  stat: ProcStat;
  statm: Statm;
  /** From smaps_rollup (else smaps); null when unreadable (e.g. EACCES: another user's process). */
  smaps: SmapsSummary | null;
  /** null when unreadable; `complete: false` after a short read. */
  maps: MapsSummary | null;
  /** Why smaps is null (plog 0.1.0's wording, `Can't read 'smaps_rollup': ...`), else null. */
  smapsError?: ProcReadError | null;
  /** Why maps is null, `Can't read 'maps': ...`, else null. */
  mapsError?: ProcReadError | null;
  /**
   * True when smaps was not read for this sample (sample(into, false)): its
   * values (and smapsError) are those of the last read, carried over.
   */
  smapsStale?: boolean;
}

/** Files larger than this are treated as unreadable (EFBIG); full smaps of 20,000 mappings is ~20 MiB. */
export const MAX_PROC_FILE = 256 * 1024 * 1024;
const INITIAL_BUFFER = 64 * 1024;

/**
 * One scratch buffer for every reader. Safe because every read here is
 * synchronous and its bytes are parsed before the next read;
 * it grows (doubling) to the largest file seen and is kept for reuse.
 */
let scratch: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER);

/** Double the scratch buffer, keeping its first `keep` bytes; EFBIG past MAX_PROC_FILE. */
function growScratch(keep: number): void {
  if (scratch.length >= MAX_PROC_FILE) throw Object.assign(new Error('File too large'), { code: 'EFBIG' });
  const bigger = Buffer.allocUnsafe(scratch.length * 2);
  scratch.copy(bigger, 0, 0, keep);
  scratch = bigger;
}

/**
 * Read a whole /proc file from offset 0 into the scratch buffer; returns its length.
 *
 * oneRecord: the file is made in one piece (the kernel's single_open(): stat,
 * statm, smaps_rollup), so a read that returns less than it asked for has
 * returned all of it, and the read that would return 0 is not made (procps
 * reads these files the same way). A file of many records (maps, smaps) can
 * return less than asked before its end: the kernel hands over one buffer
 * of whole records at a time; it is read until a read returns 0.
 */
function preadAll(fd: number, oneRecord = false): number {
  let pos = 0;
  for (;;) {
    if (pos === scratch.length) growScratch(pos);
    const want = scratch.length - pos;
    const n = fs.readSync(fd, scratch, pos, want, pos);
    if (n === 0) return pos;
    pos += n;
    if (oneRecord && n < want) return pos;
  }
}

/** A lean reader's file: read through the descriptor of /proc/PID (readAtAll), not a descriptor of its own. */
const LEAN = -3;

/** Read the file `name` of the directory of dirFd into the scratch buffer (opened, read and closed in one call); returns its length. */
function readAtAll(dirFd: number, name: string, oneRecord: boolean): number {
  for (;;) {
    const n = readAt(dirFd, name, scratch, oneRecord);
    if (n < scratch.length) return n;
    growScratch(0); // read again from the start, into a buffer twice as long
  }
}

/** Close a descriptor of a /proc file if one is open (null, -1 and -2 are none). */
function closeProcFd(fd: number | null): void {
  if (fd === null || fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch {
    /* already gone */
  }
}

/** Decode /proc bytes as latin1 (one char per byte). */
export function decodeProc(buf: Uint8Array, length = buf.length): string {
  return Buffer.from(buf.buffer, buf.byteOffset, length).toString('latin1');
}

/** Read a whole small file by path (opened and closed here); throws ProcReadError naming `file`. */
export function readPath(path: string, file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch (e) {
    throw new ProcReadError(file, e);
  }
  try {
    const n = preadAll(fd);
    return Buffer.from(scratch.subarray(0, n));
  } catch (e) {
    throw new ProcReadError(file, e);
  } finally {
    fs.closeSync(fd);
  }
}

function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) {
    throw new RangeError(`Bad pid ${pid}`);
  }
}

export interface ProcessReaderOptions {
  /** Where proc is mounted (tests); default '/proc'. */
  procRoot?: string;
  /**
   * Keep one descriptor instead of four: an O_PATH descriptor of /proc/PID
   * itself, through which each file is opened, read and closed at each
   * sample, in one call of the addon a file (openat(2)). For a root
   * plogsrvd logging a whole host, where the descriptor limit, not the CPU,
   * would stop it (plogsrvd(1), A WHOLE HOST). The directory descriptor
   * stands for the process, not its number: once it is reaped, nothing
   * opens through it, even when its pid is reused.
   */
  lean?: boolean;
}

export class ProcessReader {
  readonly pid: number;
  /** '/proc/PID' */
  readonly dir: string;
  /** Which file gives the smaps summary, or null when neither could be opened. */
  readonly smapsFile: 'smaps_rollup' | 'smaps' | null;
  /** Why smaps could not be opened (null if it was). */
  readonly smapsOpenError: ProcReadError | null = null;
  /** Why maps could not be opened (null if it was). */
  readonly mapsOpenError: ProcReadError | null = null;

  private statFd: number;
  private statmFd: number;
  private smapsFd: number | null = null;
  private mapsFd: number | null = null;
  private closed = false;
  /** See ProcessReaderOptions.lean. */
  private readonly lean: boolean;
  /** Lean: the O_PATH descriptor of /proc/PID (else -1). */
  private dirFd = -1;
  /** The last smaps read: its sums (null when it failed) and error, when it began and how long it took. */
  private lastSmaps: SmapsSummary | null = null;
  private lastSmapsError: ProcReadError | null = null;
  private smapsReadMs = 0;
  private smapsReadAt = -Infinity;
  /** smaps was read at least once since it was opened (see reopenAfterExec). */
  private smapsRead = false;
  /** maps had lines at least once since it was opened (see reopenAfterExec). */
  private mapsRead = false;

  /**
   * Open the files of /proc/PID. Throws a ProcReadError
   * `Can't read 'stat': No such file or directory` when /proc/PID does not
   * exist (likewise for statm). smaps_rollup (else smaps, for kernels before
   * 4.14) and maps may fail to open (EACCES for another user's process when
   * not root): their values are then null in every sample.
   */
  constructor(pid: number, opts: ProcessReaderOptions = {}) {
    checkPid(pid);
    this.pid = pid;
    this.dir = `${opts.procRoot ?? '/proc'}/${pid}`;
    this.lean = opts.lean === true;
    const ro = fs.constants.O_RDONLY;
    if (this.lean) {
      // First: the files below, opened by name to learn which can be read,
      // are then this process's (or the first sample, read through it, fails).
      try {
        this.dirFd = openPath(this.dir);
      } catch (e) {
        throw new ProcReadError('stat', e);
      }
    }
    try {
      this.statFd = fs.openSync(`${this.dir}/stat`, ro);
    } catch (e) {
      closeProcFd(this.dirFd);
      throw new ProcReadError('stat', e);
    }
    try {
      this.statmFd = fs.openSync(`${this.dir}/statm`, ro);
    } catch (e) {
      fs.closeSync(this.statFd);
      closeProcFd(this.dirFd);
      throw new ProcReadError('statm', e);
    }
    let smapsFile: 'smaps_rollup' | 'smaps' | null = 'smaps_rollup';
    try {
      this.smapsFd = fs.openSync(`${this.dir}/smaps_rollup`, ro);
    } catch (e) {
      smapsFile = null;
      this.smapsOpenError = new ProcReadError('smaps_rollup', e);
      if (errCode(e) === 'ENOENT') {
        try {
          this.smapsFd = fs.openSync(`${this.dir}/smaps`, ro);
          smapsFile = 'smaps';
          this.smapsOpenError = null;
        } catch (e2) {
          this.smapsOpenError = new ProcReadError('smaps', e2);
        }
      }
    }
    this.smapsFile = smapsFile;
    try {
      this.mapsFd = fs.openSync(`${this.dir}/maps`, ro);
    } catch (e) {
      this.mapsOpenError = new ProcReadError('maps', e);
    }
    if (this.lean) {
      closeProcFd(this.statFd);
      this.statFd = LEAN;
      this.closeRest();
    }
  }

  /** Lean: which files this sample reads (through the directory descriptor; a failure to open one is its read's). */
  private openRest(readSmaps: boolean): void {
    this.statmFd = LEAN;
    if (this.smapsFile !== null && !readSmaps && this.smapsReadAt > -Infinity) {
      this.smapsFd = -2; // not read this time: its last values are carried
    } else if (this.smapsFile !== null) {
      this.smapsFd = LEAN;
    }
    if (this.mapsOpenError === null) this.mapsFd = LEAN;
  }

  /** Lean: back to no file of the sample's (their descriptors, when the reader has its own, are closed). */
  private closeRest(): void {
    closeProcFd(this.statmFd);
    closeProcFd(this.smapsFd);
    closeProcFd(this.mapsFd);
    this.statmFd = -1;
    this.smapsFd = null;
    this.mapsFd = null;
  }

  /** A whole file into the scratch buffer: through its kept descriptor, or a lean reader's directory. */
  private readAll(fd: number, name: string, oneRecord: boolean): number {
    return fd === LEAN ? readAtAll(this.dirFd, name, oneRecord) : preadAll(fd, oneRecord);
  }

  /** Same as `new ProcessReader(pid, opts)`. */
  static open(pid: number, opts: ProcessReaderOptions = {}): ProcessReader {
    return new ProcessReader(pid, opts);
  }

  /**
   * Read and parse everything. Throws ProcReadError (`Can't read 'stat': ...`
   * or `Can't read 'statm': ...`) when stat or statm cannot be read or parsed:
   * the caller stops logging. smaps and maps failures give null instead.
   *
   * With `into` (a sample this reader gave before and that is no longer
   * needed), the new sample is written into it and its parts instead of new
   * objects, so that a sampler keeping two samples a log allocates nothing
   * that outlives the sample; on a throw, into is left in an unspecified state.
   *
   * With readSmaps false, smaps (PSS) is not read once it has been read
   * before: the sample carries the last read's values, marked smapsStale.
   * Reading smaps walks every page of the process with its memory map lock
   * held (its cost: smapsCostMs).
   */
  sample(into?: RawSample, readSmaps = true): RawSample {
    if (this.closed) throw new ProcReadError('stat', Object.assign(new Error('closed'), { code: 'EBADF' }));
    if (!this.lean) return this.sampleOpen(into, readSmaps);
    this.openRest(readSmaps);
    try {
      return this.sampleOpen(into, readSmaps);
    } finally {
      this.closeRest();
    }
  }

  private sampleOpen(into?: RawSample, readSmaps = true): RawSample {
    const timeMs = Date.now();
    let stat: ProcStat;
    let statm: Statm;
    try {
      const n = this.readAll(this.statFd, 'stat', true); // first: it may grow scratch
      stat = parseStatBytes(scratch, n, into?.stat);
    } catch (e) {
      throw new ProcReadError('stat', e);
    }
    try {
      const n = this.readAll(this.statmFd, 'statm', true);
      statm = parseStatmBytes(scratch, n, into?.statm);
    } catch (e) {
      throw new ProcReadError('statm', e);
    }
    let smaps: SmapsSummary | null;
    let smapsError: ProcReadError | null;
    let maps: MapsSummary | null;
    let mapsError: ProcReadError | null;
    let smapsStale: boolean;
    // A zombie has no address space left: its smaps does not read (ESRCH)
    // and its maps reads empty. That is no exec, and its Priv&Write is 0.
    const dead = stat.state === 'Z' || stat.state === 'X';
    // At most twice: again after reopening smaps and maps when the process
    // has exec'd since they were opened (see reopenAfterExec).
    for (let attempt = 0; ; attempt++) {
      let stale = false;
      smaps = null;
      smapsError = this.smapsOpenError;
      smapsStale = false;
      if (this.smapsFd !== null && !readSmaps && attempt === 0 && this.smapsReadAt > -Infinity) {
        // Not read this time: the last read's values, carried over.
        smapsStale = true;
        smapsError = this.lastSmapsError;
        const last = this.lastSmaps;
        if (last) smaps = Object.assign(into?.smaps ?? { ...last }, last);
      } else if (this.smapsFd !== null) {
        const t0 = performance.now();
        try {
          const n = this.readAll(this.smapsFd, this.smapsFile ?? 'smaps_rollup', this.smapsFile === 'smaps_rollup');
          smaps = parseSmapsBytes(scratch, n, into?.smaps ?? undefined);
          this.smapsRead = true;
        } catch (e) {
          smapsError = new ProcReadError(this.smapsFile ?? 'smaps', e);
          stale = errCode(e) === 'ESRCH' && this.smapsRead && !dead;
        }
        this.smapsReadMs = performance.now() - t0;
        this.smapsReadAt = t0;
        this.lastSmapsError = smapsError;
        this.lastSmaps = smaps ? Object.assign(this.lastSmaps ?? { ...smaps }, smaps) : null;
      }
      maps = null;
      mapsError = this.mapsOpenError;
      if (!stale && this.mapsFd !== null) {
        try {
          const n = this.readAll(this.mapsFd, 'maps', false);
          // Empty after it had lines (whether smaps was read this time or
          // not), or while smaps read: an exec since it was opened.
          if (n === 0 && !dead && (this.mapsRead || smaps !== null)) stale = true;
          else {
            maps = privateWritableKbBytes(scratch, n, into?.maps ?? undefined);
            if (n > 0) this.mapsRead = true;
          }
        } catch (e) {
          mapsError = new ProcReadError('maps', e);
        }
      }
      if (!stale || attempt > 0 || !this.reopenAfterExec()) break;
    }
    if (into) {
      into.timeMs = timeMs;
      into.stat = stat;
      into.statm = statm;
      into.smaps = smaps;
      into.maps = maps;
      into.smapsError = smapsError;
      into.mapsError = mapsError;
      into.smapsStale = smapsStale;
      return into;
    }
    return { timeMs, stat, statm, smaps, maps, smapsError, mapsError, smapsStale };
  }

  /**
   * smaps_rollup and maps are bound to the address space the process had
   * when they were opened: after an execve() (a wrapper or shell that execs
   * the real program) reads of the old descriptors fail with ESRCH (smaps)
   * or read empty (maps) while stat still reads. Reopen both, once per
   * exec (smaps must have been read since it was opened, so that a kernel
   * thread, whose smaps never reads, is not reopened at every sample);
   * true when smaps reopened.
   */
  private reopenAfterExec(): boolean {
    this.smapsRead = false;
    this.mapsRead = false;
    // A lean reader opens its files at each sample: they were the new ones already.
    if (this.lean) return false;
    const ro = fs.constants.O_RDONLY;
    closeProcFd(this.smapsFd);
    closeProcFd(this.mapsFd);
    this.smapsFd = null;
    this.mapsFd = null;
    try {
      this.mapsFd = fs.openSync(`${this.dir}/maps`, ro);
    } catch {
      /* maps null from now on */
    }
    try {
      this.smapsFd = fs.openSync(`${this.dir}/${this.smapsFile ?? 'smaps_rollup'}`, ro);
    } catch {
      return false;
    }
    return true;
  }

  /** Wall milliseconds the last read of smaps took (0 before the first). */
  get smapsCostMs(): number {
    return this.smapsReadMs;
  }

  /** performance.now() when the last read of smaps began (-Infinity before the first). */
  get smapsReadStart(): number {
    return this.smapsReadAt;
  }

  /** stat only (e.g. to compare starttime against pid reuse). Throws like sample(). */
  readStat(): ProcStat {
    if (this.closed) throw new ProcReadError('stat', Object.assign(new Error('closed'), { code: 'EBADF' }));
    try {
      const n = this.readAll(this.statFd, 'stat', true);
      return parseStatBytes(scratch, n);
    } catch (e) {
      throw new ProcReadError('stat', e);
    }
  }

  /**
   * The raw bytes of /proc/PID/cmdline (read now, by path; format with
   * formatCmdline()). Throws ProcReadError `Can't read 'cmdline': ...`.
   */
  readCmdline(): Buffer {
    return readPath(`${this.dir}/cmdline`, 'cmdline');
  }

  /** The ids of /proc/PID/status (read now, by path). Throws ProcReadError `Can't read 'status': ...`. */
  readStatus(): StatusIds {
    const buf = readPath(`${this.dir}/status`, 'status');
    try {
      return parseStatusIds(decodeProc(buf));
    } catch (e) {
      throw new ProcReadError('status', e);
    }
  }

  /** Close every descriptor. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [this.statFd, this.statmFd, this.smapsFd, this.mapsFd, this.dirFd]) closeProcFd(fd);
    this.smapsFd = null;
    this.mapsFd = null;
    this.dirFd = -1;
  }

  /** Read and parse /proc/PID/stat once, by path. Throws ProcReadError. */
  static readStat(pid: number, opts: ProcessReaderOptions = {}): ProcStat {
    checkPid(pid);
    const buf = readPath(`${opts.procRoot ?? '/proc'}/${pid}/stat`, 'stat');
    try {
      return parseStatBytes(buf);
    } catch (e) {
      throw new ProcReadError('stat', e);
    }
  }

  /** stat field 22 of a pid, in clock ticks since boot (pid-reuse guard). Throws ProcReadError. */
  static readStartTime(pid: number, opts: ProcessReaderOptions = {}): number {
    return ProcessReader.readStat(pid, opts).starttime;
  }

  /** Current size of the shared read buffer, in bytes (for tests and diagnostics). */
  static get bufferSize(): number {
    return scratch.length;
  }
}
