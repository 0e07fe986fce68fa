// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libtcpulse: loads the BPF skeleton and hands the agent batches of events,
 * counters and socket walks through a small C API (see tcpulse.h). No callback
 * into the caller: events are copied into memory the caller owns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "tcpulse.h"
#include "tcpulse.skel.h"
#include "trials.skel.h"
#include "holders.skel.h"

#define API __attribute__((visibility("default")))
/* default ring: 16 MiB per CPU (about 140k events of backlog), at most 256 MiB in all */
#define DEFAULT_RING_BYTES (16u << 20)
#define DEFAULT_RINGS_TOTAL (256ull << 20)
#define SCRATCH_BYTES (64u << 10)
#define BENCH_CHUNK 65536u

#define FORGOTTEN_MAX 256

#define REASON_BYTES 320

struct tcpulse {
	struct tcpulse_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[TCPULSE_FEATURE_MAX];
	/* the holders walk: its own object, so a kernel refusing it costs only that feature */
	struct holders_bpf *holders;
	struct bpf_link *holders_ns_link; /* iter/task; links[TCPULSE_FEATURE_HOLDERS] is iter/task_file */
	/* bit (1 << TCPULSE_FEATURE_*) per feature on; why each one is off */
	__u32 on;
	char reason[TCPULSE_FEATURE_MAX][REASON_BYTES];
	/* compat.bpf.h's switches as the trial loads set them, and the drop reasons */
	__u8 socket_cookie, task_btf, cmpxchg, stack_level;
	__u32 overflow_reason, no_socket_reason; /* no_socket_reason: RSTs of closed ports from drops */
	int *ring_fds;
	int nr_rings;
	int ncpu;
	/* the poll in progress: where on_event copies to */
	char *out;
	size_t out_cap;
	size_t out_len;
	/* a record consumed when out was full; delivered first by the next poll */
	struct tcpulse_event pending;
	int has_pending;
	/* namespaces forgotten lately: their transition slots are skipped and handed back */
	__u64 forgotten[FORGOTTEN_MAX];
	unsigned int nr_forgotten;
	/* BPF_ENABLE_STATS: the kernel counts run time while this is open; else why not (-errno, 0: not asked) */
	int run_stats_fd;
	int run_stats_err;
};

/* tail of what libbpf said last: the verifier's reason when a load fails */
static char last_msg[4096];
/* the program libbpf last failed to load, and the verifier's last words about it */
static char failed_prog[64];
static char failed_reason[REASON_BYTES];

/* the last two lines of a verifier log that say why (not the statistics after them) */
static void keep_log_tail(const char *log, size_t len)
{
	const char *start[2], *stop[2], *end = log + len, *a, *b;
	int n = 0;

	while (end > log && n < 2) {
		b = end;
		while (b > log && (b[-1] == '\n' || b[-1] == ' '))
			b--;
		a = b;
		while (a > log && a[-1] != '\n')
			a--;
		end = a;
		if (a == b || !strncmp(a, "processed ", 10) || !strncmp(a, "verification time", 17) ||
		    !strncmp(a, "stack depth", 11))
			continue;
		start[n] = a;
		stop[n++] = b;
	}
	if (n == 2)
		snprintf(failed_reason, sizeof(failed_reason), "%.*s | %.*s", (int)(stop[1] - start[1]), start[1],
			 (int)(stop[0] - start[0]), start[0]);
	else if (n == 1)
		snprintf(failed_reason, sizeof(failed_reason), "%.*s", (int)(stop[0] - start[0]), start[0]);
}

/* libbpf's "prog 'NAME': ..." warnings name the program a load failed on */
static void note_prog_failure(const char *msg)
{
	const char *name = strstr(msg, "prog '"), *end, *log, *log_end;

	if (!name)
		return;
	name += 6;
	end = strchr(name, '\'');
	if (!end || (size_t)(end - name) >= sizeof(failed_prog))
		return;
	snprintf(failed_prog, sizeof(failed_prog), "%.*s", (int)(end - name), name);
	log = strstr(end, "-- BEGIN PROG LOAD LOG --\n");
	log_end = log ? strstr(log, "-- END PROG LOAD LOG --") : NULL;
	if (log && log_end) {
		log += strlen("-- BEGIN PROG LOAD LOG --\n");
		keep_log_tail(log, log_end - log);
	} else if (!failed_reason[0]) {
		/* no verifier log (e.g. a missing attach target): libbpf's own words */
		keep_log_tail(end + 2, strlen(end + 2));
	}
}

static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *line = NULL;
	size_t have, add;
	const char *src;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* a verifier log arrives as one long message: keep all of it, then its tail */
	if (vasprintf(&line, fmt, args) < 0)
		return 0;
	if (getenv("TCPULSE_DEBUG"))
		fputs(line, stderr);
	if (level == LIBBPF_WARN)
		note_prog_failure(line);
	have = strlen(last_msg);
	add = strlen(line);
	src = line;
	if (add >= sizeof(last_msg)) {
		src = line + add - (sizeof(last_msg) - 1);
		add = sizeof(last_msg) - 1;
	}
	if (have + add >= sizeof(last_msg)) {
		/* drop the oldest bytes */
		size_t drop = have + add - (sizeof(last_msg) - 1);

		memmove(last_msg, last_msg + drop, have - drop + 1);
		have -= drop;
	}
	memcpy(last_msg + have, src, add + 1);
	free(line);
	return 0;
}

static void set_error(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, args);
	va_end(args);
}

API int tcpulse__abi_version(void) { return TCPULSE_ABI_VERSION; }
API int tcpulse__sizeof_event(void) { return sizeof(struct tcpulse_event); }
API int tcpulse__sizeof_sock(void) { return sizeof(struct tcpulse_sock); }
API int tcpulse__sizeof_transition(void) { return sizeof(struct tcpulse_transition); }
API int tcpulse__sizeof_opts(void) { return sizeof(struct tcpulse_opts); }
API int tcpulse__sizeof_holder(void) { return sizeof(struct tcpulse_holder); }
API int tcpulse__sizeof_prog_stat(void) { return sizeof(struct tcpulse_prog_stat); }

/*
 * What the agent decodes, as the compiler laid it out: struct sizes, field offsets,
 * enum and flag values, one "name value" line each (tcpulse__layout()). The agent
 * compares every line it relies on with its own and refuses a library that differs.
 */
