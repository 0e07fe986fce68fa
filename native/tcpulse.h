/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcpulse.h - the one contract between the BPF programs, the loader library
 * and the Java decoder (agent/.../probe/EventDecoder.java names the offsets; the agent
 * compares them with tcpulse__layout() at start and refuses a library that differs).
 *
 * Layout rules: fixed-width fields, largest first, explicit padding, a size
 * assert per struct. Bump TCPULSE_ABI_VERSION on any change; a new field the agent
 * reads goes into LAYOUT in libtcpulse.c and NativeContract.java.
 */
#ifndef __TCPULSE_H
#define __TCPULSE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define TCPULSE_ABI_VERSION 8

/* event kinds (tcpulse_event.kind) */
enum tcpulse_event_kind {
	TCPULSE_EV_STATE = 1,           /* sock:inet_sock_set_state */
	TCPULSE_EV_RESET_SENT = 2,      /* tcp:tcp_send_reset */
	TCPULSE_EV_RESET_RECV = 3,      /* tcp:tcp_receive_reset */
	TCPULSE_EV_SYNACK_RETRANS = 4,  /* tcp:tcp_retransmit_synack */
	TCPULSE_EV_LISTEN_OVERFLOW = 5, /* skb:kfree_skb, listen overflow reason */
};

/* tcpulse_event.flags */
#define TCPULSE_F_OWNER_KNOWN  0x01 /* pid/comm are the connecting/listening process */
#define TCPULSE_F_TIMEWAIT     0x02 /* this ->CLOSE handed the socket to a timewait sock */
#define TCPULSE_F_TW_FIN_WAIT2 0x04 /* ... whose substate is FIN_WAIT2 (no FIN received yet) */
#define TCPULSE_F_BORN_KNOWN   0x08 /* age_ns counts from the socket's creation */
#define TCPULSE_F_ACTIVE       0x10 /* the socket connect()ed: its local port is ephemeral */

/* one record in the per-CPU ring buffers: 152 bytes */
struct tcpulse_event {
	__u64 ts_ns;         /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 sock_id;       /* socket cookie, same as in tcpulse_sock */
	__u64 prev_state_ns; /* time spent in oldstate; 0 = unknown */
	__u64 age_ns;        /* time since the socket was first seen */
	__u64 cgroup_id;     /* cgroup v2 id of the socket (inode of its dir) */
	__u32 netns;         /* network namespace inode */
	__u32 pid;           /* owner tgid; 0 = unknown */
	__u32 sample_ratio;  /* this event stands for that many; 1 = unsampled */
	__u32 aux;           /* kind-specific: SYN_RECV->ESTABLISHED: SYN-ACK RTT in us; SYN_SENT->CLOSE: sk_err */
	__u16 family;        /* AF_INET or AF_INET6 */
	__u16 sport;         /* host byte order */
	__u16 dport;         /* host byte order */
	__u8 kind;           /* enum tcpulse_event_kind */
	__u8 oldstate;       /* kernel TCP_* numbers */
	__u8 newstate;
	__u8 flags;          /* TCPULSE_F_* */
	__u8 __pad[6];
	__u8 saddr[16];      /* IPv4 in the first 4 bytes, network order */
	__u8 daddr[16];
	char comm[16];       /* owner's process name, NUL padded */
	/* ->CLOSE of a full socket: what it carried, as the kernel counted it (tcp_info's figures) */
	__u64 bytes_sent;     /* data bytes the peer acknowledged */
	__u64 bytes_received; /* data bytes received (the FIN not counted) */
	__u32 retransmits;    /* segments retransmitted (total_retrans: what TcpRetransSegs counts) */
	__u32 srtt_us;        /* smoothed RTT; 0 = no sample */
	__u32 segs_out;       /* segments sent, retransmits included (TcpOutSegs leaves retransmits out) */
	__u32 netns_cookie_lo; /* the namespace's cookie, low 32 bits: tells a namespace from an older one that had its inode; 0 = unknown */
};
_Static_assert(sizeof(struct tcpulse_event) == 152, "tcpulse_event layout");

