/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The exact counters: per-CPU health counters, the transition matrices (array slots
 * per namespace, a hash for the rest) and the per-(namespace, port) counters. User
 * space sums them (tcpulse__stats, tcpulse__transitions, tcpulse__port_counters).
 */
#ifndef __TCPULSE_COUNTERS_BPF_H
#define __TCPULSE_COUNTERS_BPF_H

#include "defs.bpf.h"
#include "compat.bpf.h"

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

#endif /* __TCPULSE_COUNTERS_BPF_H */
