// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpulse-storm: test traffic and benchmark load for tcpulse. Generates real
 * TCP connections (meant for loopback inside a network namespace):
 *
 *   storm    connect/close loop at the highest rate the machine reaches
 *   serve    long-lived server that misbehaves on request (full accept
 *            queue, CLOSE_WAIT leak, held connections)
 *   connect  opens N connections and closes them a chosen way
 *   syn      fires N non-blocking connects and never completes them
 *
 * Linux only (accept4, epoll, signalfd, SO_REUSEPORT); libc and pthread only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "tcpulse-storm"
#define DEFAULT_ADDR "127.0.0.1"
#define STORM_BACKLOG 4096
#define SERVE_BACKLOG 128
#define CONNECT_TIMEOUT 3.0 /* seconds */
#define SYN_HOLD 30.0 /* seconds */
#define MAX_THREADS 1024

enum close_mode { CLOSE_CLIENT, CLOSE_SERVER, CLOSE_RST, CLOSE_NONE };
static const char *const close_names[] = { "client", "server", "rst", "none" };

static const char usage_text[] =
	"usage: " PROG " <command> [options]\n"
	"\n"
	"  storm   [--addr A] [--port P] [--seconds S] [--threads T]\n"
	"          [--close client|server|rst] [--pin]\n"
	"      connect/close loop against its own server for S seconds (default 5)\n"
	"      with T client threads (default: online CPUs); close mode default rst.\n"
	"      --pin keeps client i, its acceptor and their listener on CPU i\n"
	"      (no cross-CPU wake-ups: the rate varies less from run to run).\n"
	"      Prints one JSON line.\n"
	"  serve   --port P [--addr A] [--backlog B]\n"
	"          [--no-accept | --hold | --never-close | --close-first | --reset-first]\n"
	"          [--ready-file F]\n"
	"      long-lived server (backlog default 128). Default: read each connection\n"
	"      to EOF, then close. --no-accept never accepts; --hold accepts and never\n"
	"      reads; --never-close reads to EOF and keeps the socket (CLOSE_WAIT);\n"
	"      --close-first closes each connection as soon as it is accepted;\n"
	"      --reset-first does so with SO_LINGER 0 (an abortive close: RST).\n"
	"      SIGUSR1 closes all accepted connections; SIGTERM/SIGINT exit 0.\n"
	"  connect --port P [--addr A] --count N [--close client|server|rst|none]\n"
	"          [--parallel K] [--hold-seconds S]\n"
	"      opens N connections, K at a time (default 1), 3 s connect timeout;\n"
	"      close mode default client. 'none' keeps all open for S seconds\n"
	"      (default: until SIGTERM/SIGINT), then closes them. Prints JSON.\n"
	"  syn     --port P [--addr A] --count N [--hold-seconds S]\n"
	"      N non-blocking connects, never waited for, kept S seconds (default 30).\n"
	"      Prints JSON.\n"
	"  listen-many --base-port P --count N [--addr A]\n"
	"      N idle listeners on ports P..P+N-1 until SIGTERM.\n"
	"  synflood --port P [--addr A] --count N [--from BASE]\n"
	"      N raw SYNs from spoofed sources BASE+1.. (default 10.99.0.0); route\n"
	"      BASE's network to a dummy device so the SYN-ACKs vanish. Needs CAP_NET_RAW.\n"
	"\n"
	"A is an IPv4 or IPv6 literal (default " DEFAULT_ADDR ").\n";

static void usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	exit(status);
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", PROG);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	usage(2);
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(errno));
	exit(1);
}

/* pthread functions return the error instead of setting errno */
static void check_pthread(int err, const char *what)
{
	if (err) {
		errno = err;
		die(what);
	}
}

/* Linux closes the descriptor even when close() fails with EINTR */
static void xclose(int fd)
{
	if (close(fd) < 0 && errno != EINTR)
		die("close");
}

static double now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- argument parsing ---- */

static long parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: --%s: '%s' is not an integer in %ld..%ld\n\n",
			PROG, opt, s, min, max);
		usage(2);
	}
	return v;
}

static double parse_seconds(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* also rejects NaN and infinity */
	if (errno || end == s || *end || !(v >= 0 && v <= 1e9)) {
		fprintf(stderr, "%s: --%s: '%s' is not a number of seconds\n\n", PROG, opt, s);
		usage(2);
	}
	return v;
}

static enum close_mode parse_close(const char *s, bool allow_none)
{
	for (int m = CLOSE_CLIENT; m <= CLOSE_NONE; m++)
		if (strcmp(s, close_names[m]) == 0 && (m != CLOSE_NONE || allow_none))
			return m;
	usage_error(allow_none ? "--close: '%s' is not client, server, rst or none"
			       : "--close: '%s' is not client, server or rst", s);
	return CLOSE_CLIENT; /* not reached */
}

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	const char *host; /* as given, for messages */
};