#define L_SIZE(s) { #s, sizeof(struct s) }
#define L_FIELD(s, f) { #s "." #f, offsetof(struct s, f) }
#define L_VALUE(v) { #v, v }
static const struct {
	const char *name;
	long long value;
} LAYOUT[] = {
	L_VALUE(TCPULSE_ABI_VERSION),
	L_SIZE(tcpulse_event),
	L_FIELD(tcpulse_event, ts_ns), L_FIELD(tcpulse_event, sock_id), L_FIELD(tcpulse_event, prev_state_ns),
	L_FIELD(tcpulse_event, age_ns), L_FIELD(tcpulse_event, cgroup_id), L_FIELD(tcpulse_event, netns),
	L_FIELD(tcpulse_event, pid), L_FIELD(tcpulse_event, sample_ratio), L_FIELD(tcpulse_event, aux),
	L_FIELD(tcpulse_event, family), L_FIELD(tcpulse_event, sport), L_FIELD(tcpulse_event, dport),
	L_FIELD(tcpulse_event, kind), L_FIELD(tcpulse_event, oldstate), L_FIELD(tcpulse_event, newstate),
	L_FIELD(tcpulse_event, flags), L_FIELD(tcpulse_event, saddr), L_FIELD(tcpulse_event, daddr),
	L_FIELD(tcpulse_event, comm), L_FIELD(tcpulse_event, bytes_sent), L_FIELD(tcpulse_event, bytes_received),
	L_FIELD(tcpulse_event, retransmits), L_FIELD(tcpulse_event, srtt_us), L_FIELD(tcpulse_event, segs_out), L_FIELD(tcpulse_event, netns_cookie_lo),
	L_VALUE(TCPULSE_EV_STATE), L_VALUE(TCPULSE_EV_RESET_SENT), L_VALUE(TCPULSE_EV_RESET_RECV),
	L_VALUE(TCPULSE_EV_SYNACK_RETRANS), L_VALUE(TCPULSE_EV_LISTEN_OVERFLOW),
	L_VALUE(TCPULSE_F_OWNER_KNOWN), L_VALUE(TCPULSE_F_TIMEWAIT), L_VALUE(TCPULSE_F_TW_FIN_WAIT2),
	L_VALUE(TCPULSE_F_BORN_KNOWN), L_VALUE(TCPULSE_F_ACTIVE),
	L_SIZE(tcpulse_sock),
	L_FIELD(tcpulse_sock, sock_id), L_FIELD(tcpulse_sock, ino), L_FIELD(tcpulse_sock, cgroup_id),
	L_FIELD(tcpulse_sock, state_ns), L_FIELD(tcpulse_sock, born_ns), L_FIELD(tcpulse_sock, netns),
	L_FIELD(tcpulse_sock, pid), L_FIELD(tcpulse_sock, ack_backlog), L_FIELD(tcpulse_sock, max_ack_backlog),
	L_FIELD(tcpulse_sock, syn_qlen), L_FIELD(tcpulse_sock, drops), L_FIELD(tcpulse_sock, uid),
	L_FIELD(tcpulse_sock, timer_ms), L_FIELD(tcpulse_sock, family), L_FIELD(tcpulse_sock, sport),
	L_FIELD(tcpulse_sock, dport), L_FIELD(tcpulse_sock, state), L_FIELD(tcpulse_sock, flags),
	L_FIELD(tcpulse_sock, saddr), L_FIELD(tcpulse_sock, daddr), L_FIELD(tcpulse_sock, comm),
	L_FIELD(tcpulse_sock, bytes_sent), L_FIELD(tcpulse_sock, bytes_received), L_FIELD(tcpulse_sock, retransmits),
	L_FIELD(tcpulse_sock, srtt_us), L_FIELD(tcpulse_sock, segs_out),
	L_VALUE(TCPULSE_SK_TIMEWAIT), L_VALUE(TCPULSE_SK_REQUEST), L_VALUE(TCPULSE_SK_OWNER),
	L_SIZE(tcpulse_holder),
	L_FIELD(tcpulse_holder, sock_id), L_FIELD(tcpulse_holder, ino), L_FIELD(tcpulse_holder, cgroup_id),
	L_FIELD(tcpulse_holder, netns_cookie), L_FIELD(tcpulse_holder, tgid), L_FIELD(tcpulse_holder, fd),
	L_FIELD(tcpulse_holder, netns), L_FIELD(tcpulse_holder, family), L_FIELD(tcpulse_holder, sport),
	L_FIELD(tcpulse_holder, dport), L_FIELD(tcpulse_holder, kind), L_FIELD(tcpulse_holder, state),
	L_FIELD(tcpulse_holder, comm),
	L_VALUE(TCPULSE_HOLDER_SOCKET), L_VALUE(TCPULSE_HOLDER_NETNS_TASK), L_VALUE(TCPULSE_HOLDER_NETNS_FILE),
	L_SIZE(tcpulse_transition),
	L_FIELD(tcpulse_transition, netns_cookie), L_FIELD(tcpulse_transition, netns), L_FIELD(tcpulse_transition, from),
	L_FIELD(tcpulse_transition, to), L_FIELD(tcpulse_transition, derived), L_FIELD(tcpulse_transition, count),
	L_SIZE(tcpulse_port_count),
	L_FIELD(tcpulse_port_count, netns_cookie), L_FIELD(tcpulse_port_count, netns), L_FIELD(tcpulse_port_count, port),
	L_FIELD(tcpulse_port_count, what), L_FIELD(tcpulse_port_count, count),
	L_VALUE(TCPULSE_PC_OVERFLOW), L_VALUE(TCPULSE_PC_SYNACK_RETRANS), L_VALUE(TCPULSE_PC_RESET_SENT),
	L_VALUE(TCPULSE_PC_RESET_RECV),
	L_SIZE(tcpulse_prog_stat),
	L_FIELD(tcpulse_prog_stat, name), L_FIELD(tcpulse_prog_stat, runs), L_FIELD(tcpulse_prog_stat, run_ns),
	L_FIELD(tcpulse_prog_stat, recursion_misses), L_FIELD(tcpulse_prog_stat, feature),
	L_SIZE(tcpulse_opts),
	L_FIELD(tcpulse_opts, sz), L_FIELD(tcpulse_opts, ring_bytes), L_FIELD(tcpulse_opts, max_events_per_sec),
	L_FIELD(tcpulse_opts, wakeup_bytes), L_FIELD(tcpulse_opts, flags), L_FIELD(tcpulse_opts, disabled_features),
	L_VALUE(TCPULSE_OPT_BENCH), L_VALUE(TCPULSE_OPT_RUN_STATS),
	L_VALUE(TCPULSE_STAT_SEEN), L_VALUE(TCPULSE_STAT_SUBMITTED), L_VALUE(TCPULSE_STAT_LOST),
	L_VALUE(TCPULSE_STAT_SAMPLED_OUT), L_VALUE(TCPULSE_STAT_MAP_FULL), L_VALUE(TCPULSE_STAT_WAKEUPS),
	L_VALUE(TCPULSE_STAT_REMEMBERED), L_VALUE(TCPULSE_STAT_TWIN_HANDLED),
	L_VALUE(TCPULSE_STAT_MAP_FULL_TRANSITIONS), L_VALUE(TCPULSE_STAT_MAP_FULL_PORT_COUNTERS),
	L_VALUE(TCPULSE_STAT_MAP_FULL_LISTEN_OWNERS), L_VALUE(TCPULSE_STAT_MAP_FULL_SK_INFOS),
	L_VALUE(TCPULSE_STAT_WAKEUPS_ASLEEP), L_VALUE(TCPULSE_STAT_MAX), L_VALUE(TCPULSE_POLL_WAKE_ON_EVENT),
};

API int tcpulse__layout(char *buf, size_t buf_sz)
{
	size_t i, len = 0;

	for (i = 0; i < sizeof(LAYOUT) / sizeof(LAYOUT[0]); i++) {
		int n = snprintf(buf && len < buf_sz ? buf + len : NULL, buf && len < buf_sz ? buf_sz - len : 0,
				 "%s %lld\n", LAYOUT[i].name, LAYOUT[i].value);

		if (n < 0)
			return -EINVAL;
		len += n;
	}
	return len; /* like snprintf: what the whole text takes; buf holds it when buf_sz > that */
}

