// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpulse kernel side: follows every TCP state change, keeps exact per-CPU
 * counters, streams (possibly sampled) events into one ring buffer per CPU,
 * and walks all TCP sockets of a namespace on demand (iter/tcp).
 *
 * Only tp_btf and iter programs: they attach without tracefs, so CAP_BPF +
 * CAP_PERFMON are enough, and they hand us the struct sock itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpulse.h"
#include "compat.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define RCV_SHUTDOWN 1
#define NSEC_PER_SEC 1000000000ULL

/* TCP_* numbers from include/net/tcp_states.h (enums in vmlinux.h, named here for clarity) */
#define S_ESTABLISHED 1
#define S_SYN_SENT 2
#define S_SYN_RECV 3
#define S_FIN_WAIT2 5
#define S_TIME_WAIT 6
#define S_CLOSE 7
#define S_LISTEN 10
#define S_CLOSING 11
#define S_NEW_SYN_RECV 12

/* set by the loader before load */
const volatile __u64 cfg_max_rate_per_cpu = 0; /* events/s per CPU before sampling; 0 = never */
const volatile __u64 cfg_wakeup_bytes = 1 << 20; /* wake the consumer when a ring holds this much */
/* SKB_DROP_REASON_TCP_LISTEN_OVERFLOW: its number changes between kernels, resolved from BTF */
const volatile __u32 cfg_reason_listen_overflow = 0;
/* on_state_change_nested is attached: on_state_change marks the changes it handles */
const volatile __u8 cfg_twin = 1;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * What tcpulse remembers about a socket, from its first transition to its last
 * ->CLOSE (kept in sk_slots or sk_infos below). Not sk_storage: storage costs an
 * allocation with memory-cgroup charging per socket, another to clone it into every
 * accepted child and an RCU free, together about half of the probe's cost in a
 * connection storm. Forgetting at ->CLOSE rather than in tcp:tcp_destroy_sock saves a
 * program run per socket (about 300 ns here); the RST an abortive close sends right
 * after finds the socket in last_closed.
 */
struct sk_info {
	__u64 born_ns;
	__u64 state_ns;
	__u32 pid;
	__u16 flags; /* TCPULSE_F_OWNER_KNOWN | TCPULSE_F_BORN_KNOWN | TCPULSE_F_ACTIVE */
	__u16 sport; /* the local port once bound: the kernel clears it before the last ->CLOSE */
	char comm[16];
};

/*
 * Where a socket's entry lives: first the slot of sk_slots its cookie picks (cookies
 * are never reused and come in per-CPU runs of consecutive numbers), else, when
 * another live socket holds that slot, the hash. A slot is taken with one
 * compare-and-swap and freed with a store: no allocation, no bucket lock with
 * interrupts off, no RCU free. A hash insert and delete cost about 2 us per
 * connection of a storm here, mostly in those.
 */
#define SK_SLOTS (1 << 17)

struct sk_slot {
	__u64 cookie; /* the socket's cookie; 0: free */
	struct sk_info info;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SK_SLOTS);
	__type(key, __u32);
	__type(value, struct sk_slot);
} sk_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, __u64); /* the struct sock's address: unique while it lives */
	__type(value, struct sk_info);
} sk_infos SEC(".maps");

/* who listens on a port: accepted children inherit it (the child never points back) */
struct listen_key {
	__u64 netns_cookie;
	__u32 netns;
	__u16 port;
	__u16 pad;
};

struct listen_owner {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct listen_key);
	__type(value, struct listen_owner);
} listen_owners SEC(".maps");

/*
 * Per CPU, the sockets that last went ->CLOSE: an abortive close sends its RST after,
 * and tcp:tcp_send_reset fires once the RST is sent, when on loopback the peer has
 * already taken it and closed too. A few slots, not one. A slot names the socket's
 * address, namespace and peer port: the address alone may be a newer socket's (slabs
 * reuse memory at once) whose RST goes out on a CPU this socket closed on long ago.
 */
#define CLOSED_SLOTS 4

struct closed_ring {
	__u32 next;
	__u32 pad;
	struct {
		__u64 sk;
		__u64 netns_cookie;
		__u16 dport;
		struct sk_info info;
	} slot[CLOSED_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct closed_ring);
} last_closed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tcpulse_transition_key);
	__type(value, __u64);
} transitions SEC(".maps");

/*
 * Transition counters of the namespaces seen first, per CPU, in an array slot each
 * (cookie % TCPULSE_TRANS_SLOTS): an array lookup is a few instructions where the
 * hash below costs hashing and a bucket walk on every event. A slot belongs to the
 * first namespace that counts into it on that CPU; others, and derived counts, use
 * the hash; user space sums both. When a namespace is gone user space names it in
 * dead_slots and the next namespace to need the slot takes it over.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPULSE_TRANS_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpulse_trans_slot);
} trans_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TCPULSE_TRANS_SLOTS);
	__type(key, __u32);
	__type(value, __u64); /* cookie of a gone namespace whose slots may be taken over */
} dead_slots SEC(".maps");

