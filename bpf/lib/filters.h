/* Which sockets are in scope: address family and port filters, decided once both ports are
 * known (a client's local port is 0 at CLOSE -> SYN_SENT, a server child's remote port at
 * LISTEN -> SYN_RECV, and the kernel zeroes both on the way to CLOSE). */
#ifndef SYNFIN_BPF_FILTERS_H
#define SYNFIN_BPF_FILTERS_H

static __always_inline bool port_listed(__u16 port, const volatile __u16 *ports, __u32 count)
{
	for (int i = 0; i < SYNFIN_MAX_PORT_FILTERS; i++) {
		if (i >= count)
			break;
		if (ports[i] == port)
			return true;
	}
	return false;
}

enum socket_verdict { VERDICT_DROP = 0, VERDICT_KEEP = 1, VERDICT_PENDING = 2 };

/* The verdict once no port will be learnt any more: an unknown port is on no list. */
static __always_inline enum socket_verdict decide_final(__u16 local_port, __u16 remote_port)
{
	if (exclude_port && (local_port == exclude_port || remote_port == exclude_port))
		return VERDICT_DROP;
	if (filter_local_port_count &&
	    !port_listed(local_port, filter_local_ports, filter_local_port_count))
		return VERDICT_DROP;
	if (filter_remote_port_count &&
	    !port_listed(remote_port, filter_remote_ports, filter_remote_port_count))
		return VERDICT_DROP;
	if (filter_any_port_count &&
	    !port_listed(local_port, filter_any_ports, filter_any_port_count) &&
	    !port_listed(remote_port, filter_any_ports, filter_any_port_count))
		return VERDICT_DROP;
	return VERDICT_KEEP;
}

/* Port filters can only be decided once the ports are known: a client's local port is 0 at
 * CLOSE -> SYN_SENT, a server child's remote port is 0 at LISTEN -> SYN_RECV, and the kernel
 * zeroes both on the way to CLOSE. A port of 0 means "not known yet". */
static __always_inline enum socket_verdict decide_ends(__u16 local_port, __u16 remote_port,
						       bool final)
{
	/* final: no port will be learnt any more (a listener's remote end, a socket at its end):
	 * what is still unknown is on no list. */
	if (final)
		return decide_final(local_port, remote_port);
	if (exclude_port && ((local_port && local_port == exclude_port) ||
			     (remote_port && remote_port == exclude_port)))
		return VERDICT_DROP;
	if (filter_local_port_count) {
		if (!local_port)
			return VERDICT_PENDING;
		if (!port_listed(local_port, filter_local_ports, filter_local_port_count))
			return VERDICT_DROP;
	}
	if (filter_remote_port_count) {
		if (!remote_port)
			return VERDICT_PENDING;
		if (!port_listed(remote_port, filter_remote_ports, filter_remote_port_count))
			return VERDICT_DROP;
	}
	if (filter_any_port_count) {
		bool listed = (local_port &&
			       port_listed(local_port, filter_any_ports, filter_any_port_count)) ||
			      (remote_port &&
			       port_listed(remote_port, filter_any_ports, filter_any_port_count));
		if (!listed)
			return local_port && remote_port ? VERDICT_DROP : VERDICT_PENDING;
	}
	if (exclude_port && (!local_port || !remote_port))
		return VERDICT_PENDING;
	return VERDICT_KEEP;
}

static __always_inline enum socket_verdict decide(__u16 local_port, __u16 remote_port)
{
	return decide_ends(local_port, remote_port, false);
}

static __always_inline bool family_wanted(__u16 family)
{
	if (family != SYNFIN_AF_INET && family != SYNFIN_AF_INET6)
		return false;
	return !filter_family || family == filter_family;
}

static __always_inline bool port_filters_configured(void)
{
	return exclude_port || filter_local_port_count || filter_remote_port_count ||
	       filter_any_port_count;
}

#endif
