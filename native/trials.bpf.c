// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Trial loads: each program uses one thing that not every kernel has. The loader
 * loads them one at a time before the probe and sets compat.bpf.h's switches from
 * what the kernel's verifier accepted: the kernel decides, not its version number.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 word;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(trial_socket_cookie, struct sock *sk)
{
	return bpf_get_socket_cookie(sk) == 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(trial_task_btf)
{
	return bpf_get_current_task_btf()->pid == 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(trial_cmpxchg)
{
	return __sync_val_compare_and_swap(&word, 0, 1);
}

/* nesting.bpf.h's context level: a stack address compared with the task's stack */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(trial_stack_level)
{
	volatile __u8 marker = 0;
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 here = (__u64)&marker;

	return here >= (__u64)task->stack && here < (__u64)bpf_task_pt_regs(task);
}