/* all health counters of a CPU in one slot: one lookup per event, not one per counter */
struct cpu_stats {
	__u64 v[TCPULSE_STAT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tcpulse_port_key);
	__type(value, __u64);
} port_counters SEC(".maps");

/* per-CPU sampling window */
struct rate_state {
	__u64 window_start;
	__u64 in_window;
	__u64 ratio;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_state);
} rate SEC(".maps");

/* one ring per CPU; the loader creates them (of any size) and fills the slots */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* template only */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

static __always_inline __u64 netns_cookie_of(const struct sock_common *skc)
{
	return skc ? net_cookie_of(skc->skc_net.net) : 0;
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u32 zero = 0;
	struct cpu_stats *st = bpf_map_lookup_elem(&stats, &zero);

	/*
	 * Per-CPU, not atomic: an add nested in another (the twin state-change programs)
	 * may rarely be lost, which health figures can bear; the exact counters are atomic.
	 */
	if (st && idx < TCPULSE_STAT_MAX)
		st->v[idx] += n;
}

/* adds one to a per-CPU hash counter, creating it at zero first; a full map is counted, by map */
static __always_inline void bump(void *map, const void *key, __u32 full_stat)
{
	__u64 zero = 0, *v;

	v = bpf_map_lookup_elem(map, key);
	if (!v) {
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, key);
		if (!v) {
			stat_add(TCPULSE_STAT_MAP_FULL, 1);
			stat_add(full_stat, 1);
			return;
		}
	}
	__sync_fetch_and_add(v, 1);
}

/* this CPU's slot of the namespace, taking it if free or left by a gone namespace */
static __always_inline struct tcpulse_trans_slot *trans_slot(__u64 cookie, __u32 netns)
{
	__u32 idx = cookie % TCPULSE_TRANS_SLOTS;
	struct tcpulse_trans_slot *ts = bpf_map_lookup_elem(&trans_slots, &idx);
	__u64 *dead;
	int i;

	if (!ts || ts->netns_cookie == cookie)
		return ts;
	if (ts->netns_cookie) {
		dead = bpf_map_lookup_elem(&dead_slots, &idx);
		if (!dead || *dead != ts->netns_cookie)
			return NULL;
		/*
		 * A gone namespace's counts, cleared under a cookie no namespace has: a change
		 * nested in the clearing counts in the hash instead of being wiped. A loop
		 * clang cannot make a memset of (BPF has none).
		 */
		ts->netns_cookie = ~0ULL;
		for (i = 0; i < TCPULSE_TRANS_STATES * TCPULSE_TRANS_STATES; i++) {
			(&ts->n[0][0])[i] = 0;
			asm volatile("" ::: "memory");
		}
	}
	/* a free slot is all zeros since the map was made */
	ts->netns = netns;
	ts->netns_cookie = cookie;
	return ts;
}

static __always_inline void count_transition(__u64 cookie, __u32 netns, int from, int to, __u8 derived)
{
	if (!derived && cookie && from > 0 && from < TCPULSE_TRANS_STATES && to > 0 &&
	    to < TCPULSE_TRANS_STATES) {
		struct tcpulse_trans_slot *ts = trans_slot(cookie, netns);
		__u32 cell = from * TCPULSE_TRANS_STATES + to;

		/* the verifier wants the bound on the index it sees used */
		barrier_var(cell);
		if (ts && cell < TCPULSE_TRANS_STATES * TCPULSE_TRANS_STATES) {
			/* atomic: a change nested in this one (the twin program) may count too */
			__sync_fetch_and_add(&(&ts->n[0][0])[cell], 1);
			return;
		}
	}

	struct tcpulse_transition_key key = {
		.netns_cookie = cookie, .netns = netns, .from = from, .to = to, .derived = derived,
	};

	bump(&transitions, &key, TCPULSE_STAT_MAP_FULL_TRANSITIONS);
}

static __always_inline void count_port(const struct sock_common *skc, __u32 netns, __u16 port, __u8 what)
{
	struct tcpulse_port_key key = {
		.netns_cookie = netns_cookie_of(skc), .netns = netns, .port = port, .what = what,
	};

	bump(&port_counters, &key, TCPULSE_STAT_MAP_FULL_PORT_COUNTERS);
}

