/* What the kernel refused listening sockets: per listener and per port, and listen refusals
 * attributed through the kernel's own per-CPU counters. */
#ifndef SYNFIN_BPF_LISTENERS_H
#define SYNFIN_BPF_LISTENERS_H

enum listener_counter { COUNT_OVERFLOW, COUNT_SYN_QUEUE_DROP, COUNT_OTHER_DROP, COUNT_RESET_SENT };

static __always_inline void add_to(struct synfin_listener_counters *c, enum listener_counter what,
				   __u64 n)
{
	if (what == COUNT_OVERFLOW)
		__sync_fetch_and_add(&c->overflows, n);
	else if (what == COUNT_SYN_QUEUE_DROP)
		__sync_fetch_and_add(&c->syn_queue_drops, n);
	else if (what == COUNT_OTHER_DROP)
		__sync_fetch_and_add(&c->other_drops, n);
	else
		__sync_fetch_and_add(&c->resets_sent, n);
}

static __always_inline void count_on_listener_port(__u64 cookie, __u16 port, __u16 family,
						   enum listener_counter what, __u64 n)
{
	if (!family_wanted(family) || (exclude_port && port == exclude_port))
		return;
	struct synfin_listener_counters zero = {};
	struct synfin_listener_counters *c = bpf_map_lookup_elem(&listener_counters, &cookie);
	if (!c) {
		bpf_map_update_elem(&listener_counters, &cookie, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&listener_counters, &cookie);
	}
	if (c)
		add_to(c, what, n);
	c = bpf_map_lookup_elem(&port_listener_counters, &port);
	if (!c) {
		bpf_map_update_elem(&port_listener_counters, &port, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&port_listener_counters, &port);
	}
	if (c)
		add_to(c, what, n);
}

static __always_inline void count_on_listener(const struct sock *listener, __u64 cookie,
					      enum listener_counter what)
{
	count_on_listener_port(cookie, BPF_CORE_READ(listener, __sk_common.skc_num),
			       BPF_CORE_READ(listener, __sk_common.skc_family), what, 1);
}

/* ---- Listen refusals, from the kernel's own counters ----
 * A SYN refused because the accept queue (or, without syncookies, the SYN queue) is full is
 * consumed, not dropped with a reason; the kernel only counts it, per CPU, in its namespace's
 * TcpExtListenOverflows / TcpExtTCPReqQFullDrop. Every such count is followed, on the same CPU
 * and before anything else can add to it, by a hook that names the listener: the SYN consumed
 * in tcp_rcv_state_process, or the handshake's last ACK dropped on the listener (rx_sk). The
 * counters' growth on this CPU since the last hook is that listener's. */
/* A CPU's offset into per-CPU memory, which kallsyms need not tell (data symbols are there only
 * with CONFIG_KALLSYMS_ALL): the address of a per-CPU array's element on that CPU, less the
 * per-CPU pointer the map keeps for it. */

static __always_inline bool compute_cpu_offset(__u32 cpu, unsigned long *offset)
{
	__u32 zero = 0;
	void *element = bpf_map_lookup_percpu_elem(&percpu_anchor, &zero, cpu);
	if (!element)
		return false;
	/* The map's address as a plain number, read back from the stack: the verifier allows
	 * no arithmetic on a map pointer, and bpf_array's pptrs[] lies past what it checks. */
	void *volatile map = &percpu_anchor;
	unsigned long map_address = 0, base = 0, element_address = 0;
	bpf_probe_read_kernel(&map_address, sizeof(map_address), (const void *)&map);
	bpf_probe_read_kernel(&element_address, sizeof(element_address), (const void *)&element);
	if (!map_address ||
	    bpf_probe_read_kernel(
		    &base, sizeof(base),
		    (const void *)(map_address + bpf_core_field_offset(struct bpf_array, pptrs))))
		return false;
	*offset = element_address - base;
	return true;
}

/* A CPU's offset never changes: each CPU computes its own once (three probe reads). */

