/* procconn: the kernel's process connector (NETLINK_CONNECTOR, CN_IDX_PROC)
 * as a means of finding new processes: it subscribes, counts the fork,
 * exec and exit events for SECONDS, and prints them with its own CPU time.
 * bench/host.ts runs it beside a burst of short processes to weigh it
 * against a /proc scan a second. Root only (CAP_NET_ADMIN).
 *
 *   cc -O2 -o procconn procconn.c && procconn SECONDS
 */
#define _GNU_SOURCE
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 10;
	int s = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (s < 0) { perror("socket"); return 1; }
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = getpid() };
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) req;
	memset(&req, 0, sizeof req);
	req.nl.nlmsg_len = sizeof req;
	req.nl.nlmsg_type = NLMSG_DONE;
	req.nl.nlmsg_pid = getpid();
	req.cn.id.idx = CN_IDX_PROC;
	req.cn.id.val = CN_VAL_PROC;
	req.cn.len = sizeof(enum proc_cn_mcast_op);
	req.op = PROC_CN_MCAST_LISTEN;
	if (send(s, &req, sizeof req, 0) < 0) { perror("send"); return 1; }
	int rcv = 4 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	long forks = 0, execs = 0, exits = 0, other = 0, wakeups = 0;
	char buf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));
	double end = now() + secs;
	for (;;) {
		double left = end - now();
		if (left <= 0) break;
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
		wakeups++;
		for (;;) {
			ssize_t n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
			if (n <= 0) break;
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
				struct cn_msg *cn = NLMSG_DATA(h);
				struct proc_event *ev = (struct proc_event *)cn->data;
				if (ev->what == PROC_EVENT_FORK) forks++;
				else if (ev->what == PROC_EVENT_EXEC) execs++;
				else if (ev->what == PROC_EVENT_EXIT) exits++;
				else other++;
			}
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("forks %ld execs %ld exits %ld other %ld wakeups %ld cpu_s %.6f\n", forks, execs, exits, other, wakeups, cpu);
	return 0;
}