/* 0: sample this event out; otherwise how many events it stands for */
static __always_inline __u32 sample_ratio(__u64 now)
{
	__u32 zero = 0;
	struct rate_state *rs;

	if (!cfg_max_rate_per_cpu)
		return 1;
	rs = bpf_map_lookup_elem(&rate, &zero);
	if (!rs)
		return 1;
	/* a new one-second window: the ratio follows the last window's rate */
	if (now - rs->window_start >= NSEC_PER_SEC) {
		/* a window that ended over a second ago says nothing of the last second: a storm
		 * long over must not sample the first events after a quiet spell */
		__u64 n = now - rs->window_start >= 2 * NSEC_PER_SEC ? 0 : rs->in_window;

		rs->ratio = n > cfg_max_rate_per_cpu ?
			(n + cfg_max_rate_per_cpu - 1) / cfg_max_rate_per_cpu : 1;
		rs->window_start = now;
		rs->in_window = 0;
	}
	rs->in_window++;
	/* a storm that began in this window is sampled from its first second on, too */
	if (rs->in_window > cfg_max_rate_per_cpu) {
		__u64 now_ratio = (rs->in_window + cfg_max_rate_per_cpu - 1) / cfg_max_rate_per_cpu;

		if (now_ratio > rs->ratio)
			rs->ratio = now_ratio;
	}
	if (rs->ratio > 1 && rs->in_window % rs->ratio)
		return 0;
	return rs->ratio ?: 1;
}

/*
 * The programs get BTF pointers: plain loads (the verifier guards them) are much
 * cheaper than bpf_probe_read_kernel() calls, so fields are read directly.
 */
static __always_inline __u32 netns_of(const struct sock_common *skc)
{
	return skc->skc_net.net->ns.inum;
}

/*
 * The slot a key picks: cookies come in runs of consecutive numbers, their low bits
 * spread well; addresses need a hash. A cookie never equals a kernel address, so the
 * two kinds of key cannot be confused in a slot.
 */
static __always_inline struct sk_slot *slot_of(__u64 key, bool address)
{
	__u32 idx = address ? (key * 0x9E3779B97F4A7C15ULL) >> 32 : key;

	idx &= SK_SLOTS - 1;
	return bpf_map_lookup_elem(&sk_slots, &idx);
}

/*
 * An accepted child is keyed by its address, not its id: its cookie is not final when
 * it is born (6.12 copies the listener's and sets the request's after the state change).
 * Where ids are addresses the two are the same.
 */
static __always_inline struct sk_slot *child_slot_of(const struct sock *sk, __u64 *key)
{
	*key = address_of(sk);
	return slot_of(*key, true);
}

/*
 * What is remembered of sk (cookie: its socket cookie): while it lives, or just after
 * its ->CLOSE on this CPU.
 */
static __always_inline struct sk_info *info_of(const struct sock *sk, __u64 sock_cookie)
{
	__u64 key = (__u64)sk, addr;
	struct sk_slot *slot = slot_of(sock_cookie, !cfg_socket_cookie);
	struct sk_info *si;
	struct closed_ring *cr;
	__u64 cookie;
	__u16 dport;
	__u32 zero = 0;
	int i;

	if (slot && slot->cookie == sock_cookie)
		return &slot->info;
	if (cfg_socket_cookie) {
		slot = child_slot_of(sk, &addr);
		if (slot && slot->cookie == addr)
			return &slot->info;
	}
	/* after its last ->CLOSE (an RST sent after close()) only last_closed may know it */
	if (sk->__sk_common.skc_state != S_CLOSE) {
		si = bpf_map_lookup_elem(&sk_infos, &key);
		if (si)
			return si;
	}
	cr = bpf_map_lookup_elem(&last_closed, &zero);
	if (!cr)
		return NULL;
	cookie = netns_cookie_of(&sk->__sk_common);
	dport = sk->__sk_common.skc_dport;
	for (i = 0; i < CLOSED_SLOTS; i++)
		if (cr->slot[i].sk == key && cr->slot[i].netns_cookie == cookie &&
		    cr->slot[i].dport == dport)
			return &cr->slot[i].info;
	return NULL;
}

/* family, ports and addresses, shared by events and the walk */
static __always_inline void read_endpoints(const struct sock_common *skc, __u16 *family,
					   __u16 *sport, __u16 *dport, __u8 *saddr, __u8 *daddr)
{
	*family = skc->skc_family;
	*sport = skc->skc_num;
	*dport = bpf_ntohs(skc->skc_dport);
	/* a v4 peer on a dual-stack socket: report it as the IPv4 connection it is */
	if (*family == AF_INET6 && skc->skc_daddr &&
	    !skc->skc_v6_daddr.in6_u.u6_addr32[0] && !skc->skc_v6_daddr.in6_u.u6_addr32[3])
		*family = AF_INET;
	if (*family == AF_INET6) {
		__builtin_memcpy(saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(daddr, &skc->skc_v6_daddr, 16);
	} else {
		*(__u32 *)saddr = skc->skc_rcv_saddr;
		*(__u32 *)daddr = skc->skc_daddr;
	}
}

/* reserve a slot in this CPU's ring; counts the loss when it is full */
static __always_inline struct tcpulse_event *reserve_event(void **ringp)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct tcpulse_event *e;
	void *rb;

	rb = bpf_map_lookup_elem(&rings, &cpu);
	if (!rb) {
		stat_add(TCPULSE_STAT_LOST, 1);
		return NULL;
	}
	e = bpf_ringbuf_reserve(rb, sizeof(*e), 0);
	if (!e) {
		stat_add(TCPULSE_STAT_LOST, 1);
		return NULL;
	}
	*ringp = rb;
	return e;
}

