/* syslogfloor: the receiver and the C floor of the syslog() benchmark.
 *
 *   cc -O2 -o syslogfloor syslogfloor.c
 *   syslogfloor recv PATH N   bind a unix datagram socket at PATH, print
 *                             "ready", receive N messages (or stop after 5 s
 *                             without one), then print: messages, bytes,
 *                             seconds from the first to the last, CPU seconds
 *   syslogfloor send N        glibc: openlog("bench", LOG_PID, LOG_USER),
 *                             then N x syslog(LOG_INFO, ...) to /dev/log
 *                             (run it where /dev/log is the receiver:
 *                             bench/syslog.ts bind-mounts it in a private
 *                             mount namespace); prints seconds and CPU seconds
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "recv") == 0) {
		long n = atol(argv[3]);
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
		unlink(argv[2]);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
		int big = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		printf("ready\n");
		fflush(stdout);
		static char buf[65536];
		long got = 0, bytes = 0;
		double first = 0, last = 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		while (got < n) {
			if (poll(&p, 1, 5000) <= 0) break;
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r < 0) continue;
			last = now();
			if (got == 0) first = last;
			got++;
			bytes += r;
		}
		printf("%ld %ld %.6f %.6f\n", got, bytes, last - first, cpu());
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "send") == 0) {
		long n = atol(argv[2]);
		openlog("bench", LOG_PID | LOG_NDELAY, LOG_USER);
		double t0 = now(), c0 = cpu();
		for (long i = 0; i < n; i++) syslog(LOG_INFO, "bench message %ld from %s: %s", i, "bench", "status ok");
		printf("%.6f %.6f\n", now() - t0, cpu() - c0);
		return 0;
	}
	fprintf(stderr, "usage: syslogfloor recv PATH N | send N\n");
	return 2;
}
