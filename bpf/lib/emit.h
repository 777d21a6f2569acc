/* How the socket programs' records enter their ring (the XDP program's packet ring and the
 * iterators' seq files have their own): reserve (counting a failure per kind, so nothing is
 * dropped silently), zeroed whole (a field added to the ABI never ships stale ring bytes),
 * stamped, filled by the caller, submitted with a batched wakeup. */
#ifndef SYNFIN_BPF_EMIT_H
#define SYNFIN_BPF_EMIT_H

/* A program stays on its CPU until it returns: reserve and submit find the same ring. */
static __always_inline void *this_cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&cpu_rings, &cpu);
}

/* Stamped by the caller that already read the clock: a clock read costs ~40 ns in a VM. */
static __always_inline void *reserve_record_at(__u32 type, __u64 size, __u64 ts_ns)
{
	void *ring = this_cpu_ring();
	struct synfin_event *r = ring ? bpf_ringbuf_reserve(ring, size, 0) : NULL;
	if (!r) {
		__u64 *lost = bpf_map_lookup_elem(&lost_events, &type);
		if (lost)
			(*lost)++;
		return NULL;
	}
	/* Every layout starts with ts_ns, 8 bytes, then type (abi.h). */
	__builtin_memset(r, 0, size);
	r->type = type;
	r->ts_ns = ts_ns;
	return r;
}

static __always_inline void *reserve_record(__u32 type, __u64 size)
{
	return reserve_record_at(type, size, bpf_ktime_get_ns());
}

static __always_inline void submit_record(void *record)
{
	__u64 ts_ns = ((struct synfin_event *)record)->ts_ns;
	void *ring = this_cpu_ring();
	bpf_ringbuf_submit(record, ring ? ring_submit_flags(ring, wakeup_threshold_bytes, ts_ns)
					: BPF_RB_NO_WAKEUP);
}

static __always_inline struct synfin_event *reserve_event(__u32 type)
{
	return reserve_record(type, sizeof(struct synfin_event));
}

static __always_inline void submit_event(struct synfin_event *e)
{
	submit_record(e);
}

/* Only where the hook runs in the owner's own context is the current task worth a record's
 * bytes; elsewhere it is whoever the softirq interrupted. */
static __always_inline void name_owner(struct synfin_event *e)
{
	e->flags |= SYNFIN_FLAG_TASK_IS_OWNER;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline void emit_untrack(__u64 cookie)
{
	struct synfin_event *e = reserve_event(SYNFIN_EV_UNTRACK);
	if (!e)
		return;
	e->cookie = cookie;
	submit_event(e);
}

/* Per-step records: whether the socket's records go to userspace; called before reserving,
 * so filtered sockets cost no ring space. remote_port_known is false on a server child's
 * LISTEN -> SYN_RECV, where the clone still carries the listener's (empty) remote end. */
static __always_inline bool endpoints_wanted(__u16 family, __u16 local_port, __u16 remote_port,
					     __u64 cookie)
{
	if (!family_wanted(family))
		return false;
	if (!port_filters_configured())
		return true;
	__u8 *known = bpf_map_lookup_elem(&socket_verdicts, &cookie);
	if (known && *known != VERDICT_PENDING)
		return *known == VERDICT_KEEP;
	__u8 verdict = decide(local_port, remote_port);
	if (verdict == VERDICT_PENDING) {
		if (!known)
			bpf_map_update_elem(&socket_verdicts, &cookie, &verdict, BPF_ANY);
		return true;
	}
	bpf_map_update_elem(&socket_verdicts, &cookie, &verdict, BPF_ANY);
	if (verdict == VERDICT_DROP && known)
		emit_untrack(cookie); /* userspace already has it */
	return verdict == VERDICT_KEEP;
}

static __always_inline bool socket_wanted(const struct sock_common *skc, __u64 cookie,
					  bool remote_port_known)
{
	return endpoints_wanted(skc->skc_family, skc->skc_num,
				remote_port_known ? bpf_ntohs(skc->skc_dport) : 0, cookie);
}

static __always_inline void forget_verdict(__u64 cookie)
{
	if (port_filters_configured())
		bpf_map_delete_elem(&socket_verdicts, &cookie);
}

/* A socket event (retransmit, reset received, destroy) with the socket's ends and counters. */
static __always_inline int emit_socket_event(__u32 type, const struct sock *sk, __u64 cookie)
{
	if (!sk || !socket_wanted(&sk->__sk_common, cookie, true))
		return 0;
	struct synfin_event *e = reserve_event(type);
	if (!e)
		return 0;
	e->cookie = cookie;
	read_event_endpoints(e, &sk->__sk_common);
	read_socket_counters(e, sk);
	submit_event(e);
	return 0;
}

#endif