/* submit without waking the consumer, unless this record crossed the backlog mark */
static __always_inline void submit_event(void *rb, struct tcpulse_event *e)
{
	__u64 avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
	__u64 rec = sizeof(*e) + 8; /* ring header */

	if (avail >= cfg_wakeup_bytes && avail < cfg_wakeup_bytes + rec) {
		stat_add(TCPULSE_STAT_WAKEUPS, 1);
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	stat_add(TCPULSE_STAT_SUBMITTED, 1);
}

/*
 * A zeroed event stamped with its time, kind and sampling ratio; NULL when it is
 * sampled out or the ring is full (both counted).
 */
static __always_inline struct tcpulse_event *begin_event(__u64 now, __u8 kind, void **rb)
{
	struct tcpulse_event *e;
	__u32 ratio = sample_ratio(now);

	if (!ratio) {
		stat_add(TCPULSE_STAT_SAMPLED_OUT, 1);
		return NULL;
	}
	e = reserve_event(rb);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->kind = kind;
	e->sample_ratio = ratio;
	return e;
}

/*
 * A socket's entry, created (or replacing a stale one at a reused address) at its
 * birth, complete: the caller reads fresh itself, no second lookup for what it just wrote.
 * child: an accepted socket (keyed by address); cas: this program may take slots (the
 * kernel has compare-and-swap; before 5.12 its very encoding is refused, so the programs
 * without it are separate ones and keep their entries in the hash).
 */
static __always_inline struct sk_info *remember(struct sock *sk, __u64 sock_cookie,
						struct sk_info *fresh, __u64 now, bool child,
						const bool cas)
{
	__u64 key = (__u64)sk, slot_key = sock_cookie;
	struct sk_slot *slot = child ? child_slot_of(sk, &slot_key) : slot_of(sock_cookie, !cfg_socket_cookie);

	fresh->born_ns = now;
	fresh->state_ns = now;
	fresh->sport = sk->__sk_common.skc_num;
	if (cas && slot && slot->cookie == slot_key && child) {
		/* an earlier socket at this address whose end was not seen: its entry is stale */
		slot->info = *fresh;
		return fresh;
	}
	if (cas && slot && !slot->cookie && !__sync_val_compare_and_swap(&slot->cookie, 0, slot_key)) {
		slot->info = *fresh;
		stat_add(TCPULSE_STAT_REMEMBERED, 1);
		return fresh;
	}
	if (!bpf_map_update_elem(&sk_infos, &key, fresh, BPF_NOEXIST)) {
		stat_add(TCPULSE_STAT_REMEMBERED, 1);
		return fresh;
	}
	if (bpf_map_update_elem(&sk_infos, &key, fresh, BPF_ANY)) {
		stat_add(TCPULSE_STAT_MAP_FULL, 1);
		stat_add(TCPULSE_STAT_MAP_FULL_SK_INFOS, 1);
		return NULL;
	}
	return fresh;
}

/* the socket's last ->CLOSE: its slot or hash entry is freed */
static __always_inline void forget(struct sock *sk, __u64 sock_cookie)
{
	struct sk_slot *slot = slot_of(sock_cookie, !cfg_socket_cookie);
	__u64 key = (__u64)sk, addr;

	if (slot && slot->cookie == sock_cookie) {
		slot->cookie = 0;
	} else if (cfg_socket_cookie && (slot = child_slot_of(sk, &addr)) && slot->cookie == addr) {
		slot->cookie = 0;
	} else if (bpf_map_delete_elem(&sk_infos, &key)) {
		return;
	}
	stat_add(TCPULSE_STAT_REMEMBERED, -1);
}

static __always_inline int handle_state_change(struct sock *sk, __u64 sock_cookie, int oldstate,
					       int newstate, const bool cas)
{
	const struct sock_common *skc = &sk->__sk_common;
	__u64 now = bpf_ktime_get_ns();
	__u64 prev_ns = 0, age_ns = 0;
	struct sk_info fresh = {}, *si;
	struct tcpulse_event *e;
	__u8 flags = 0;
	__u32 netns;
	__u64 cookie;
	void *rb;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	stat_add(TCPULSE_STAT_SEEN, 1);
	netns = netns_of(skc);

	/* exact counters first: they do not depend on sampling or ring space */
	cookie = netns_cookie_of(skc);
	count_transition(cookie, netns, oldstate, newstate, 0);

	/* a timewait sock replaced this one if it is already unhashed at ->CLOSE */
	if (newstate == S_CLOSE && (oldstate == S_FIN_WAIT2 || oldstate == S_CLOSING) &&
	    !skc->skc_nulls_node.pprev) {
		/* FIN received: TIME_WAIT proper; otherwise an orphan's FIN_WAIT2 substate */
		int sub = (sk->sk_shutdown & RCV_SHUTDOWN) ? S_TIME_WAIT : S_FIN_WAIT2;

		flags |= TCPULSE_F_TIMEWAIT | (sub == S_FIN_WAIT2 ? TCPULSE_F_TW_FIN_WAIT2 : 0);
		count_transition(cookie, netns, oldstate, sub, 1);
	}

	/* remember owner and timing: a socket's first transition creates its entry */
	if (oldstate == S_CLOSE && (newstate == S_SYN_SENT || newstate == S_LISTEN)) {
		/* connect() or listen(): process context, the owner is current */
		fresh.pid = bpf_get_current_pid_tgid() >> 32;
		current_process_comm(fresh.comm);
		fresh.flags = TCPULSE_F_OWNER_KNOWN | TCPULSE_F_BORN_KNOWN |
			      (newstate == S_SYN_SENT ? TCPULSE_F_ACTIVE : 0);
		if (newstate == S_LISTEN) {
			struct listen_key lk = { .netns_cookie = cookie, .netns = netns, .port = skc->skc_num };
			struct listen_owner lo = { .pid = fresh.pid };

			__builtin_memcpy(lo.comm, fresh.comm, sizeof(lo.comm));
			/* a full map loses the owner of this listener's children: counted, no longer silent */
			if (bpf_map_update_elem(&listen_owners, &lk, &lo, BPF_ANY)) {
				stat_add(TCPULSE_STAT_MAP_FULL, 1);
				stat_add(TCPULSE_STAT_MAP_FULL_LISTEN_OWNERS, 1);
			}
		}
		si = remember(sk, sock_cookie, &fresh, now, false, cas);
	} else if (oldstate == S_LISTEN && newstate == S_SYN_RECV) {
		/* an accepted child: its listener's owner, its life starts now */
		struct listen_key lk = { .netns_cookie = cookie, .netns = netns, .port = skc->skc_num };
		struct listen_owner *lo = bpf_map_lookup_elem(&listen_owners, &lk);

		fresh.flags = TCPULSE_F_BORN_KNOWN;
		if (lo) {
			fresh.pid = lo->pid;
			__builtin_memcpy(fresh.comm, lo->comm, sizeof(fresh.comm));
			fresh.flags |= TCPULSE_F_OWNER_KNOWN;
		}
		si = remember(sk, sock_cookie, &fresh, now, true, cas);
	} else {
		si = info_of(sk, sock_cookie);
		if (si && si->state_ns)
			prev_ns = now - si->state_ns;
	}
	if (si) {
		if (si->born_ns)
			age_ns = now - si->born_ns;
		si->state_ns = now;
		/* remember the local port even for events sampled out: a later ->CLOSE has lost it */
		if (skc->skc_num)
			si->sport = skc->skc_num;
		flags |= si->flags;
		if (newstate == S_CLOSE) {
			__u64 key = (__u64)sk;
			__u32 zero = 0;
			struct closed_ring *cr = bpf_map_lookup_elem(&last_closed, &zero);

			fresh = *si;
			si = &fresh;
			if (cr) {
				__u32 at = cr->next++ % CLOSED_SLOTS;

				cr->slot[at].sk = key;
				cr->slot[at].netns_cookie = cookie;
				cr->slot[at].dport = skc->skc_dport;
				cr->slot[at].info = fresh;
			}
			forget(sk, sock_cookie);
		}
	}

	e = begin_event(now, TCPULSE_EV_STATE, &rb);
	if (!e)
		return 0;
	e->sock_id = sock_cookie;
	e->prev_state_ns = prev_ns;
	e->age_ns = age_ns;
	e->cgroup_id = sock_cgroup_id(sk);
	e->netns = netns;
	if (oldstate == S_SYN_RECV && newstate == S_ESTABLISHED) {
		/* the child's first RTT sample is its SYN-ACK's: the server side of the handshake */
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

		if (tp)
			e->aux = tp->srtt_us >> 3;
	}
	read_endpoints(skc, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->flags = flags;
	if (si) {
		if (!e->sport)
			e->sport = si->sport;
		e->pid = si->pid;
		__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	}
	submit_event(rb, e);
	return 0;
}

/*
 * An interrupt's exit may run softirqs (packets in, timers) inside on_state_change; a
 * state change there finds it busy and BPF's recursion guard refuses the nested run
 * (about 1 in 1,500 events of a client-close storm here: counts would be inexact).
 * Two programs on the tracepoint, called in the order they were attached: the first
 * handles every change it is not refused, and marks it on a per-CPU stack; the twin
 * handles a change only when it finds no mark of it. Changes nested between the two
 * runs push and pop their own marks, so a mark is found however many of them come
 * (a ring of the last marks, looked through by both, lost one under a burst of
 * softirqs: a change counted twice).
 */
#define TAKEN_SLOTS 16

struct taken_stack {
	__u32 top; /* marks pushed minus popped; mark i lives in e[i % TAKEN_SLOTS] */
	__u32 pad;
	struct {
		__u64 sock_id;
		__u32 change; /* oldstate << 8 | newstate */
		__u32 pad;
	} e[TAKEN_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct taken_stack);
} taken SEC(".maps");

static __always_inline __u32 change_of(int oldstate, int newstate)
{
	return (__u32)(oldstate & 0xff) << 8 | (newstate & 0xff);
}

/* on_state_change: this change is handled here, the twin must leave it */
static __always_inline void mark_taken(__u64 id, int oldstate, int newstate)
{
	__u32 zero = 0, at;
	struct taken_stack *st = bpf_map_lookup_elem(&taken, &zero);

	if (!st)
		return;
	/* the mark first, then the top: a change nested in between does not see a half mark */
	at = st->top % TAKEN_SLOTS;
	st->e[at].sock_id = id;
	st->e[at].change = change_of(oldstate, newstate);
	st->top = st->top + 1;
}

/*
 * on_state_change_nested: whether on_state_change handled this change. Its mark is
 * popped with any mark above it: those were left by changes nested in this program,
 * which the recursion guard kept from it (on_state_change handled them).
 */
static __always_inline bool was_taken(__u64 id, int oldstate, int newstate)
{
	__u32 zero = 0, change = change_of(oldstate, newstate), i, at;
	struct taken_stack *st = bpf_map_lookup_elem(&taken, &zero);

	if (!st)
		return false;
	for (i = 1; i <= TAKEN_SLOTS; i++) {
		at = (st->top - i) % TAKEN_SLOTS;
		if (st->e[at].sock_id == id && st->e[at].change == change) {
			st->top = st->top - i;
			return true;
		}
	}
	return false;
}

static __always_inline void state_change(struct sock *sk, int oldstate, int newstate, const bool cas)
{
	__u64 id = sock_id(sk);

	if (cfg_twin)
		mark_taken(id, oldstate, newstate);
	handle_state_change(sk, id, oldstate, newstate, cas);
}

static __always_inline void state_change_nested(struct sock *sk, int oldstate, int newstate, const bool cas)
{
	__u64 id = sock_id(sk);

	if (was_taken(id, oldstate, newstate))
		return;
	/* only this program adds to it, and it never nests in itself: exact */
	stat_add(TCPULSE_STAT_TWIN_HANDLED, 1);
	handle_state_change(sk, id, oldstate, newstate, cas);
}

/* the loader attaches the first pair where the kernel has compare-and-swap, else the second */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change, struct sock *sk, int oldstate, int newstate)
{
	state_change(sk, oldstate, newstate, true);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_nested, struct sock *sk, int oldstate, int newstate)
{
	state_change_nested(sk, oldstate, newstate, true);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_nocas, struct sock *sk, int oldstate, int newstate)
{
	state_change(sk, oldstate, newstate, false);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_nested_nocas, struct sock *sk, int oldstate, int newstate)
{
	state_change_nested(sk, oldstate, newstate, false);
	return 0;
}

/*
 * One event about a socket that is not a state change (RST, SYN-ACK retransmit,
 * overflow): endpoints from skc, owner from si (what the caller found of the socket).
 */
static __always_inline void emit_sock_event(const struct sock_common *skc, struct sock *full,
					    const struct sk_info *si, __u8 kind, __u32 aux)
{
	struct tcpulse_event *e;
	void *rb;

	stat_add(TCPULSE_STAT_SEEN, 1);
	e = begin_event(bpf_ktime_get_ns(), kind, &rb);
	if (!e)
		return;
	e->aux = aux;
	if (skc) {
		e->sock_id = sock_common_id(skc);
		e->netns = netns_of(skc);
		e->oldstate = e->newstate = skc->skc_state;
		read_endpoints(skc, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	}
	if (full)
		e->cgroup_id = sock_cgroup_id(full);
	if (si) {
		e->pid = si->pid;
		e->flags = si->flags;
		__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
		if (!e->sport)
			e->sport = si->sport;
	}
	submit_event(rb, e);
}

/* a full socket behind a sock_common, or NULL for timewait/request sockets */
static __always_inline struct sock *full_sock(const struct sock_common *skc)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)skc);

	return tp ? &tp->inet_conn.icsk_inet.sk : NULL;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_synack_retransmit, const struct sock *sk, const struct request_sock *req)
{
	/* sk is the listener: the handshake it waits for did not complete */
	__u32 netns = netns_of(&sk->__sk_common);

	count_port(&sk->__sk_common, netns, sk->__sk_common.skc_num, TCPULSE_PC_SYNACK_RETRANS);
	emit_sock_event(&req->__req_common, NULL, NULL, TCPULSE_EV_SYNACK_RETRANS,
			BPF_CORE_READ(req, num_retrans));
	return 0;
}