static void parse_endpoint(struct endpoint *ep, const char *host, long port)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ep->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->ss;

	memset(ep, 0, sizeof(*ep));
	ep->host = host;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		ep->len = sizeof(*in4);
		return;
	}
	memset(&ep->ss, 0, sizeof(ep->ss));
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		ep->len = sizeof(*in6);
		return;
	}
	usage_error("--addr: '%s' is not an IPv4 or IPv6 address", host);
}

static void set_port(struct endpoint *ep, int port)
{
	if (ep->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ep->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ep->ss)->sin6_port = htons((uint16_t)port);
}

/*
 * getopt_long over the subcommand's own arguments, so that its messages
 * read "connect: unrecognized option ...". Returns the option's val.
 */
static int next_opt(int argc, char **argv, const struct option *opts)
{
	int c = getopt_long(argc, argv, "h", opts, NULL);

	if (c == 'h')
		usage(0);
	if (c == '?' || c == ':') {
		fputc('\n', stderr);
		usage(2);
	}
	if (c == -1 && optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	return c;
}

/* ---- socket helpers ---- */

static void set_int_opt(int fd, int level, int name, int val, const char *what)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) < 0)
		die(what);
}

/* SO_LINGER {1, 0}: close() sends RST and skips TIME_WAIT */
static void set_linger0(int fd)
{
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die("setsockopt SO_LINGER");
}

static int listen_on(const struct endpoint *ep, int backlog, bool reuseport, int flags)
{
	int fd = socket(ep->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

	if (fd < 0)
		die("socket");
	set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR");
	if (reuseport)
		set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt SO_REUSEPORT");
	if (bind(fd, (const struct sockaddr *)&ep->ss, ep->len) < 0) {
		fprintf(stderr, "%s: bind %s: %s\n", PROG, ep->host, strerror(errno));
		exit(1);
	}
	if (listen(fd, backlog) < 0)
		die("listen");
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname");
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* errors accept(2) documents as "try again": the pending connection died */
static bool accept_retryable(int err)
{
	switch (err) {
	case EINTR: case ECONNABORTED: case EPROTO: case EPERM:
	case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
	case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
		return true;
	}
	return false;
}

/* tests open thousands of sockets: take the whole hard limit */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit RLIMIT_NOFILE");
	}
}

static void ignore_sigpipe(void)
{
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal SIGPIPE");
}

/* Blocks the signals and returns a signalfd for them, so that every wait is a poll. */
static int signal_fd(const int *sigs, int n)
{
	sigset_t set;
	int fd;

	if (sigemptyset(&set) < 0)
		die("sigemptyset");
	for (int i = 0; i < n; i++)
		if (sigaddset(&set, sigs[i]) < 0)
			die("sigaddset");
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die("sigprocmask");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		die("signalfd");
	return fd;
}

/* Returns the pending signal's number, or 0 when none is queued. */
static int take_signal(int sfd)
{
	struct signalfd_siginfo si;
	ssize_t n = read(sfd, &si, sizeof(si));

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		die("read signalfd");
	}
	if (n != sizeof(si)) {
		fprintf(stderr, "%s: short read from signalfd\n", PROG);
		exit(1);
	}
	return (int)si.ssi_signo;
}

static int ms_until(double deadline)
{
	double left = deadline - now();

	if (left <= 0)
		return 0;
	if (left * 1000 >= INT_MAX)
		return INT_MAX;
	/* rounded up, so a wait never ends just short of the deadline */
	return (int)(left * 1000) + 1;
}

/* Waits for a signal on sfd or for seconds (< 0: forever). True if signalled. */
static bool wait_signal(int sfd, double seconds)
{
	double deadline = now() + seconds;

	for (;;) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		int timeout = seconds < 0 ? -1 : ms_until(deadline);
		int r;

		if (timeout == 0)
			return false;
		r = poll(&p, 1, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (r > 0 && take_signal(sfd))
			return true;
	}
}

/* Reports each distinct connect error once, so a run of thousands stays readable. */
static void note_connect_error(const char *cmd, const struct endpoint *ep, int port, int err)
{
	static int seen[32];
	static int nseen;

	for (int i = 0; i < nseen; i++)
		if (seen[i] == err)
			return;
	if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
		seen[nseen++] = err;
	fprintf(stderr, "%s: %s: %s port %d: %s%s\n", PROG, cmd, ep->host, port,
		strerror(err), err == ETIMEDOUT ? " (3 s connect timeout)" : "");
}

/* ---- storm ---- */

struct storm {
	struct endpoint ep;
	enum close_mode mode;
	atomic_bool stop;
	pthread_barrier_t start;
};

struct storm_client {
	pthread_t tid;
	struct storm *st;
	int cpu; /* -1: not pinned */
	unsigned long conns;
	unsigned long errors;
	unsigned long addrnotavail;
	int first_errno; /* first error other than EADDRNOTAVAIL */
};

