// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpulse kernel side: follows every TCP state change, keeps exact per-CPU
 * counters, streams (possibly sampled) events into one ring buffer per CPU,
 * and walks all TCP sockets of a namespace on demand (iter/tcp).
 *
 * Only tp_btf and iter programs: they attach without tracefs, so CAP_BPF +
 * CAP_PERFMON are enough, and they hand us the struct sock itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpulse.h"
#include "compat.bpf.h"
#include "defs.bpf.h"
#include "counters.bpf.h"
#include "events.bpf.h"
#include "sockets.bpf.h"
#include "nesting.bpf.h"

/* set by the loader: SKB_DROP_REASON_TCP_LISTEN_OVERFLOW, whose number changes between kernels (from BTF) */
const volatile __u32 cfg_reason_listen_overflow = 0;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * What a full socket carried so far, from its tcp_sock (tcp_info's figures). Data bytes
 * acknowledged: bytes_acked also counts a connect()ed socket's SYN and the FIN once the
 * peer acknowledged everything after shutdown (bytes_sent minus bytes_retrans is no
 * help: bytes_retrans counts retransmits the device refused too). Received:
 * bytes_received counts a received FIN.
 */
static __always_inline void carried(struct sock *sk, const struct sk_info *si, __u8 flags, __u64 *sent,
				    __u64 *received, __u32 *retransmits, __u32 *srtt_us, __u32 *segs_out)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	__u64 acked;

	if (!tp)
		return;
	acked = tp->bytes_acked;
	if ((flags & TCPULSE_F_ACTIVE) && acked)
		acked--;
	if ((sk->sk_shutdown & SEND_SHUTDOWN) && tp->snd_una == tp->write_seq && acked)
		acked--;
	*sent = acked;
	*received = tp->bytes_received;
	if ((sk->sk_shutdown & RCV_SHUTDOWN) && *received)
		(*received)--;
	/* an accepted socket's SYN-ACK retransmits are its listener's (tcp:tcp_retransmit_synack) */
	*retransmits = tp->total_retrans - (si && si->synack_retrans <= tp->total_retrans ? si->synack_retrans : 0);
	*srtt_us = tp->srtt_us >> 3;
	*segs_out = tp->segs_out;
}