API int tcpulse__last_error(char *buf, size_t buf_sz)
{
	if (!buf || !buf_sz)
		return -EINVAL;
	snprintf(buf, buf_sz, "%s", last_msg);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct tcpulse *t = ctx;
	size_t n = size < sizeof(struct tcpulse_event) ? size : sizeof(struct tcpulse_event);

	if (t->out_len + sizeof(struct tcpulse_event) > t->out_cap) {
		/* libbpf has already consumed this record: keep it for the next poll */
		memset(&t->pending, 0, sizeof(t->pending));
		memcpy(&t->pending, data, n);
		t->has_pending = 1;
		return -E2BIG;
	}
	memset(t->out + t->out_len, 0, sizeof(struct tcpulse_event));
	memcpy(t->out + t->out_len, data, n);
	t->out_len += sizeof(struct tcpulse_event);
	return 0;
}

/* what each feature gives, what stands in when it is off, and its program's tracepoint */
static const struct {
	const char *name;
	const char *what;
	const char *instead;
	const char *tracepoint; /* tp_btf target: btf_trace_<name> in the kernel's BTF */
	bool core;
} FEATURES[TCPULSE_FEATURE_MAX] = {
	[TCPULSE_FEATURE_OVERFLOW_EVENTS] = { "listenOverflowEvents",
		"accept-queue overflows per listener as they happen",
		"overflows per listener come from sk_drops at each walk", "kfree_skb" },
	[TCPULSE_FEATURE_STATE_CHANGES] = { "stateChanges",
		"every TCP state change: transitions, TIME_WAIT and CLOSE_WAIT ledgers, owners, latency",
		"states come from /proc/net/tcp", "inet_sock_set_state", true },
	[TCPULSE_FEATURE_SOCKET_WALK] = { "socketWalk",
		"socket walks (iter/tcp): start-up snapshot, listener queues, reconciliation",
		"states come from /proc/net/tcp", NULL, true },
	[TCPULSE_FEATURE_NESTED_STATE_CHANGES] = { "nestedStateChanges",
		"state changes nested in another (softirqs at an interrupt's exit) counted too",
		"a state change nested in another is not counted (about 1 in 1,500 in a connection storm)",
		"inet_sock_set_state" },
	[TCPULSE_FEATURE_SYNACK_RETRANSMITS] = { "synAckRetransmits",
		"SYN-ACK retransmits per listener (handshakes clients did not finish)",
		"no SYN-ACK retransmits per listener", "tcp_retransmit_synack" },
	[TCPULSE_FEATURE_RESETS_SENT] = { "resetsSent", "RSTs sent, per local port and peer",
		"no RSTs sent per port", "tcp_send_reset" },
	[TCPULSE_FEATURE_RESETS_RECEIVED] = { "resetsReceived", "RSTs received, per local port and peer",
		"no RSTs received per port", "tcp_receive_reset" },
	[TCPULSE_FEATURE_SOCKET_COOKIES] = { "socketCookies", "sockets named by their never-reused cookie",
		"sockets named by their address (unique while they live)" },
	[TCPULSE_FEATURE_SOCKET_SLOTS] = { "socketSlots",
		"per-socket entries in array slots taken with one compare-and-swap",
		"per-socket entries in a hash (about 2 us more per connection in a storm)" },
	[TCPULSE_FEATURE_CLOSED_PORT_RESETS] = { "closedPortResets",
		"RSTs answering segments no socket takes (closed ports), per port",
		"those RSTs are not counted (Tcp OutRsts in /proc/net/snmp has them per namespace)", "kfree_skb" },
	[TCPULSE_FEATURE_HOLDERS] = { "socketHolders",
		"the processes holding each socket, in every namespace (iter/task_file), and the namespaces processes live in",
		"holders from a /proc/PID/fd scan (lowest pid; only processes the agent may inspect); namespaces "
		"alive only as /proc and /run/netns show them" },
};

/* attach order: the state-change twins first, the walk, then the rest */
static const int ATTACH_ORDER[] = {
	TCPULSE_FEATURE_STATE_CHANGES, TCPULSE_FEATURE_NESTED_STATE_CHANGES, TCPULSE_FEATURE_SOCKET_WALK,
	TCPULSE_FEATURE_SYNACK_RETRANSMITS, TCPULSE_FEATURE_RESETS_SENT, TCPULSE_FEATURE_RESETS_RECEIVED,
	TCPULSE_FEATURE_OVERFLOW_EVENTS, TCPULSE_FEATURE_CLOSED_PORT_RESETS,
};

/* the program of feature f: the state-change pair comes with and without compare-and-swap */
static struct bpf_program *feature_prog(const struct tcpulse *t, int f)
{
	struct tcpulse_bpf *s = t->skel;

	switch (f) {
	case TCPULSE_FEATURE_OVERFLOW_EVENTS: return s->progs.on_kfree_skb;
	case TCPULSE_FEATURE_STATE_CHANGES:
		return t->cmpxchg ? s->progs.on_state_change : s->progs.on_state_change_nocas;
	case TCPULSE_FEATURE_SOCKET_WALK: return s->progs.walk_tcp;
	case TCPULSE_FEATURE_NESTED_STATE_CHANGES:
		return t->cmpxchg ? s->progs.on_state_change_nested : s->progs.on_state_change_nested_nocas;
	case TCPULSE_FEATURE_SYNACK_RETRANSMITS: return s->progs.on_synack_retransmit;
	case TCPULSE_FEATURE_RESETS_SENT: return s->progs.on_send_reset;
	case TCPULSE_FEATURE_RESETS_RECEIVED: return s->progs.on_receive_reset;
	/* none where tcp:tcp_send_reset reports them itself */
	case TCPULSE_FEATURE_CLOSED_PORT_RESETS: return t->no_socket_reason ? s->progs.on_drop_no_socket : NULL;
	default: return NULL;
	}
}

static bool is_on(const struct tcpulse *t, int f)
{
	return t->on & (1u << f);
}

static void turn_off(struct tcpulse *t, int f, const char *fmt, ...)
{
	va_list args;

	t->on &= ~(1u << f);
	va_start(args, fmt);
	vsnprintf(t->reason[f], sizeof(t->reason[f]), fmt, args);
	va_end(args);
}

/*
 * Stops the kernel running the programs; the rings, maps and the socket walk's iterator
 * link stay, so a thread still polling or walking meets no freed memory. Only
 * tcpulse__close() frees them, once that thread is done.
 */
API int tcpulse__detach(struct tcpulse *t)
{
	int i, n = 0;

	if (!t)
		return -EINVAL;
	for (i = TCPULSE_FEATURE_MAX - 1; i >= 0; i--) {
		if (i == TCPULSE_FEATURE_SOCKET_WALK || i == TCPULSE_FEATURE_HOLDERS || !t->links[i])
			continue;
		bpf_link__destroy(t->links[i]);
		t->links[i] = NULL;
		n++;
	}
	return n;
}