struct storm_acceptor {
	pthread_t tid;
	struct storm *st;
	int lfd;
	int cpu; /* -1: not pinned */
};

/* Pins the calling thread to one CPU (cpu < 0: leaves it to the scheduler). */
static void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	check_pthread(pthread_setaffinity_np(pthread_self(), sizeof(set), &set),
		      "pthread_setaffinity_np");
}

static void *storm_client(void *arg)
{
	struct storm_client *c = arg;
	struct storm *st = c->st;
	const struct sockaddr *sa = (const struct sockaddr *)&st->ep.ss;
	/* counted in locals: the shared struct would bounce cache lines */
	unsigned long conns = 0, errors = 0, addrnotavail = 0;

	pin_to(c->cpu);
	int first_errno = 0;
	char buf[64];
	int r;

	r = pthread_barrier_wait(&st->start);
	if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
		check_pthread(r, "pthread_barrier_wait");

	while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
		int fd = socket(st->ep.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("storm: socket");
		if (st->mode == CLOSE_RST)
			set_linger0(fd);
		if (connect(fd, sa, st->ep.len) < 0) {
			/* EADDRNOTAVAIL: ephemeral ports exhausted; keep going */
			if (errno == EADDRNOTAVAIL)
				addrnotavail++;
			else if (!first_errno)
				first_errno = errno;
			errors++;
			xclose(fd);
			continue;
		}
		if (st->mode == CLOSE_SERVER) {
			ssize_t n;

			/* the acceptor closes first: wait for its FIN */
			while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
				;
			if (n < 0) {
				if (!first_errno)
					first_errno = errno;
				errors++;
				xclose(fd);
				continue;
			}
		}
		xclose(fd);
		conns++;
	}
	c->conns = conns;
	c->errors = errors;
	c->addrnotavail = addrnotavail;
	c->first_errno = first_errno;
	return NULL;
}

/* server and rst modes: the server side needs nothing but close() */
static void storm_accept_close(struct storm_acceptor *a)
{
	for (;;) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINVAL) /* listener shut down: the run is over */
				return;
			if (accept_retryable(errno))
				continue;
			die("storm: accept4");
		}
		xclose(fd);
	}
}

/*
 * Out of the epoll set first, then closed. close() alone leaves the registration while
 * anything else holds the file (the agent's task_file walk does, for a moment): epoll
 * then reports the old file under a number another thread may have reused by then, and
 * an acceptor blocked reading a client's socket (a storm hung for good).
 */
static void unwatch_close(int epfd, int fd)
{
	if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		die("epoll_ctl DEL");
	xclose(fd);
}

/*
 * client mode: the server may only close after the client's FIN, or it would
 * be the one in TIME_WAIT. epoll lets one thread wait on all those FINs.
 */
static void storm_accept_wait_fin(struct storm_acceptor *a)
{
	struct epoll_event evs[256];
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = a->lfd };
	char buf[64];
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0)
		die("storm: epoll_create1");
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, a->lfd, &ev) < 0)
		die("storm: epoll_ctl");
	for (;;) {
		int n = epoll_wait(epfd, evs, sizeof(evs) / sizeof(evs[0]), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("storm: epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd != a->lfd) {
				/* clients send nothing: readable means FIN (or RST) */
				r = read(fd, buf, sizeof(buf));
				if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
					continue;
				unwatch_close(epfd, fd);
				continue;
			}
			for (;;) {
				int c = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (c < 0) {
					if (errno == EAGAIN)
						break;
					if (errno == EINVAL) {
						/* listener shut down; connections still
						 * open here go away at exit */
						xclose(epfd);
						return;
					}
					if (accept_retryable(errno))
						continue;
					die("storm: accept4");
				}
				ev.events = EPOLLIN;
				ev.data.fd = c;
				if (epoll_ctl(epfd, EPOLL_CTL_ADD, c, &ev) < 0)
					die("storm: epoll_ctl");
			}
		}
	}
}

static void *storm_acceptor(void *arg)
{
	struct storm_acceptor *a = arg;

	pin_to(a->cpu);
	if (a->st->mode == CLOSE_CLIENT)
		storm_accept_wait_fin(a);
	else
		storm_accept_close(a);
	return NULL;
}