static __always_inline int handle_state_change(struct sock *sk, __u64 sock_cookie, int oldstate,
					       int newstate, const bool cas)
{
	const struct sock_common *skc = &sk->__sk_common;
	__u64 now = bpf_ktime_get_ns();
	__u64 prev_ns = 0, age_ns = 0;
	struct sk_info fresh = {}, *si;
	struct tcpulse_event *e;
	__u8 flags = 0;
	__u32 netns;
	__u64 cookie;
	void *rb;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	netns = netns_of(skc);

	/* exact counters first: they do not depend on sampling or ring space */
	cookie = netns_cookie_of(skc);
	count_transition(cookie, netns, oldstate, newstate, 0);

	/* a timewait sock replaced this one if it is already unhashed at ->CLOSE */
	if (newstate == S_CLOSE && (oldstate == S_FIN_WAIT2 || oldstate == S_CLOSING) &&
	    !skc->skc_nulls_node.pprev) {
		/* FIN received: TIME_WAIT proper; otherwise an orphan's FIN_WAIT2 substate */
		int sub = (sk->sk_shutdown & RCV_SHUTDOWN) ? S_TIME_WAIT : S_FIN_WAIT2;

		flags |= TCPULSE_F_TIMEWAIT | (sub == S_FIN_WAIT2 ? TCPULSE_F_TW_FIN_WAIT2 : 0);
		count_transition(cookie, netns, oldstate, sub, 1);
	}
	/*
	 * Seen after the counters (atomic adds, ordered before this one): a reader that finds
	 * `seen` unchanged since it read the counters knows they are unchanged too.
	 */
	stat_add(TCPULSE_STAT_SEEN, 1);

	/* remember owner and timing: a socket's first transition creates its entry */
	if (oldstate == S_CLOSE && (newstate == S_SYN_SENT || newstate == S_LISTEN)) {
		/* connect() or listen(): process context, the owner is current */
		fresh.pid = bpf_get_current_pid_tgid() >> 32;
		current_process_comm(fresh.comm);
		fresh.flags = TCPULSE_F_OWNER_KNOWN | TCPULSE_F_BORN_KNOWN |
			      (newstate == S_SYN_SENT ? TCPULSE_F_ACTIVE : 0);
		if (newstate == S_LISTEN) {
			struct listen_key lk = { .netns_cookie = cookie, .netns = netns, .port = skc->skc_num };
			struct listen_owner lo = { .pid = fresh.pid };

			__builtin_memcpy(lo.comm, fresh.comm, sizeof(lo.comm));
			/* a full map loses the owner of this listener's children: counted, no longer silent */
			if (bpf_map_update_elem(&listen_owners, &lk, &lo, BPF_ANY)) {
				stat_add(TCPULSE_STAT_MAP_FULL, 1);
				stat_add(TCPULSE_STAT_MAP_FULL_LISTEN_OWNERS, 1);
			}
		}
		si = remember(sk, sock_cookie, &fresh, now, false, cas);
	} else if (oldstate == S_LISTEN && newstate == S_SYN_RECV) {
		/* an accepted child: its listener's owner, its life starts now */
		struct listen_key lk = { .netns_cookie = cookie, .netns = netns, .port = skc->skc_num };
		struct listen_owner *lo = bpf_map_lookup_elem(&listen_owners, &lk);

		fresh.flags = TCPULSE_F_BORN_KNOWN;
		if (lo) {
			fresh.pid = lo->pid;
			__builtin_memcpy(fresh.comm, lo->comm, sizeof(fresh.comm));
			fresh.flags |= TCPULSE_F_OWNER_KNOWN;
		}
		si = remember(sk, sock_cookie, &fresh, now, true, cas);
	} else {
		si = info_of(sk, sock_cookie);
		if (si && si->state_ns)
			prev_ns = now - si->state_ns;
	}
	if (si) {
		if (si->born_ns)
			age_ns = now - si->born_ns;
		si->state_ns = now;
		if (oldstate == S_SYN_RECV && newstate == S_ESTABLISHED) {
			struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

			/* tcp_create_openreq_child started total_retrans at the request's SYN-ACK retransmits */
			if (tp)
				si->synack_retrans = tp->total_retrans;
		}
		/* remember the local port even for events sampled out: a later ->CLOSE has lost it */
		if (skc->skc_num)
			si->sport = skc->skc_num;
		flags |= si->flags;
		if (newstate == S_CLOSE) {
			__u64 key = (__u64)sk;
			__u32 zero = 0;
			struct closed_ring *cr = bpf_map_lookup_elem(&last_closed, &zero);

			fresh = *si;
			si = &fresh;
			if (cr) {
				__u32 at = cr->next++ % CLOSED_SLOTS;

				cr->slot[at].sk = key;
				cr->slot[at].netns_cookie = cookie;
				cr->slot[at].dport = skc->skc_dport;
				cr->slot[at].info = fresh;
			}
			forget(sk, sock_cookie);
		}
	}

	e = begin_event(now, TCPULSE_EV_STATE, &rb);
	if (!e)
		return 0;
	e->sock_id = sock_cookie;
	e->prev_state_ns = prev_ns;
	e->age_ns = age_ns;
	e->cgroup_id = sock_cgroup_id(sk);
	e->netns = netns;
	e->netns_cookie_lo = (__u32)cookie;
	if (oldstate == S_SYN_RECV && newstate == S_ESTABLISHED) {
		/* the child's first RTT sample is its SYN-ACK's: the server side of the handshake */
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

		if (tp)
			e->aux = tp->srtt_us >> 3;
	} else if (oldstate == S_SYN_SENT && newstate == S_CLOSE) {
		/* a connect that failed, and why: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH... (0: its owner closed it) */
		e->aux = sk->sk_err;
	}
	if (newstate == S_CLOSE)
		carried(sk, si, flags, &e->bytes_sent, &e->bytes_received, &e->retransmits, &e->srtt_us, &e->segs_out);
	read_endpoints(skc, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->flags = flags;
	if (si) {
		if (!e->sport)
			e->sport = si->sport;
		e->pid = si->pid;
		__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	}
	submit_event(rb, e);
	return 0;
}

static __always_inline void state_change(struct sock *sk, int oldstate, int newstate, const bool cas)
{
	__u64 id = sock_id(sk);

	if (cfg_twin)
		mark_taken(id, oldstate, newstate);
	handle_state_change(sk, id, oldstate, newstate, cas);
}

static __always_inline void state_change_nested(struct sock *sk, int oldstate, int newstate, const bool cas)
{
	__u64 id = sock_id(sk);

	if (was_taken(id, oldstate, newstate))
		return;
	/* only this program adds to it, and it never nests in itself: exact */
	stat_add(TCPULSE_STAT_TWIN_HANDLED, 1);
	handle_state_change(sk, id, oldstate, newstate, cas);
}

/* the loader attaches the first pair where the kernel has compare-and-swap, else the second */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change, struct sock *sk, int oldstate, int newstate)
{
	state_change(sk, oldstate, newstate, true);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_nested, struct sock *sk, int oldstate, int newstate)
{
	state_change_nested(sk, oldstate, newstate, true);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_nocas, struct sock *sk, int oldstate, int newstate)
{
	state_change(sk, oldstate, newstate, false);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_nested_nocas, struct sock *sk, int oldstate, int newstate)
{
	state_change_nested(sk, oldstate, newstate, false);
	return 0;
}