/* whether port is in the namespace's net.ipv4.ip_local_port_range */
static __always_inline bool ephemeral_port(const struct net *net, __u16 port)
{
	__u32 lo, hi;

	if (!net)
		return false;
	local_port_range(net, &lo, &hi);
	return port >= lo && port <= hi;
}

/*
 * The local port a RST is counted under. A counter per ephemeral port would fill the
 * map in a connection storm, so connect()ed sockets (known from storage) and unknown
 * sockets or stray segments at an ephemeral port share port 0.
 */
static __always_inline __u16 reset_port(const struct net *net, const struct sk_info *si, __u16 port)
{
	if (si)
		return (si->flags & TCPULSE_F_ACTIVE) ? 0 : port;
	return ephemeral_port(net, port) ? 0 : port;
}

/*
 * Per CPU, the last segment whose RST tcp:tcp_send_reset reported without a socket:
 * on_drop_no_socket must not count it again when the segment is freed right after.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_segment_reset SEC(".maps");

/*
 * An RST sent in answer to a segment no socket took (a closed port): ports and
 * addresses come from the segment; only an RST segment gets no answer. any_proto: the
 * segment may be no TCP at all (a drop), look first.
 */
static __always_inline void reset_for_segment(const struct sk_buff *skb, bool any_proto)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 thoff = BPF_CORE_READ(skb, transport_header);
	__u16 nhoff = BPF_CORE_READ(skb, network_header);
	struct net_device *dev = skb->dev;
	struct net *net = dev ? dev->nd_net.net : NULL;
	struct tcphdr th = {};
	struct tcpulse_event *e;
	__u32 netns = 0;
	__u8 ver = 0;
	void *rb;

	bpf_probe_read_kernel(&ver, 1, head + nhoff);
	if (any_proto) {
		__u8 proto = 0;

		/* the protocol field of IPv4 (offset 9), the next header of IPv6 (offset 6) */
		bpf_probe_read_kernel(&proto, 1, head + nhoff + ((ver >> 4) == 6 ? 6 : 9));
		if (proto != IPPROTO_TCP)
			return;
	}
	bpf_probe_read_kernel(&th, sizeof(th), head + thoff);
	if (th.rst)
		return;
	if (net)
		netns = net->ns.inum;
	{
		struct tcpulse_port_key key = {
			.netns = netns, .port = reset_port(net, NULL, bpf_ntohs(th.dest)),
			.what = TCPULSE_PC_RESET_SENT,
		};

		key.netns_cookie = net_cookie_of(net);
		bump(&port_counters, &key, TCPULSE_STAT_MAP_FULL_PORT_COUNTERS);
	}

	stat_add(TCPULSE_STAT_SEEN, 1);
	e = begin_event(bpf_ktime_get_ns(), TCPULSE_EV_RESET_SENT, &rb);
	if (!e)
		return;
	e->netns = netns;
	e->sport = bpf_ntohs(th.dest);
	e->dport = bpf_ntohs(th.source);
	if ((ver >> 4) == 6) {
		struct ipv6hdr ip6;

		bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nhoff);
		e->family = AF_INET6;
		__builtin_memcpy(e->saddr, &ip6.daddr, 16);
		__builtin_memcpy(e->daddr, &ip6.saddr, 16);
	} else {
		struct iphdr ip;

		bpf_probe_read_kernel(&ip, sizeof(ip), head + nhoff);
		e->family = AF_INET;
		__builtin_memcpy(e->saddr, &ip.daddr, 4);
		__builtin_memcpy(e->daddr, &ip.saddr, 4);
	}
	submit_event(rb, e);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *last;

	if (sk) {
		const struct sock_common *skc = &sk->__sk_common;
		struct sock *full = full_sock(skc);
		struct sk_info *si = full ? info_of(full, sock_id(full)) : NULL;
		__u16 port = skc->skc_num;

		/* an abortive close() unbinds the port before the RST goes out */
		if (!port && si)
			port = si->sport;
		count_port(skc, netns_of(skc), reset_port(skc->skc_net.net, si, port),
			   TCPULSE_PC_RESET_SENT);
		emit_sock_event(skc, full, si, TCPULSE_EV_RESET_SENT, 0);
		return 0;
	}
	/* no socket (e.g. a closed port); kernels before 6.8 or so do not report these */
	if (!skb)
		return 0;
	last = bpf_map_lookup_elem(&last_segment_reset, &zero);
	if (last)
		*last = address_of(skb);
	reset_for_segment(skb, false);
	return 0;
}

