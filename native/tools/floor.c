// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpulse-floor N: attaches N (1 or 2) empty programs to sock:inet_sock_set_state and
 * holds them until killed. A storm run beside it measures the tracepoint's cost with no
 * work in the programs: the floor under any per-change probe (scripts/bench.sh floor).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "floor.skel.h"

static void quit(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct floor_bpf *skel;
	struct bpf_link *first = NULL, *second = NULL;
	int n = argc == 2 ? atoi(argv[1]) : 0;

	if (n < 1 || n > 2) {
		fprintf(stderr, "usage: %s 1|2   (empty programs on sock:inet_sock_set_state, until killed)\n", argv[0]);
		return 2;
	}
	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "%s: load: %s\n", argv[0], strerror(errno));
		return 1;
	}
	first = bpf_program__attach(skel->progs.floor_first);
	if (first && n == 2)
		second = bpf_program__attach(skel->progs.floor_second);
	if (!first || (n == 2 && !second)) {
		fprintf(stderr, "%s: attach: %s\n", argv[0], strerror(errno));
		floor_bpf__destroy(skel);
		return 1;
	}
	signal(SIGTERM, quit);
	signal(SIGINT, quit);
	printf("attached %d\n", n);
	fflush(stdout);
	pause();
	bpf_link__destroy(second);
	bpf_link__destroy(first);
	floor_bpf__destroy(skel);
	return 0;
}
