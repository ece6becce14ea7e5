// The one place that loads the C addon (native/plog_native.c) and gives it a
// TypeScript face. Node core has no AF_UNIX SOCK_DGRAM sockets, no peer
// credentials, no file locks and no real-time signals; the addon covers
// exactly those, and nothing else, so that every other part of the project
// stays TypeScript.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { existsSync } from 'node:fs';
import { errnoFromCode, strerror } from './errno.js';

export interface Credentials {
  uid: number;
  gid: number;
  pid: number;
}

/** One datagram as received: its bytes, the sender's bound path (null when
 * the sender is unbound) and the kernel-checked credentials (SCM_CREDENTIALS). */
export interface Datagram extends Credentials {
  data: Buffer;
  /** The datagram's real length: larger than data.length when it was cut. */
  size: number;
  path: string | null;
}

interface Binding {
  socket(stream: boolean): number;
  adopt(fd: number): number;
  bind(fd: number, path: string): number;
  connect(fd: number, path: string): number;
  send(fd: number, data: Buffer, offset: number, length: number, path: string | null): number;
  recv(fd: number, maxlen: number, into?: Buffer): [Buffer | null, number, string | null, number, number, number] | number;
  peercred(fd: number): Credentials | number;
  close(fd: number): number;
  lock(fd: number, exclusive: boolean, wait: boolean): number;
  openpath(path: string, stat?: Float64Array): number;
  readat(dirfd: number, name: string, buf: Buffer, oneRecord: boolean): number;
  catchRealtime(): [number, number] | number;
  nofile(want: number): [number, number] | number;
  Poller: new (fd: number, cb: (status: number, events: number) => void) => RawPoller;
}

interface RawPoller {
  start(events: number): void;
  stop(): void;
  ref(on: boolean): void;
  close(): void;
}

const here = dirname(fileURLToPath(import.meta.url));
// dist/src/native.js -> package root is two levels up; src/native.ts (tests
// run from dist) likewise.
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);

/**
 * The addon could not be loaded: no prebuilt binary fits this platform and
 * none was built from source. Thrown by the first use of the addon, not by
 * loading this module, so that what needs no addon (the syslog library's
 * network transports, every pure module) keeps working.
 */
export class AddonMissingError extends Error {
  // No `code`: the programs' error words (src/proc/errors.ts errnoWords)
  // would show the code alone where this message tells what to do.
  constructor(cause: unknown) {
    // node-gyp-build's own libc test, so that the message names what it looked for.
    const libc = process.env.LIBC || (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
    const why = String((cause as Error)?.message ?? cause).split('\n')[0];
    super(
      `the native addon (native/plog_native.c) is not built for ${process.platform}-${process.arch} with ${libc}: ` +
        `no prebuilt binary in ${join(root, 'prebuilds')} fits, and it was not built from source at install (${why}). ` +
        `Install a C compiler, make and python3, then run \`npm rebuild plogkit\` ` +
        `(\`npm rebuild -g plogkit\` for a global install) with its install script allowed.`,
      { cause },
    );
    this.name = 'AddonMissingError';
  }
}

// node-gyp-build loads build/Release/ (a build from source: a clone, or an
// install where no prebuilt binary fits) or else prebuilds/<platform>-<arch>/
// for this libc (see scripts/prebuild.sh). Synchronous, with no top-level
// await anywhere, so that require() of the libraries works (Node 20.19+).
let loadError: AddonMissingError | null = null;
function loadBinding(): Binding {
  try {
    return (require('node-gyp-build') as (dir: string) => Binding)(root);
  } catch (err) {
    loadError = new AddonMissingError(err);
    const fail = loadError;
    return new Proxy({} as Binding, {
      get(): never {
        throw fail;
      },
    });
  }
}
const binding: Binding = loadBinding();

/** Why the addon is not there (null when it is loaded). */
export function addonError(): AddonMissingError | null {
  return loadError;
}

/**
 * For the installed commands of the daemons (src/bin): where the addon is
 * missing, say so and what to do, and exit 70, before the program detaches
 * (a detached daemon's stderr is /dev/null: its launcher would only see it
 * die).
 */
export function exitIfAddonMissing(prog: string): void {
  if (!loadError) return;
  process.stderr.write(`${prog}: ${loadError.message}\n`);
  process.exit(70);
}

export const READABLE = 1;
export const WRITABLE = 2;

// errno number -> name. Several names share a number (EAGAIN/EWOULDBLOCK,
// EDEADLK/EDEADLOCK, ENOTSUP/EOPNOTSUPP): the first listed, the one glibc's
// strerror and Node's own errors use, wins.
const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

/** An Error shaped like Node's own system errors: code, errno, syscall, path. */
export class SystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  constructor(errno: number, syscall: string, path?: string) {
    const code = errnoNames.get(errno) ?? `E${errno}`;
    super(`${syscall}${path ? ` ${path}` : ''}: ${strerror(errno)}`);
    this.name = 'SystemError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
  }
}

/** The C library's words for an errno number or code (`strerror(3)`). */
export { strerror };

/** errno number of a code such as 'ENOENT' (0 when unknown). */
export function errnoOf(code: string): number {
  return errnoFromCode(code) ?? 0;
}