API void tcpulse__close(struct tcpulse *t)
{
	int i;

	if (!t)
		return;
	/* detach before anything the programs write into goes */
	for (i = TCPULSE_FEATURE_MAX - 1; i >= 0; i--)
		bpf_link__destroy(t->links[i]);
	bpf_link__destroy(t->holders_ns_link);
	holders_bpf__destroy(t->holders);
	ring_buffer__free(t->rb);
	if (t->run_stats_fd >= 0)
		close(t->run_stats_fd);
	for (i = 0; i < t->nr_rings; i++)
		close(t->ring_fds[i]);
	free(t->ring_fds);
	tcpulse_bpf__destroy(t->skel);
	free(t);
}

/* value of an enumerator in the running kernel's BTF, or -ENOENT */
static long long kernel_enum_value(const struct btf *btf, const char *type, const char *name)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	int id, i;

	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++) {
		if (!strcmp(btf__name_by_offset(btf, e->name_off), name))
			return e->val;
	}
	return -ENOENT;
}

/* parameters of a tracepoint's BTF prototype (btf_trace_NAME), counting the ctx pointer */
static int tracepoint_arity(const struct btf *btf, const char *tp)
{
	char name[128];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, btf__resolve_type(btf, id));
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(btf, t->type);
	return t && btf_is_func_proto(t) ? btf_vlen(t) : -EINVAL;
}

/* loads one program of trials.bpf.c alone: 0 when the kernel takes it, else -errno */
static int trial(const char *name)
{
	struct trials_bpf *s = trials_bpf__open();
	struct bpf_program *p;
	int ret;

	if (!s)
		return -errno;
	bpf_object__for_each_program(p, s->obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), name));
	failed_reason[0] = '\0';
	ret = trials_bpf__load(s);
	trials_bpf__destroy(s);
	return ret;
}

/*
 * Picks compat.bpf.h's variants from trial loads. A trial refused for want of
 * privilege proves nothing: the probe's own load then says what is missing.
 */
static void choose_variants(struct tcpulse *t)
{
	int ret;

	if (is_on(t, TCPULSE_FEATURE_SOCKET_COOKIES)) {
		ret = trial("trial_socket_cookie");
		if (ret == -EPERM)
			return;
		if (ret)
			turn_off(t, TCPULSE_FEATURE_SOCKET_COOKIES,
				 "tracing programs cannot call bpf_get_socket_cookie (Linux 5.12): %s", failed_reason);
	}
	t->socket_cookie = is_on(t, TCPULSE_FEATURE_SOCKET_COOKIES);
	/* without it the same name is read with probe reads */
	t->task_btf = !trial("trial_task_btf");
	/* without it nested state changes share one stack of marks (nesting.bpf.h) */
	t->stack_level = t->task_btf && !trial("trial_stack_level");
	if (is_on(t, TCPULSE_FEATURE_SOCKET_SLOTS) && trial("trial_cmpxchg"))
		turn_off(t, TCPULSE_FEATURE_SOCKET_SLOTS, "no BPF compare-and-swap (Linux 5.12): %s", failed_reason);
	t->cmpxchg = is_on(t, TCPULSE_FEATURE_SOCKET_SLOTS);
}

/*
 * Turns off the programs whose tracepoint this kernel's BTF lacks, and the overflow
 * events where skb:kfree_skb has no listen-overflow reason or no rx_sk argument.
 */
static int check_tracepoints(struct tcpulse *t)
{
	struct btf *btf = btf__load_vmlinux_btf();
	long long reason;
	int f, ret = 0;

	if (!btf) {
		ret = -errno;
		set_error("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): %s", strerror(errno));
		return ret;
	}
	for (f = 0; f < TCPULSE_FEATURE_MAX; f++) {
		if (!FEATURES[f].tracepoint || tracepoint_arity(btf, FEATURES[f].tracepoint) >= 0)
			continue;
		if (FEATURES[f].core) {
			set_error("the kernel has no tracepoint %s (btf_trace_%s)", FEATURES[f].tracepoint,
				  FEATURES[f].tracepoint);
			ret = -ENOENT;
			goto out;
		}
		turn_off(t, f, "the kernel has no tracepoint %s", FEATURES[f].tracepoint);
	}
	/*
	 * RSTs of closed ports: tcp:tcp_send_reset reports them where it has a reason
	 * argument (6.10; they came a little earlier), else their segments' drops do
	 */
	if (is_on(t, TCPULSE_FEATURE_CLOSED_PORT_RESETS) && tracepoint_arity(btf, "tcp_send_reset") < 4) {
		reason = kernel_enum_value(btf, "skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET");
		if (reason <= 0 || tracepoint_arity(btf, "kfree_skb") < 4)
			turn_off(t, TCPULSE_FEATURE_CLOSED_PORT_RESETS,
				 "tcp:tcp_send_reset does not report them and there is no drop reason NO_SOCKET (Linux 5.17)");
		else
			t->no_socket_reason = reason;
	}
	if (is_on(t, TCPULSE_FEATURE_OVERFLOW_EVENTS)) {
		reason = kernel_enum_value(btf, "skb_drop_reason", "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW");
		if (reason <= 0)
			turn_off(t, TCPULSE_FEATURE_OVERFLOW_EVENTS,
				 "the kernel has no drop reason SKB_DROP_REASON_TCP_LISTEN_OVERFLOW");
		else if (tracepoint_arity(btf, "kfree_skb") < 5)
			turn_off(t, TCPULSE_FEATURE_OVERFLOW_EVENTS, "skb:kfree_skb has no rx_sk argument (Linux 6.12)");
		else
			t->overflow_reason = reason;
	}
out:
	btf__free(btf);
	return ret;
}

/* the feature whose program is named prog, or -1 */
static int feature_of_prog(struct tcpulse *t, const char *prog)
{
	int f;

	for (f = 0; f < TCPULSE_FEATURE_MAX; f++) {
		struct bpf_program *p = feature_prog(t, f);

		if (p && !strcmp(bpf_program__name(p), prog))
			return f;
	}
	return -1;
}

/* rodata and map sizes, before the kernel sees anything */
static int configure(struct tcpulse *t, const struct tcpulse_opts *opts)
{
	struct tcpulse_bpf *s = t->skel;
	int f;

	s->rodata->cfg_socket_cookie = t->socket_cookie;
	s->rodata->cfg_task_btf = t->task_btf;
	s->rodata->cfg_stack_level = t->stack_level;
	s->rodata->cfg_reason_listen_overflow = t->overflow_reason;
	s->rodata->cfg_reason_no_socket = t->no_socket_reason;
	if (opts->max_events_per_sec) {
		long online = sysconf(_SC_NPROCESSORS_ONLN);
		__u64 per_cpu = opts->max_events_per_sec / (online > 0 ? online : 1);

		t->skel->rodata->cfg_max_rate_per_cpu = per_cpu ? per_cpu : 1;
	}
	t->skel->rodata->cfg_wakeup_bytes = opts->wakeup_bytes;
	/* the kernel does not compare ring sizes against the inner template: any size fits */
	if (bpf_map__set_max_entries(t->skel->maps.rings, t->ncpu))
		return -errno;
	if (!(opts->flags & TCPULSE_OPT_BENCH))
		bpf_program__set_autoload(t->skel->progs.bench_generate, false);
	/* of the state-change pairs, only the one feature_prog() names */
	bpf_program__set_autoload(s->progs.on_state_change, false);
	bpf_program__set_autoload(s->progs.on_state_change_nested, false);
	bpf_program__set_autoload(s->progs.on_state_change_nocas, false);
	bpf_program__set_autoload(s->progs.on_state_change_nested_nocas, false);
	bpf_program__set_autoload(s->progs.on_drop_no_socket, false);
	for (f = 0; f < TCPULSE_FEATURE_MAX; f++)
		if (feature_prog(t, f))
			bpf_program__set_autoload(feature_prog(t, f), is_on(t, f));
	s->rodata->cfg_twin = is_on(t, TCPULSE_FEATURE_NESTED_STATE_CHANGES);
	return 0;
}

