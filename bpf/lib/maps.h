/* Every map of the socket programs: the per-CPU rings, loss and verdict bookkeeping, the daemon's
 * socket paths and tallies, listener counters. */
#ifndef SYNFIN_BPF_MAPS_H
#define SYNFIN_BPF_MAPS_H

/* One ring per CPU: a program reserves in its own CPU's ring and never waits on another CPU's
 * reservation lock. Userspace sizes the rings, fills the slots before attaching, and merges
 * them back into time order by their stamps. An empty slot counts as a reserve failure. */
struct cpu_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SYNFIN_MAX_CPUS);
	__type(key, __u32);
	__array(values, struct cpu_ring);
} cpu_rings SEC(".maps");

/* Ring-buffer reserve failures, per CPU and per record kind: nothing is dropped silently. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_EV_TYPE_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

/* The daemon: each socket's path, freed by the kernel with the socket. BPF_F_CLONE copies a
 * listener's path into each child it creates, before the child's first step: the listener's
 * owner is the child's until someone closes it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct synfin_path);
} socket_paths SEC(".maps");

/* The daemon's tallies (abi.h names the keys); userspace sums the CPUs for /metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_TALLY_TRANSITION_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tally_transitions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_TALLY_CLOSE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tally_closes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_VERDICT_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} tally_invalid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_HISTOGRAM_COUNT);
	__type(key, __u32);
	__type(value, struct synfin_histogram);
} tally_histograms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_CLOSE_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} close_counters SEC(".maps");

/* Each CPU's share of --closes-per-second: a token bucket (tokens in billionths of a close). */
struct sample_budget {
	__u64 tokens;
	__u64 refilled_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample_budget);
} sample_budgets SEC(".maps");

/* Per-step records: port-filter verdict per socket cookie, decided once both ports are known
 * and kept until the socket is destroyed, so that its last records (ports zeroed) follow the
 * same verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} socket_verdicts SEC(".maps");

/* Per-step records: server children whose LISTEN -> SYN_RECV step ran before the kernel gave
 * them a cookie of their own. On 6.1, inet_csk_clone_lock() sets SYN_RECV on the listener's
 * copy, cookie and remote end included, and only then copies in the request's cookie. Their step
 * waits here, by socket address (the child's for its whole life), with its time, and is sent
 * under the child's own cookie and endpoints just before its next step. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} clones_awaiting_cookie SEC(".maps");

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

/* ... and those on TIME_WAIT mini-sockets (PAWS, old duplicates), by synfin drop reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYNFIN_DROP_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} time_wait_drop_totals SEC(".maps");

/* The cookie of the socket each CPU destroyed last: the queues a socket purges on its way out
 * (one drop per connection whose peer's FIN was never read) are told from a live socket's drops
 * without a storage lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} destroyed_here SEC(".maps");

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

/* Each CPU's counters of the namespace it met last, so that a listener's SYN costs no lookup:
 * the route the namespace was found through, where the counters live, and what was seen. This
 * copy stands for listen_mibs_seen's entry of (that namespace, this CPU) while it is held. */
struct listen_mib_cache {
	__u64 route;
	__u64 counters;
	struct mib_seen seen;
	__u32 netns;
	__u32 known;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct listen_mib_cache);
} listen_mib_cache SEC(".maps");

/* A CPU's offset into per-CPU memory (lib/listeners.h): an anchor element, and each CPU's
 * offset once computed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu_anchor SEC(".maps");

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

#endif
