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
/* BPF_ATOMIC compare-and-exchange (and fetch variants): Linux 5.12 */
const volatile __u8 cfg_cmpxchg = 1;

/* the fields' older shapes, matched by CO-RE through the ___suffix */
struct net___atomic_cookie { /* net_cookie was an atomic64_t until Linux 5.12 */
	atomic64_t net_cookie;
} __attribute__((preserve_access_index));

struct sock_cgroup_data___val { /* a tagged u64 until Linux 5.15: a cgroup pointer when bit 0 is clear */
	__u64 val;
} __attribute__((preserve_access_index));

/*
 * The namespace's cookie (net: a BTF pointer, read with plain loads); 0 where the
 * kernel has not made one (before 5.12 it made them lazily).
 */
static __always_inline __u64 net_cookie_of(const struct net *net)
{
	if (!net)
		return 0;
	if (bpf_core_field_exists(net->net_cookie))
		return net->net_cookie;
	return ((struct net___atomic_cookie *)net)->net_cookie.counter;
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