/*
 * Opens and loads the skeleton. A program the kernel refuses turns its feature off
 * and the whole object is loaded again without it (libbpf loads an object whole);
 * only a refused core program fails the probe.
 */
static int load(struct tcpulse *t, const struct tcpulse_opts *opts)
{
	int attempt, ret, f;

	ret = check_tracepoints(t);
	if (ret)
		return ret;
	choose_variants(t);
	for (attempt = 0; attempt < TCPULSE_FEATURE_MAX; attempt++) {
		t->skel = tcpulse_bpf__open();
		if (!t->skel)
			return -errno;
		ret = configure(t, opts);
		if (ret)
			return ret;
		failed_prog[0] = failed_reason[0] = '\0';
		ret = tcpulse_bpf__load(t->skel);
		if (!ret)
			return 0;
		f = feature_of_prog(t, failed_prog);
		if (f < 0 || FEATURES[f].core) {
			if (f >= 0)
				set_error("the kernel refused %s (%s): %s", failed_prog, FEATURES[f].name, failed_reason);
			return ret;
		}
		turn_off(t, f, "the kernel refused %s: %s", failed_prog, failed_reason);
		tcpulse_bpf__destroy(t->skel);
		t->skel = NULL;
	}
	return ret;
}

/* attaches what loaded; an optional program that cannot attach turns its feature off */
static int attach(struct tcpulse *t)
{
	unsigned int i;
	int f, ret;

	for (i = 0; i < sizeof(ATTACH_ORDER) / sizeof(ATTACH_ORDER[0]); i++) {
		struct bpf_program *p;

		f = ATTACH_ORDER[i];
		p = feature_prog(t, f);
		if (!is_on(t, f) || !p)
			continue;
		t->links[f] = f == TCPULSE_FEATURE_SOCKET_WALK ? bpf_program__attach_iter(p, NULL)
							       : bpf_program__attach(p);
		if (t->links[f])
			continue;
		ret = -errno;
		if (FEATURES[f].core) {
			set_error("attaching %s (%s): %s", bpf_program__name(p), FEATURES[f].name, strerror(-ret));
			return ret;
		}
		turn_off(t, f, "attaching %s failed: %s", bpf_program__name(p), strerror(-ret));
	}
	return 0;
}

static int create_rings(struct tcpulse *t, __u32 ring_bytes)
{
	int outer = bpf_map__fd(t->skel->maps.rings);
	int i, fd;

	t->ring_fds = calloc(t->ncpu, sizeof(int));
	if (!t->ring_fds)
		return -ENOMEM;
	for (i = 0; i < t->ncpu; i++) {
		/* one ring per CPU: producers never share a lock or a cache line */
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "tcpulse_ring", 0, 0, ring_bytes, NULL);
		if (fd < 0) {
			set_error("creating ring buffer %d of %u bytes: %s", i, ring_bytes, strerror(errno));
			return -errno;
		}
		t->ring_fds[t->nr_rings++] = fd;
		if (bpf_map_update_elem(outer, &i, &fd, 0)) {
			set_error("adding ring %d to the ring array: %s", i, strerror(errno));
			return -errno;
		}
		if (!t->rb)
			t->rb = ring_buffer__new(fd, on_event, t, NULL);
		else if (ring_buffer__add(t->rb, fd, on_event, t))
			return -errno;
		if (!t->rb)
			return -errno;
	}
	return 0;
}

/* the holders iterators: refused or failing, only socketHolders goes off */
static void load_holders(struct tcpulse *t)
{
	int ret;

	if (!is_on(t, TCPULSE_FEATURE_HOLDERS))
		return;
	failed_prog[0] = failed_reason[0] = '\0';
	t->holders = holders_bpf__open_and_load();
	if (!t->holders) {
		turn_off(t, TCPULSE_FEATURE_HOLDERS, "the kernel refused %s: %s", failed_prog[0] ? failed_prog : "holders.bpf.o",
			 failed_reason[0] ? failed_reason : strerror(errno));
		return;
	}
	t->links[TCPULSE_FEATURE_HOLDERS] = bpf_program__attach_iter(t->holders->progs.walk_holders, NULL);
	ret = t->links[TCPULSE_FEATURE_HOLDERS] ? 0 : -errno;
	if (!ret) {
		t->holders_ns_link = bpf_program__attach_iter(t->holders->progs.walk_task_netns, NULL);
		ret = t->holders_ns_link ? 0 : -errno;
	}
	if (ret) {
		turn_off(t, TCPULSE_FEATURE_HOLDERS, "attaching the holders iterators failed: %s", strerror(-ret));
		bpf_link__destroy(t->links[TCPULSE_FEATURE_HOLDERS]);
		t->links[TCPULSE_FEATURE_HOLDERS] = NULL;
		holders_bpf__destroy(t->holders);
		t->holders = NULL;
	}
}

API struct tcpulse *tcpulse__open(const struct tcpulse_opts *user_opts, int *err)
{
	struct tcpulse_opts opts = { .sz = sizeof(opts) };
	struct tcpulse *t = NULL;
	int ret, f;

	last_msg[0] = '\0';
	libbpf_set_print(on_libbpf_print);
	if (user_opts) {
		/* accept older, shorter option structs */
		size_t n = user_opts->sz < sizeof(opts) ? user_opts->sz : sizeof(opts);

		if (n < sizeof(size_t)) {
			ret = -EINVAL;
			set_error("tcpulse_opts.sz is %zu", user_opts->sz);
			goto fail;
		}
		memcpy(&opts, user_opts, n);
	}
	if (!opts.ring_bytes) {
		int cpus = libbpf_num_possible_cpus();

		opts.ring_bytes = DEFAULT_RING_BYTES;
		while (cpus > 0 && opts.ring_bytes > 65536 && (__u64)opts.ring_bytes * cpus > DEFAULT_RINGS_TOTAL)
			opts.ring_bytes >>= 1;
	}
	if (opts.ring_bytes < 4096 || (opts.ring_bytes & (opts.ring_bytes - 1))) {
		ret = -EINVAL;
		set_error("ring size must be a power of two of at least 4096 bytes, got %u",
			  opts.ring_bytes);
		goto fail;
	}
	if (!opts.wakeup_bytes || opts.wakeup_bytes > opts.ring_bytes)
		opts.wakeup_bytes = opts.ring_bytes / 4;

	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto fail;
	}
	t->run_stats_fd = -1;
	t->on = (1u << TCPULSE_FEATURE_MAX) - 1;
	t->socket_cookie = t->task_btf = t->cmpxchg = t->stack_level = 1;
	for (f = 0; f < TCPULSE_FEATURE_MAX; f++) {
		if (!(opts.disabled_features & (1u << f)))
			continue;
		if (FEATURES[f].core) {
			ret = -EINVAL;
			set_error("%s is the probe's core: it cannot be turned off", FEATURES[f].name);
			goto fail;
		}
		turn_off(t, f, "turned off by configuration");
	}
	t->ncpu = libbpf_num_possible_cpus();
	if (t->ncpu <= 0) {
		ret = t->ncpu ? t->ncpu : -EINVAL;
		goto fail;
	}

	/* open, pick variants, load: the verifier's verdict lands in last_msg */
	ret = load(t, &opts);
	if (ret)
		goto fail;
	/* rings before attach, so no event finds an empty slot */
	ret = create_rings(t, opts.ring_bytes);
	if (ret)
		goto fail;
	ret = attach(t);
	if (ret)
		goto fail;
	load_holders(t);
	if (opts.flags & TCPULSE_OPT_RUN_STATS) {
		t->run_stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		t->run_stats_err = t->run_stats_fd < 0 ? -errno : 0;
	}
	/* where tcp:tcp_send_reset reports closed ports itself, they come with resetsSent */
	if (is_on(t, TCPULSE_FEATURE_CLOSED_PORT_RESETS) && !feature_prog(t, TCPULSE_FEATURE_CLOSED_PORT_RESETS) &&
	    !is_on(t, TCPULSE_FEATURE_RESETS_SENT))
		turn_off(t, TCPULSE_FEATURE_CLOSED_PORT_RESETS, "resetsSent, which reports them here, is off");
	if (err)
		*err = 0;
	return t;