/*
 * One event about a socket that is not a state change (RST, SYN-ACK retransmit,
 * overflow): endpoints from skc, owner from si (what the caller found of the socket).
 */
static __always_inline void emit_sock_event(const struct sock_common *skc, struct sock *full,
					    const struct sk_info *si, __u8 kind, __u32 aux)
{
	struct tcpulse_event *e;
	void *rb;

	stat_add(TCPULSE_STAT_SEEN, 1);
	e = begin_event(bpf_ktime_get_ns(), kind, &rb);
	if (!e)
		return;
	e->aux = aux;
	if (skc) {
		e->sock_id = sock_common_id(skc);
		e->netns = netns_of(skc);
		e->netns_cookie_lo = (__u32)netns_cookie_of(skc);
		e->oldstate = e->newstate = skc->skc_state;
		read_endpoints(skc, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	}
	if (full)
		e->cgroup_id = sock_cgroup_id(full);
	if (si) {
		e->pid = si->pid;
		e->flags = si->flags;
		__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
		if (!e->sport)
			e->sport = si->sport;
	}
	submit_event(rb, e);
}

/* a full socket behind a sock_common, or NULL for timewait/request sockets */
static __always_inline struct sock *full_sock(const struct sock_common *skc)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)skc);

	return tp ? &tp->inet_conn.icsk_inet.sk : NULL;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_synack_retransmit, const struct sock *sk, const struct request_sock *req)
{
	/* sk is the listener: the handshake it waits for did not complete */
	__u32 netns = netns_of(&sk->__sk_common);

	count_port(&sk->__sk_common, netns, sk->__sk_common.skc_num, TCPULSE_PC_SYNACK_RETRANS);
	emit_sock_event(&req->__req_common, NULL, NULL, TCPULSE_EV_SYNACK_RETRANS,
			BPF_CORE_READ(req, num_retrans));
	return 0;
}

/* whether port is in the namespace's net.ipv4.ip_local_port_range */
static __always_inline bool ephemeral_port(const struct net *net, __u16 port)
{
	__u32 lo, hi;

	if (!net)
		return false;
	local_port_range(net, &lo, &hi);
	return port >= lo && port <= hi;
}

/*
 * The local port a RST is counted under. A counter per ephemeral port would fill the
 * map in a connection storm, so connect()ed sockets (known from storage) and unknown
 * sockets or stray segments at an ephemeral port share port 0.
 */
static __always_inline __u16 reset_port(const struct net *net, const struct sk_info *si, __u16 port)
{
	if (si)
		return (si->flags & TCPULSE_F_ACTIVE) ? 0 : port;
	return ephemeral_port(net, port) ? 0 : port;
}

/*
 * Per CPU, the last segment whose RST tcp:tcp_send_reset reported without a socket:
 * on_drop_no_socket must not count it again when the segment is freed right after.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_segment_reset SEC(".maps");

/*
 * An RST sent in answer to a segment no socket took (a closed port): ports and
 * addresses come from the segment; only an RST segment gets no answer. any_proto: the
 * segment may be no TCP at all (a drop), look first.
 */