static int cmd_storm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "close", required_argument, NULL, 'c' },
		{ "pin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct storm st; /* static: shared with the threads for the whole run */
	const char *host = DEFAULT_ADDR;
	long port = 0, threads = 0;
	double seconds = 5;
	struct storm_client *clients;
	struct storm_acceptor *acceptors;
	unsigned long conns = 0, errors = 0, addrnotavail = 0;
	int first_errno = 0, c;
	bool pin = false;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double t0, elapsed;
	struct timespec ts;

	st.mode = CLOSE_RST;
	while ((c = next_opt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case 'p': port = parse_long("port", optarg, 0, 65535); break;
		case 's': seconds = parse_seconds("seconds", optarg); break;
		case 't': threads = parse_long("threads", optarg, 1, MAX_THREADS); break;
		case 'c': st.mode = parse_close(optarg, false); break;
		case 'P': pin = true; break;
		}
	}
	if (cpus < 1)
		cpus = 1;
	if (threads == 0)
		threads = cpus < MAX_THREADS ? cpus : MAX_THREADS;
	parse_endpoint(&st.ep, host, port);
	ignore_sigpipe();

	clients = calloc(threads, sizeof(*clients));
	acceptors = calloc(threads, sizeof(*acceptors));
	if (!clients || !acceptors)
		die("calloc");

	/*
	 * One SO_REUSEPORT listener per acceptor thread: the kernel spreads the
	 * SYNs over separate accept queues, so acceptors never contend on one.
	 * The first bind picks the port when none was given.
	 */
	for (long i = 0; i < threads; i++) {
		acceptors[i].st = &st;
		acceptors[i].cpu = pin ? (int)(i % cpus) : -1;
		acceptors[i].lfd = listen_on(&st.ep, STORM_BACKLOG, true,
					     st.mode == CLOSE_CLIENT ? SOCK_NONBLOCK : 0);
		/* pinned: a SYN handled on CPU i goes to the listener whose acceptor runs there */
		if (pin)
			set_int_opt(acceptors[i].lfd, SOL_SOCKET, SO_INCOMING_CPU, acceptors[i].cpu,
				    "setsockopt SO_INCOMING_CPU");
		if (i == 0)
			set_port(&st.ep, bound_port(acceptors[0].lfd));
	}
	for (long i = 0; i < threads; i++)
		check_pthread(pthread_create(&acceptors[i].tid, NULL, storm_acceptor,
					     &acceptors[i]), "pthread_create");

	check_pthread(pthread_barrier_init(&st.start, NULL, threads + 1), "pthread_barrier_init");
	for (long i = 0; i < threads; i++) {
		clients[i].st = &st;
		clients[i].cpu = pin ? (int)(i % cpus) : -1;
		check_pthread(pthread_create(&clients[i].tid, NULL, storm_client, &clients[i]),
			      "pthread_create");
	}
	c = pthread_barrier_wait(&st.start);
	if (c != 0 && c != PTHREAD_BARRIER_SERIAL_THREAD)
		check_pthread(c, "pthread_barrier_wait");

	/* timed from the moment all clients start to the moment all have stopped */
	t0 = now();
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0)
		if (errno != EINTR)
			die("nanosleep");
	atomic_store(&st.stop, true);
	/* acceptors keep running until here: clients in flight need them */
	for (long i = 0; i < threads; i++) {
		check_pthread(pthread_join(clients[i].tid, NULL), "pthread_join");
		conns += clients[i].conns;
		errors += clients[i].errors;
		addrnotavail += clients[i].addrnotavail;
		if (!first_errno)
			first_errno = clients[i].first_errno;
	}
	elapsed = now() - t0;

	/* shutdown() of a listener wakes its blocked accept4 with EINVAL */
	for (long i = 0; i < threads; i++)
		if (shutdown(acceptors[i].lfd, SHUT_RDWR) < 0)
			die("shutdown listener");
	for (long i = 0; i < threads; i++) {
		check_pthread(pthread_join(acceptors[i].tid, NULL), "pthread_join");
		xclose(acceptors[i].lfd);
	}
	check_pthread(pthread_barrier_destroy(&st.start), "pthread_barrier_destroy");

	printf("{\"mode\":\"storm\",\"connections\":%lu,\"seconds\":%.3f,\"connPerSec\":%.1f,"
	       "\"errors\":%lu,\"threads\":%ld,\"close\":\"%s\"}\n",
	       conns, elapsed, elapsed > 0 ? conns / elapsed : 0.0, errors, threads,
	       close_names[st.mode]);
	if (errors)
		fprintf(stderr, "%s: storm: %lu connect errors, %lu of them EADDRNOTAVAIL "
			"(ephemeral ports exhausted)%s%s\n", PROG, errors, addrnotavail,
			first_errno ? "; first other: " : "",
			first_errno ? strerror(first_errno) : "");
	free(clients);
	free(acceptors);
	if (fflush(stdout) == EOF)
		die("stdout");
	return 0;
}

/* ---- serve ---- */

enum serve_mode { SERVE_CLOSE, SERVE_NO_ACCEPT, SERVE_HOLD, SERVE_NEVER_CLOSE, SERVE_CLOSE_FIRST, SERVE_RESET_FIRST };

/* Accepted sockets indexed by fd; SIGUSR1 closes every one of them. */
enum conn_state { CONN_FREE, CONN_READING, CONN_HELD };

struct conn_table {
	unsigned char *state;
	size_t cap;
};