fail:
	tcpulse__close(t);
	if (err)
		*err = ret < 0 ? ret : -EINVAL;
	return NULL;
}

API int tcpulse__poll(struct tcpulse *t, void *buf, size_t buf_sz, int timeout_ms, int flags)
{
	int ret;

	if (!t || !buf || buf_sz < sizeof(struct tcpulse_event))
		return -EINVAL;
	t->out = buf;
	t->out_cap = buf_sz;
	t->out_len = 0;
	if (t->has_pending) {
		memcpy(t->out, &t->pending, sizeof(t->pending));
		t->out_len = sizeof(t->pending);
		t->has_pending = 0;
	}
	ret = ring_buffer__consume(t->rb);
	if (ret < 0 && ret != -E2BIG)
		return ret;
	if (!t->out_len && timeout_ms) {
		bool asleep = (flags & TCPULSE_POLL_WAKE_ON_EVENT) && t->skel->bss;

		if (asleep) {
			/*
			 * The first event from now on wakes us. Set before looking at the rings
			 * once more (a full barrier between): an event submitted before the
			 * programs could see the flag is found by this look instead.
			 */
			__atomic_store_n(&t->skel->bss->consumer_asleep, 1, __ATOMIC_SEQ_CST);
			ret = ring_buffer__consume(t->rb);
			if (ret < 0 && ret != -E2BIG)
				goto awake;
		}
		if (!t->out_len) {
			/* nothing ready: sleep until a wake-up or the timeout */
			ret = ring_buffer__poll(t->rb, timeout_ms);
			if (ret < 0 && ret != -EINTR && ret != -E2BIG)
				goto awake;
			if (ret != -E2BIG) {
				ret = ring_buffer__consume(t->rb);
				if (ret < 0 && ret != -E2BIG)
					goto awake;
			}
		}
		ret = 0;
awake:
		/* awake again: the programs need not wake us (they cleared it if they did) */
		if (asleep)
			__atomic_store_n(&t->skel->bss->consumer_asleep, 0, __ATOMIC_RELAXED);
		if (ret < 0)
			return ret;
	}
	return t->out_len / sizeof(struct tcpulse_event);
}

API int tcpulse__stats(struct tcpulse *t, __u64 *out, int n)
{
	__u64 *vals; /* ncpu slots of TCPULSE_STAT_MAX counters */
	__u32 zero = 0;
	int i, c;

	if (!t || !out || n < 0)
		return -EINVAL;
	if (n > TCPULSE_STAT_MAX)
		n = TCPULSE_STAT_MAX;
	vals = calloc((size_t)t->ncpu * TCPULSE_STAT_MAX, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.stats), &zero, vals)) {
		free(vals);
		return -errno;
	}
	for (i = 0; i < n; i++) {
		out[i] = 0;
		for (c = 0; c < t->ncpu; c++)
			out[i] += vals[(size_t)c * TCPULSE_STAT_MAX + i];
	}
	free(vals);
	return n;
}

/*
 * Sums a per-CPU hash of __u64 counters with batched lookups (a few syscalls for the
 * whole map, not two per key); emit() turns each (key, sum) into an output record.
 */
static int sum_percpu_hash(struct tcpulse *t, struct bpf_map *map, size_t key_sz, int max,
			   void (*emit)(void *out, int i, const void *key, __u64 sum), void *out)
{
	int fd = bpf_map__fd(map), n = 0, ret = 0, c;
	__u32 chunk = 256, count, i;
	__u64 batch = 0;
	char *keys;
	__u64 *vals;
	bool first = true;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	keys = calloc(chunk, key_sz);
	vals = calloc((size_t)chunk * t->ncpu, sizeof(__u64));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	while (n < max) {
		count = chunk;
		ret = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count, &opts);
		first = false;
		if (ret && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		for (i = 0; i < count && n < max; i++) {
			__u64 sum = 0;

			for (c = 0; c < t->ncpu; c++)
				sum += vals[(size_t)i * t->ncpu + c];
			emit(out, n++, keys + (size_t)i * key_sz, sum);
		}
		if (ret) /* ENOENT: that was the last batch */
			break;
	}
	ret = n;
out:
	free(keys);
	free(vals);
	return ret;
}

static void emit_transition(void *out, int i, const void *k, __u64 sum)
{
	const struct tcpulse_transition_key *key = k;
	struct tcpulse_transition *o = (struct tcpulse_transition *)out + i;

	memset(o, 0, sizeof(*o));
	o->netns_cookie = key->netns_cookie;
	o->netns = key->netns;
	o->from = key->from;
	o->to = key->to;
	o->derived = key->derived;
	o->count = sum;
}

static void emit_port_count(void *out, int i, const void *k, __u64 sum)
{
	const struct tcpulse_port_key *key = k;
	struct tcpulse_port_count *o = (struct tcpulse_port_count *)out + i;

	memset(o, 0, sizeof(*o));
	o->netns_cookie = key->netns_cookie;
	o->netns = key->netns;
	o->port = key->port;
	o->what = key->what;
	o->count = sum;
}

static bool was_forgotten(const struct tcpulse *t, __u64 cookie)
{
	unsigned int i, n = t->nr_forgotten < FORGOTTEN_MAX ? t->nr_forgotten : FORGOTTEN_MAX;

	for (i = 0; i < n; i++)
		if (t->forgotten[i] == cookie)
			return true;
	return false;
}

/*
 * Appends the array part of the transition counters to out[n..max): per slot, each
 * namespace found in it summed over the CPUs that hold it. Slots of forgotten
 * namespaces are skipped and named in dead_slots for the BPF side to take over.
 */
