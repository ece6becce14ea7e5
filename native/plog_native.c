/*
 * plog_native: the small part of plog that Node core cannot do.
 *
 *  - AF_UNIX sockets of type SOCK_DGRAM (and SOCK_STREAM for syslog's
 *    fallback), non-blocking, close-on-exec, with SO_PASSCRED so that every
 *    datagram received carries the sender's kernel-checked uid/gid/pid;
 *  - readiness of such a socket through the event loop (uv_poll), so that no
 *    call here ever blocks;
 *  - peer credentials of a connected stream socket (SO_PEERCRED);
 *  - a POSIX record lock on an open file (fcntl F_SETLK), as APUE's
 *    already_running() uses;
 *  - an O_PATH descriptor of a file reached without following any symbolic
 *    link on the way (openat2(2) RESOLVE_NO_SYMLINKS), so that a root daemon
 *    answers the socket a client bound and not one a link points to;
 *  - a file read whole through a directory descriptor (openat(2)), which
 *    Node cannot do: a process's /proc files, read through the descriptor
 *    of its /proc/PID;
 *  - a do-nothing handler for the real-time signals, which Node cannot
 *    listen for, so that a stray one does not end a daemon;
 *  - the descriptor limit (RLIMIT_NOFILE) raised, which Node cannot do:
 *    a root plogsrvd logging a whole host keeps four descriptors a process.
 *
 * Errors come back as negative errno values, not exceptions: the hot paths
 * (a full syslog queue returns EAGAIN thousands of times a second) should not
 * pay for building an Error, and the TypeScript side chooses which to throw.
 */
#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif
#endif

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, NULL, "plog_native: " #call " failed");            \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* What one instance of the addon (the main thread, or a worker thread that
 * loads it) keeps: a receive buffer shared by that instance's sockets. Its
 * event loop is one thread and recv() copies out what it read before
 * returning; another thread has its own. 64 KiB + 1 so that a datagram of
 * exactly the maximum size is seen whole. */
#define RBUF_SIZE (65536 + 1)
typedef struct {
  char rbuf[RBUF_SIZE];
} instance_t;

static void instance_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static char *instance_rbuf(napi_env env) {
  instance_t *in = NULL;
  if (napi_get_instance_data(env, (void **)&in) != napi_ok || in == NULL) return NULL;
  return in->rbuf;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return NULL;
  return out;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

/* Fill a sockaddr_un from a JS string. A leading '@' names the abstract
 * namespace (as systemd's NOTIFY_SOCKET does). Returns the address length or
 * -errno. */
static int get_addr(napi_env env, napi_value v, struct sockaddr_un *sa) {
  size_t len = 0;
  char path[sizeof sa->sun_path + 2];
  if (napi_get_value_string_utf8(env, v, path, sizeof path, &len) != napi_ok) return -EINVAL;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (len == 0) return -EINVAL;
  if (len >= sizeof sa->sun_path) return -ENAMETOOLONG;
  memcpy(sa->sun_path, path, len);
  if (path[0] == '@') {
    sa->sun_path[0] = '\0';
    return (int)(offsetof(struct sockaddr_un, sun_path) + len);
  }
  return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* socket(stream) -> fd | -errno */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool stream = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc > 0) napi_get_value_bool(env, argv[0], &stream);
  int fd = socket(AF_UNIX, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_int(env, -errno);
  int on = 1;
  /* SO_PASSCRED: every message received carries SCM_CREDENTIALS filled in by
   * the kernel, whether or not the sender attached them. */
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
    int e = errno;
    close(fd);
    return make_int(env, -e);
  }
  return make_int(env, fd);
}

/* adopt(fd) -> fd | -errno: take over an inherited AF_UNIX datagram socket
 * (systemd socket activation, LISTEN_FDS): check its type, then set what
 * socket() sets for our own: SO_PASSCRED, O_NONBLOCK, FD_CLOEXEC. */
static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_int(env, argv[0], &fd) < 0 || fd < 0) return make_int(env, -EBADF);
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0) return make_int(env, -errno);
  if (v != AF_UNIX) return make_int(env, -EAFNOSUPPORT);
  len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0) return make_int(env, -errno);
  if (v != SOCK_DGRAM) return make_int(env, -EPROTOTYPE);
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) return make_int(env, -errno);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return make_int(env, -errno);
  int fdf = fcntl(fd, F_GETFD);
  if (fdf < 0 || fcntl(fd, F_SETFD, fdf | FD_CLOEXEC) < 0) return make_int(env, -errno);
  return make_int(env, fd);
}