/* SKB_DROP_REASON_NO_SOCKET, resolved from BTF like the overflow reason */
const volatile __u32 cfg_reason_no_socket = 0;

/*
 * Where tcp:tcp_send_reset says nothing of segments no socket took, their drop does:
 * tcp_v4_rcv() and tcp_v6_rcv() answer such a segment with an RST, then free it with
 * SKB_DROP_REASON_NO_SOCKET (drop reasons: Linux 5.17). Three arguments only, so it
 * loads on kernels without rx_sk; one already reported is not counted again.
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(on_drop_no_socket, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u32 zero = 0;
	__u64 *last;

	if (!cfg_reason_no_socket || reason != cfg_reason_no_socket)
		return 0;
	last = bpf_map_lookup_elem(&last_segment_reset, &zero);
	if (last && *last == address_of(skb)) {
		*last = 0;
		return 0;
	}
	reset_for_segment(skb, true);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_receive_reset, struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;

	struct sk_info *si = info_of(sk, sock_id(sk));

	count_port(skc, netns_of(skc), reset_port(skc->skc_net.net, si, skc->skc_num),
		   TCPULSE_PC_RESET_RECV);
	emit_sock_event(skc, sk, si, TCPULSE_EV_RESET_RECV, 0);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	const struct sock_common *skc;
	struct sock *full;

	/* every drop in the kernel passes here: leave at once unless it is ours */
	if (!cfg_reason_listen_overflow || reason != cfg_reason_listen_overflow)
		return 0;
	/* rx_sk: the listener that dropped it */
	if (!rx_sk)
		return 0;
	skc = &rx_sk->__sk_common;
	count_port(skc, netns_of(skc), skc->skc_num, TCPULSE_PC_OVERFLOW);
	full = full_sock(skc);
	emit_sock_event(skc, full, full ? info_of(full, sock_id(full)) : NULL,
			TCPULSE_EV_LISTEN_OVERFLOW, rx_sk->sk_ack_backlog);
	return 0;
}

