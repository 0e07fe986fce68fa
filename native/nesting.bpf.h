/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State changes nested in the state-change program: the per-CPU stack of marks that
 * lets the twin program handle exactly the changes the kernel's recursion guard kept
 * from the first (docs/design.md, "Live state counts").
 */
#ifndef __TCPULSE_NESTING_BPF_H
#define __TCPULSE_NESTING_BPF_H

#include "defs.bpf.h"

/* set by the loader: on_state_change_nested is attached, on_state_change marks the changes it handles */
const volatile __u8 cfg_twin = 1;

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

#endif /* __TCPULSE_NESTING_BPF_H */