/* tcpulse_sock.flags */
#define TCPULSE_SK_TIMEWAIT 0x01 /* a timewait mini-socket; state holds its substate */
#define TCPULSE_SK_REQUEST  0x02 /* a request socket in a SYN queue (NEW_SYN_RECV) */
#define TCPULSE_SK_OWNER    0x04 /* pid/comm were recorded by tcpulse */

/* one socket from the iter/tcp walk: 160 bytes */
struct tcpulse_sock {
	__u64 sock_id;         /* socket cookie */
	__u64 ino;             /* socket inode (0 for timewait/request sockets) */
	__u64 cgroup_id;
	__u64 state_ns;        /* when it entered its state, if tcpulse saw it; 0 = unknown */
	__u64 born_ns;         /* when tcpulse first saw it; 0 = unknown */
	__u32 netns;
	__u32 pid;             /* owner recorded at connect()/listen(); 0 = unknown */
	__u32 ack_backlog;     /* listeners: accept queue length */
	__u32 max_ack_backlog; /* listeners: accept queue limit */
	__u32 syn_qlen;        /* listeners: request sockets in the SYN queue */
	__u32 drops;           /* listeners: sk_drops */
	__u32 uid;
	__u32 timer_ms;        /* timewait: ms until it expires */
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 state;            /* TCP_* (timewait: its substate) */
	__u8 flags;            /* TCPULSE_SK_* */
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
	/* full sockets: their figures so far, as in tcpulse_event */
	__u64 bytes_sent;
	__u64 bytes_received;
	__u32 retransmits;
	__u32 srtt_us;
	__u32 segs_out;
	__u32 __pad2;
};
_Static_assert(sizeof(struct tcpulse_sock) == 160, "tcpulse_sock layout");

/* tcpulse_holder.kind */
enum tcpulse_holder_kind {
	TCPULSE_HOLDER_SOCKET = 1,     /* a process holds a TCP socket at fd */
	TCPULSE_HOLDER_NETNS_TASK = 2, /* a process lives in netns */
	TCPULSE_HOLDER_NETNS_FILE = 3, /* a process holds an nsfs file of netns at fd */
};

/* one record of the holders walk (iter/task_file, iter/task; holders.bpf.c): 72 bytes */
struct tcpulse_holder {
	__u64 sock_id;      /* socket cookie once the kernel made one, else 0 */
	__u64 ino;          /* socket inode (netns file: the namespace's inode) */
	__u64 cgroup_id;    /* the holding process's cgroup v2 id */
	__u64 netns_cookie; /* 0 when the kernel has none (before 5.12, unless asked) */
	__u32 tgid;
	__u32 fd;
	__u32 netns;        /* network namespace inode */
	__u16 family;
	__u16 sport;        /* host byte order */
	__u16 dport;        /* host byte order */
	__u8 kind;          /* enum tcpulse_holder_kind */
	__u8 state;         /* TCP_* */
	__u8 __pad[4];
	char comm[16];      /* the process's name (its group leader's) */
};
_Static_assert(sizeof(struct tcpulse_holder) == 72, "tcpulse_holder layout");

/*
 * Counters are keyed by the namespace's cookie as well as its inode: inodes are
 * reused once a namespace is gone, cookies never are (they are handed out in per-CPU
 * batches: unique, but the newest is not always the largest).
 */

/* key of the per-CPU transition counters; derived != 0 marks timewait entries */
struct tcpulse_transition_key {
	__u64 netns_cookie;
	__u32 netns;
	__u8 from;
	__u8 to;
	__u8 derived; /* 1: ->CLOSE that created a timewait sock; to = its substate */
	__u8 __pad;
};
_Static_assert(sizeof(struct tcpulse_transition_key) == 16, "transition key layout");

/*
 * The transition matrix of one namespace on one CPU, in the per-CPU array the hot path
 * counts into (a slot per namespace, cookie % TCPULSE_TRANS_SLOTS); from/to index the
 * kernel's TCP_* states. Namespaces whose slot is taken, and derived counts, use the hash.
 */
#define TCPULSE_TRANS_SLOTS 32
#define TCPULSE_TRANS_STATES 13 /* TCP_ESTABLISHED (1) .. TCP_NEW_SYN_RECV (12); 0 unused */