SEC("iter/tcp")
int walk_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct tcpulse_sock r = {};
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	r.sock_id = sock_common_id(skc);
	r.netns = netns_of(skc);
	r.uid = ctx->uid;
	read_endpoints(skc, &r.family, &r.sport, &r.dport, r.saddr, r.daddr);
	r.state = skc->skc_state;

	if (r.state == S_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);

		/* ss reports the substate: FIN_WAIT2 until the peer's FIN arrives */
		if (tw)
			r.state = tw->tw_sk.tw_substate;
		r.flags = TCPULSE_SK_TIMEWAIT;
	} else if (r.state == S_NEW_SYN_RECV) {
		r.flags = TCPULSE_SK_REQUEST;
	} else {
		struct sk_info *si;
		struct sock *sk;

		tp = bpf_skc_to_tcp_sock(skc);
		if (!tp)
			return 0;
		sk = &tp->inet_conn.icsk_inet.sk;
		r.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
		r.cgroup_id = sock_cgroup_id(sk);
		if (r.state == S_LISTEN) {
			r.ack_backlog = sk->sk_ack_backlog;
			r.max_ack_backlog = sk->sk_max_ack_backlog;
			r.syn_qlen = tp->inet_conn.icsk_accept_queue.qlen.counter;
			r.drops = sk->sk_drops.counter;
		}
		si = info_of(sk, r.sock_id);
		if (si) {
			r.pid = si->pid;
			r.born_ns = si->born_ns;
			r.state_ns = si->state_ns;
			__builtin_memcpy(r.comm, si->comm, sizeof(r.comm));
			if (si->flags & TCPULSE_F_OWNER_KNOWN)
				r.flags |= TCPULSE_SK_OWNER;
		}
	}
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