static __always_inline void reset_for_segment(const struct sk_buff *skb, bool any_proto)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 thoff = BPF_CORE_READ(skb, transport_header);
	__u16 nhoff = BPF_CORE_READ(skb, network_header);
	struct net_device *dev = skb->dev;
	struct net *net = dev ? dev->nd_net.net : NULL;
	struct tcphdr th = {};
	struct tcpulse_event *e;
	__u64 cookie;
	__u32 netns = 0;
	__u8 ver = 0;
	void *rb;

	bpf_probe_read_kernel(&ver, 1, head + nhoff);
	if (any_proto) {
		__u8 proto = 0;

		/* the protocol field of IPv4 (offset 9), the next header of IPv6 (offset 6) */
		bpf_probe_read_kernel(&proto, 1, head + nhoff + ((ver >> 4) == 6 ? 6 : 9));
		if (proto != IPPROTO_TCP)
			return;
	}
	bpf_probe_read_kernel(&th, sizeof(th), head + thoff);
	if (th.rst)
		return;
	if (net)
		netns = net->ns.inum;
	cookie = net_cookie_of(net);
	{
		struct tcpulse_port_key key = {
			.netns = netns, .port = reset_port(net, NULL, bpf_ntohs(th.dest)),
			.what = TCPULSE_PC_RESET_SENT,
		};

		key.netns_cookie = cookie;
		bump(&port_counters, &key, TCPULSE_STAT_MAP_FULL_PORT_COUNTERS);
	}

	stat_add(TCPULSE_STAT_SEEN, 1);
	e = begin_event(bpf_ktime_get_ns(), TCPULSE_EV_RESET_SENT, &rb);
	if (!e)
		return;
	e->netns = netns;
	e->netns_cookie_lo = (__u32)cookie;
	e->sport = bpf_ntohs(th.dest);
	e->dport = bpf_ntohs(th.source);
	if ((ver >> 4) == 6) {
		struct ipv6hdr ip6;

		bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nhoff);
		e->family = AF_INET6;
		__builtin_memcpy(e->saddr, &ip6.daddr, 16);
		__builtin_memcpy(e->daddr, &ip6.saddr, 16);
	} else {
		struct iphdr ip;

		bpf_probe_read_kernel(&ip, sizeof(ip), head + nhoff);
		e->family = AF_INET;
		__builtin_memcpy(e->saddr, &ip.daddr, 4);
		__builtin_memcpy(e->daddr, &ip.saddr, 4);
	}
	submit_event(rb, e);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *last;

	if (sk) {
		const struct sock_common *skc = &sk->__sk_common;
		struct sock *full = full_sock(skc);
		struct sk_info *si = full ? info_of(full, sock_id(full)) : NULL;
		__u16 port = skc->skc_num;

		/* an abortive close() unbinds the port before the RST goes out */
		if (!port && si)
			port = si->sport;
		count_port(skc, netns_of(skc), reset_port(skc->skc_net.net, si, port),
			   TCPULSE_PC_RESET_SENT);
		emit_sock_event(skc, full, si, TCPULSE_EV_RESET_SENT, 0);
		return 0;
	}
	/* no socket (e.g. a closed port); kernels before 6.8 or so do not report these */
	if (!skb)
		return 0;
	last = bpf_map_lookup_elem(&last_segment_reset, &zero);
	if (last)
		*last = address_of(skb);
	reset_for_segment(skb, false);
	return 0;
}

/* SKB_DROP_REASON_NO_SOCKET, resolved from BTF like the overflow reason */
const volatile __u32 cfg_reason_no_socket = 0;

/*
 * Where tcp:tcp_send_reset says nothing of segments no socket took, their drop does:
 * tcp_v4_rcv() and tcp_v6_rcv() answer such a segment with an RST, then free it with
 * SKB_DROP_REASON_NO_SOCKET (drop reasons: Linux 5.17). Three arguments only, so it
 * loads on kernels without rx_sk; one already reported is not counted again.
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(on_drop_no_socket, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u32 zero = 0;
	__u64 *last;

	if (!cfg_reason_no_socket || reason != cfg_reason_no_socket)
		return 0;
	last = bpf_map_lookup_elem(&last_segment_reset, &zero);
	if (last && *last == address_of(skb)) {
		*last = 0;
		return 0;
	}
	reset_for_segment(skb, true);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_receive_reset, struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;

	struct sk_info *si = info_of(sk, sock_id(sk));

	count_port(skc, netns_of(skc), reset_port(skc->skc_net.net, si, skc->skc_num),
		   TCPULSE_PC_RESET_RECV);
	emit_sock_event(skc, sk, si, TCPULSE_EV_RESET_RECV, 0);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	const struct sock_common *skc;
	struct sock *full;

	/* every drop in the kernel passes here: leave at once unless it is ours */
	if (!cfg_reason_listen_overflow || reason != cfg_reason_listen_overflow)
		return 0;
	/* rx_sk: the listener that dropped it */
	if (!rx_sk)
		return 0;
	skc = &rx_sk->__sk_common;
	count_port(skc, netns_of(skc), skc->skc_num, TCPULSE_PC_OVERFLOW);
	full = full_sock(skc);
	emit_sock_event(skc, full, full ? info_of(full, sock_id(full)) : NULL,
			TCPULSE_EV_LISTEN_OVERFLOW, rx_sk->sk_ack_backlog);
	return 0;
}

