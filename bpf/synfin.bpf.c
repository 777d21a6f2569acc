// SPDX-License-Identifier: GPL-2.0
/* synfin's kernel side: the entry points of every socket program. What they do lives in
 * bpf/lib, one concept a header: config (what userspace set), maps, filters (scope),
 * endpoints, segment (packet headers), reasons, emit (the socket ring's way in), paths (the
 * daemon's per-socket storage, checks, tallies and close reports), owners (accept), listeners
 * (refusals), drops. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "synfin/abi.h"
#include "lib/constants.h"
#include "lib/config.h"
#include "lib/maps.h"
#include "lib/ring_wakeup.h"
#include "lib/filters.h"
#include "lib/endpoints.h"
#include "lib/reasons.h"
#include "lib/segment.h"
#include "lib/emit.h"
#include "lib/listeners.h"
#include "lib/paths.h"
#include "lib/owners.h"
#include "lib/drops.h"

char LICENSE[] SEC("license") = "GPL";

/* Per-step records: one for each state change. */
static __always_inline void emit_state(const struct sock *sk, __u64 cookie, int old_state,
				       int new_state, bool child_being_cloned)
{
	struct synfin_event *e = reserve_event(SYNFIN_EV_STATE);
	if (!e)
		return;
	e->cookie = cookie;
	e->old_state = old_state;
	e->new_state = new_state;
	/* connect() and listen() make these steps in the caller's own context; every other
	 * step may run in softirq on behalf of whoever happens to be on the CPU. */
	if (old_state == SYNFIN_TCP_CLOSE &&
	    (new_state == SYNFIN_TCP_SYN_SENT || new_state == SYNFIN_TCP_LISTEN))
		name_owner(e);
	else if (keep_paths)
		owner_from_path(e, sk);
	read_event_endpoints(e, &sk->__sk_common);
	/* A child's tcp_sock is still the listener's copy at LISTEN -> SYN_RECV. */
	if (!child_being_cloned)
		read_socket_counters(e, sk);
	submit_event(e);
}

/* The clone step of a child that waited for its cookie (lib/maps.h, clones_awaiting_cookie),
 * stamped when it happened. */
static __always_inline void emit_awaited_clone(const struct sock *sk, __u64 cookie, __u64 cloned_ns)
{
	struct synfin_event *e = reserve_event(SYNFIN_EV_STATE);
	if (!e)
		return;
	e->ts_ns = cloned_ns;
	e->cookie = cookie;
	e->old_state = SYNFIN_TCP_LISTEN;
	e->new_state = SYNFIN_TCP_SYN_RECV;
	read_event_endpoints(e, &sk->__sk_common);
	submit_event(e);
}

/* Entries put into clones_awaiting_cookie and not taken back (an LRU eviction leaves it high,
 * which costs only lookups). While 0 — kernels whose clones carry no cookie yet — a step out
 * of SYN_RECV skips the hash lookup, ~150 ns here. */
static __u64 clones_awaiting_count;

static __always_inline void emit_state_change(const struct sock *sk, int old_state, int new_state,
					      bool child_being_cloned)
{
	__u64 address = (__u64)sk;
	if (child_being_cloned && sk->__sk_common.skc_cookie.counter) {
		__u64 now = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&clones_awaiting_cookie, &address, &now, BPF_ANY) == 0)
			__sync_fetch_and_add(&clones_awaiting_count, 1);
		return;
	}
	__u64 cloned_ns = 0;
	if (old_state == SYNFIN_TCP_SYN_RECV && clones_awaiting_count) {
		__u64 *awaited = bpf_map_lookup_elem(&clones_awaiting_cookie, &address);
		if (awaited) {
			cloned_ns = *awaited;
			if (bpf_map_delete_elem(&clones_awaiting_cookie, &address) == 0)
				__sync_fetch_and_add(&clones_awaiting_count, -1);
		}
	}
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	if (!socket_wanted(&sk->__sk_common, cookie, !child_being_cloned))
		return;
	if (cloned_ns)
		emit_awaited_clone(sk, cookie, cloned_ns);
	emit_state(sk, cookie, old_state, new_state, child_being_cloned);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, const struct sock *sk, int old_state, int new_state)
{
	if (sk->sk_protocol != SYNFIN_IPPROTO_TCP)
		return 0;
	bool child_being_cloned =
		old_state == SYNFIN_TCP_LISTEN && new_state == SYNFIN_TCP_SYN_RECV;
	if (old_state == SYNFIN_TCP_CLOSE && new_state == SYNFIN_TCP_LISTEN)
		register_listener(sk, bpf_get_socket_cookie((void *)sk));
	else if (old_state == SYNFIN_TCP_LISTEN && new_state == SYNFIN_TCP_CLOSE)
		forget_listener(sk, bpf_get_socket_cookie((void *)sk));
	if (keep_paths && family_wanted(sk->__sk_common.skc_family))
		record_step(sk, old_state, new_state, child_being_cloned);
	if (steps_cross(sk))
		emit_state_change(sk, old_state, new_state, child_being_cloned);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_tcp_retransmit_skb, const struct sock *sk)
{
	if (keep_paths && sk) {
		struct synfin_path *p = path_of(sk, false);
		if (p)
			p->retransmits++;
	}
	return emit_socket_event(SYNFIN_EV_RETRANSMIT, sk,
				 sk ? bpf_get_socket_cookie((void *)sk) : 0);
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_tcp_retransmit_synack, const struct sock *listener, const struct request_sock *req)
{
	if (!listener || !req || !family_wanted(BPF_CORE_READ(req, __req_common.skc_family)))
		return 0;
	if (port_filters_configured() &&
	    decide(BPF_CORE_READ(req, __req_common.skc_num),
		   bpf_ntohs(BPF_CORE_READ(req, __req_common.skc_dport))) != VERDICT_KEEP)
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_SYNACK_RETRANSMIT);
	if (!e)
		return 0;
	e->cookie = bpf_get_socket_cookie((void *)listener);
	read_event_endpoints(e, &req->__req_common);
	submit_event(e);
	return 0;
}

