/* strlogfloor: the C floor for strlog, strlogd and strerr.
 *
 * The least work the same path needs: a sender sends each message as one
 * datagram (the record of strlogd(8)'s wire format) to a relay's bound
 * socket; the relay prefixes each with a log_ctl header and writes them to
 * a stream socket, several per write(2) when several are waiting; a logger
 * reads the stream, expands the format with snprintf (it knows the
 * argument types: int, string, string), formats strerr's line and appends
 * what it has to a file with one write(2) per read.  Blocking I/O, no
 * queues, no checks, no credentials, no registration: a floor, not a
 * driver.  Three processes, as the real thing.
 *
 *   cc -O2 -o strlogfloor strlogfloor.c
 *   strlogfloor MESSAGES DIR
 *
 * Prints one line: messages, seconds (first send to the last line
 * written), lost, and the CPU seconds of the sender, relay and logger.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char FMT[] = "bench message %d from %s: %s";

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(const struct rusage *ru) {
	return ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 + ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

static void put16(unsigned char *p, unsigned v) { p[0] = v; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static unsigned get16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* One submission record as strlog() sends it. */
static size_t record(unsigned char *b, long i) {
	size_t o = 16;
	put16(b + o, sizeof FMT - 1); memcpy(b + o + 2, FMT, sizeof FMT - 1); o += 2 + sizeof FMT - 1;
	b[o++] = 3;
	b[o++] = 1; int64_t v = i; memcpy(b + o, &v, 8); o += 8;
	b[o++] = 2; put16(b + o, 5); memcpy(b + o + 2, "bench", 5); o += 7;
	b[o++] = 2; put16(b + o, 9); memcpy(b + o + 2, "status ok", 9); o += 11;
	put16(b, o); b[2] = 1; b[3] = 1; put16(b + 4, 4); put16(b + 6, 1234); put16(b + 8, 5); b[10] = 0; b[11] = 0; put32(b + 12, 0);
	return o;
}

static void relay(int dg, int out, long n) {
	static unsigned char in[70000], buf[1 << 18];
	uint32_t seq = 0;
	double t0 = now();
	while (seq < (uint32_t)n) {
		size_t len = 0;
		int flags = 0;
		for (int k = 0; k < 64 && seq < (uint32_t)n; k++) {
			ssize_t r = recv(dg, in, sizeof in, flags);
			if (r < 0) break;
			flags = MSG_DONTWAIT;
			size_t data = (size_t)r - 16;
			if (len + 36 + data > sizeof buf) break;
			unsigned char *h = buf + len;
			put32(h, 1 + 31 + data); h[4] = 0x82; h[5] = 2; put16(h + 6, get16(in + 4));
			put32(h + 8, 1234); put32(h + 12, 5); h[16] = 0; h[17] = 0; put16(h + 18, 3);
			put32(h + 20, ++seq); put32(h + 24, (uint32_t)((now() - t0) * 100)); put32(h + 28, (uint32_t)time(NULL)); put32(h + 32, 0);
			memcpy(h + 36, in + 16, data);
			len += 36 + data;
		}
		for (size_t o = 0; o < len;) {
			ssize_t w = write(out, buf + o, len - o);
			if (w < 0) { if (errno == EINTR) continue; _exit(1); }
			o += (size_t)w;
		}
	}
	close(out);
	_exit(0);
}

static void logger(int in, const char *path, int report) {
	static unsigned char buf[1 << 18];
	static char out[1 << 20];
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) _exit(1);
	size_t have = 0;
	long lines = 0;
	time_t last = -1;
	char hms[16] = "";
	for (;;) {
		ssize_t r = read(in, buf + have, sizeof buf - have);
		if (r <= 0) break;
		have += (size_t)r;
		size_t o = 0, olen = 0;
		while (have - o >= 4) {
			uint32_t flen = get32(buf + o);
			if (have - o - 4 < flen) break;
			const unsigned char *b = buf + o + 5;
			time_t t = (time_t)get32(b + 23);
			if (t != last) { struct tm tm; localtime_r(&t, &tm); strftime(hms, sizeof hms, "%H:%M:%S", &tm); last = t; }
			const unsigned char *d = b + 31;
			unsigned fl = get16(d);
			char fmt[1100];
			memcpy(fmt, d + 2, fl); fmt[fl] = 0;
			const unsigned char *a = d + 2 + fl + 1;
			int64_t i; memcpy(&i, a + 1, 8); a += 9;
			char s1[1100], s2[1100];
			unsigned l1 = get16(a + 1); memcpy(s1, a + 3, l1); s1[l1] = 0; a += 3 + l1;
			unsigned l2 = get16(a + 1); memcpy(s2, a + 3, l2); s2[l2] = 0;
			char text[2200];
			snprintf(text, sizeof text, fmt, (int)i, s1, s2);
			unsigned flags = get16(b + 1);
			olen += (size_t)snprintf(out + olen, sizeof out - olen, "%06u %s %08x %c%c%c %d %d %s\n", get32(b + 15), hms, get32(b + 19),
			                         flags & 1 ? 'F' : '.', flags & 2 ? 'N' : '.', flags & 8 ? 'T' : '.', (int)get32(b + 3), (int)get32(b + 7), text);
			lines++;
			o += 4 + flen;
		}
		if (olen && write(fd, out, olen) != (ssize_t)olen) _exit(1);
		memmove(buf, buf + o, have - o);
		have -= o;
	}
	close(fd);
	if (write(report, &lines, sizeof lines) != sizeof lines) _exit(1);
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: strlogfloor MESSAGES DIR\n"); return 2; }
	long n = atol(argv[1]);
	const char *dir = argv[2];
	mkdir(dir, 0755);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/submit", dir);
	unlink(sa.sun_path);
	int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (dg < 0 || bind(dg, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
	int sp[2], rp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || pipe(rp) < 0) { perror("socketpair"); return 1; }
	char path[200];
	snprintf(path, sizeof path, "%s/error.floor", dir);
	pid_t lp = fork();
	if (lp == 0) { close(sp[0]); close(dg); close(rp[0]); logger(sp[1], path, rp[1]); }
	pid_t rlp = fork();
	if (rlp == 0) { close(sp[1]); close(rp[0]); close(rp[1]); relay(dg, sp[0], n); }
	close(sp[0]); close(sp[1]); close(dg); close(rp[1]);

	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("connect"); return 1; }
	unsigned char rec[256];
	double t0 = now();
	for (long i = 0; i < n; i++) {
		size_t len = record(rec, i);
		while (send(s, rec, len, 0) < 0) if (errno != EINTR) { perror("send"); return 1; }
	}
	struct rusage self, rr, lr;
	getrusage(RUSAGE_SELF, &self);
	int st;
	wait4(rlp, &st, 0, &rr);
	long lines = 0;
	if (read(rp[0], &lines, sizeof lines) != sizeof lines) lines = 0;
	wait4(lp, &st, 0, &lr);
	double secs = now() - t0;
	unlink(sa.sun_path);
	unlink(path);
	printf("%ld %.3f %ld %.3f %.3f %.3f\n", n, secs, n - lines, cpu(&self), cpu(&rr), cpu(&lr));
	return 0;
}
