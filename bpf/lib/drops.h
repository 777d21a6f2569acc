/* skb:kfree_skb: TCP packets the kernel dropped, counted by reason; on a tracked socket, a record
 * (and a mark on its path); on a listener, listen refusals. */
#ifndef SYNFIN_BPF_DROPS_H
#define SYNFIN_BPF_DROPS_H

/*  * Runs for every dropped packet of any protocol, so what is not TCP leaves at once. rx_sk
 * (6.11+) is the socket the packet was for, if any; else the skb's own socket (early demux on
 * the way in, the sender on the way out) may name it. */
static __always_inline bool is_tcp_socket(const struct sock *sk, __u8 state)
{
	if (state == SYNFIN_TCP_TIME_WAIT || state == SYNFIN_TCP_NEW_SYN_RECV)
		return true; /* mini-sockets exist for TCP only */
	return sk->sk_protocol == SYNFIN_IPPROTO_TCP && sk->sk_type == SYNFIN_SOCK_STREAM;
}

static __always_inline int record_drop(const struct sk_buff *skb, __u32 kernel_reason,
				       const struct sock *rx_sk)
{
	if (is_consumed(kernel_reason))
		return 0;
	const struct sock *sk = rx_sk;
	bool from_rx_sk = sk != NULL;
	if (!sk)
		sk = skb->sk;
	__u8 state = 0;
	if (sk) {
		__u16 family = sk->__sk_common.skc_family;
		state = sk->__sk_common.skc_state;
		if ((family != SYNFIN_AF_INET && family != SYNFIN_AF_INET6) ||
		    !is_tcp_socket(sk, state))
			sk = NULL; /* e.g. a packet socket's copy */
	}
	/* A TCP socket's drop is TCP's: the packet's headers are read (two probe reads) only
	 * when no socket says so. */
	struct tcp_segment seg;
	if (!sk && !read_tcp_segment(skb, &seg))
		return 0;

	__u32 reason = drop_reason_index(kernel_reason);
	__u64 *total = bpf_map_lookup_elem(&drop_totals, &reason);
	if (total)
		(*total)++;
	if (!sk || state == SYNFIN_TCP_NEW_SYN_RECV)
		return 0;
	if (state == SYNFIN_TCP_TIME_WAIT) {
		__u64 *on_time_wait = bpf_map_lookup_elem(&time_wait_drop_totals, &reason);
		if (on_time_wait)
			(*on_time_wait)++;
		if (report_closes)
			return 0; /* counted: a mini-socket has no path to tell */
	}
	/* The socket's destroy record went already (the daemon judged it there, trace wrote its
	 * close line): the queues it purges on the way out (QUEUE_PURGE) are counted, with nothing
	 * left to attach them to. */
	if (state == SYNFIN_TCP_CLOSE) {
		__u32 zero = 0;
		__u64 *destroyed = bpf_map_lookup_elem(&destroyed_here, &zero);
		if (destroyed && *destroyed && *destroyed == sk->__sk_common.skc_cookie.counter)
			return 0; /* its purge, on the CPU that destroyed it just now */
		struct synfin_path *p = report_closes ? path_of(sk, false) : NULL;
		if (report_closes && (!p || (p->path_flags & SYNFIN_PATH_ENDED)))
			return 0;
	}
	__u64 cookie = from_rx_sk ? bpf_get_socket_cookie((void *)rx_sk)
				  : sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return 0; /* a socket no synfin program ever met */
	if (state == SYNFIN_TCP_LISTEN) {
		/* Overflows on the handshake's last ACK are in the kernel's counter already. */
		if (from_rx_sk)
			account_listen_refusals(sk->__sk_common.skc_net.net, cookie,
						BPF_CORE_READ(sk, __sk_common.skc_num),
						BPF_CORE_READ(sk, __sk_common.skc_family));
		if (reason != SYNFIN_DROP_TCP_LISTEN_OVERFLOW)
			count_on_listener(sk, cookie, COUNT_OTHER_DROP);
		return 0;
	}
	mark_path(sk, SYNFIN_PATH_DROPPED);
	if (!socket_wanted(&sk->__sk_common, cookie, true))
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_DROP);
	if (!e)
		return 0;
	e->cookie = cookie;
	e->reason = reason;
	e->new_state = state;
	read_event_endpoints(e, &sk->__sk_common);
	submit_event(e);
	return 0;
}

/* Shapes by kernel: the drop reason from 5.17, rx_sk after it from 6.11; userspace loads the
 * one the running kernel's BTF describes (none before 5.17). */

#endif