struct tcpulse_trans_slot {
	__u64 netns_cookie; /* 0: free */
	__u32 netns;
	__u32 __pad;
	__u64 n[TCPULSE_TRANS_STATES][TCPULSE_TRANS_STATES];
};
_Static_assert(sizeof(struct tcpulse_trans_slot) == 1368, "transition slot layout");

/* what tcpulse__transitions() copies out: 24 bytes */
struct tcpulse_transition {
	__u64 netns_cookie;
	__u32 netns;
	__u8 from;
	__u8 to;
	__u8 derived;
	__u8 __pad;
	__u64 count;
};
_Static_assert(sizeof(struct tcpulse_transition) == 24, "transition layout");

/* what a per-port counter counts (tcpulse_port_key.what) */
enum tcpulse_port_counter {
	TCPULSE_PC_OVERFLOW = 1,       /* accept-queue overflow drops on this listening port */
	TCPULSE_PC_SYNACK_RETRANS = 2, /* SYN-ACKs retransmitted by this listening port */
	/* RSTs sent from / received on this local port; port 0: ephemeral ports (connect()ed
	 * sockets, and unknown sockets or stray segments at a port of ip_local_port_range) */
	TCPULSE_PC_RESET_SENT = 3,
	TCPULSE_PC_RESET_RECV = 4,
};

/* key of the per-CPU per-(netns, local port) counters */
struct tcpulse_port_key {
	__u64 netns_cookie;
	__u32 netns;
	__u16 port;
	__u8 what; /* enum tcpulse_port_counter */
	__u8 __pad;
};
_Static_assert(sizeof(struct tcpulse_port_key) == 16, "port key layout");

/* what tcpulse__port_counters() copies out: 24 bytes */
struct tcpulse_port_count {
	__u64 netns_cookie;
	__u32 netns;
	__u16 port;
	__u8 what;
	__u8 __pad;
	__u64 count;
};
_Static_assert(sizeof(struct tcpulse_port_count) == 24, "port count layout");

/*
 * What the probe does on this kernel, one line each (tcpulse__feature()). The first
 * two are the core: without them the probe does not open. Each other program loads
 * on its own: one a kernel refuses turns its feature off, with the kernel's reason.
 * Bit (1 << index) of tcpulse__features() is set when a feature is on.
 */
enum tcpulse_feature {
	TCPULSE_FEATURE_OVERFLOW_EVENTS = 0,    /* skb:kfree_skb listen-overflow drops per listener */
	TCPULSE_FEATURE_STATE_CHANGES = 1,      /* sock:inet_sock_set_state (core) */
	TCPULSE_FEATURE_SOCKET_WALK = 2,        /* iter/tcp (core) */
	TCPULSE_FEATURE_NESTED_STATE_CHANGES = 3, /* the twin state-change program */
	TCPULSE_FEATURE_SYNACK_RETRANSMITS = 4, /* tcp:tcp_retransmit_synack */
	TCPULSE_FEATURE_RESETS_SENT = 5,        /* tcp:tcp_send_reset */
	TCPULSE_FEATURE_RESETS_RECEIVED = 6,    /* tcp:tcp_receive_reset */
	TCPULSE_FEATURE_SOCKET_COOKIES = 7,     /* sockets named by cookie, not address */
	TCPULSE_FEATURE_SOCKET_SLOTS = 8,       /* per-socket entries in array slots, not a hash */
	TCPULSE_FEATURE_CLOSED_PORT_RESETS = 9, /* RSTs answering segments no socket takes */
	TCPULSE_FEATURE_HOLDERS = 10,           /* iter/task_file + iter/task: who holds sockets, live netns */
	TCPULSE_FEATURE_MAX = 11,
};

/* tcpulse__features() bits, kept from ABI 2 */
#define TCPULSE_FEAT_OVERFLOW_REASON (1 << TCPULSE_FEATURE_OVERFLOW_EVENTS)

