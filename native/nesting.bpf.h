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
 *
 * One stack per context level (task, softirq): a level never nests in itself, so
 * between the first and the twin run of a change nothing else marks its level's stack.
 * Changes nested in the twin itself (it is refused, the first is not) leave their marks
 * on the stack of the level above, never popped; with a single stack a burst of 16 of
 * them (32 were seen in one softirq) buried the mark of the change the twin was running
 * for, and the twin counted that change a second time (SYN_SENT>ESTABLISHED one over
 * the storm's connections in 2 storms of 12). Where the level cannot be told,
 * everything is level 0: one stack, as before.
 */
#define TAKEN_SLOTS 16
#define TAKEN_LEVELS 2

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
	__uint(max_entries, TAKEN_LEVELS);
	__type(key, __u32);
	__type(value, struct taken_stack);
} taken SEC(".maps");

/* the shapes CO-RE checks for: a raw tracepoint's run context (6.10), the task's pointer to it */
struct bpf_raw_tp_link___cookie {
	__u64 cookie;
} __attribute__((preserve_access_index));

struct task_struct___run_ctx {
	void *bpf_ctx;
} __attribute__((preserve_access_index));

/*
 * 0 on the current task's kernel stack, 1 elsewhere: softirqs (and interrupts) run on
 * the CPU's IRQ stack on x86-64 and arm64, tasks on their own. Where a raw tracepoint
 * sets a run context (6.10 on), its address is a kernel stack address of this run; the
 * program itself may run on a private per-CPU stack (6.13 on), which says nothing.
 * Before, the program's own frame is on the kernel stack. The preempt count would say it
 * directly but is a per-CPU variable: a ksym the verifier resolves only with
 * CONFIG_KALLSYMS_ALL, which kernels such as this one lack. 0 without bpf_task_pt_regs
 * (5.15).
 */
static __always_inline __u32 context_level(void)
{
	volatile __u8 marker = 0;
	struct task_struct *task;
	__u64 here, bottom, top;

	if (!cfg_stack_level)
		return 0;
	task = bpf_get_current_task_btf();
	/* plain loads through the BTF pointer, not probe reads: ~17 ns less a change here (docs/design.md) */
	if (bpf_core_field_exists(((struct bpf_raw_tp_link___cookie *)0)->cookie))
		here = (__u64)((struct task_struct___run_ctx *)task)->bpf_ctx;
	else
		here = (__u64)&marker;
	bottom = (__u64)task->stack;
	/* the task's registers sit at the top of its stack */
	top = (__u64)bpf_task_pt_regs(task);
	return here >= bottom && here < top ? 0 : 1;
}

static __always_inline __u32 change_of(int oldstate, int newstate)
{
	return (__u32)(oldstate & 0xff) << 8 | (newstate & 0xff);
}

/* on_state_change: this change is handled here, the twin must leave it */
static __always_inline void mark_taken(__u64 id, int oldstate, int newstate)
{
	__u32 level = context_level(), at;
	struct taken_stack *st = bpf_map_lookup_elem(&taken, &level);

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
 * popped with any mark above it: on the single stack (level unknown) those were left by
 * changes nested in this program, which the recursion guard kept from it
 * (on_state_change handled them); with levels it is on top.
 */
static __always_inline bool was_taken(__u64 id, int oldstate, int newstate)
{
	__u32 level = context_level(), change = change_of(oldstate, newstate), i, at;
	struct taken_stack *st = bpf_map_lookup_elem(&taken, &level);

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