static void conn_set(struct conn_table *t, int fd, enum conn_state s)
{
	if ((size_t)fd >= t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		unsigned char *p;

		while (cap <= (size_t)fd)
			cap *= 2;
		p = realloc(t->state, cap);
		if (!p)
			die("realloc");
		memset(p + t->cap, CONN_FREE, cap - t->cap);
		t->state = p;
		t->cap = cap;
	}
	t->state[fd] = (unsigned char)s;
}

static size_t conn_close_all(struct conn_table *t)
{
	size_t n = 0;

	for (size_t fd = 0; fd < t->cap; fd++) {
		if (t->state[fd] != CONN_FREE) {
			xclose((int)fd); /* close() also drops it from the epoll set */
			t->state[fd] = CONN_FREE;
			n++;
		}
	}
	return n;
}

struct server {
	enum serve_mode mode;
	int lfd, epfd;
	struct conn_table conns;
	bool accept_paused;
};

static void epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl ADD");
}

/* Out of descriptors: stop watching the listener until a connection closes. */
static void pause_accept(struct server *s)
{
	fprintf(stderr, "%s: serve: accept4: %s; pausing accept\n", PROG, strerror(errno));
	if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL) < 0)
		die("epoll_ctl DEL");
	s->accept_paused = true;
}

static void resume_accept(struct server *s)
{
	if (s->accept_paused) {
		epoll_add(s->epfd, s->lfd);
		s->accept_paused = false;
	}
}

static void serve_accept(struct server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN)
				return;
			if (accept_retryable(errno))
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				pause_accept(s);
				return;
			}
			die("serve: accept4");
		}
		if (s->mode == SERVE_RESET_FIRST) {
			set_linger0(fd); /* an abortive close: RST, no TIME_WAIT */
			xclose(fd);
		} else if (s->mode == SERVE_CLOSE_FIRST) {
			xclose(fd); /* the server closes first: it takes the TIME_WAIT */
		} else if (s->mode == SERVE_HOLD) {
			conn_set(&s->conns, fd, CONN_HELD); /* never read: not watched */
		} else {
			conn_set(&s->conns, fd, CONN_READING);
			epoll_add(s->epfd, fd);
		}
	}
}

static void serve_close(struct server *s, int fd)
{
	unwatch_close(s->epfd, fd);
	conn_set(&s->conns, fd, CONN_FREE);
	resume_accept(s);
}

/* Drains what the client sent; at EOF closes it, or keeps it in CLOSE_WAIT. */
static void serve_read(struct server *s, int fd)
{
	static char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0 && s->mode == SERVE_NEVER_CLOSE) {
			if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
				die("epoll_ctl DEL");
			conn_set(&s->conns, fd, CONN_HELD);
			return;
		}
		/* EOF, or an error such as ECONNRESET: nothing left to keep */
		serve_close(s, fd);
		return;
	}
}

static void write_ready_file(const char *path)
{
	size_t len = strlen(path) + sizeof(".tmp");
	char *tmp = malloc(len);
	int fd;

	if (!tmp)
		die("malloc");
	snprintf(tmp, len, "%s.tmp", path);
	/* written aside and renamed: a reader never sees a partial pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: serve: open %s: %s\n", PROG, tmp, strerror(errno));
		exit(1);
	}
	if (dprintf(fd, "%ld\n", (long)getpid()) < 0)
		die("serve: write ready file");
	if (close(fd) < 0)
		die("serve: close ready file");
	if (rename(tmp, path) < 0) {
		fprintf(stderr, "%s: serve: rename %s: %s\n", PROG, path, strerror(errno));
		exit(1);
	}
	free(tmp);
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "no-accept", no_argument, NULL, 'n' },
		{ "hold", no_argument, NULL, 'H' },
		{ "never-close", no_argument, NULL, 'N' },
		{ "close-first", no_argument, NULL, 'C' },
		{ "reset-first", no_argument, NULL, 'R' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct server s = { .mode = SERVE_CLOSE };
	struct epoll_event evs[256];
	struct endpoint ep;
	const char *host = DEFAULT_ADDR, *ready_file = NULL;
	long port = -1, backlog = SERVE_BACKLOG;
	int modes = 0, sfd, c;
	bool running = true;

	while ((c = next_opt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case 'p': port = parse_long("port", optarg, 0, 65535); break;
		case 'b': backlog = parse_long("backlog", optarg, 0, INT_MAX); break;
		case 'n': s.mode = SERVE_NO_ACCEPT; modes++; break;
		case 'H': s.mode = SERVE_HOLD; modes++; break;
		case 'N': s.mode = SERVE_NEVER_CLOSE; modes++; break;
		case 'C': s.mode = SERVE_CLOSE_FIRST; modes++; break;
		case 'R': s.mode = SERVE_RESET_FIRST; modes++; break;
		case 'r': ready_file = optarg; break;
		}
	}
	if (port < 0)
		usage_error("serve: %s is required", "--port");
	if (modes > 1)
		usage_error("serve: %s are mutually exclusive",
			    "--no-accept, --hold, --never-close, --close-first and --reset-first");
	parse_endpoint(&ep, host, port);
	raise_nofile();
	ignore_sigpipe();
	sfd = signal_fd(sigs, 3);

	s.lfd = listen_on(&ep, (int)backlog, false, SOCK_NONBLOCK);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s.epfd < 0)
		die("epoll_create1");
	epoll_add(s.epfd, sfd);
	if (s.mode != SERVE_NO_ACCEPT) /* --no-accept: the accept queue just fills up */
		epoll_add(s.epfd, s.lfd);

	if (ready_file)
		write_ready_file(ready_file);
	if (printf("ready pid=%ld port=%d\n", (long)getpid(), bound_port(s.lfd)) < 0 ||
	    fflush(stdout) == EOF)
		die("serve: stdout");

	while (running) {
		int n = epoll_wait(s.epfd, evs, sizeof(evs) / sizeof(evs[0]), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n && running; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				int sig;

				while ((sig = take_signal(sfd)) != 0) {
					if (sig != SIGUSR1) {
						running = false;
						break;
					}
					fprintf(stderr, "%s: serve: SIGUSR1: closed %zu connections\n",
						PROG, conn_close_all(&s.conns));
					resume_accept(&s);
				}
			} else if (fd == s.lfd) {
				serve_accept(&s);
			} else if (fd >= 0 && (size_t)fd < s.conns.cap &&
				   s.conns.state[fd] == CONN_READING) {
				serve_read(&s, fd);
			}
		}
	}
	conn_close_all(&s.conns);
	free(s.conns.state);
	xclose(s.epfd);
	xclose(s.lfd);
	xclose(sfd);
	return 0;
}

