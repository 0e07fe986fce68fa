// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Programs that do nothing, on the tracepoint tcpulse follows: what the kernel's call
 * into a BPF program costs on every state change before the program does any work
 * (scripts/bench.sh floor). tcpulse attaches two (the state-change program and its twin,
 * docs/design.md "Live state counts").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_first, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_second, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}