/* per-CPU health counters, summed by tcpulse__stats() */
enum tcpulse_stat {
	TCPULSE_STAT_SEEN = 0,      /* events the programs saw */
	TCPULSE_STAT_SUBMITTED = 1, /* events written to a ring */
	TCPULSE_STAT_LOST = 2,      /* ring full: event dropped (counters stay exact) */
	TCPULSE_STAT_SAMPLED_OUT = 3,
	TCPULSE_STAT_MAP_FULL = 4,  /* a counter or socket-storage insert failed */
	TCPULSE_STAT_WAKEUPS = 5,   /* consumer wake-ups forced by ring backlog */
	TCPULSE_STAT_REMEMBERED = 6, /* a gauge: sockets with an entry (owner, times) */
	/* state changes the twin handled: the recursion guard had refused them to the first
	 * program; that program's recursion_misses minus these were lost */
	TCPULSE_STAT_TWIN_HANDLED = 7,
	/* which map refused an insert: TCPULSE_STAT_MAP_FULL split by map */
	TCPULSE_STAT_MAP_FULL_TRANSITIONS = 8,
	TCPULSE_STAT_MAP_FULL_PORT_COUNTERS = 9,
	TCPULSE_STAT_MAP_FULL_LISTEN_OWNERS = 10,
	TCPULSE_STAT_MAP_FULL_SK_INFOS = 11,
	/* consumer wake-ups by the first event after it went to sleep (TCPULSE_POLL_WAKE_ON_EVENT) */
	TCPULSE_STAT_WAKEUPS_ASLEEP = 12,
	TCPULSE_STAT_MAX = 16,
};


/* one program's cost as the kernel counts it (bpf_prog_info), tcpulse__prog_stats(): 64 bytes */
struct tcpulse_prog_stat {
	char name[32];          /* the program's name, NUL padded */
	__u64 runs;             /* run_cnt: counted only while the kernel counts run time */
	__u64 run_ns;           /* run_time_ns: same */
	__u64 recursion_misses; /* runs the kernel skipped: the program was running on that CPU already */
	__s32 feature;          /* the enum tcpulse_feature it serves */
	__u32 __pad;
};
_Static_assert(sizeof(struct tcpulse_prog_stat) == 64, "prog stat layout");

#ifndef __bpf__
/*
 * Loader library API (libtcpulse.so), in libbpf's style: an opaque handle,
 * tcpulse__verb(), results are counts or a negative errno.
 */
#include <stddef.h>

struct tcpulse;

#define TCPULSE_OPT_BENCH 0x1     /* also load the synthetic event generator */
#define TCPULSE_OPT_RUN_STATS 0x2 /* have the kernel count run time (BPF_ENABLE_STATS; CAP_SYS_ADMIN) */

struct tcpulse_opts {
	size_t sz;                /* sizeof(struct tcpulse_opts), for forward compatibility */
	__u32 ring_bytes;         /* per-CPU ring size, power of two; 0 = 16 MiB, 256 MiB at most in all */
	__u32 max_events_per_sec; /* whole host, before the stream is sampled; 0 = never sample */
	__u32 wakeup_bytes;       /* backlog that wakes the consumer; 0 = ring_bytes / 4 */
	__u32 flags;              /* TCPULSE_OPT_* */
	__u32 disabled_features;  /* bit (1 << TCPULSE_FEATURE_*) for each feature not to use */
};

int tcpulse__abi_version(void);
int tcpulse__sizeof_event(void);
int tcpulse__sizeof_sock(void);
int tcpulse__sizeof_transition(void);
int tcpulse__sizeof_opts(void);
int tcpulse__sizeof_holder(void);
int tcpulse__sizeof_prog_stat(void);
/*
 * the layout the agent decodes ("name value" lines: struct sizes, field offsets, enum and
 * flag values) into buf, NUL terminated when it fits; returns the length of the whole text
 */
int tcpulse__layout(char *buf, size_t buf_sz);

