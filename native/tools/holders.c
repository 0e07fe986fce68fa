// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpulse-holders: the holders walk's cost (docs/design.md#owners).
 *   tcpulse-holders load PROCS CONNS   PROCS processes, each listening and holding CONNS
 *                                      connections to itself; prints "ready", runs until killed
 *   tcpulse-holders walk ROUNDS        times tcpulse__holders() ROUNDS times: median, min, max
 * Run load inside a namespace of its own (ip_local_port_range 1024 65535 for 100k).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tcpulse.h"

static int load(int procs, int conns)
{
	int ready[2];
	char b;

	if (pipe(ready))
		return 1;
	for (int p = 0; p < procs; p++) {
		if (fork())
			continue;
		/* die with the parent: nothing outlives the run */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		int l = socket(AF_INET, SOCK_STREAM, 0);

		/* the accepted ends wait in the accept queue: held by no process */
		if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, conns + 16) || getsockname(l, (void *)&a, &len))
			_exit(1);
		for (int c = 0; c < conns; c++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);

			if (s < 0 || connect(s, (void *)&a, sizeof(a))) {
				perror("connect");
				break;
			}
		}
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	for (int p = 0; p < procs; p++)
		if (read(ready[0], &b, 1) != 1)
			return 1;
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int walk(int rounds)
{
	struct tcpulse_opts o = { .sz = sizeof(o) };
	size_t sz = 64u << 20, needed = 0;
	double *ms = calloc(rounds, sizeof(*ms));
	char *buf = malloc(sz);
	struct tcpulse *t;
	int err, n = 0, sockets = 0;

	t = tcpulse__open(&o, &err);
	if (!t || !buf || !ms) {
		fprintf(stderr, "tcpulse__open: %d\n", err);
		return 1;
	}
	for (int i = 0; i < rounds; i++) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		n = tcpulse__holders(t, buf, sz, &needed);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (n < 0) {
			fprintf(stderr, "tcpulse__holders: %d\n", n);
			return 1;
		}
		ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	}
	for (int i = 0; i < n; i++)
		sockets += ((struct tcpulse_holder *)(buf + (size_t)i * sizeof(struct tcpulse_holder)))->kind ==
			   TCPULSE_HOLDER_SOCKET;
	qsort(ms, rounds, sizeof(*ms), cmp);
	printf("%d records, %d socket descriptors: median %.1f ms (%.0f ns per descriptor), min %.1f, max %.1f, %d rounds\n",
	       n, sockets, ms[rounds / 2], sockets ? ms[rounds / 2] * 1e6 / sockets : 0, ms[0], ms[rounds - 1], rounds);
	tcpulse__close(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "load"))
		return load(atoi(argv[2]), atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "walk") && atoi(argv[2]) > 0)
		return walk(atoi(argv[2]));
	fprintf(stderr, "usage: tcpulse-holders load PROCS CONNS | walk ROUNDS\n");
	return 2;
}