function check(ret: number, syscall: string, path?: string): number {
  if (ret < 0) throw new SystemError(-ret, syscall, path);
  return ret;
}

/**
 * A non-blocking AF_UNIX socket (SOCK_DGRAM by default, SOCK_STREAM on
 * request) with SO_PASSCRED on, close-on-exec, driven by the event loop
 * through uv_poll. Paths beginning with '@' are in the abstract namespace.
 */
export class UnixSocket {
  readonly fd: number;
  readonly stream: boolean;
  private poller: RawPoller | null = null;
  private events = 0;
  private onReadable: (() => void) | null = null;
  private onWritable: (() => void) | null = null;
  private onError: ((err: SystemError) => void) | null = null;
  private closed = false;
  private refed = true;

  constructor(opts: { stream?: boolean; fd?: number } = {}) {
    this.stream = !!opts.stream;
    this.fd = opts.fd !== undefined ? opts.fd : check(binding.socket(this.stream), 'socket');
  }

  /**
   * Take over an inherited, already bound AF_UNIX datagram socket (systemd
   * socket activation): checks its family and type, and sets SO_PASSCRED,
   * O_NONBLOCK and close-on-exec on it, as for a socket of our own.
   */
  static fromFd(fd: number): UnixSocket {
    return new UnixSocket({ fd: check(binding.adopt(fd), 'adopt') });
  }