static int read_trans_slots(struct tcpulse *t, struct tcpulse_transition *out, int n, int max)
{
	int fd = bpf_map__fd(t->skel->maps.trans_slots), dead_fd = bpf_map__fd(t->skel->maps.dead_slots);
	/* every slot of every CPU in one batched read: one syscall, not one per slot */
	struct tcpulse_trans_slot *all = calloc((size_t)TCPULSE_TRANS_SLOTS * t->ncpu, sizeof(*all)), *v;
	__u32 keys[TCPULSE_TRANS_SLOTS], next, count = TCPULSE_TRANS_SLOTS;
	__u64 sum[TCPULSE_TRANS_STATES][TCPULSE_TRANS_STATES];
	__u32 idx;
	int c, c2, from, to;

	if (!all)
		return -ENOMEM;
	if (bpf_map_lookup_batch(fd, NULL, &next, keys, all, &count, NULL) && errno != ENOENT) {
		/* a kernel without batched array reads: slot by slot */
		for (idx = 0; idx < TCPULSE_TRANS_SLOTS; idx++) {
			if (bpf_map_lookup_elem(fd, &idx, all + (size_t)idx * t->ncpu)) {
				free(all);
				return -errno;
			}
		}
		count = TCPULSE_TRANS_SLOTS;
	} else {
		/* an array answers in key order */
		for (idx = 0; idx < count; idx++)
			if (keys[idx] != idx) {
				free(all);
				return -EPROTO;
			}
	}
	for (idx = 0; idx < count; idx++) {
		v = all + (size_t)idx * t->ncpu;
		for (c = 0; c < t->ncpu; c++) {
			__u64 cookie = v[c].netns_cookie;

			if (!cookie)
				continue;
			if (was_forgotten(t, cookie)) {
				bpf_map_update_elem(dead_fd, &idx, &cookie, BPF_ANY);
				continue;
			}
			/* summed already with an earlier CPU's copy */
			for (c2 = 0; c2 < c && v[c2].netns_cookie != cookie; c2++)
				;
			if (c2 < c)
				continue;
			memset(sum, 0, sizeof(sum));
			for (c2 = c; c2 < t->ncpu; c2++)
				if (v[c2].netns_cookie == cookie)
					for (from = 0; from < TCPULSE_TRANS_STATES; from++)
						for (to = 0; to < TCPULSE_TRANS_STATES; to++)
							sum[from][to] += v[c2].n[from][to];
			for (from = 0; from < TCPULSE_TRANS_STATES; from++)
				for (to = 0; to < TCPULSE_TRANS_STATES; to++) {
					struct tcpulse_transition_key key = {
						.netns_cookie = cookie, .netns = v[c].netns, .from = from, .to = to,
					};

					if (!sum[from][to])
						continue;
					if (n == max)
						goto out;
					emit_transition(out, n++, &key, sum[from][to]);
				}
		}
	}
out:
	free(all);
	return n;
}

/* a (namespace, from, to, derived) may come twice, from the hash and from the slots: sum them */
API int tcpulse__transitions(struct tcpulse *t, struct tcpulse_transition *out, int max)
{
	int n;

	if (!t || !out || max < 0)
		return -EINVAL;
	n = sum_percpu_hash(t, t->skel->maps.transitions, sizeof(struct tcpulse_transition_key),
			    max, emit_transition, out);
	return n < 0 ? n : read_trans_slots(t, out, n, max);
}

API int tcpulse__port_counters(struct tcpulse *t, struct tcpulse_port_count *out, int max)
{
	if (!t || !out || max < 0)
		return -EINVAL;
	return sum_percpu_hash(t, t->skel->maps.port_counters, sizeof(struct tcpulse_port_key),
			       max, emit_port_count, out);
}

/* deletes every counter (and listener owner) of the namespace (inode, cookie): it is gone */
API int tcpulse__forget_netns(struct tcpulse *t, __u32 netns, __u64 netns_cookie)
{
	struct bpf_map *maps[3];
	int m, deleted = 0;

	if (!t)
		return -EINVAL;
	t->forgotten[t->nr_forgotten++ % FORGOTTEN_MAX] = netns_cookie;
	maps[0] = t->skel->maps.transitions;
	maps[1] = t->skel->maps.port_counters;
	maps[2] = t->skel->maps.listen_owners;
	for (m = 0; m < 3; m++) {
		int fd = bpf_map__fd(maps[m]);
		size_t ksz = bpf_map__key_size(maps[m]), n = 0, cap = 0, i;
		/* every key layout starts with the cookie, then the inode */
		struct { __u64 cookie; __u32 netns; __u8 rest[20]; } key, *doomed = NULL;
		void *prev = NULL;

		if (ksz > sizeof(key))
			return -EINVAL;
		/*
		 * Collect first, delete after: deleting the key a walk stands on restarts the
		 * walk, which made this quadratic in the map's size.
		 */
		while (!bpf_map_get_next_key(fd, prev, &key)) {
			if (key.cookie == netns_cookie && key.netns == netns) {
				if (n == cap) {
					void *grown = realloc(doomed, (cap = cap ? cap * 2 : 64) * sizeof(*doomed));

					if (!grown) {
						free(doomed);
						return -ENOMEM;
					}
					doomed = grown;
				}
				doomed[n++] = key;
			}
			prev = &key;
		}
		for (i = 0; i < n; i++)
			if (!bpf_map_delete_elem(fd, &doomed[i]))
				deleted++;
		free(doomed);
	}
	return deleted;
}

/* reads an iterator to its end into buf, counting what did not fit */
/* stopped: the program asked to stop at a socket (listeners-only walks); EAGAIN then means the end */
static int read_walk(int iter_fd, char *buf, size_t buf_sz, size_t *total, bool stopped_is_end)
{
	char scratch[4096];
	ssize_t r;

	*total = 0;
	for (;;) {
		char *dst = *total < buf_sz ? buf + *total : scratch;
		size_t room = *total < buf_sz ? buf_sz - *total : sizeof(scratch);

		r = read(iter_fd, dst, room);
		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && stopped_is_end)
				return 0;
			return -errno;
		}
		*total += r;
	}
}

/* enters the namespace at netns_path on this thread; *self_ns gets the way back */
static int enter_netns(const char *netns_path, int *self_ns)
{
	int netns_fd, ret;

	*self_ns = -1;
	if (!netns_path)
		return 0;
	netns_fd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (netns_fd < 0)
		return -errno;
	*self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*self_ns < 0 || setns(netns_fd, CLONE_NEWNET)) {
		ret = -errno;
		if (*self_ns >= 0)
			close(*self_ns);
		*self_ns = -1;
		close(netns_fd);
		return ret;
	}
	close(netns_fd);
	return 0;
}

