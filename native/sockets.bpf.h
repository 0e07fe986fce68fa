/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket memory: what tcpulse remembers of each socket between its state changes
 * (owner, birth, time in state), the listeners' owners, the sockets that just closed
 * (for the RST an abortive close sends after), and reading a socket's endpoints.
 */
#ifndef __TCPULSE_SOCKETS_BPF_H
#define __TCPULSE_SOCKETS_BPF_H

#include "counters.bpf.h"

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
	/* an accepted socket: the SYN-ACK retransmits its total_retrans started with (the listener counts those) */
	__u32 synack_retrans;
	__u32 __pad;
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

#endif /* __TCPULSE_SOCKETS_BPF_H */
