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

/* Where this CPU's counters of a namespace live, as a number: the verifier allows no
 * arithmetic on a typed pointer. */
static __always_inline bool listen_mibs_address(struct net *net, __u32 cpu, unsigned long *out)
{
	unsigned long offset;
	if (!mib_listen_overflows || !cpu_offset(cpu, &offset))
		return false;
	*out = (unsigned long)BPF_CORE_READ(net, mib.net_statistics) + offset;
	return true;
}

static __always_inline bool read_mibs_at(unsigned long base, struct mib_seen *out)
{
	return !bpf_probe_read_kernel(&out->overflows, sizeof(out->overflows),
				      (void *)(base + mib_listen_overflows * sizeof(unsigned long))) &&
	       !bpf_probe_read_kernel(&out->syn_queue_drops, sizeof(out->syn_queue_drops),
				      (void *)(base + mib_syn_queue_drops * sizeof(unsigned long)));
}

static __always_inline bool read_listen_mibs(struct net *net, __u32 cpu, struct mib_seen *out)
{
	unsigned long base;
	return listen_mibs_address(net, cpu, &base) && read_mibs_at(base, out);
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
	/* Its counters go with its listening: a destroy then need not look for them (a count
	 * that races this step and comes back is the LRU's to evict). */
	bpf_map_delete_elem(&listener_counters, &cookie);
}

/* This CPU's view of the namespace it met last (lib/maps.h listen_mib_cache), taken over from
 * listen_mibs_seen, where the one it held before goes back. */
static __always_inline struct listen_mib_cache *listen_mibs_of(struct net *net, __u32 netns,
								__u64 route)
{
	__u32 zero = 0;
	struct listen_mib_cache *cache = bpf_map_lookup_elem(&listen_mib_cache, &zero);
	if (!cache)
		return NULL;
	if (cache->known && cache->netns == netns) {
		if (route)
			cache->route = route;
		return cache;
	}
	struct mib_key key = {.netns = cache->netns, .cpu = bpf_get_smp_processor_id()};
	if (cache->known)
		bpf_map_update_elem(&listen_mibs_seen, &key, &cache->seen, BPF_ANY);
	cache->known = 0;
	unsigned long base;
	if (!listen_mibs_address(net, key.cpu, &base))
		return NULL;
	key.netns = netns;
	struct mib_seen *seen = bpf_map_lookup_elem(&listen_mibs_seen, &key);
	if (seen)
		cache->seen = *seen;
	else if (!read_mibs_at(base, &cache->seen))
		return NULL;
	cache->netns = netns;
	cache->route = route;
	cache->counters = base;
	cache->known = 1;
	return cache;
}

/* What the namespace's counters grew by on this CPU since its last hook, charged to the
 * listener the packet came to. Unattributed growth (no listener known) waits for the next. */
static __always_inline void charge_listen_refusals(struct listen_mib_cache *cache,
						   const struct mib_seen *now, __u64 cookie,
						   __u16 port, __u16 family)
{
	__u64 overflows = now->overflows - cache->seen.overflows;
	__u64 syn_queue_drops = now->syn_queue_drops - cache->seen.syn_queue_drops;
	cache->seen = *now;
	if (overflows)
		count_on_listener_port(cookie, port, family, COUNT_OVERFLOW, overflows);
	if (syn_queue_drops)
		count_on_listener_port(cookie, port, family, COUNT_SYN_QUEUE_DROP, syn_queue_drops);
}

/* The handshake's last ACK dropped on a listener (rx_sk): the listener is known. */
static __always_inline void account_listen_refusals(struct net *net, __u64 cookie, __u16 port,
						    __u16 family)
{
	struct listen_mib_cache *cache = listen_mibs_of(net, netns_of(net), 0);
	struct mib_seen now;
	if (cache && read_mibs_at(cache->counters, &now))
		charge_listen_refusals(cache, &now, cookie, port, family);
}

/* A SYN a listener consumed: nothing was refused unless this CPU's counters moved, which costs
 * two counter reads to learn while the packet's route is the one met last. Only then are the
 * packet's headers read for the listener's port. */
static __always_inline void account_consumed_syn(const struct sk_buff *skb)
{
	__u64 route = skb->_skb_refdst & ~SYNFIN_SKB_DST_NOREF;
	if (!route)
		return;
	__u32 zero = 0;
	struct listen_mib_cache *cache = bpf_map_lookup_elem(&listen_mib_cache, &zero);
	if (!cache)
		return;
	struct net *net = NULL;
	if (!cache->known || cache->route != route) {
		/* TCP has cleared skb->dev by now; the input route still names the device. */
		net = BPF_CORE_READ((struct dst_entry *)route, dev, nd_net.net);
		if (!net)
			return;
		cache = listen_mibs_of(net, netns_of(net), route);
		if (!cache)
			return;
	}
	struct mib_seen now;
	if (!read_mibs_at(cache->counters, &now) ||
	    (now.overflows == cache->seen.overflows &&
	     now.syn_queue_drops == cache->seen.syn_queue_drops))
		return;
	struct tcp_segment seg;
	if (!read_tcp_segment(skb, &seg) ||
	    (seg.tcp_flags & (SYNFIN_TCP_SYN | SYNFIN_TCP_ACK)) != SYNFIN_TCP_SYN)
		return;
	struct listener_key key = {.netns = cache->netns, .port = seg.local_port};
	__u64 *cookie = bpf_map_lookup_elem(&listeners_by_port, &key);
	if (cookie)
		charge_listen_refusals(cache, &now, *cookie, seg.local_port, seg.family);
}

#endif