  /** A new socket connected to path; closed again (no descriptor left over) when that fails. */
  static connected(path: string, opts: { stream?: boolean } = {}): UnixSocket {
    const s = new UnixSocket(opts);
    try {
      s.connect(path);
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  bind(path: string): void {
    if (this.closed) throw new SystemError(errnoOf('EBADF'), 'bind', path);
    check(binding.bind(this.fd, path), 'bind', path);
  }

  connect(path: string): void {
    if (this.closed) throw new SystemError(errnoOf('EBADF'), 'connect', path);
    check(binding.connect(this.fd, path), 'connect', path);
  }

  /**
   * Send without blocking. Returns the bytes sent, or -errno for EAGAIN /
   * EWOULDBLOCK / ENOBUFS (queue full: the caller decides to queue or drop).
   * Throws SystemError for every other failure.
   */
  trySend(data: Buffer, path: string | null = null, offset = 0, length = data.length - offset): number {
    // After close() the number may already name another descriptor.
    if (this.closed) throw new SystemError(errnoOf('EBADF'), 'sendto', path ?? undefined);
    const r = binding.send(this.fd, data, offset, length, path);
    if (r >= 0) return r;
    const code = errnoNames.get(-r);
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'ENOBUFS') return r;
    throw new SystemError(-r, 'sendto', path ?? undefined);
  }

  /**
   * Receive one datagram, or null when none is waiting (EAGAIN). With
   * `into` (at least maxlen bytes), the datagram is received into it and
   * its data is a view of it, good until the next recv into the same buffer.
   */
  recv(maxlen = 65536, into?: Buffer): Datagram | null {
    if (this.closed) throw new SystemError(errnoOf('EBADF'), 'recvmsg');
    const r = into ? binding.recv(this.fd, maxlen, into) : binding.recv(this.fd, maxlen);
    if (typeof r === 'number') {
      if (r === -errnoOf('EAGAIN')) return null;
      throw new SystemError(-r, 'recvmsg');
    }
    const data = r[0] ?? into!.subarray(0, Math.min(r[1], maxlen));
    return { data, size: r[1], path: r[2], uid: r[3], gid: r[4], pid: r[5] };
  }

  /** Peer credentials of a connected stream socket (SO_PEERCRED). */
  peercred(): Credentials {
    if (this.closed) throw new SystemError(errnoOf('EBADF'), 'getsockopt');
    const r = binding.peercred(this.fd);
    if (typeof r === 'number') throw new SystemError(-r, 'getsockopt');
    return r;
  }

  /** Call fn whenever the socket is readable (until close or setReadable(null)). */
  setReadable(fn: (() => void) | null): void {
    this.onReadable = fn;
    this.update();
  }

  /** Call fn when the socket becomes writable (used to drain a send queue). */
  setWritable(fn: (() => void) | null): void {
    this.onWritable = fn;
    this.update();
  }

  /** Poll errors (POLLERR from uv_poll) are reported here. The poll is
   * stopped then: call setReadable or setWritable again to go on. */
  setErrorHandler(fn: ((err: SystemError) => void) | null): void {
    this.onError = fn;
  }

  private update(): void {
    if (this.closed) return;
    const want = (this.onReadable ? READABLE : 0) | (this.onWritable ? WRITABLE : 0);
    if (want === this.events) return;
    this.events = want;
    if (want === 0) {
      this.poller?.stop();
      return;
    }
    if (!this.poller) {
      this.poller = new binding.Poller(this.fd, (status, events) => this.dispatch(status, events));
      if (!this.refed) this.poller.ref(false);
    }
    this.poller.start(want);
  }

  private dispatch(status: number, events: number): void {
    if (status < 0) {
      // libuv stops the poll when it reports an error (POLLERR): nothing is
      // armed now, and the next setReadable/setWritable arms it again.
      this.events = 0;
      const err = new SystemError(-status, 'poll');
      if (this.onError) this.onError(err);
      return;
    }
    if (events & WRITABLE && this.onWritable) this.onWritable();
    if (events & READABLE && this.onReadable && !this.closed) this.onReadable();
  }

  /** Whether waiting on this socket keeps the process alive (as net.Socket's ref/unref). */
  ref(on = true): void {
    this.refed = on;
    this.poller?.ref(on);
  }

  unref(): void {
    this.ref(false);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onReadable = this.onWritable = null;
    if (this.poller) {
      this.poller.close(); // uv_close; the fd is closed after the handle is
      this.poller = null;
    }
    binding.close(this.fd);
  }
}

/** Peer credentials (SO_PEERCRED) of any connected unix stream socket by
 * descriptor, e.g. a net.Socket's (its `_handle.fd`). */
export function peercredOf(fd: number): Credentials {
  const r = binding.peercred(fd);
  if (typeof r === 'number') throw new SystemError(-r, 'getsockopt');
  return r;
}

/**
 * A POSIX record lock over the whole of an open file (fcntl F_SETLK/F_SETLKW),
 * as APUE's already_running(). Returns false when another process holds it.
 */
export function lockFile(fd: number, opts: { exclusive?: boolean; wait?: boolean } = {}): boolean {
  const r = binding.lock(fd, opts.exclusive !== false, !!opts.wait);
  if (r === 0) return true;
  const code = errnoNames.get(-r);
  if (code === 'EAGAIN' || code === 'EACCES') return false;
  throw new SystemError(-r, 'fcntl');
}

/**
 * An O_PATH descriptor (close-on-exec) of the file at an absolute path,
 * reached without following a symbolic link anywhere on the way (openat2(2)
 * with RESOLVE_NO_SYMLINKS, or a walk with O_NOFOLLOW on older kernels). A
 * link as the last component gives a descriptor of the link itself: fstat
 * tells. The descriptor pins that very file: `/proc/self/fd/N` names it
 * whatever is renamed or linked at the path afterwards. Throws SystemError
 * (ELOOP or ENOTDIR for a link on the way, EINVAL for a relative path).
 */
export function openPath(path: string): number {
  return check(binding.openpath(path), 'open', path);
}

/** What openPathStat() found: the descriptor and its fstat(2). */
export interface PathStat {
  fd: number;
  /** A socket (S_IFSOCK); a link at the end is a link (S_IFLNK), not followed. */
  isSocket: boolean;
  isSymbolicLink: boolean;
  uid: number;
  dev: number;
  ino: number;
}

const statOut = new Float64Array(4);
const S_IFMT = 0o170000;

/**
 * openPath() and fstat(2) of the descriptor, in one call of the addon: what
 * a server does at every request before answering it (the file's type and
 * owner checked), without Node's fstatSync and its Stats. Throws SystemError
 * as openPath() does (or fstat's; the descriptor is closed then).
 */
export function openPathStat(path: string): PathStat {
  const fd = check(binding.openpath(path, statOut), 'open', path);
  const fmt = statOut[0]! & S_IFMT;
  return { fd, isSocket: fmt === 0o140000, isSymbolicLink: fmt === 0o120000, uid: statOut[1]!, dev: statOut[2]!, ino: statOut[3]! };
}

/** close(2) a descriptor of ours (openPath's, say); Linux closes it even when it reports EINTR. */
export function closeFd(fd: number): void {
  check(binding.close(fd), 'close');
}

/**
 * Read the file `name` of the directory of dirfd (openat(2), O_NOFOLLOW; one
 * name, no '/') from its start into buf, and close it; returns the bytes
 * read. oneRecord: stop at the first read shorter than asked (a /proc file
 * made in one piece: stat, statm, smaps_rollup). A result of buf.length
 * may not be the whole file: grow buf and read again. Throws SystemError.
 */
export function readAt(dirfd: number, name: string, buf: Buffer, oneRecord: boolean): number {
  return check(binding.readat(dirfd, name, buf, oneRecord), 'read', name);
}

/**
 * Catch the real-time signals SIGRTMIN..SIGRTMAX with a handler that does
 * nothing (their default ends the process, and process.on() cannot listen
 * for them); exec(2) gives the programs we start the default back. Returns
 * the range [SIGRTMIN, SIGRTMAX].
 */
export function catchRealtimeSignals(): [number, number] {
  const r = binding.catchRealtime();
  if (typeof r === 'number') throw new SystemError(-r, 'sigaction');
  return r;
}

/**
 * Raise this process's descriptor limit (RLIMIT_NOFILE) to at least `want`:
 * soft and hard where allowed (root: up to fs.nr_open, /proc/sys/fs/nr_open,
 * which the kernel will not pass), else the soft limit up to the hard one.
 * Never lowers. Returns the limits in force, [soft, hard].
 */
export function raiseNofile(want: number): [number, number] {
  const r = binding.nofile(want);
  if (typeof r === 'number') throw new SystemError(-r, 'setrlimit');
  return r;
}
