// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who holds which TCP socket, the way `ss -p` sees it, and which network namespaces
 * something keeps alive: iter/task_file visits every open descriptor of every process
 * (threads sharing a file table once), iter/task every task. A skeleton of its own, so
 * a kernel refusing these iterators turns off only this feature.
 *
 * Read by the agent on demand (a CLOSE_WAIT socket to name, a listener, an API request),
 * never per event. Needs CAP_BPF + CAP_PERFMON, no ptrace rights over the processes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tcpulse.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define NSFS_MAGIC 0x6e736673

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* the namespace's kernel cookie (5.12: a u64; before, an atomic64 set only when asked) */
struct net___atomic_cookie {
	atomic64_t net_cookie;
} __attribute__((preserve_access_index));

static __always_inline __u64 net_cookie(struct net *net)
{
	if (bpf_core_field_exists(net->net_cookie))
		return BPF_CORE_READ(net, net_cookie);
	return BPF_CORE_READ((struct net___atomic_cookie *)net, net_cookie.counter);
}

/* cgroup v2 id of a task (inode of its directory in the default hierarchy) */
static __always_inline __u64 task_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

static __always_inline void fill_task(struct tcpulse_holder *r, struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	r->tgid = BPF_CORE_READ(task, tgid);
	r->cgroup_id = task_cgroup_id(task);
	/* ss -p shows the process's name: its group leader's */
	bpf_core_read_str(r->comm, sizeof(r->comm), &leader->comm);
}

/* an open nsfs file of a network namespace (/run/netns/NAME, /proc/PID/ns/net) keeps it alive */
static __always_inline int nsfs_netns(struct seq_file *seq, struct task_struct *task, struct inode *inode,
				      __u32 fd)
{
	struct tcpulse_holder r = {};
	struct ns_common *ns;
	char name[4] = {};

	if (BPF_CORE_READ(inode, i_sb, s_magic) != NSFS_MAGIC)
		return 0;
	ns = BPF_CORE_READ(inode, i_private);
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(ns, ops, name));
	if (name[0] != 'n' || name[1] != 'e' || name[2] != 't')
		return 0;
	r.kind = TCPULSE_HOLDER_NETNS_FILE;
	r.netns = BPF_CORE_READ(ns, inum);
	r.ino = r.netns;
	r.fd = fd;
	r.netns_cookie = net_cookie((struct net *)((void *)ns - bpf_core_field_offset(struct net, ns)));
	fill_task(&r, task);
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task_file")
int walk_holders(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tcpulse_holder r = {};
	struct inode *inode;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!task || !file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	/* socket files by their inode type: socket_file_ops is not in kallsyms everywhere */
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return nsfs_netns(seq, task, inode, ctx->fd);
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	r.kind = TCPULSE_HOLDER_SOCKET;
	r.ino = BPF_CORE_READ(inode, i_ino);
	r.fd = ctx->fd;
	/* the cookie once something asked for it (the walk does), else 0: the inode is the key */
	r.sock_id = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	r.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	r.netns_cookie = net_cookie(BPF_CORE_READ(sk, __sk_common.skc_net.net));
	r.family = family;
	r.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	r.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r.dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	fill_task(&r, task);
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

/* the namespace of each process (of a thread too where it left its leader's) */
SEC("iter/task")
int walk_task_netns(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct tcpulse_holder r = {};
	struct net *net, *leader_net;

	if (!task)
		return 0;
	net = BPF_CORE_READ(task, nsproxy, net_ns);
	if (!net) /* exiting */
		return 0;
	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid)) {
		leader_net = BPF_CORE_READ(task, group_leader, nsproxy, net_ns);
		if (leader_net == net)
			return 0;
	}
	r.kind = TCPULSE_HOLDER_NETNS_TASK;
	r.netns = BPF_CORE_READ(net, ns.inum);
	r.netns_cookie = net_cookie(net);
	fill_task(&r, task);
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
