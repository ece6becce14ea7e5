/* pacedfloor: procfloor -r at a pace, as a logger samples: one round over
 * the pids every INTERVAL ms for SECONDS, sleeping in between.
 *
 *   cc -O2 -I ../shared/bench -o pacedfloor pacedfloor.c
 *   pacedfloor INTERVAL_MS SECONDS [procfloor options] PID...
 *
 * procfloor.c is included as it is (its main renamed) and run with ROUNDS 1
 * each time, so that the work per sample is exactly procfloor's; only the
 * pace differs (and each round opens and closes the output file once, which
 * procfloor does once a run). A sample taken after a sleep finds cold
 * caches, which procfloor's tight loop never does: this is the C floor for
 * a sampler at an interval. Prints: samples, CPU seconds, µs of CPU per
 * sample.
 */
#define main procfloor_main
#include "procfloor.c"
#undef main
#include <fcntl.h>
#include <time.h>

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: pacedfloor INTERVAL_MS SECONDS [procfloor options] PID...\n"); return 2; }
	long ms = atol(argv[1]);
	double seconds = atof(argv[2]);
	/* procfloor's argv: its options, "1", the pids */
	int nopt = 0;
	while (3 + nopt < argc && argv[3 + nopt][0] == '-') nopt += (argv[3 + nopt][1] == 'o') ? 2 : 1;
	int pargc = 1 + nopt + 1 + (argc - 3 - nopt);
	char **pargv = calloc((size_t)pargc + 1, sizeof *pargv);
	pargv[0] = "procfloor";
	for (int i = 0; i < nopt; i++) pargv[1 + i] = argv[3 + i];
	pargv[1 + nopt] = "1";
	for (int i = 3 + nopt; i < argc; i++) pargv[2 + nopt + (i - 3 - nopt)] = argv[i];
	int out = dup(1), devnull = open("/dev/null", O_WRONLY);
	struct timespec t0, now, next;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	next = t0;
	long rounds = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) break;
		fflush(stdout);
		dup2(devnull, 1);
		optind = 1;
		int ofd = dup(0); /* the descriptor procfloor's open of its output gets */
		close(ofd);
		if (procfloor_main(pargc, pargv) != 0) return 1;
		fflush(stdout);
		dup2(out, 1);
		/* give back what one procfloor run keeps: its output file, its buffer */
		close(ofd);
		free(buf);
		buf = NULL;
		cap = 1 << 16;
		rounds++;
		next.tv_nsec += ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	long samples = rounds * (argc - 3 - nopt);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("samples %ld cpu_s %.3f us_per_sample %.2f\n", samples, cpu, samples ? cpu * 1e6 / samples : 0.0);
	return 0;
}
