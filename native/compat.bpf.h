/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel differences, one named helper each (the way libbpf-tools' core_fixes.bpf.h
 * does it). The loader sets the cfg_* switches from trial loads of
 * tcpulse_probes.bpf.c, never from the version number; the verifier drops the branch
 * a switch turns off, so a helper the kernel lacks is never seen by it.
 */
#ifndef __TCPULSE_COMPAT_BPF_H
#define __TCPULSE_COMPAT_BPF_H

/* bpf_get_socket_cookie() in tracing programs: Linux 5.12 */
const volatile __u8 cfg_socket_cookie = 1;
/* bpf_get_current_task_btf(): Linux 5.11 */
const volatile __u8 cfg_task_btf = 1;
/* bpf_task_pt_regs() and pointer comparisons: Linux 5.15 (nesting.bpf.h's context level) */
const volatile __u8 cfg_stack_level = 1;
/*
 * BPF_ATOMIC compare-and-exchange: Linux 5.12. Not a switch: older verifiers refuse its
 * encoding before looking at what is reachable, so the state-change programs come in a
 * second pair without it (tcpulse.bpf.c) and the loader attaches one pair.
 */

/* the fields' older shapes, matched by CO-RE through the ___suffix */
struct net___atomic_cookie { /* net_cookie was an atomic64_t until Linux 5.12 */
	atomic64_t net_cookie;
} __attribute__((preserve_access_index));

struct sock_cgroup_data___val { /* a tagged u64 until Linux 5.15: a cgroup pointer when bit 0 is clear */
	__u64 val;
} __attribute__((preserve_access_index));

struct local_ports___pair { /* the range was int[2] until Linux 6.8 (one u32 since) */
	int range[2];
} __attribute__((preserve_access_index));

struct netns_ipv4___pair {
	struct local_ports___pair ip_local_ports;
} __attribute__((preserve_access_index));

struct net___pair {
	struct netns_ipv4___pair ipv4;
} __attribute__((preserve_access_index));

/* net.ipv4.ip_local_port_range of the namespace */
static __always_inline void local_port_range(const struct net *net, __u32 *lo, __u32 *hi)
{
	if (bpf_core_field_exists(net->ipv4.ip_local_ports.range)) {
		__u32 r = BPF_CORE_READ(net, ipv4.ip_local_ports.range);

		*lo = r & 0xffff;
		*hi = r >> 16;
	} else {
		int r[2] = {};

		bpf_core_read(r, sizeof(r), &((struct net___pair *)net)->ipv4.ip_local_ports.range);
		*lo = r[0];
		*hi = r[1];
	}
}

/*
 * Before 5.12 a namespace has a cookie only once something asks for one, and tracing
 * programs cannot ask. Ours stand in: the time the namespace (its address and random
 * hash_mix) was first seen, top bit set so it is no kernel cookie. Of the namespaces
 * that held an inode in turn, the live one is the newest: the largest, which is the
 * one the agent counts when it cannot read SO_NETNS_COOKIE (5.14).
 */
struct netns_seen_key {
	__u64 net;
	__u32 hash_mix;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct netns_seen_key);
	__type(value, __u64);
} netns_seen SEC(".maps");

/*
 * The namespace's cookie (net: a BTF pointer, read with plain loads), or before 5.12
 * the stand-in above; 0 for no namespace.
 */
static __always_inline __u64 net_cookie_of(const struct net *net)
{
	struct netns_seen_key k = {};
	__u64 c, *seen;

	if (!net)
		return 0;
	if (bpf_core_field_exists(net->net_cookie))
		c = net->net_cookie;
	else
		c = ((struct net___atomic_cookie *)net)->net_cookie.counter;
	if (c)
		return c;
	k.net = (__u64)net;
	if (bpf_core_field_exists(net->hash_mix))
		k.hash_mix = net->hash_mix;
	seen = bpf_map_lookup_elem(&netns_seen, &k);
	if (seen)
		return *seen;
	c = bpf_ktime_get_ns() | (1ULL << 63);
	/* another CPU may have been first: its value stands */
	bpf_map_update_elem(&netns_seen, &k, &c, BPF_NOEXIST);
	seen = bpf_map_lookup_elem(&netns_seen, &k);
	return seen ? *seen : c;
}

/*
 * A pointer's value as a plain number: the verifier allows no arithmetic on pointers
 * (a slot index is a hash of it), a probe read's result is a scalar.
 */
static __always_inline __u64 address_of(const void *p)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

/*
 * A socket's id in events and walks: its cookie, or where tracing programs cannot
 * make cookies its address (unique while it lives; reused after).
 */
static __always_inline __u64 sock_common_id(const struct sock_common *skc)
{
	if (!cfg_socket_cookie)
		return address_of(skc);
	return bpf_get_socket_cookie((void *)skc);
}

/* the same for a full socket: read the cookie where it is set already, the helper sets it */
static __always_inline __u64 sock_id(struct sock *sk)
{
	__u64 c;

	if (!cfg_socket_cookie)
		return address_of(sk);
	c = sk->__sk_common.skc_cookie.counter;
	return c ?: bpf_get_socket_cookie(sk);
}

/* the current process's name (its group leader's: a thread's comm may be anything) */
static __always_inline void current_process_comm(char comm[16])
{
	if (cfg_task_btf) {
		struct task_struct *task = bpf_get_current_task_btf();

		bpf_probe_read_kernel_str(comm, 16, task->group_leader->comm);
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);

		bpf_core_read_str(comm, 16, &leader->comm);
	}
}

/* cgroup v2 id (inode of its directory) of the socket's cgroup; 0 when unknown */
static __always_inline __u64 sock_cgroup_id(const struct sock *sk)
{
	struct cgroup *cg;

	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		cg = sk->sk_cgrp_data.cgroup;
		return cg ? cg->kn->id : 0;
	}
	if (bpf_core_field_exists(((struct sock_cgroup_data___val *)0)->val)) {
		__u64 v = BPF_CORE_READ((struct sock_cgroup_data___val *)&sk->sk_cgrp_data, val);

		/* bit 0 set: the u64 holds net_cls/net_prio data, not a pointer */
		if (!v || (v & 1))
			return 0;
		cg = (struct cgroup *)v;
		return BPF_CORE_READ(cg, kn, id);
	}
	return 0;
}

#endif /* __TCPULSE_COMPAT_BPF_H */