static napi_value bind_or_connect(napi_env env, napi_callback_info info, int do_bind) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  struct sockaddr_un sa;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || get_int(env, argv[0], &fd) < 0) return make_int(env, -EINVAL);
  int alen = get_addr(env, argv[1], &sa);
  if (alen < 0) return make_int(env, alen);
  int r = do_bind ? bind(fd, (struct sockaddr *)&sa, (socklen_t)alen)
                  : connect(fd, (struct sockaddr *)&sa, (socklen_t)alen);
  return make_int(env, r < 0 ? -errno : 0);
}

static napi_value js_bind(napi_env env, napi_callback_info info) { return bind_or_connect(env, info, 1); }
static napi_value js_connect(napi_env env, napi_callback_info info) { return bind_or_connect(env, info, 0); }

/* send(fd, buffer, offset, length, path|null) -> bytes | -errno. Never
 * blocks (MSG_DONTWAIT) and never raises SIGPIPE (MSG_NOSIGNAL). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd, off, len;
  void *data;
  size_t blen;
  struct sockaddr_un sa;
  int alen = 0;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || get_int(env, argv[0], &fd) < 0 || get_int(env, argv[2], &off) < 0 ||
      get_int(env, argv[3], &len) < 0)
    return make_int(env, -EINVAL);
  if (napi_get_buffer_info(env, argv[1], &data, &blen) != napi_ok) return make_int(env, -EINVAL);
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > blen) return make_int(env, -EINVAL);
  if (argc > 4 && napi_typeof(env, argv[4], &t) == napi_ok && t == napi_string) {
    alen = get_addr(env, argv[4], &sa);
    if (alen < 0) return make_int(env, alen);
  }
  ssize_t n;
  do {
    n = sendto(fd, (char *)data + off, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
               alen ? (struct sockaddr *)&sa : NULL, (socklen_t)alen);
  } while (n < 0 && errno == EINTR);
  return make_int(env, n < 0 ? -errno : n);
}

static napi_value set_int_prop(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value n = make_int(env, v);
  if (n == NULL || napi_set_named_property(env, obj, name, n) != napi_ok) return NULL;
  return obj;
}

/* recv(fd, maxlen) -> { data, size, path, uid, gid, pid } | -errno.
 * size is the datagram's real length (MSG_TRUNC), which may exceed
 * data.length when the sender sent more than maxlen. */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, maxlen = 65536;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_int(env, argv[0], &fd) < 0) return make_int(env, -EINVAL);
  if (argc > 1) get_int(env, argv[1], &maxlen);
  /* A buffer of the caller's (third argument) is received into, and no
   * buffer is made: a server that parses each datagram before the next
   * saves an allocation a datagram. */
  char *rbuf;
  bool into = false;
  if (argc > 2) {
    bool is_buf = false;
    void *data = NULL;
    size_t cap = 0;
    if (napi_is_buffer(env, argv[2], &is_buf) != napi_ok || !is_buf) return make_int(env, -EINVAL);
    CHECK(napi_get_buffer_info(env, argv[2], &data, &cap));
    if (maxlen < 0 || (size_t)maxlen > cap) return make_int(env, -EINVAL);
    rbuf = data;
    into = true;
  } else {
    rbuf = instance_rbuf(env);
    if (rbuf == NULL) return make_int(env, -ENOMEM);
    if (maxlen < 0 || maxlen > RBUF_SIZE) maxlen = RBUF_SIZE;
  }

  struct sockaddr_un from;
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = { rbuf, (size_t)maxlen };
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  memset(&from, 0, sizeof from);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;

  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return make_int(env, errno == EWOULDBLOCK ? -EAGAIN : -errno);

  size_t got = (size_t)n < (size_t)maxlen ? (size_t)n : (size_t)maxlen;
  struct ucred cred = { -1, (uid_t)-1, (gid_t)-1 };
  int have_cred = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
        c->cmsg_len >= CMSG_LEN(sizeof cred)) {
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      have_cred = 1;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      /* Nobody asked for descriptors: close any a sender pushed at us so a
       * hostile client cannot exhaust our descriptor table. */
      int *fds = (int *)CMSG_DATA(c);
      size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfds; i++) close(fds[i]);
    }
  }

  /* An array, not an object: its six slots need no property names made
   * (and looked up in V8's string table) at every datagram; src/native.ts
   * makes the Datagram of it. */
  napi_value arr, buf, path;
  CHECK(napi_create_array_with_length(env, 6, &arr));
  if (into) CHECK(napi_get_null(env, &buf));
  else CHECK(napi_create_buffer_copy(env, got, rbuf, NULL, &buf));
  CHECK(napi_set_element(env, arr, 0, buf));
  CHECK(napi_set_element(env, arr, 1, make_int(env, n)));

  size_t plen = msg.msg_namelen > offsetof(struct sockaddr_un, sun_path)
                    ? msg.msg_namelen - offsetof(struct sockaddr_un, sun_path)
                    : 0;
  if (plen == 0) {
    CHECK(napi_get_null(env, &path));
  } else if (from.sun_path[0] == '\0') {
    char abs[sizeof from.sun_path + 1];
    abs[0] = '@';
    memcpy(abs + 1, from.sun_path + 1, plen - 1);
    CHECK(napi_create_string_utf8(env, abs, plen, &path));
  } else {
    CHECK(napi_create_string_utf8(env, from.sun_path, strnlen(from.sun_path, plen), &path));
  }
  CHECK(napi_set_element(env, arr, 2, path));
  CHECK(napi_set_element(env, arr, 3, make_int(env, have_cred ? (int64_t)cred.uid : -1)));
  CHECK(napi_set_element(env, arr, 4, make_int(env, have_cred ? (int64_t)cred.gid : -1)));
  CHECK(napi_set_element(env, arr, 5, make_int(env, have_cred ? (int64_t)cred.pid : -1)));
  return arr;
}