/*
 * Set by libtcpulse around a listeners-only walk. iter/tcp visits every listener before
 * the established hash, so the first other socket ends the walk: returning 1 makes read()
 * stop there (EAGAIN once nothing is left to return) instead of visiting every connection.
 */
volatile __u32 walk_listeners_only = 0;

SEC("iter/tcp")
int walk_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct tcpulse_sock r = {};
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	if (walk_listeners_only && skc->skc_state != S_LISTEN)
		return 1;
	r.sock_id = sock_common_id(skc);
	r.netns = netns_of(skc);
	r.uid = ctx->uid;
	read_endpoints(skc, &r.family, &r.sport, &r.dport, r.saddr, r.daddr);
	r.state = skc->skc_state;

	if (r.state == S_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);

		/* ss reports the substate: FIN_WAIT2 until the peer's FIN arrives */
		if (tw)
			r.state = tw->tw_sk.tw_substate;
		r.flags = TCPULSE_SK_TIMEWAIT;
	} else if (r.state == S_NEW_SYN_RECV) {
		r.flags = TCPULSE_SK_REQUEST;
	} else {
		struct sk_info *si;
		struct sock *sk;

		tp = bpf_skc_to_tcp_sock(skc);
		if (!tp)
			return 0;
		sk = &tp->inet_conn.icsk_inet.sk;
		r.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
		r.cgroup_id = sock_cgroup_id(sk);
		if (r.state == S_LISTEN) {
			r.ack_backlog = sk->sk_ack_backlog;
			r.max_ack_backlog = sk->sk_max_ack_backlog;
			r.syn_qlen = tp->inet_conn.icsk_accept_queue.qlen.counter;
			r.drops = sk->sk_drops.counter;
		}
		si = info_of(sk, r.sock_id);
		carried(sk, si, si ? si->flags : 0, &r.bytes_sent, &r.bytes_received, &r.retransmits, &r.srtt_us, &r.segs_out);
		if (si) {
			r.pid = si->pid;
			r.born_ns = si->born_ns;
			r.state_ns = si->state_ns;
			__builtin_memcpy(r.comm, si->comm, sizeof(r.comm));
			if (si->flags & TCPULSE_F_OWNER_KNOWN)
				r.flags |= TCPULSE_SK_OWNER;
		}
	}
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

/* benchmark only: BPF_PROG_TEST_RUN makes ctx->args[0] synthetic events */
struct gen_ctx {
	__u64 now;
};

static long gen_one(__u32 i, struct gen_ctx *g)
{
	struct tcpulse_event *e;
	void *rb;

	stat_add(TCPULSE_STAT_SEEN, 1);
	count_transition(0, 0, S_ESTABLISHED, S_CLOSE, 0);
	e = begin_event(g->now, TCPULSE_EV_STATE, &rb);
	if (!e)
		return 0;
	e->sock_id = i + 1;
	e->prev_state_ns = 1000 + (i & 1023) * 100;
	e->age_ns = 5000 + (i & 1023) * 1000;
	e->family = AF_INET;
	e->sport = 40000 + (i & 8191);
	e->dport = 8080;
	e->saddr[0] = 127;
	e->saddr[3] = 1;
	e->daddr[0] = 127;
	e->daddr[3] = 1;
	e->oldstate = S_ESTABLISHED;
	e->newstate = S_CLOSE;
	submit_event(rb, e);
	return 0;
}

SEC("raw_tp")
int bench_generate(struct bpf_raw_tracepoint_args *ctx)
{
	struct gen_ctx g = { .now = bpf_ktime_get_ns() };

	bpf_loop(ctx->args[0], gen_one, &g, 0);
	return 0;
}
