/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event stream: one ring buffer per CPU (the loader sizes them), a per-CPU
 * sampling window above the configured rate, and reserve/submit with the wake-up
 * deferred until a ring holds cfg_wakeup_bytes, or made at once for the first event
 * after the consumer went to sleep. Losses are counted, never silent.
 */
#ifndef __TCPULSE_EVENTS_BPF_H
#define __TCPULSE_EVENTS_BPF_H

#include "counters.bpf.h"

/* set by the loader before load */
const volatile __u64 cfg_max_rate_per_cpu = 0; /* events/s per CPU before sampling; 0 = never */
const volatile __u64 cfg_wakeup_bytes = 1 << 20; /* wake the consumer when a ring holds this much */

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

/*
 * Set by libtcpulse when the consumer found every ring empty and goes to sleep for
 * long (tcpulse__poll with TCPULSE_POLL_WAKE_ON_EVENT); the first event after wakes it
 * and clears the flag. A plain load on the hot path: CPUs racing on it wake it twice at
 * most. An event submitted in the instant the flag is being set may miss it: the next
 * event, or the consumer's own timeout, wakes it then (it is a delay, nothing is lost).
 */
volatile __u32 consumer_asleep = 0;

/* submit without waking the consumer, unless it sleeps or this record crossed the backlog mark */
static __always_inline void submit_event(void *rb, struct tcpulse_event *e)
{
	__u64 avail, rec = sizeof(*e) + 8; /* ring header */

	if (consumer_asleep) {
		consumer_asleep = 0;
		stat_add(TCPULSE_STAT_WAKEUPS_ASLEEP, 1);
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		stat_add(TCPULSE_STAT_SUBMITTED, 1);
		return;
	}
	avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
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

#endif /* __TCPULSE_EVENTS_BPF_H */