/* peercred(fd) -> { uid, gid, pid } | -errno */
static napi_value js_peercred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], obj;
  int32_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_int(env, argv[0], &fd) < 0) return make_int(env, -EINVAL);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return make_int(env, -errno);
  CHECK(napi_create_object(env, &obj));
  if (!set_int_prop(env, obj, "uid", cred.uid) || !set_int_prop(env, obj, "gid", cred.gid) ||
      !set_int_prop(env, obj, "pid", cred.pid))
    return NULL;
  return obj;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_int(env, argv[0], &fd) < 0) return make_int(env, -EINVAL);
  /* Linux closes the descriptor even when close() reports EINTR: never retry. */
  return make_int(env, close(fd) < 0 && errno != EINTR ? -errno : 0);
}

/* lock(fd, exclusive, wait) -> 0 | -errno (EAGAIN/EACCES: held elsewhere) */
static napi_value js_lock(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  bool excl = true, wait = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_int(env, argv[0], &fd) < 0) return make_int(env, -EINVAL);
  if (argc > 1) napi_get_value_bool(env, argv[1], &excl);
  if (argc > 2) napi_get_value_bool(env, argv[2], &wait);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = excl ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  int r;
  do {
    r = fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
  } while (r < 0 && errno == EINTR && wait);
  return make_int(env, r < 0 ? -errno : 0);
}

/* Walk an absolute path one component at a time, each opened with
 * O_NOFOLLOW: what openat2's RESOLVE_NO_SYMLINKS does, for kernels before
 * 5.6 (and C libraries whose headers lack it). The last component is opened
 * O_PATH|O_NOFOLLOW: a symlink there yields a descriptor of the link itself,
 * which the caller's fstat() tells apart. */