/* benchmark only: BPF_PROG_TEST_RUN makes ctx->args[0] synthetic events */
struct gen_ctx {
	__u64 now;
};

static long gen_one(__u32 i, struct gen_ctx *g)
{
	struct tcpulse_event *e;
	void *rb;

	stat_add(TCPULSE_STAT_SEEN, 1);
	count_transition(0, 0, S_ESTABLISHED, S_CLOSE, 0);
	e = begin_event(g->now, TCPULSE_EV_STATE, &rb);
	if (!e)
		return 0;
	e->sock_id = i + 1;
	e->prev_state_ns = 1000 + (i & 1023) * 100;
	e->age_ns = 5000 + (i & 1023) * 1000;
	e->family = AF_INET;
	e->sport = 40000 + (i & 8191);
	e->dport = 8080;
	e->saddr[0] = 127;
	e->saddr[3] = 1;
	e->daddr[0] = 127;
	e->daddr[3] = 1;
	e->oldstate = S_ESTABLISHED;
	e->newstate = S_CLOSE;
	submit_event(rb, e);
	return 0;
}

SEC("raw_tp")
int bench_generate(struct bpf_raw_tracepoint_args *ctx)
{
	struct gen_ctx g = { .now = bpf_ktime_get_ns() };

	bpf_loop(ctx->args[0], gen_one, &g, 0);
	return 0;
}
