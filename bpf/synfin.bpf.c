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
/* Wake the consumer early only once this many bytes wait; otherwise it drains on its own
 * interval. Per-event wakeups cost ~30% of connection throughput on 2 cores. */
const volatile __u64 wakeup_threshold_bytes = 1 << 20;
/* The daemon's compact mode: state steps, owners and counters stay in each socket's own
 * storage; the ring carries one record per socket, when it is destroyed. */
const volatile bool compact_paths = false;

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
 * iterator's rows. */
static __always_inline void read_endpoints(const struct sock_common *skc, __u16 *family,
					   __u16 *local_port, __u16 *remote_port, __u8 *local_addr,
					   __u8 *remote_addr)
{
	*family = BPF_CORE_READ(skc, skc_family);
	*local_port = BPF_CORE_READ(skc, skc_num);
	*remote_port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (*family == SYNFIN_AF_INET) {
		bpf_core_read(local_addr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(remote_addr, 4, &skc->skc_daddr);
	} else {
		bpf_core_read(local_addr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(remote_addr, 16, &skc->skc_v6_daddr);
	}
}

static __always_inline void read_event_endpoints(struct synfin_event *e,
						 const struct sock_common *skc)
{
	read_endpoints(skc, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
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
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

static __always_inline void submit_event(struct synfin_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_threshold_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
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
static __always_inline bool socket_wanted(const struct sock_common *skc, __u64 cookie,
					  bool remote_port_known)
{
	if (!family_wanted(BPF_CORE_READ(skc, skc_family)))
		return false;
	if (!port_filters_configured())
		return true;
	__u8 *known = bpf_map_lookup_elem(&socket_verdicts, &cookie);
	if (known && *known != VERDICT_PENDING)
		return *known == VERDICT_KEEP;
	__u16 local_port = BPF_CORE_READ(skc, skc_num);
	__u16 remote_port = remote_port_known ? bpf_ntohs(BPF_CORE_READ(skc, skc_dport)) : 0;
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

static __always_inline void forget_verdict(__u64 cookie)
{
	if (port_filters_configured())
		bpf_map_delete_elem(&socket_verdicts, &cookie);
}

/* Only full sockets carry tcp_sock fields; request and TIME_WAIT sockets stop at
 * sock_common, so the state is checked before reading past it. */
static __always_inline void read_socket_counters(struct synfin_event *e, const struct sock *sk)
{
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == SYNFIN_TCP_TIME_WAIT || state == SYNFIN_TCP_NEW_SYN_RECV)
		return;
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	e->bytes_sent = BPF_CORE_READ(tp, bytes_sent);
	e->snd_una = BPF_CORE_READ(tp, snd_una);
	e->snd_nxt = BPF_CORE_READ(tp, snd_nxt);
	e->rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	e->flags |= SYNFIN_FLAG_SEQ_VALID;
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
	/* Assigns the cookie now: accept() reads it without being able to assign it. */
	if (p->steps == 0)
		bpf_get_socket_cookie((void *)sk);
	__u32 slot = p->steps;
	if (slot >= SYNFIN_PATH_STEPS) {
		slot = SYNFIN_PATH_STEPS - 1;
		p->path_flags |= SYNFIN_PATH_TRUNCATED;
	} else {
		p->steps = slot + 1;
	}
	p->step_ns[slot] = bpf_ktime_get_ns();
	p->step_from[slot] = old_state;
	p->step_to[slot] = new_state;
	if (old_state == SYNFIN_TCP_CLOSE &&
	    (new_state == SYNFIN_TCP_SYN_SENT || new_state == SYNFIN_TCP_LISTEN))
		remember_owner(p);
	remember_endpoints(p, sk, !child_being_cloned);
	if (p->verdict == PATH_UNDECIDED)
		p->verdict = path_verdict_now(p);
	if (!child_being_cloned && new_state != SYNFIN_TCP_TIME_WAIT &&
	    new_state != SYNFIN_TCP_NEW_SYN_RECV)
		p->bytes_sent_at_entry = BPF_CORE_READ((const struct tcp_sock *)sk, bytes_sent);
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
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state != SYNFIN_TCP_TIME_WAIT && state != SYNFIN_TCP_NEW_SYN_RECV)
		r->bytes_sent = BPF_CORE_READ((const struct tcp_sock *)sk, bytes_sent);
}

/* The socket is gone: its whole path crosses the ring once. A socket without a path (born
 * before synfin started and never stepped since) still says that it ended. */
static __always_inline void emit_path(const struct sock *sk, __u64 cookie)
{
	struct synfin_path *p = path_of(sk, false);
	if (p && path_verdict_now(p) == PATH_DROP)
		return;
	if (!p && !family_wanted(BPF_CORE_READ(sk, __sk_common.skc_family)))
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
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_threshold_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, const struct sock *sk, int old_state, int new_state)
{
	if (BPF_CORE_READ(sk, sk_protocol) != SYNFIN_IPPROTO_TCP)
		return 0;
	bool child_being_cloned =
		old_state == SYNFIN_TCP_LISTEN && new_state == SYNFIN_TCP_SYN_RECV;
	if (compact_paths) {
		if (family_wanted(BPF_CORE_READ(sk, __sk_common.skc_family)))
			record_step(sk, old_state, new_state, child_being_cloned);
		return 0;
	}
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	if (!socket_wanted(&sk->__sk_common, cookie, !child_being_cloned))
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_STATE);
	if (!e)
		return 0;
	e->cookie = cookie;
	e->old_state = old_state;
	e->new_state = new_state;
	/* connect() and listen() make these steps in the caller's own context; every other
	 * step may run in softirq on behalf of whoever happens to be on the CPU. */
	if (old_state == SYNFIN_TCP_CLOSE &&
	    (new_state == SYNFIN_TCP_SYN_SENT || new_state == SYNFIN_TCP_LISTEN))
		e->flags |= SYNFIN_FLAG_TASK_IS_OWNER;
	read_event_endpoints(e, &sk->__sk_common);
	/* A child's tcp_sock is still the listener's copy at LISTEN -> SYN_RECV. */
	if (!child_being_cloned)
		read_socket_counters(e, sk);
	submit_event(e);
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
 * seen from the server side): there is no connection to account it to. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_tcp_send_reset, const struct sock *sk)
{
	if (compact_paths && sk) {
		struct synfin_path *p = path_of(sk, false);
		if (p)
			p->path_flags |= SYNFIN_PATH_RESET_SENT;
	}
	return emit_socket_event(SYNFIN_EV_SEND_RESET, sk,
				 sk ? bpf_get_socket_cookie((void *)sk) : 0);
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
		emit_path(sk, cookie);
		return 0;
	}
	emit_socket_event(SYNFIN_EV_DESTROY, sk, cookie);
	forget_verdict(cookie);
	return 0;
}

/* accept() is where a server-side socket gets its owner; its state changes all ran in
 * softirq before anyone owned it. Resolve fd → file → socket → sock of the caller. */
static __always_inline int record_accepted_socket(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_core_read(&file, sizeof(file), &fds[fd]) || !file)
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
	if (compact_paths) {
		struct synfin_owner owner = {.tgid = bpf_get_current_pid_tgid() >> 32};
		if (!cookie)
			return 0;
		bpf_get_current_comm(owner.comm, sizeof(owner.comm));
		bpf_map_update_elem(&accepted_owners, &cookie, &owner, BPF_ANY);
		return 0;
	}
	if (!cookie || !socket_wanted(&sk->__sk_common, cookie, true))
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_ACCEPT);
	if (!e)
		return 0;
	e->cookie = cookie;
	e->flags |= SYNFIN_FLAG_TASK_IS_OWNER;
	read_event_endpoints(e, &sk->__sk_common);
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
		__u64 expires = BPF_CORE_READ(tw, tw_sk.tw_timer.expires);
		__u64 now = bpf_jiffies64();
		if (expires > now && CONFIG_HZ > 0)
			r.timer_expires_ns_from_now = (expires - now) * (1000000000ULL / CONFIG_HZ);
		bpf_seq_write(seq, &r, sizeof(r));
	}
	/* Request sockets (SYN received, handshake pending) are not connections yet. */
	return 0;
}

/* ---- compact mode: the live view, every socket with a path, in every network namespace ---- */

SEC("iter/bpf_sk_storage_map")
int dump_socket_paths(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	struct synfin_path *p = ctx->value;
	struct synfin_path_record r = {};

	if (!sk || !p)
		return 0;
	if (path_verdict_now(p) == PATH_DROP)
		return 0;
	r.ts_ns = bpf_ktime_get_ns();
	r.cookie = bpf_get_socket_cookie(sk);
	fill_path_record(&r, sk, p);
	fill_accepted_owner(&r.path, r.cookie, false);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