static int walk_nofollow(const char *path) {
  char buf[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, len + 1);
  int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -errno;
  char *p = buf + 1;
  for (;;) {
    while (*p == '/') p++;
    char *slash = strchr(p, '/');
    while (slash && slash[1] == '/') slash++;
    if (!slash || slash[1] == '\0') {
      if (slash) *slash = '\0';
      int fd = *p ? openat(dir, p, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
      int e = *p ? errno : EISDIR;
      close(dir);
      return fd < 0 ? -e : fd;
    }
    *slash = '\0';
    int next = openat(dir, p, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    close(dir);
    /* O_NOFOLLOW|O_DIRECTORY on a symlink fails with ENOTDIR or ELOOP: either
     * way, refused. */
    if (next < 0) return -e;
    dir = next;
    p = slash + 1;
  }
}

/* An O_PATH descriptor (close-on-exec) of the file at an absolute path, no
 * symbolic link followed anywhere on the way, or -errno; a link as the last
 * component gives a descriptor of the link (fstat shows it). */
static long open_nofollow(const char *path) {
#if defined(SYS_openat2) && defined(RESOLVE_NO_SYMLINKS)
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  if (fd >= 0) return fd;
  /* ENOSYS: a kernel before 5.6; EPERM/EINVAL can come from a seccomp filter
   * or an older kernel's flag check: walk instead. */
  if (errno != ENOSYS && errno != EPERM && errno != EINVAL) return -errno;
#endif
  return walk_nofollow(path);
}

/* openpath(path[, stat]) -> fd | -errno: open_nofollow. With stat (a Float64Array of 4),
 * the descriptor's fstat(2) in the same call: st_mode, st_uid, st_dev,
 * st_ino (a server checks who owns what it is about to answer, at every
 * request: one call instead of an open and Node's fstat). */
static napi_value js_openpath(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[PATH_MAX];
  size_t len = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) return make_int(env, -EINVAL);
  if (len == 0 || len >= sizeof path - 1 || strlen(path) != len) return make_int(env, -EINVAL);
  if (path[0] != '/') return make_int(env, -EINVAL);
  double *out = NULL;
  if (argc > 1) {
    bool is_ta = false;
    napi_typedarray_type type;
    size_t n = 0;
    void *data = NULL;
    if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta) return make_int(env, -EINVAL);
    CHECK(napi_get_typedarray_info(env, argv[1], &type, &n, &data, NULL, NULL));
    if (type != napi_float64_array || n < 4) return make_int(env, -EINVAL);
    out = data;
  }
  long fd = open_nofollow(path);
  if (fd < 0 || out == NULL) return make_int(env, fd);
  struct stat st;
#if defined(SYS_fstat) && (defined(__x86_64__) || defined(__aarch64__))
  /* The system call, not fstat(3): glibc exports fstat only from 2.33 on,
   * and the prebuilt addons (x86-64, arm64) run on glibc 2.28, as Node 20
   * does. There the kernel's struct stat is the C library's; elsewhere (a
   * 32-bit build from source) it is not, and fstat(3) is used. */
  int r = (int)syscall(SYS_fstat, (int)fd, &st);
#else
  int r = fstat((int)fd, &st);
#endif
  if (r < 0) {
    int e = errno;
    close((int)fd);
    return make_int(env, -e);
  }
  out[0] = (double)st.st_mode;
  out[1] = (double)st.st_uid;
  out[2] = (double)st.st_dev;
  out[3] = (double)st.st_ino;
  return make_int(env, fd);
}

/* readat(dirfd, name, buffer, oneRecord) -> bytes | -errno: open name in the
 * directory of dirfd (openat(2): one name, no '/', no link followed), read it
 * from its start into buffer, close it. Node has no openat: a root plogsrvd
 * logging a whole host keeps one descriptor of a process's /proc/PID (which
 * stands for that process, not for whatever later gets its number) and
 * reads its files through it, one call a file. oneRecord: stop at the first
 * read shorter than asked (a /proc file the kernel makes in one piece). A
 * result equal to the buffer's length may not be all of the file: the
 * caller grows the buffer and asks again. */
static napi_value js_readat(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t dirfd;
  char name[NAME_MAX + 2];
  size_t len = 0;
  void *data = NULL;
  size_t cap = 0;
  bool one = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || get_int(env, argv[0], &dirfd) < 0) return make_int(env, -EINVAL);
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok) return make_int(env, -EINVAL);
  if (len == 0 || len > NAME_MAX || strlen(name) != len || strchr(name, '/') != NULL) return make_int(env, -EINVAL);
  if (napi_get_buffer_info(env, argv[2], &data, &cap) != napi_ok || cap == 0) return make_int(env, -EINVAL);
  if (napi_get_value_bool(env, argv[3], &one) != napi_ok) return make_int(env, -EINVAL);
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) return make_int(env, -errno);
  size_t got = 0;
  while (got < cap) {
    ssize_t n = read(fd, (char *)data + got, cap - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return make_int(env, -e);
    }
    if (n == 0) break;
    size_t asked = cap - got;
    got += (size_t)n;
    if (one && (size_t)n < asked) break;
  }
  close(fd);
  return make_int(env, (int64_t)got);
}

/* ---- Poller: uv_poll_t on a descriptor, calling back into JS ---- */

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;    /* the JS function (status, events) */
  napi_ref self;        /* the wrapper: held strongly while polling */
  napi_async_context async;
  int started;
  int closing;
  int closed;
  int finalized;
} poller_t;

static void poller_free_if_done(poller_t *p) {
  if (p->closed && p->finalized) free(p);
}

