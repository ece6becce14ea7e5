/* mmapstall: a big process that measures how long its own mmap/munmap take.
 *
 *   cc -O2 -o mmapstall mmapstall.c
 *   mmapstall MIB SECONDS
 *
 * Maps MIB mebibytes of anonymous memory in one mapping, in small pages
 * (MADV_NOHUGEPAGE: the kernel's page walk is then as long as it gets),
 * touches all of it, prints "ready", then every millisecond for SECONDS
 * maps 64 KiB, touches a page and unmaps it, timing each mmap+touch+munmap.
 * Reading /proc/PID/smaps_rollup (PSS) walks every page of every mapping
 * with the mapping lock held for reading; mmap and munmap take it for
 * writing, so they wait for the walk. At the end it prints one line:
 *   ops p50_us p99_us p999_us max_us over1ms_count over1ms_total_ms
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: mmapstall MIB SECONDS\n"); return 2; }
	size_t len = (size_t)atol(argv[1]) << 20;
	double seconds = atof(argv[2]);
	char *big = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED) { perror("mmap"); return 1; }
	madvise(big, len, MADV_NOHUGEPAGE);
	memset(big, 1, len);
	printf("ready\n");
	fflush(stdout);
	size_t cap = (size_t)(seconds * 1000) + 16, n = 0;
	double *lat = malloc(cap * sizeof *lat);
	double end = now_us() + seconds * 1e6;
	struct timespec ms = { 0, 1000000 };
	while (n < cap && now_us() < end) {
		double t0 = now_us();
		char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { perror("mmap"); return 1; }
		p[0] = 1;
		munmap(p, 65536);
		lat[n++] = now_us() - t0;
		nanosleep(&ms, NULL);
	}
	double over = 0;
	long overn = 0;
	for (size_t i = 0; i < n; i++) if (lat[i] > 1000) { over += lat[i]; overn++; }
	qsort(lat, n, sizeof *lat, cmp);
	printf("%zu %.1f %.1f %.1f %.1f %ld %.1f\n", n, lat[n / 2], lat[(size_t)(n * 0.99)], lat[(size_t)(n * 0.999)], lat[n - 1], overn, over / 1000);
	return 0;
}