static int leave_netns(int self_ns)
{
	int ret = 0;

	if (self_ns < 0)
		return 0;
	if (setns(self_ns, CLONE_NEWNET)) {
		/* this thread is stuck in the other namespace: say so loudly */
		ret = -errno;
		set_error("cannot return to the agent's network namespace: %s", strerror(errno));
	}
	close(self_ns);
	return ret;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

API int tcpulse__netns_cookie(const char *netns_path, __u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int self_ns, fd, ret;

	if (!cookie)
		return -EINVAL;
	ret = enter_netns(netns_path, &self_ns);
	if (ret)
		return ret;
	/* a socket belongs to the namespace it was made in: ask it for the cookie */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ret = fd < 0 ? -errno : 0;
	if (leave_netns(self_ns) && !ret)
		ret = -EIO;
	if (fd >= 0) {
		if (!ret && getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
			ret = -errno;
		close(fd);
	}
	return ret;
}

API int tcpulse__read_in_netns(const char *netns_path, const char *file, char *buf, size_t buf_sz)
{
	int self_ns, fd, ret;
	size_t total = 0;
	ssize_t r;

	if (!file || !buf || !buf_sz)
		return -EINVAL;
	ret = enter_netns(netns_path, &self_ns);
	if (ret)
		return ret;
	/* /proc/thread-self/net and /proc/sys/net follow the opener's namespace */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	if (leave_netns(self_ns) && !ret)
		ret = -EIO;
	if (fd < 0 || ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while (total < buf_sz - 1 && (r = read(fd, buf + total, buf_sz - 1 - total)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			close(fd);
			return ret;
		}
		total += r;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

static int walk_netns(struct tcpulse *t, const char *netns_path, void *buf, size_t buf_sz, size_t *needed,
		      bool listeners_only);

API int tcpulse__snapshot(struct tcpulse *t, const char *netns_path, void *buf, size_t buf_sz,
			  size_t *needed)
{
	return walk_netns(t, netns_path, buf, buf_sz, needed, false);
}

API int tcpulse__snapshot_listeners(struct tcpulse *t, const char *netns_path, void *buf, size_t buf_sz,
				    size_t *needed)
{
	int ret;

	if (!t || !t->skel->bss)
		return -EINVAL;
	t->skel->bss->walk_listeners_only = 1;
	ret = walk_netns(t, netns_path, buf, buf_sz, needed, true);
	t->skel->bss->walk_listeners_only = 0;
	return ret;
}

static int walk_netns(struct tcpulse *t, const char *netns_path, void *buf, size_t buf_sz, size_t *needed,
		      bool listeners_only)
{
	int self_ns, iter_fd, ret;
	size_t total;

	if (!t || (!buf && buf_sz))
		return -EINVAL;
	/* an iter/tcp walk sees the namespace its fd was created in: enter it briefly */
	ret = enter_netns(netns_path, &self_ns);
	if (ret)
		return ret;
	iter_fd = bpf_iter_create(bpf_link__fd(t->links[TCPULSE_FEATURE_SOCKET_WALK]));
	if (iter_fd < 0)
		ret = -errno;
	if (leave_netns(self_ns) && !ret)
		ret = -EIO;
	if (iter_fd < 0 || ret < 0) {
		if (iter_fd >= 0)
			close(iter_fd);
		return ret;
	}
	ret = read_walk(iter_fd, buf, buf_sz, &total, listeners_only);
	close(iter_fd);
	if (ret < 0)
		return ret;
	if (needed)
		*needed = total;
	if (total > buf_sz)
		return -ENOSPC;
	return total / sizeof(struct tcpulse_sock);
}

/* reads one iterator of link into buf from offset *total on */
static int read_iter_link(struct bpf_link *link, char *buf, size_t buf_sz, size_t *total)
{
	size_t n = 0;
	int fd, ret;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	ret = read_walk(fd, *total < buf_sz ? buf + *total : NULL, *total < buf_sz ? buf_sz - *total : 0, &n, false);
	close(fd);
	*total += n;
	return ret;
}

API int tcpulse__holders(struct tcpulse *t, void *buf, size_t buf_sz, size_t *needed)
{
	size_t total = 0;
	int ret;

	if (!t || (!buf && buf_sz))
		return -EINVAL;
	if (!is_on(t, TCPULSE_FEATURE_HOLDERS) || !t->holders_ns_link)
		return -EOPNOTSUPP;
	/* task iterators see every namespace from here: no setns */
	ret = read_iter_link(t->links[TCPULSE_FEATURE_HOLDERS], buf, buf_sz, &total);
	if (!ret)
		ret = read_iter_link(t->holders_ns_link, buf, buf_sz, &total);
	if (ret < 0)
		return ret;
	if (needed)
		*needed = total;
	if (total > buf_sz)
		return -ENOSPC;
	return total / sizeof(struct tcpulse_holder);
}

API int tcpulse__bench_generate(struct tcpulse *t, __u32 n)
{
	int fd, ret;

	if (!t)
		return -EINVAL;
	fd = bpf_program__fd(t->skel->progs.bench_generate);
	if (fd < 0)
		return -ENOENT; /* not opened with TCPULSE_OPT_BENCH */
	while (n) {
		__u64 args[1] = { n < BENCH_CHUNK ? n : BENCH_CHUNK };
		LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));

		ret = bpf_prog_test_run_opts(fd, &run);
		if (ret)
			return -errno;
		n -= args[0];
	}
	return 0;
}

API int tcpulse__features(struct tcpulse *t)
{
	return t ? (int)t->on : -EINVAL;
}

API int tcpulse__feature(struct tcpulse *t, int i, char *name, size_t name_sz, char *what, size_t what_sz,
			 char *reason, size_t reason_sz)
{
	if (i < 0 || i >= TCPULSE_FEATURE_MAX)
		return -ENOENT;
	if (name && name_sz)
		snprintf(name, name_sz, "%s", FEATURES[i].name);
	if (what && what_sz)
		snprintf(what, what_sz, "%s", FEATURES[i].what);
	if (!t) {
		if (reason && reason_sz)
			reason[0] = '\0';
		return 0;
	}
	if (reason && reason_sz)
		snprintf(reason, reason_sz, "%s%s%s", t->reason[i], t->reason[i][0] ? ": " : "",
			 is_on(t, i) ? "" : FEATURES[i].instead);
	return is_on(t, i);
}

API int tcpulse__ring_count(struct tcpulse *t)
{
	return t ? t->nr_rings : -EINVAL;
}

static int prog_stat(struct bpf_program *p, int feature, struct tcpulse_prog_stat *out)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return -errno;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", bpf_program__name(p));
	out->runs = info.run_cnt;
	out->run_ns = info.run_time_ns;
	out->recursion_misses = info.recursion_misses;
	out->feature = feature;
	return 0;
}

API int tcpulse__prog_stats(struct tcpulse *t, struct tcpulse_prog_stat *out, int max)
{
	int f, n = 0, ret;

	if (!t || !out || max < 0)
		return -EINVAL;
	for (f = 0; f < TCPULSE_FEATURE_MAX && n < max; f++) {
		struct bpf_program *p = f == TCPULSE_FEATURE_HOLDERS ? (t->holders ? t->holders->progs.walk_holders : NULL)
								     : feature_prog(t, f);

		if (!t->links[f] || !p)
			continue;
		ret = prog_stat(p, f, &out[n]);
		if (ret)
			return ret;
		n++;
	}
	if (t->holders_ns_link && n < max) {
		ret = prog_stat(t->holders->progs.walk_task_netns, TCPULSE_FEATURE_HOLDERS, &out[n]);
		if (ret)
			return ret;
		n++;
	}
	return n;
}

API int tcpulse__run_stats(struct tcpulse *t)
{
	char c = '0';
	int fd;

	if (!t)
		return -EINVAL;
	if (t->run_stats_fd >= 0)
		return 1;
	fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1' ? 1 : t->run_stats_err;
}