static void on_close(uv_handle_t *h) {
  poller_t *p = (poller_t *)h->data;
  p->closed = 1;
  poller_free_if_done(p);
}

static void poller_close(poller_t *p) {
  if (p->closing) return;
  p->closing = 1;
  uv_poll_stop(&p->handle);
  if (p->started && p->self) napi_reference_unref(p->env, p->self, NULL);
  p->started = 0;
  uv_close((uv_handle_t *)&p->handle, on_close);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poller_t *p = (poller_t *)h->data;
  if (p->closing) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_reference_value(env, p->self, &recv) == napi_ok && recv != NULL) {
    int ev = (events & UV_READABLE ? 1 : 0) | (events & UV_WRITABLE ? 2 : 0);
    argv[0] = make_int(env, status);
    argv[1] = make_int(env, ev);
    /* libuv stops the handle when it reports an error (POLLERR): it is no
     * longer started, and keeps the event loop alive no more. */
    if (status < 0 && p->started) {
      p->started = 0;
      napi_reference_unref(env, p->self, NULL);
    }
    /* napi_make_callback, not napi_call_function: it runs the microtask
     * queue afterwards. A throw in the callback is left pending on the
     * environment, to surface at some later, unrelated call into the addon:
     * raise it now, where it happened, as Node raises an uncaught exception
     * of any other event-loop callback. */
    if (napi_make_callback(env, p->async, recv, cb, 2, argv, &result) != napi_ok) {
      bool pending = false;
      napi_value err;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &err) == napi_ok)
        napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  poller_t *p = (poller_t *)data;
  p->finalized = 1;
  if (p->callback) napi_delete_reference(env, p->callback);
  if (p->async) napi_async_destroy(env, p->async);
  p->callback = NULL;
  p->async = NULL;
  if (p->self) napi_delete_reference(env, p->self);
  p->self = NULL;
  if (!p->closing) poller_close(p);
  poller_free_if_done(p);
}

static napi_value poller_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, name;
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 2 || get_int(env, argv[0], &fd) < 0) {
    napi_throw_type_error(env, NULL, "Poller(fd, callback)");
    return NULL;
  }
  poller_t *p = calloc(1, sizeof *p);
  if (!p) {
    napi_throw_error(env, "ENOMEM", "Poller: out of memory");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    free(p);
    napi_throw_error(env, NULL, "Poller: no event loop");
    return NULL;
  }
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
    free(p);
    napi_throw_error(env, uv_err_name(r), uv_strerror(r));
    return NULL;
  }
  p->handle.data = p;
  p->env = env;
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_create_string_utf8(env, "plog:poll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &p->async) != napi_ok ||
      napi_wrap(env, self, p, poller_finalize, NULL, &p->self) != napi_ok) {
    /* Undo what was made: the references, the async context, and the
     * initialised handle, which libuv frees only through uv_close (the
     * struct goes with it, in on_close: finalized counts as done, nothing
     * wraps it). */
    if (p->callback) napi_delete_reference(env, p->callback);
    if (p->async) napi_async_destroy(env, p->async);
    p->callback = NULL;
    p->async = NULL;
    p->finalized = 1;
    p->closing = 1;
    uv_close((uv_handle_t *)&p->handle, on_close);
    napi_throw_error(env, NULL, "Poller: could not set up the poller");
    return NULL;
  }
  return self;
}

static poller_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &p) != napi_ok) return NULL;
  return (poller_t *)p;
}

static napi_value poller_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t ev = 1;
  poller_t *p = unwrap(env, info, &argc, argv);
  if (!p || p->closing) return NULL;
  if (argc > 0) get_int(env, argv[0], &ev);
  int uvev = (ev & 1 ? UV_READABLE : 0) | (ev & 2 ? UV_WRITABLE : 0);
  int r = uv_poll_start(&p->handle, uvev, on_poll);
  if (r < 0) {
    napi_throw_error(env, uv_err_name(r), uv_strerror(r));
    return NULL;
  }
  if (!p->started) napi_reference_ref(env, p->self, NULL);
  p->started = 1;
  return NULL;
}

static napi_value poller_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  poller_t *p = unwrap(env, info, &argc, NULL);
  if (!p || p->closing) return NULL;
  uv_poll_stop(&p->handle);
  if (p->started) napi_reference_unref(env, p->self, NULL);
  p->started = 0;
  return NULL;
}

