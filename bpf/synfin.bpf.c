// SPDX-License-Identifier: GPL-2.0
/* synfin kernel side: TCP tracepoints → one ring buffer of struct synfin_event,
 * plus an iter/tcp program that snapshots the kernel's socket table. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "synfin/abi.h"
#include "synfin_bpf.h"
#include "ring_wakeup.h"

char LICENSE[] SEC("license") = "GPL";

/* Load-time configuration, frozen in .rodata so the verifier prunes unused filters. */
const volatile __u16 filter_family = 0; /* 0: both */
const volatile __u32 filter_local_port_count = 0;
const volatile __u16 filter_local_ports[SYNFIN_MAX_PORT_FILTERS] = {};
/* The daemon's own HTTP port: its scrapes and API calls are not the host's traffic, and
 * counting them would make every scrape change what it reads. 0: none. */
const volatile __u16 exclude_port = 0;
const volatile __u32 filter_remote_port_count = 0;
const volatile __u16 filter_remote_ports[SYNFIN_MAX_PORT_FILTERS] = {};
/* Wake the consumer early only once this many bytes wait (ring_wakeup.h); otherwise it drains
 * on its own interval. Per-event wakeups cost ~30% of connection throughput on 2 cores. */
const volatile __u64 wakeup_threshold_bytes = 1 << 20;
/* The daemon's compact mode: state steps, owners and counters stay in each socket's own
 * storage; the ring carries one record per socket, when it is destroyed. */
const volatile bool compact_paths = false;
/* Listen refusals on SYNs (userspace fills these from kallsyms and BTF; 0: not counted):
 * where tcp_rcv_state_process lies, which consumes a listener's SYN right after
 * tcp_conn_request judged it, and the kernel's LINUX_MIB_* indexes of the refusal counters. */
const volatile __u64 rcv_state_process_start = 0;
const volatile __u64 rcv_state_process_end = 0;
const volatile __u32 mib_listen_overflows = 0;
const volatile __u32 mib_syn_queue_drops = 0;
const volatile __u32 possible_cpus = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Ring-buffer reserve failures, per CPU and per event type: nothing is dropped silently. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_EV_TYPE_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

/* Compact mode: each socket's path, freed by the kernel with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct synfin_path);
} socket_paths SEC(".maps");

/* Compact mode: owners of accepted sockets by cookie. accept() runs in a syscall tracepoint,
 * where the socket is no BTF pointer and its storage cannot be reached; the path picks the
 * owner up from here when the socket ends (and the live walk reads it). */
struct synfin_owner {
	__u32 tgid;
	char comm[SYNFIN_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct synfin_owner);
} accepted_owners SEC(".maps");

/* Port-filter verdict per socket cookie, decided once both ports are known and kept until the
 * socket is destroyed, so that its last records (ports zeroed) follow the same verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} socket_verdicts SEC(".maps");

/* Per listening socket (by cookie) and per listening port: what the kernel refused them.
 * Counted here, not sent as records, so that a SYN flood costs map updates only. Entries of a
 * listener go when it is destroyed; per-port entries stay (a port's totals never go back). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct synfin_listener_counters);
} listener_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u16);
	__type(value, struct synfin_listener_counters);
} port_listener_counters SEC(".maps");

/* Kernel drops of TCP packets by synfin drop reason, per CPU: every drop, socket or not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_DROP_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drop_totals SEC(".maps");

/* Listening sockets by (network namespace, port), for the SYNs a listener consumes without
 * naming it: registered at listen() and by the socket-table walk. With SO_REUSEPORT the latest
 * listener of a port stands for its group. */
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 padding;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, __u64);
} listeners_by_port SEC(".maps");

/* The kernel's own per-CPU counters of a namespace's listen refusals (TcpExtListenOverflows,
 * TcpExtTCPReqQFullDrop), as last read on each CPU. */
struct mib_key {
	__u32 netns;
	__u32 cpu;
};

struct mib_seen {
	__u64 overflows;
	__u64 syn_queue_drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct mib_key);
	__type(value, struct mib_seen);
} listen_mibs_seen SEC(".maps");

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

/* Port filters can only be decided once the ports are known: a client's local port is 0 at
 * CLOSE -> SYN_SENT, a server child's remote port is 0 at LISTEN -> SYN_RECV, and the kernel
 * zeroes both on the way to CLOSE. A port of 0 means "not known yet". */