static __always_inline bool cpu_offset(__u32 cpu, unsigned long *offset)
{
	__u32 zero = 0;
	struct known_offset *mine = NULL;
	if (cpu == bpf_get_smp_processor_id()) {
		mine = bpf_map_lookup_elem(&this_cpu_offset, &zero);
		if (mine && mine->known) {
			*offset = mine->offset;
			return true;
		}
	}
	if (!compute_cpu_offset(cpu, offset))
		return false;
	if (mine) {
		mine->offset = *offset;
		mine->known = 1;
	}
	return true;
}

static __always_inline bool read_listen_mibs(struct net *net, __u32 cpu, struct mib_seen *out)
{
	unsigned long offset;
	if (!mib_listen_overflows || !cpu_offset(cpu, &offset))
		return false;
	/* Read as a number: the verifier allows no arithmetic on a typed pointer. */
	unsigned long base = (unsigned long)BPF_CORE_READ(net, mib.net_statistics) + offset;
	if (bpf_probe_read_kernel(&out->overflows, sizeof(out->overflows),
				  (void *)(base + mib_listen_overflows * sizeof(unsigned long))))
		return false;
	if (bpf_probe_read_kernel(&out->syn_queue_drops, sizeof(out->syn_queue_drops),
				  (void *)(base + mib_syn_queue_drops * sizeof(unsigned long))))
		return false;
	return true;
}

static __always_inline __u32 netns_of(struct net *net)
{
	return BPF_CORE_READ(net, ns.inum); /* net may be a plain address (consume_skb's route) */
}

/* Before any listener of a namespace can be refused anything: where each CPU's counters stand. */
static __always_inline void start_listen_mibs(struct net *net)
{
	struct mib_key key = {.netns = netns_of(net)};
	for (__u32 cpu = 0; cpu < SYNFIN_MAX_CPUS; cpu++) {
		if (cpu >= possible_cpus)
			break;
		key.cpu = cpu;
		struct mib_seen seen;
		if (bpf_map_lookup_elem(&listen_mibs_seen, &key) ||
		    !read_listen_mibs(net, cpu, &seen))
			continue;
		bpf_map_update_elem(&listen_mibs_seen, &key, &seen, BPF_NOEXIST);
	}
}

static __always_inline void register_listener(const struct sock *sk, __u64 cookie)
{
	struct net *net = sk->__sk_common.skc_net.net;
	struct listener_key key = {.netns = netns_of(net),
				   .port = BPF_CORE_READ(sk, __sk_common.skc_num)};
	bpf_map_update_elem(&listeners_by_port, &key, &cookie, BPF_ANY);
	start_listen_mibs(net);
}

static __always_inline void forget_listener(const struct sock *sk, __u64 cookie)
{
	struct net *net = sk->__sk_common.skc_net.net;
	struct listener_key key = {.netns = netns_of(net),
				   .port = BPF_CORE_READ(sk, __sk_common.skc_num)};
	__u64 *registered = bpf_map_lookup_elem(&listeners_by_port, &key);
	if (registered && *registered == cookie)
		bpf_map_delete_elem(&listeners_by_port, &key);
}

static __always_inline void account_listen_refusals(struct net *net, __u64 cookie, __u16 port,
						    __u16 family)
{
	struct mib_key key = {.netns = netns_of(net), .cpu = bpf_get_smp_processor_id()};
	struct mib_seen now;
	if (!read_listen_mibs(net, key.cpu, &now))
		return;
	struct mib_seen *seen = bpf_map_lookup_elem(&listen_mibs_seen, &key);
	if (!seen) {
		bpf_map_update_elem(&listen_mibs_seen, &key, &now, BPF_NOEXIST);
		return;
	}
	__u64 overflows = now.overflows - seen->overflows;
	__u64 syn_queue_drops = now.syn_queue_drops - seen->syn_queue_drops;
	*seen = now;
	if (overflows)
		count_on_listener_port(cookie, port, family, COUNT_OVERFLOW, overflows);
	if (syn_queue_drops)
		count_on_listener_port(cookie, port, family, COUNT_SYN_QUEUE_DROP, syn_queue_drops);
}

#endif