/* ref(bool): whether an active poll keeps the event loop alive. */
static napi_value poller_ref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = true;
  poller_t *p = unwrap(env, info, &argc, argv);
  if (!p || p->closing) return NULL;
  if (argc > 0) napi_get_value_bool(env, argv[0], &on);
  if (on) uv_ref((uv_handle_t *)&p->handle);
  else uv_unref((uv_handle_t *)&p->handle);
  return NULL;
}

static napi_value poller_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  poller_t *p = unwrap(env, info, &argc, NULL);
  if (p) poller_close(p);
  return NULL;
}

/* The real-time signals SIGRTMIN..SIGRTMAX (signal(7)) end a process by
 * default, and process.on() knows only the named signals. This handler does
 * nothing: a stray one is caught and forgotten. A handler and not SIG_IGN,
 * because exec(2) resets a handler to the default but keeps SIG_IGN, and the
 * programs a daemon starts (strerr's mailer) must not inherit ours.
 * SA_RESTART: a system call it interrupts goes on. Returns [SIGRTMIN,
 * SIGRTMAX], or -errno. The C library keeps the numbers below SIGRTMIN for
 * itself (its sigaction() refuses them). */
static void rt_nothing(int sig) { (void)sig; }

static napi_value js_catch_realtime(napi_env env, napi_callback_info info) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = rt_nothing;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
    if (sigaction(s, &sa, NULL) != 0) return make_int(env, -errno);
  napi_value out;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, make_int(env, SIGRTMIN)));
  CHECK(napi_set_element(env, out, 1, make_int(env, SIGRTMAX)));
  return out;
}

/* nofile(want) -> [soft, hard] | -errno: raise RLIMIT_NOFILE (getrlimit(2))
 * so that its soft limit is at least `want`, the hard limit with it where
 * allowed (CAP_SYS_RESOURCE; the kernel refuses more than fs.nr_open: the
 * caller caps `want` there). Where the hard limit cannot move, the soft one
 * still rises to it. Never lowers either. Returns the limits in force. */
static napi_value js_nofile(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double want = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_double(env, argv[0], &want) != napi_ok || !(want >= 0)) return make_int(env, -EINVAL);
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return make_int(env, -errno);
  rlim_t w = want > 1e9 ? (rlim_t)1e9 : (rlim_t)want;
  if (w > r.rlim_cur) {
    struct rlimit n = r;
    n.rlim_cur = w;
    if (n.rlim_max != RLIM_INFINITY && n.rlim_max < w) n.rlim_max = w;
    if (setrlimit(RLIMIT_NOFILE, &n) != 0 && r.rlim_cur < r.rlim_max) {
      n = r;
      n.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max > w ? w : r.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &n) != 0) return make_int(env, -errno);
    }
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return make_int(env, -errno);
  }
  napi_value out;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, make_int(env, r.rlim_cur == RLIM_INFINITY ? 1000000000 : (int64_t)r.rlim_cur)));
  CHECK(napi_set_element(env, out, 1, make_int(env, r.rlim_max == RLIM_INFINITY ? 1000000000 : (int64_t)r.rlim_max)));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  instance_t *in = calloc(1, sizeof *in);
  if (in == NULL || napi_set_instance_data(env, in, instance_free, NULL) != napi_ok) {
    free(in);
    napi_throw_error(env, NULL, "plog_native: out of memory");
    return NULL;
  }
  napi_property_descriptor fns[] = {
    { "socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL },
    { "adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL },
    { "bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL },
    { "connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL },
    { "recv", NULL, js_recv, NULL, NULL, NULL, napi_default, NULL },
    { "peercred", NULL, js_peercred, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "lock", NULL, js_lock, NULL, NULL, NULL, napi_default, NULL },
    { "openpath", NULL, js_openpath, NULL, NULL, NULL, napi_default, NULL },
    { "readat", NULL, js_readat, NULL, NULL, NULL, napi_default, NULL },
    { "catchRealtime", NULL, js_catch_realtime, NULL, NULL, NULL, napi_default, NULL },
    { "nofile", NULL, js_nofile, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;

  napi_property_descriptor methods[] = {
    { "start", NULL, poller_start, NULL, NULL, NULL, napi_default, NULL },
    { "stop", NULL, poller_stop, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, poller_ref, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, poller_close_js, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value cls;
  if (napi_define_class(env, "Poller", NAPI_AUTO_LENGTH, poller_new, NULL,
                        sizeof methods / sizeof methods[0], methods, &cls) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "Poller", cls) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