static __always_inline enum socket_verdict decide(__u16 local_port, __u16 remote_port)
{
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
	if (exclude_port && (!local_port || !remote_port))
		return VERDICT_PENDING;
	return VERDICT_KEEP;
}

static __always_inline bool family_wanted(__u16 family)
{
	if (family != SYNFIN_AF_INET && family != SYNFIN_AF_INET6)
		return false;
	return !filter_family || family == filter_family;
}

static __always_inline bool port_filters_configured(void)
{
	return exclude_port || filter_local_port_count || filter_remote_port_count;
}

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

/* The one way a record enters the ring: reserve, zeroed whole (a field added to the ABI
 * never ships stale ring bytes), stamped; the caller fills it and calls submit_event(). */
static __always_inline struct synfin_event *reserve_event(__u32 type)
{
	struct synfin_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u64 *lost = bpf_map_lookup_elem(&lost_events, &type);
		if (lost)
			(*lost)++;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

/* Only where the hook runs in the owner's own context is the current task worth a record's
 * bytes; elsewhere it is whoever the softirq interrupted. */
static __always_inline void name_owner(struct synfin_event *e)
{
	e->flags |= SYNFIN_FLAG_TASK_IS_OWNER;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline void submit_event(struct synfin_event *e)
{
	bpf_ringbuf_submit(e, ring_submit_flags(&events, wakeup_threshold_bytes, e->ts_ns));
}

static __always_inline void emit_untrack(__u64 cookie)
{
	struct synfin_event *e = reserve_event(SYNFIN_EV_UNTRACK);
	if (!e)
		return;
	e->cookie = cookie;
	submit_event(e);
}

/* Whether the socket's records go to userspace; called before reserving, so filtered
 * sockets cost no ring space. remote_port_known is false on a server child's
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

/* ---- Reasons: the running kernel's enum values mapped onto synfin's own numbering ----
 * The kernel's enums are declared here under a ___synfin flavour, so the object builds on a
 * machine whose vmlinux.h lacks some names, and CO-RE resolves each name on the running
 * kernel; a name the kernel does not have is skipped, a value synfin does not know is OTHER. */
enum sk_rst_reason___synfin {
#define SYNFIN_KERNEL_RESET_NAME(name) SK_RST_REASON_##name##___synfin,
	SYNFIN_RESET_REASONS(SYNFIN_KERNEL_RESET_NAME)
#undef SYNFIN_KERNEL_RESET_NAME
};

enum skb_drop_reason___synfin {
	SKB_CONSUMED___synfin,
	SKB_NOT_DROPPED_YET___synfin,
#define SYNFIN_KERNEL_DROP_NAME(name) SKB_DROP_REASON_##name##___synfin,
	SYNFIN_DROP_REASONS(SYNFIN_KERNEL_DROP_NAME)
#undef SYNFIN_KERNEL_DROP_NAME
};

static __always_inline __u32 reset_reason_index(__u32 kernel_value)
{
#define SYNFIN_MAP_RESET(name)                                                                     \
	if (bpf_core_enum_value_exists(enum sk_rst_reason___synfin,                                \
				       SK_RST_REASON_##name##___synfin) &&                         \
	    kernel_value == bpf_core_enum_value(enum sk_rst_reason___synfin,                       \
						SK_RST_REASON_##name##___synfin))                  \
		return SYNFIN_RESET_##name;
	SYNFIN_RESET_REASONS(SYNFIN_MAP_RESET)
#undef SYNFIN_MAP_RESET
	return SYNFIN_RESET_REASON_OTHER;
}

static __always_inline __u32 drop_reason_index(__u32 kernel_value)
{
#define SYNFIN_MAP_DROP(name)                                                                      \
	if (bpf_core_enum_value_exists(enum skb_drop_reason___synfin,                              \
				       SKB_DROP_REASON_##name##___synfin) &&                       \
	    kernel_value == bpf_core_enum_value(enum skb_drop_reason___synfin,                     \
						SKB_DROP_REASON_##name##___synfin))                \
		return SYNFIN_DROP_##name;
	SYNFIN_DROP_REASONS(SYNFIN_MAP_DROP)
#undef SYNFIN_MAP_DROP
	return SYNFIN_DROP_REASON_OTHER;
}

/* Not drops: skb:kfree_skb fires with these on some kernels. */
static __always_inline bool is_consumed(__u32 kernel_value)
{
	if (bpf_core_enum_value_exists(enum skb_drop_reason___synfin, SKB_CONSUMED___synfin) &&
	    kernel_value ==
		    bpf_core_enum_value(enum skb_drop_reason___synfin, SKB_CONSUMED___synfin))
		return true;
	return bpf_core_enum_value_exists(enum skb_drop_reason___synfin,
					  SKB_NOT_DROPPED_YET___synfin) &&
	       kernel_value == bpf_core_enum_value(enum skb_drop_reason___synfin,
						   SKB_NOT_DROPPED_YET___synfin);
}

/* A TCP segment's two ends, read from its IP and TCP headers: local is its destination (an
 * incoming segment), remote its source. */
struct tcp_segment {
	__u16 family;
	__u16 local_port;
	__u16 remote_port;
	__u8 tcp_flags;
	__u8 local_addr[SYNFIN_ADDR_LEN];
	__u8 remote_addr[SYNFIN_ADDR_LEN];
};

/* False for anything but an unfragmented TCP segment over IPv4 or IPv6 (without extension
 * headers) whose network header the skb knows. */
static __always_inline bool read_tcp_segment(const struct sk_buff *skb, struct tcp_segment *seg)
{
	/* skb is a BTF pointer (tp_btf): plain loads. The packet's bytes are not typed memory
	 * and need bpf_probe_read_kernel(), once for the IP header and once for the TCP one. */
	__u16 protocol = bpf_ntohs(skb->protocol);
	__u16 network = skb->network_header;
	unsigned char *head = skb->head;
	__u8 header[40];
	__u32 transport;

	if (!head || network == (__u16)~0U)
		return false;
	if (protocol == SYNFIN_ETH_P_IP) {
		if (bpf_probe_read_kernel(header, 20, head + network))
			return false;
		__u16 fragment = ((__u16)header[6] << 8 | header[7]) & 0x1fff;
		if ((header[0] >> 4) != 4 || header[9] != SYNFIN_IPPROTO_TCP || fragment)
			return false;
		seg->family = SYNFIN_AF_INET;
		__builtin_memcpy(seg->remote_addr, header + 12, 4);
		__builtin_memcpy(seg->local_addr, header + 16, 4);
		transport = network + (header[0] & 0xf) * 4;
	} else if (protocol == SYNFIN_ETH_P_IPV6) {
		if (bpf_probe_read_kernel(header, 40, head + network))
			return false;
		if ((header[0] >> 4) != 6 || header[6] != SYNFIN_IPPROTO_TCP)
			return false;
		seg->family = SYNFIN_AF_INET6;
		__builtin_memcpy(seg->remote_addr, header + 8, 16);
		__builtin_memcpy(seg->local_addr, header + 24, 16);
		transport = network + 40;
	} else {
		return false;
	}
	__u8 tcp[14]; /* ports, sequence and acknowledgement numbers, offset, flags */
	if (bpf_probe_read_kernel(tcp, sizeof(tcp), head + transport))
		return false;
	seg->remote_port = (__u16)tcp[0] << 8 | tcp[1];
	seg->local_port = (__u16)tcp[2] << 8 | tcp[3];
	seg->tcp_flags = tcp[13];
	return true;
}

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
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu_anchor SEC(".maps");

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
struct known_offset {
	__u64 offset;
	__u64 known;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct known_offset);
} this_cpu_offset SEC(".maps");

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

/* ---- compact mode: the path in socket-local storage ---- */

static __always_inline struct synfin_path *path_of(const struct sock *sk, bool create)
{
	return bpf_sk_storage_get(&socket_paths, (struct sock *)sk, 0,
				  create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
}

/* Read once both ports are known: they do not change after that, and the kernel zeroes them on
 * the way to CLOSE. Direct loads: sk is the tracepoint's BTF pointer. */
static __always_inline void remember_endpoints(struct synfin_path *p, const struct sock *sk,
					       bool remote_port_known)
{
	if (p->sport && p->dport)
		return;
	const struct sock_common *skc = &sk->__sk_common;
	__u16 local_port = skc->skc_num;
	__u16 remote_port = remote_port_known ? bpf_ntohs(skc->skc_dport) : 0;
	p->family = skc->skc_family;
	if (!p->netns)
		p->netns = skc->skc_net.net->ns.inum;
	if (local_port) {
		p->sport = local_port;
		if (p->family == SYNFIN_AF_INET)
			__builtin_memcpy(p->saddr, &skc->skc_rcv_saddr, 4);
		else
			__builtin_memcpy(p->saddr, &skc->skc_v6_rcv_saddr, SYNFIN_ADDR_LEN);
	}
	if (remote_port) {
		p->dport = remote_port;
		if (p->family == SYNFIN_AF_INET)
			__builtin_memcpy(p->daddr, &skc->skc_daddr, 4);
		else
			__builtin_memcpy(p->daddr, &skc->skc_v6_daddr, SYNFIN_ADDR_LEN);
	}
	p->path_flags |= SYNFIN_PATH_ENDPOINTS_KNOWN;
}

/* synfin_path.verdict: decided once both ports are known; until then the socket is kept. */
enum path_verdict { PATH_UNDECIDED = 0, PATH_KEEP = 1, PATH_DROP = 2 };

static __always_inline enum path_verdict path_verdict_now(const struct synfin_path *p)
{
	if (!port_filters_configured())
		return PATH_KEEP;
	if (p->verdict != PATH_UNDECIDED || !(p->path_flags & SYNFIN_PATH_ENDPOINTS_KNOWN))
		return p->verdict;
	enum socket_verdict verdict = decide(p->sport, p->dport);
	if (verdict == VERDICT_PENDING)
		return PATH_UNDECIDED;
	return verdict == VERDICT_KEEP ? PATH_KEEP : PATH_DROP;
}

static __always_inline void remember_owner(struct synfin_path *p)
{
	p->owner_tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(p->owner_comm, sizeof(p->owner_comm));
	p->path_flags |= SYNFIN_PATH_OWNER_KNOWN;
}

static __always_inline void record_step(const struct sock *sk, int old_state, int new_state,
					bool child_being_cloned)
{
	struct synfin_path *p = path_of(sk, true);
	if (!p)
		return; /* no memory: the socket stays unknown until the daemon's next walk */
	/* Assigns the cookie now: accept() reads it without being able to assign it. A server
	 * child's first step may still carry the listener's cookie (see clones_awaiting_cookie),
	 * so its step out of SYN_RECV assigns it too. */
	if (p->steps == 0 || old_state == SYNFIN_TCP_SYN_RECV)
		bpf_get_socket_cookie((void *)sk);
	__u32 slot = p->steps;
	bool full = slot >= SYNFIN_PATH_STEPS;
	if (full)
		slot = SYNFIN_PATH_STEPS - 1;
	p->step_ns[slot] = bpf_ktime_get_ns();
	p->step_from[slot] = old_state;
	p->step_to[slot] = new_state;
	/* Published after the slot is written: the live walk may read this path meanwhile on
	 * another CPU. BPF has no fence; the compiler barrier keeps the stores in order (x86
	 * keeps stores in order), and userspace also stops at a slot still empty. */
	asm volatile("" ::: "memory");
	if (full)
		p->path_flags |= SYNFIN_PATH_TRUNCATED;
	else
		p->steps = slot + 1;
	if (old_state == SYNFIN_TCP_CLOSE &&
	    (new_state == SYNFIN_TCP_SYN_SENT || new_state == SYNFIN_TCP_LISTEN))
		remember_owner(p);
	remember_endpoints(p, sk, !child_being_cloned);
	if (p->verdict == PATH_UNDECIDED)
		p->verdict = path_verdict_now(p);
	if (!child_being_cloned) {
		const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
		if (tp)
			p->bytes_sent_at_entry = tp->bytes_sent;
	}
}

/* The owner accept() found, for a path that has none of its own. */
static __always_inline void fill_accepted_owner(struct synfin_path *p, __u64 cookie, bool forget)
{
	struct synfin_owner *owner = bpf_map_lookup_elem(&accepted_owners, &cookie);
	if (!owner)
		return;
	if (!(p->path_flags & SYNFIN_PATH_OWNER_KNOWN)) {
		p->owner_tgid = owner->tgid;
		__builtin_memcpy(p->owner_comm, owner->comm, sizeof(p->owner_comm));
		p->path_flags |= SYNFIN_PATH_OWNER_KNOWN;
	}
	if (forget)
		bpf_map_delete_elem(&accepted_owners, &cookie);
}

static __always_inline void fill_path_record(struct synfin_path_record *r, const struct sock *sk,
					     const struct synfin_path *p)
{
	r->type = SYNFIN_EV_PATH;
	__builtin_memcpy(&r->path, p, sizeof(*p));
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (tp)
		r->bytes_sent = tp->bytes_sent;
}

/* The socket is gone: its whole path crosses the ring once. A socket without a path (born
 * before synfin started and never stepped since) still says that it ended. */
static __always_inline void emit_path(const struct sock *sk, __u64 cookie)
{
	struct synfin_path *p = path_of(sk, false);
	if (p && path_verdict_now(p) == PATH_DROP)
		return;
	if (!p && !family_wanted(sk->__sk_common.skc_family))
		return;
	__u32 type = SYNFIN_EV_PATH;
	struct synfin_path_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__u64 *lost = bpf_map_lookup_elem(&lost_events, &type);
		if (lost)
			(*lost)++;
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_ns = bpf_ktime_get_ns();
	r->cookie = cookie;
	r->record_flags = SYNFIN_PATH_RECORD_ENDED;
	if (p) {
		fill_path_record(r, sk, p);
		fill_accepted_owner(&r->path, cookie, true);
	} else {
		r->type = SYNFIN_EV_PATH;
		remember_endpoints(&r->path, sk, true);
		fill_accepted_owner(&r->path, cookie, true);
		if (path_verdict_now(&r->path) == PATH_DROP) {
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
			return;
		}
	}
	bpf_ringbuf_submit(r, ring_submit_flags(&events, wakeup_threshold_bytes, r->ts_ns));
}

/* Server children whose LISTEN -> SYN_RECV step ran before the kernel gave them a cookie of
 * their own: until 6.2-era kernels, inet_csk_clone_lock() sets SYN_RECV on the listener's
 * copy, cookie and remote end included, and only then copies in the request's cookie. Their
 * step waits here, by socket address (the child's for its whole life), with its time, and is
 * sent under the child's own cookie and endpoints just before its next step. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} clones_awaiting_cookie SEC(".maps");

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
	read_event_endpoints(e, &sk->__sk_common);
	/* A child's tcp_sock is still the listener's copy at LISTEN -> SYN_RECV. */
	if (!child_being_cloned)
		read_socket_counters(e, sk);
	submit_event(e);
}

/* The clone step of a child that waited for its cookie, stamped when it happened. */
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
	if (compact_paths) {
		if (family_wanted(sk->__sk_common.skc_family))
			record_step(sk, old_state, new_state, child_being_cloned);
		return 0;
	}
	__u64 address = (__u64)sk;
	if (child_being_cloned && sk->__sk_common.skc_cookie.counter) {
		__u64 now = bpf_ktime_get_ns();
		bpf_map_update_elem(&clones_awaiting_cookie, &address, &now, BPF_ANY);
		return 0;
	}
	__u64 cloned_ns = 0;
	if (old_state == SYNFIN_TCP_SYN_RECV) {
		__u64 *awaited = bpf_map_lookup_elem(&clones_awaiting_cookie, &address);
		if (awaited) {
			cloned_ns = *awaited;
			bpf_map_delete_elem(&clones_awaiting_cookie, &address);
		}
	}
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	if (!socket_wanted(&sk->__sk_common, cookie, !child_being_cloned))
		return 0;
	if (cloned_ns)
		emit_awaited_clone(sk, cookie, cloned_ns);
	emit_state(sk, cookie, old_state, new_state, child_being_cloned);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_tcp_retransmit_skb, const struct sock *sk)
{
	if (compact_paths && sk) {
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
		if (compact_paths) {
			struct synfin_path *p = path_of(sk, false);
			if (p)
				p->path_flags |= SYNFIN_PATH_RESET_SENT;
		}
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
	if (compact_paths) {
		struct synfin_path *p = path_of(sk, false);
		if (p)
			p->path_flags |= SYNFIN_PATH_RESET_RECEIVED;
	}
	return emit_socket_event(SYNFIN_EV_RECEIVE_RESET, sk, bpf_get_socket_cookie(sk));
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(on_tcp_destroy_sock, struct sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	if (compact_paths) {
		emit_path(sk, cookie); /* verdicts live in the path: no LRU entry to forget */
	} else {
		emit_socket_event(SYNFIN_EV_DESTROY, sk, cookie);
		forget_verdict(cookie);
	}
	/* Only listeners have counters: a lookup takes no lock, a delete of a missing key does. */
	if (bpf_map_lookup_elem(&listener_counters, &cookie))
		bpf_map_delete_elem(&listener_counters, &cookie);
	return 0;
}

/* accept() is where a server-side socket gets its owner; its state changes all ran in
 * softirq before anyone owned it. Resolve fd → file → socket → sock of the caller. The fd
 * table's entries are plain addresses, not BTF pointers, so from there on every field is a
 * probe read (a kfunc that types them, bpf_rdonly_cast, needs 6.2). */
static __always_inline int record_accepted_socket(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & SYNFIN_S_IFMT) != SYNFIN_S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != SYNFIN_IPPROTO_TCP)
		return 0;
	/* The state-change program already assigned the cookie when the child was created. */
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return 0;
	if (compact_paths) {
		struct synfin_owner owner = {.tgid = bpf_get_current_pid_tgid() >> 32};
		bpf_get_current_comm(owner.comm, sizeof(owner.comm));
		bpf_map_update_elem(&accepted_owners, &cookie, &owner, BPF_ANY);
		return 0;
	}
	const struct sock_common *skc = &sk->__sk_common;
	__u16 family = BPF_CORE_READ(skc, skc_family);
	__u16 local_port = BPF_CORE_READ(skc, skc_num);
	__u16 remote_port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (!endpoints_wanted(family, local_port, remote_port, cookie))
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_ACCEPT);
	if (!e)
		return 0;
	e->cookie = cookie;
	name_owner(e);
	e->family = family;
	e->sport = local_port;
	e->dport = remote_port;
	if (family == SYNFIN_AF_INET) {
		bpf_core_read(e->saddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &skc->skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &skc->skc_v6_daddr);
	}
	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	submit_event(e);
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

/* ---- skb:kfree_skb: packets the kernel dropped, and why ----
 * Runs for every dropped packet of any protocol, so what is not TCP leaves at once. rx_sk
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
	struct tcp_segment seg;
	bool tcp = read_tcp_segment(skb, &seg);
	__u8 state = 0;
	if (sk) {
		__u16 family = sk->__sk_common.skc_family;
		state = sk->__sk_common.skc_state;
		if (family != SYNFIN_AF_INET && family != SYNFIN_AF_INET6)
			sk = NULL;
		else if (!tcp && !is_tcp_socket(sk, state))
			return 0;
		else if (tcp && !is_tcp_socket(sk, state))
			sk = NULL; /* e.g. a packet socket's copy */
	}
	if (!tcp && !sk)
		return 0;

	__u32 reason = drop_reason_index(kernel_reason);
	__u64 *total = bpf_map_lookup_elem(&drop_totals, &reason);
	if (total)
		(*total)++;
	if (!sk || state == SYNFIN_TCP_NEW_SYN_RECV)
		return 0;
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
	struct tcp_segment seg;
	if (!read_tcp_segment(skb, &seg) ||
	    (seg.tcp_flags & (SYNFIN_TCP_SYN | SYNFIN_TCP_ACK)) != SYNFIN_TCP_SYN)
		return 0;
	/* TCP has cleared skb->dev by now; the input route still names the device. */
	struct dst_entry *route = (struct dst_entry *)(skb->_skb_refdst & ~SYNFIN_SKB_DST_NOREF);
	struct net *net = route ? BPF_CORE_READ(route, dev, nd_net.net) : NULL;
	if (!net)
		return 0;
	struct listener_key key = {.netns = netns_of(net), .port = seg.local_port};
	__u64 *cookie = bpf_map_lookup_elem(&listeners_by_port, &key);
	if (cookie)
		account_listen_refusals(net, *cookie, seg.local_port, seg.family);
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
		if (compact_paths && bpf_sk_storage_get(&socket_paths, tp, 0, 0))
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

/* ---- compact mode: the live view, every socket with a path, in every network namespace ---- */

static __always_inline void write_live_path(struct seq_file *seq, struct sock *sk,
					    struct synfin_path *p)
{
	struct synfin_path_record r = {};

	if (path_verdict_now(p) == PATH_DROP)
		return;
	r.ts_ns = bpf_ktime_get_ns();
	r.cookie = bpf_get_socket_cookie(sk);
	fill_path_record(&r, sk, p);
	fill_accepted_owner(&r.path, r.cookie, false);
	bpf_seq_write(seq, &r, sizeof(r));
}

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
