/* A socket's two ends and counters, read through the BTF pointers the tracepoints hand over. */
#ifndef SYNFIN_BPF_ENDPOINTS_H
#define SYNFIN_BPF_ENDPOINTS_H

/* One reader for a socket's two ends, shared by the tracepoint records and the
 * iterator's rows. skc is a BTF pointer in every caller (tp_btf arguments, the iterator's
 * socket): plain loads, which the verifier makes fault-safe, cost a few ns where a
 * bpf_probe_read_kernel() call costs ~40. */
static __always_inline void read_endpoints(const struct sock_common *skc, __u16 *family,
					   __u16 *local_port, __u16 *remote_port, __u8 *local_addr,
					   __u8 *remote_addr)
{
	*family = skc->skc_family;
	*local_port = skc->skc_num;
	*remote_port = bpf_ntohs(skc->skc_dport);
	if (*family == SYNFIN_AF_INET) {
		__builtin_memcpy(local_addr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(remote_addr, &skc->skc_daddr, 4);
	} else {
		__builtin_memcpy(local_addr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(remote_addr, &skc->skc_v6_daddr, 16);
	}
}

static __always_inline void read_event_endpoints(struct synfin_event *e,
						 const struct sock_common *skc)
{
	read_endpoints(skc, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	e->netns = skc->skc_net.net->ns.inum;
}

/* Only full sockets carry tcp_sock fields; request and TIME_WAIT sockets stop at
 * sock_common: bpf_skc_to_tcp_sock() says which this is. */
static __always_inline void read_socket_counters(struct synfin_event *e, const struct sock *sk)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return;
	e->bytes_sent = tp->bytes_sent;
	e->snd_una = tp->snd_una;
	e->snd_nxt = tp->snd_nxt;
	e->rcv_nxt = tp->rcv_nxt;
	e->flags |= SYNFIN_FLAG_SEQ_VALID;
}

#endif