/* sk is NULL when the kernel answers a segment that matched no socket (a refused connect
 * seen from the server side): the segment's ports say where it went. */
static __always_inline int record_reset_sent(const struct sock *sk, const struct sk_buff *skb,
					     __u32 reason)
{
	if (sk) {
		mark_path(sk, SYNFIN_PATH_RESET_SENT);
		__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
		__u64 cookie = bpf_get_socket_cookie((void *)sk);
		if (state == SYNFIN_TCP_LISTEN)
			count_on_listener(sk, cookie, COUNT_RESET_SENT);
		if (!socket_wanted(&sk->__sk_common, cookie, true))
			return 0;
		struct synfin_event *e = reserve_event(SYNFIN_EV_SEND_RESET);
		if (!e)
			return 0;
		e->cookie = cookie;
		e->reason = reason;
		e->new_state = state;
		read_event_endpoints(e, &sk->__sk_common);
		read_socket_counters(e, sk);
		submit_event(e);
		return 0;
	}
	struct tcp_segment seg = {};
	if (!skb || !read_tcp_segment(skb, &seg) || !family_wanted(seg.family))
		return 0;
	if (port_filters_configured() && decide(seg.local_port, seg.remote_port) != VERDICT_KEEP)
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_SEND_RESET);
	if (!e)
		return 0;
	e->flags |= SYNFIN_FLAG_NO_SOCKET;
	e->reason = reason;
	e->family = seg.family;
	e->sport = seg.local_port;
	e->dport = seg.remote_port;
	__builtin_memcpy(e->saddr, seg.local_addr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, seg.remote_addr, sizeof(e->daddr));
	submit_event(e);
	return 0;
}

/* Two shapes of one tracepoint: the kernel's reset reason argument exists from 6.10 on.
 * Userspace loads the one the running kernel's BTF describes. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	return record_reset_sent(sk, skb, SYNFIN_RESET_REASON_NONE);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_tcp_send_reset_with_reason, const struct sock *sk, const struct sk_buff *skb,
	     int reason)
{
	return record_reset_sent(sk, skb, reset_reason_index(reason));
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_tcp_receive_reset, struct sock *sk)
{
	mark_path(sk, SYNFIN_PATH_RESET_RECEIVED);
	return emit_socket_event(SYNFIN_EV_RECEIVE_RESET, sk, bpf_get_socket_cookie(sk));
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(on_tcp_destroy_sock, struct sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	bool stepped = steps_cross(sk);
	/* A listener's counters went at its step out of LISTEN (forget_listener). The daemon still
	 * looks for those of a socket its path calls a listener, or that has no path (it may have
	 * left LISTEN before synfin attached); trace keeps no paths and leaves strays to the LRU. */
	bool maybe_listener = false;
	if (keep_paths)
		maybe_listener = end_path(sk, cookie, stepped); /* scope verdicts live in the path */
	__u32 zero = 0;
	__u64 *destroyed = bpf_map_lookup_elem(&destroyed_here, &zero);
	if (destroyed)
		*destroyed = cookie;
	if (stepped) {
		emit_socket_event(SYNFIN_EV_DESTROY, sk, cookie);
		forget_verdict(cookie);
	}
	/* A lookup takes no lock, a delete of a missing key does. */
	if (maybe_listener && bpf_map_lookup_elem(&listener_counters, &cookie))
		bpf_map_delete_elem(&listener_counters, &cookie);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return record_accepted_socket(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return record_accepted_socket(ctx->ret);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, int reason)
{
	return record_drop(skb, reason, NULL);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb_with_socket, struct sk_buff *skb, void *location, int reason,
	     struct sock *rx_sk)
{
	return record_drop(skb, reason, rx_sk);
}