/* ---- connect ---- */

enum slot_phase { SLOT_IDLE, SLOT_CONNECTING, SLOT_DRAINING };

struct slot {
	int fd;
	enum slot_phase phase;
	double deadline;
};

struct connector {
	const struct endpoint *ep;
	int port;
	enum close_mode mode;
	unsigned long ok, failed;
	int *held; /* --close none: every established fd until the end */
	long nheld;
};

static void conn_failed(struct connector *k, struct slot *sl, int err)
{
	note_connect_error("connect", k->ep, k->port, err);
	k->failed++;
	xclose(sl->fd);
	sl->phase = SLOT_IDLE;
}

static void conn_established(struct connector *k, struct slot *sl)
{
	k->ok++;
	switch (k->mode) {
	case CLOSE_SERVER:
		sl->phase = SLOT_DRAINING; /* close only after the server's FIN */
		return;
	case CLOSE_NONE:
		k->held[k->nheld++] = sl->fd;
		break;
	case CLOSE_RST:
		set_linger0(sl->fd);
		xclose(sl->fd);
		break;
	case CLOSE_CLIENT:
		xclose(sl->fd);
		break;
	}
	sl->phase = SLOT_IDLE;
}

static void conn_start(struct connector *k, struct slot *sl)
{
	sl->fd = socket(k->ep->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sl->fd < 0)
		die("connect: socket");
	if (connect(sl->fd, (const struct sockaddr *)&k->ep->ss, k->ep->len) == 0) {
		conn_established(k, sl);
		return;
	}
	/* non-blocking: an EINTR'd connect, too, goes on in the background */
	if (errno == EINPROGRESS || errno == EINTR) {
		sl->phase = SLOT_CONNECTING;
		sl->deadline = now() + CONNECT_TIMEOUT;
		return;
	}
	conn_failed(k, sl, errno);
}