/* loads and attaches everything; NULL and *err = -errno on failure */
struct tcpulse *tcpulse__open(const struct tcpulse_opts *opts, int *err);
/* tcpulse__poll flags: while it waits, the first event submitted wakes it (else only a backlog does) */
#define TCPULSE_POLL_WAKE_ON_EVENT 1
/* copies whole events into buf; waits up to timeout_ms when none are ready */
int tcpulse__poll(struct tcpulse *t, void *buf, size_t buf_sz, int timeout_ms, int flags);
/* sums the per-CPU TCPULSE_STAT_* counters into out[0..n) */
int tcpulse__stats(struct tcpulse *t, __u64 *out, int n);
/* copies up to max summed transition counters; returns how many */
int tcpulse__transitions(struct tcpulse *t, struct tcpulse_transition *out, int max);
/*
 * walks every TCP socket of the namespace at netns_path (/proc/PID/ns/net,
 * /run/netns/NAME; NULL: the caller's)
 * into buf as struct tcpulse_sock records; returns their number, or -ENOSPC with
 * *needed set to the bytes a complete walk takes.
 */
int tcpulse__snapshot(struct tcpulse *t, const char *netns_path, void *buf, size_t buf_sz,
		      size_t *needed);
/* the same for the namespace's listeners only: the walk ends at the first other socket */
int tcpulse__snapshot_listeners(struct tcpulse *t, const char *netns_path, void *buf, size_t buf_sz,
				size_t *needed);
/*
 * walks every process's descriptors (all namespaces: no setns) into buf as struct
 * tcpulse_holder records: TCP sockets held, then each process's namespace; returns their
 * number, or -ENOSPC with *needed set, or -EOPNOTSUPP when the holders feature is off
 */
int tcpulse__holders(struct tcpulse *t, void *buf, size_t buf_sz, size_t *needed);
/* copies up to max summed per-port counters; returns how many */
int tcpulse__port_counters(struct tcpulse *t, struct tcpulse_port_count *out, int max);
/*
 * reads a file as seen from the namespace at netns_path (NULL: the caller's), e.g.
 * /proc/thread-self/net/netstat or /proc/sys/net/ipv4/tcp_syncookies; NUL terminated;
 * returns the bytes read
 */
int tcpulse__read_in_netns(const char *netns_path, const char *file, char *buf, size_t buf_sz);
/* the cookie (never reused, unlike the inode) of the namespace at netns_path (NULL: the caller's) */
int tcpulse__netns_cookie(const char *netns_path, __u64 *cookie);
/* deletes the counters of a namespace that is gone; returns how many entries went */
int tcpulse__forget_netns(struct tcpulse *t, __u32 netns, __u64 netns_cookie);
/* bit (1 << TCPULSE_FEATURE_*) for each feature that is on */
int tcpulse__features(struct tcpulse *t);
/*
 * feature i (enum tcpulse_feature): its name, what it gives, and when it is off why
 * (the kernel's words) and what stands in; returns 1 on, 0 off, -ENOENT past the last.
 * t may be NULL: names and descriptions only (0).
 */
int tcpulse__feature(struct tcpulse *t, int i, char *name, size_t name_sz, char *what, size_t what_sz,
		     char *reason, size_t reason_sz);
/* benchmark: makes the kernel generate n synthetic events on this CPU */
int tcpulse__bench_generate(struct tcpulse *t, __u32 n);
/* the last libbpf/loader message (verifier log tail), NUL terminated */
int tcpulse__last_error(char *buf, size_t buf_sz);
/* copies the attached programs' costs (at most max); returns how many */
int tcpulse__prog_stats(struct tcpulse *t, struct tcpulse_prog_stat *out, int max);
/*
 * 1 when the kernel counts programs' run time (TCPULSE_OPT_RUN_STATS took, or sysctl
 * kernel.bpf_stats_enabled is 1), 0 when it does not, -errno when TCPULSE_OPT_RUN_STATS was refused
 */
int tcpulse__run_stats(struct tcpulse *t);
/* per-CPU ring count */
int tcpulse__ring_count(struct tcpulse *t);
/*
 * detaches every program but the socket walk's iterator: the kernel stops running them,
 * while another thread may still poll and walk; returns how many were detached
 */
int tcpulse__detach(struct tcpulse *t);
/* frees everything (detaching what is still attached); no other call may be running */
void tcpulse__close(struct tcpulse *t);
#endif /* !__bpf__ */

#endif /* __TCPULSE_H */