/* A listener's SYN, consumed by tcp_rcv_state_process once tcp_conn_request has judged it.
 * consume_skb fires for every packet the kernel is done with: anything consumed elsewhere
 * leaves on the address check. */
SEC("tp_btf/consume_skb")
int BPF_PROG(on_consume_skb, struct sk_buff *skb, void *location)
{
	__u64 at = (__u64)location;
	if (at < rcv_state_process_start || at >= rcv_state_process_end)
		return 0;
	account_consumed_syn(skb);
	return 0;
}

/* ---- iter/tcp: the kernel's socket table, TIME_WAIT mini-sockets included ---- */

extern int CONFIG_HZ __kconfig;

SEC("iter/tcp")
int dump_tcp_sockets(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct synfin_socket_record r = {};

	if (!skc)
		return 0;
	if (skc->skc_family != SYNFIN_AF_INET && skc->skc_family != SYNFIN_AF_INET6)
		return 0;
	if (filter_family && skc->skc_family != filter_family)
		return 0;
	read_endpoints(skc, &r.family, &r.sport, &r.dport, r.saddr, r.daddr);
	r.state = skc->skc_state;
	if (exclude_port && (r.sport == exclude_port || r.dport == exclude_port))
		return 0;
	r.cookie = bpf_get_socket_cookie(skc);
	r.uid = ctx->uid;

	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (tp) {
		if (keep_paths && bpf_sk_storage_get(&socket_paths, tp, 0, 0))
			r.has_path = 1;
		if (r.state == SYNFIN_TCP_LISTEN) {
			r.rx_queue = tp->inet_conn.icsk_inet.sk.sk_ack_backlog;
			r.tx_queue = tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog;
			r.syn_queue = tp->inet_conn.icsk_accept_queue.qlen.counter;
			struct listener_key key = {.netns = netns_of(skc->skc_net.net),
						   .port = r.sport};
			if (!bpf_map_lookup_elem(&listeners_by_port, &key))
				register_listener((const struct sock *)skc, r.cookie);
		} else {
			int unread = (int)(tp->rcv_nxt - tp->copied_seq);
			r.rx_queue = unread > 0 ? unread : 0;
			r.tx_queue = tp->write_seq - tp->snd_una;
		}
		r.bytes_sent = tp->bytes_sent;
		struct socket *sock = tp->inet_conn.icsk_inet.sk.sk_socket;
		if (sock)
			r.inode = BPF_CORE_READ(sock, file, f_inode, i_ino);
		bpf_seq_write(seq, &r, sizeof(r));
		return 0;
	}
	struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);
	if (tw) {
		r.time_wait_substate = tw->tw_sk.tw_substate;
		/* Where the timer wheel will run the socket's timer: the end of its bucket. */
		__u64 expires = BPF_CORE_READ(tw, tw_sk.tw_timer.expires);
		__u64 bucket =
			synfin_timer_wheel_bucket_jiffies(SYNFIN_TIME_WAIT_SECONDS * CONFIG_HZ);
		__u64 runs = (expires / bucket + 1) * bucket;
		__u64 now = bpf_jiffies64();
		if (runs > now && CONFIG_HZ > 0)
			r.time_wait_reaped_at_ns =
				bpf_ktime_get_ns() + (runs - now) * (1000000000ULL / CONFIG_HZ);
		bpf_seq_write(seq, &r, sizeof(r));
	}
	/* Request sockets (SYN received, handshake pending) are not connections yet. */
	return 0;
}

/* ---- the daemon's live view: every socket with a path ---- */

SEC("iter/bpf_sk_storage_map")
int dump_socket_paths(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	struct synfin_path *p = ctx->value;

	if (sk && p)
		write_live_path(ctx->meta->seq, sk, p);
	return 0;
}

/* The same walk for kernels that refuse the storage-map iterator: the socket table of the
 * daemon's own network namespace, each socket's storage looked up (the same records). */
SEC("iter/tcp")
int dump_socket_paths_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (!skc)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	struct synfin_path *p = bpf_sk_storage_get(&socket_paths, tp, 0, 0);
	if (p)
		write_live_path(ctx->meta->seq, (struct sock *)tp, p);
	return 0;
}