static void conn_progress(struct connector *k, struct slot *sl, short revents)
{
	if (sl->phase == SLOT_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!revents) {
			if (now() >= sl->deadline)
				conn_failed(k, sl, ETIMEDOUT);
			return;
		}
		if (getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			die("getsockopt SO_ERROR");
		if (err)
			conn_failed(k, sl, err);
		else
			conn_established(k, sl);
		return;
	}
	if (sl->phase == SLOT_DRAINING && revents) {
		char buf[4096];
		ssize_t n;

		while ((n = read(sl->fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EOF, or a reset: either way the server is done with it */
		xclose(sl->fd);
		sl->phase = SLOT_IDLE;
	}
}

static int cmd_connect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "close", required_argument, NULL, 'c' },
		{ "parallel", required_argument, NULL, 'k' },
		{ "hold-seconds", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const int sigs[] = { SIGTERM, SIGINT };
	struct connector k = { .mode = CLOSE_CLIENT };
	struct endpoint ep;
	const char *host = DEFAULT_ADDR;
	long port = -1, count = -1, parallel = 1, started = 0;
	double hold = -1, t0, elapsed;
	bool interrupted = false;
	struct slot *slots;
	struct pollfd *pfds;
	int sfd, c;

	while ((c = next_opt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case 'p': port = parse_long("port", optarg, 1, 65535); break;
		case 'n': count = parse_long("count", optarg, 0, INT_MAX); break;
		case 'c': k.mode = parse_close(optarg, true); break;
		case 'k': parallel = parse_long("parallel", optarg, 1, 1000000); break;
		case 'H': hold = parse_seconds("hold-seconds", optarg); break;
		}
	}
	if (port < 0)
		usage_error("connect: %s is required", "--port");
	if (count < 0)
		usage_error("connect: %s is required", "--count");
	if (hold >= 0 && k.mode != CLOSE_NONE)
		usage_error("connect: %s only applies to --close none", "--hold-seconds");
	parse_endpoint(&ep, host, port);
	k.ep = &ep;
	k.port = (int)port;
	if (parallel > count)
		parallel = count > 0 ? count : 1;
	raise_nofile();
	ignore_sigpipe();
	sfd = signal_fd(sigs, 2);

	slots = calloc(parallel, sizeof(*slots));
	pfds = calloc(parallel + 1, sizeof(*pfds));
	if (!slots || !pfds)
		die("calloc");
	if (k.mode == CLOSE_NONE) {
		k.held = malloc((count ? count : 1) * sizeof(*k.held));
		if (!k.held)
			die("malloc");
	}

	t0 = now();
	for (;;) {
		int timeout = -1, npfd = 1, r;
		bool busy = false;

		for (long i = 0; i < parallel; i++) {
			/* a connect that completes at once frees its slot again */
			while (slots[i].phase == SLOT_IDLE && started < count) {
				started++;
				conn_start(&k, &slots[i]);
			}
			busy |= slots[i].phase != SLOT_IDLE;
		}
		if (!busy)
			break;

		pfds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (long i = 0; i < parallel; i++) {
			struct slot *sl = &slots[i];

			/* idle slots are polled as fd -1, which poll() skips */
			pfds[npfd++] = (struct pollfd){
				.fd = sl->phase == SLOT_IDLE ? -1 : sl->fd,
				.events = sl->phase == SLOT_CONNECTING ? POLLOUT : POLLIN,
			};
			if (sl->phase == SLOT_CONNECTING) {
				int ms = ms_until(sl->deadline);

				if (timeout < 0 || ms < timeout)
					timeout = ms;
			}
		}
		r = poll(pfds, npfd, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if ((pfds[0].revents & POLLIN) && take_signal(sfd)) {
			interrupted = true;
			break;
		}
		for (long i = 0; i < parallel; i++)
			if (slots[i].phase != SLOT_IDLE)
				conn_progress(&k, &slots[i], pfds[i + 1].revents);
	}
	elapsed = now() - t0;

	if (k.mode == CLOSE_NONE && !interrupted)
		wait_signal(sfd, hold);
	/* client closes first: plain close() sends FIN */
	for (long i = 0; i < k.nheld; i++)
		xclose(k.held[i]);
	for (long i = 0; i < parallel; i++)
		if (slots[i].phase != SLOT_IDLE)
			xclose(slots[i].fd);

	printf("{\"mode\":\"connect\",\"ok\":%lu,\"failed\":%lu,\"seconds\":%.3f}\n",
	       k.ok, k.failed, elapsed);
	if (fflush(stdout) == EOF)
		die("stdout");
	free(k.held);
	free(slots);
	free(pfds);
	xclose(sfd);
	return 0;
}

/* ---- syn ---- */

static int cmd_syn(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "hold-seconds", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const int sigs[] = { SIGTERM, SIGINT };
	struct endpoint ep;
	const char *host = DEFAULT_ADDR;
	long port = -1, count = -1, sent = 0;
	double hold = SYN_HOLD;
	int *fds, sfd, c;

	while ((c = next_opt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case 'p': port = parse_long("port", optarg, 1, 65535); break;
		case 'n': count = parse_long("count", optarg, 0, INT_MAX); break;
		case 'H': hold = parse_seconds("hold-seconds", optarg); break;
		}
	}
	if (port < 0)
		usage_error("syn: %s is required", "--port");
	if (count < 0)
		usage_error("syn: %s is required", "--count");
	parse_endpoint(&ep, host, port);
	raise_nofile();
	ignore_sigpipe();
	sfd = signal_fd(sigs, 2);
	fds = malloc((count ? count : 1) * sizeof(*fds));
	if (!fds)
		die("malloc");

	for (long i = 0; i < count; i++) {
		int fd = socket(ep.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("syn: socket");
		/* the SYN is out once connect() returns EINPROGRESS; never wait for it */
		if (connect(fd, (const struct sockaddr *)&ep.ss, ep.len) == 0 ||
		    errno == EINPROGRESS || errno == EINTR) {
			fds[sent++] = fd;
			continue;
		}
		note_connect_error("syn", &ep, (int)port, errno);
		xclose(fd);
	}
	wait_signal(sfd, hold);
	for (long i = 0; i < sent; i++)
		xclose(fds[i]);

	printf("{\"mode\":\"syn\",\"sent\":%ld}\n", sent);
	if (fflush(stdout) == EOF)
		die("stdout");
	free(fds);
	xclose(sfd);
	return 0;
}

/* N idle listeners on consecutive ports, for the listener-walk benchmark */
static int cmd_listen_many(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "base-port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const int sigs[] = { SIGTERM, SIGINT };
	const char *host = DEFAULT_ADDR;
	long base = -1, count = -1;
	struct endpoint ep;
	int sfd, c;

	while ((c = next_opt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case 'p': base = parse_long("base-port", optarg, 1, 65535); break;
		case 'n': count = parse_long("count", optarg, 1, 60000); break;
		}
	}
	if (base < 0 || count < 0 || base + count > 65536)
		usage_error("listen-many: %s are required and must fit below port 65536", "--base-port and --count");
	raise_nofile();
	sfd = signal_fd(sigs, 2);
	for (long i = 0; i < count; i++) {
		parse_endpoint(&ep, host, base + i);
		listen_on(&ep, 128, false, 0); /* kept open until exit */
	}
	printf("ready pid=%d listeners=%ld\n", (int)getpid(), count);
	if (fflush(stdout) == EOF)
		die("stdout");
	wait_signal(sfd, -1);
	return 0;
}

/* Internet checksum over a buffer, folded */
static uint16_t inet_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/*
 * Raw IPv4 SYNs from spoofed sources (--from BASE: BASE+1, BASE+2, ...): the listener
 * answers with SYN-ACKs nobody acknowledges, so its SYN queue fills with half-open
 * request sockets. Route BASE's network to a dummy device so the SYN-ACKs vanish
 * instead of drawing RSTs.
 */
static int cmd_synflood(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *host = DEFAULT_ADDR, *from = "10.99.0.0";
	long port = -1, count = -1, sent = 0;
	struct in_addr dst, base;
	struct sockaddr_in to = { .sin_family = AF_INET };
	int fd, c, one = 1;

	while ((c = next_opt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case 'p': port = parse_long("port", optarg, 1, 65535); break;
		case 'n': count = parse_long("count", optarg, 0, 65000); break;
		case 'f': from = optarg; break;
		}
	}
	if (port < 0 || count < 0)
		usage_error("synflood: %s are required", "--port and --count");
	if (inet_pton(AF_INET, host, &dst) != 1 || inet_pton(AF_INET, from, &base) != 1)
		usage_error("synflood: %s must be IPv4 addresses", "--addr and --from");
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		die("synflood: raw socket (needs CAP_NET_RAW)");
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0)
		die("synflood: IP_HDRINCL");
	to.sin_addr = dst;
	for (long i = 0; i < count; i++) {
		struct {
			uint8_t ver_ihl, tos;
			uint16_t tot_len, id, frag;
			uint8_t ttl, proto;
			uint16_t check;
			uint32_t saddr, daddr;
			uint16_t sport, dport;
			uint32_t seq, ack;
			uint8_t doff, flags;
			uint16_t window, csum, urg;
		} __attribute__((packed)) pkt = {
			.ver_ihl = 0x45, .tot_len = htons(40), .id = htons((uint16_t)i), .ttl = 64,
			.proto = IPPROTO_TCP, .daddr = dst.s_addr, .sport = htons(20000 + i % 40000),
			.dport = htons((uint16_t)port), .seq = htonl(0x1000 + i), .doff = 5 << 4,
			.flags = 0x02 /* SYN */, .window = htons(65535),
		};
		struct {
			uint32_t saddr, daddr;
			uint8_t zero, proto;
			uint16_t len;
		} __attribute__((packed)) pseudo;
		uint32_t sum = 0;
		const uint8_t *ph = (const uint8_t *)&pseudo;

		pkt.saddr = htonl(ntohl(base.s_addr) + 1 + (uint32_t)i);
		pseudo = (typeof(pseudo)){ pkt.saddr, pkt.daddr, 0, IPPROTO_TCP, htons(20) };
		for (size_t k = 0; k < sizeof(pseudo); k += 2)
			sum += (uint32_t)ph[k] << 8 | ph[k + 1];
		pkt.csum = inet_csum(&pkt.sport, 20, sum);
		pkt.check = inet_csum(&pkt, 20, 0);
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			die("synflood: sendto");
		sent++;
	}
	printf("{\"mode\":\"synflood\",\"sent\":%ld}\n", sent);
	if (fflush(stdout) == EOF)
		die("stdout");
	xclose(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} cmds[] = {
		{ "storm", cmd_storm },
		{ "serve", cmd_serve },
		{ "connect", cmd_connect },
		{ "syn", cmd_syn },
		{ "synflood", cmd_synflood },
		{ "listen-many", cmd_listen_many },
	};

	if (argc < 2)
		usage(2);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	usage_error("unknown command '%s'", argv[1]);
	return 2;
}
