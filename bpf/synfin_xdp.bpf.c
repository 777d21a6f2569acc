// SPDX-License-Identifier: GPL-2.0
/* synfin's packet view: an XDP program on ingress that never drops or rewrites
 * (always XDP_PASS). Every TCP packet is parsed and counted by flag class per
 * interface; handshake and teardown packets (SYN, SYN-ACK, the ACK completing a
 * handshake, FIN, RST, impossible flag combinations) go to userspace with the
 * socket the kernel's own lookup finds for them. Data and plain ACKs cost a
 * parse, a counter and, for a bare ACK, one probe of a small array. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "synfin/abi.h"
#include "lib/constants.h"
#include "lib/packet_parsing.h"
#include "lib/ring_wakeup.h"

char LICENSE[] SEC("license") = "GPL";

/* Interfaces this instance is attached to, set at load: counters are kept per slot. */
const volatile __u32 iface_count = 0;
const volatile __u32 iface_ifindex[SYNFIN_MAX_XDP_IFACES] = {};
/* Records per CPU per 100 ms window; past it packets are counted as suppressed. */
const volatile __u32 records_per_window = 5000;
const volatile __u64 wakeup_threshold_bytes = 1 << 20;
/* The daemon's own HTTP port: its scrapes are counted as packets but not followed (their
 * sockets are not traced either, so their SYNs would look unanswered). 0: none. */
const volatile __u16 exclude_port = 0;

#define RATE_WINDOW_NS 100000000ULL
#define HANDSHAKE_SLOTS 65536

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (SYNFIN_MAX_XDP_IFACES + 1) * SYNFIN_XDP_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} xdp_counters SEC(".maps");

struct rate_window {
	__u64 start_ns;
	__u32 used;
	__u32 padding;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_window);
} record_budget SEC(".maps");

/* Flows whose SYN reached a listener, direct-mapped by a fingerprint of the 4-tuple: the
 * bare ACK that completes the handshake is found with one array probe, no hash-map lookup.
 * A collision overwrites an older entry (that handshake's ACK is then not reported). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HANDSHAKE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} pending_handshakes SEC(".maps");

/* Run before other programs sharing the interface through libxdp's dispatcher, so that
 * synfin sees what they may drop; XDP_PASS lets the chain continue. */
struct {
	__uint(priority, 5);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(synfin_xdp);

static __always_inline __u32 iface_slot(__u32 ifindex)
{
#pragma unroll
	for (int i = 0; i < SYNFIN_MAX_XDP_IFACES; i++) {
		if (i >= iface_count)
			break;
		if (iface_ifindex[i] == ifindex)
			return i;
	}
	return SYNFIN_MAX_XDP_IFACES; /* not configured (e.g. a test run): its own slot */
}

static __always_inline void count(__u32 slot, __u32 counter)
{
	__u32 key = slot * SYNFIN_XDP_COUNTER_COUNT + counter;
	__u64 *value = bpf_map_lookup_elem(&xdp_counters, &key);
	if (value)
		(*value)++;
}

static __always_inline bool take_record_budget(void)
{
	__u32 zero = 0;
	struct rate_window *w = bpf_map_lookup_elem(&record_budget, &zero);
	if (!w)
		return false;
	__u64 now = bpf_ktime_get_ns();
	if (now - w->start_ns >= RATE_WINDOW_NS) {
		w->start_ns = now;
		w->used = 0;
	}
	if (w->used >= records_per_window)
		return false;
	w->used++;
	return true;
}

/* Multiplicative hashing of the addresses and ports as they arrive; never 0, so 0 marks
 * an empty slot. */
static __always_inline __u64 flow_fingerprint(const struct tcp_segment *seg)
{
	const __u32 *src = seg->src_addr;
	const __u32 *dst = seg->dst_addr;
	__u64 h = ((__u64)seg->src_port << 16 | seg->dst_port) * 0x9E3779B97F4A7C15ULL;
	int words = seg->family == SYNFIN_AF_INET ? 1 : 4;
	for (int i = 0; i < 4; i++) {
		if (i >= words)
			break;
		h = (h ^ src[i]) * 0xff51afd7ed558ccdULL;
		h = (h ^ dst[i]) * 0xc4ceb9fe1a85ec53ULL;
	}
	return h | 1;
}

static __always_inline __u32 handshake_slot(__u64 fingerprint)
{
	return (__u32)(fingerprint >> 40) & (HANDSHAKE_SLOTS - 1);
}

static __always_inline struct bpf_sock *lookup_socket(struct xdp_md *ctx,
						      const struct tcp_segment *seg)
{
	struct bpf_sock_tuple tuple = {};
	if (seg->family == SYNFIN_AF_INET) {
		__builtin_memcpy(&tuple.ipv4.saddr, seg->src_addr, 4);
		__builtin_memcpy(&tuple.ipv4.daddr, seg->dst_addr, 4);
		tuple.ipv4.sport = bpf_htons(seg->src_port);
		tuple.ipv4.dport = bpf_htons(seg->dst_port);
		return bpf_skc_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	__builtin_memcpy(tuple.ipv6.saddr, seg->src_addr, 16);
	__builtin_memcpy(tuple.ipv6.daddr, seg->dst_addr, 16);
	tuple.ipv6.sport = bpf_htons(seg->src_port);
	tuple.ipv6.dport = bpf_htons(seg->dst_port);
	return bpf_skc_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
}

/* The socket the kernel will hand this packet to: its cookie (the identity the tracepoints
 * use), its state and, for a full socket, the sequence numbers the packet is checked
 * against (a listener: its accept queue). */
static __always_inline void describe_socket(struct synfin_packet *r, struct bpf_sock *sk)
{
	r->sk_state = sk->state;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		r->cookie = tp->inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter;
		if (sk->state == SYNFIN_TCP_LISTEN) {
			r->accept_queue = tp->inet_conn.icsk_inet.sk.sk_ack_backlog;
			r->accept_limit = tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog;
		} else {
			r->sk_rcv_nxt = tp->rcv_nxt;
			/* Not snd_nxt: on loopback the reply to a segment can be processed before
			 * the sender has advanced snd_nxt; write_seq is advanced before
			 * transmission. */
			r->sk_write_seq = tp->write_seq;
			r->sk_rcv_wnd = tp->rcv_wnd;
			r->packet_flags |= SYNFIN_PACKET_SOCKET_SEQ;
		}
		return;
	}
	struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(sk);
	if (tw)
		r->cookie = tw->tw_sk.__tw_common.skc_cookie.counter;
}

static __always_inline void emit_packet(struct xdp_md *ctx, __u32 slot,
					const struct tcp_segment *seg, int class,
					__u16 packet_flags)
{
	if (!take_record_budget()) {
		count(slot, SYNFIN_XDP_RECORD_SUPPRESSED);
		return;
	}
	struct synfin_packet *r = bpf_ringbuf_reserve(&packets, sizeof(*r), 0);
	if (!r) {
		count(slot, SYNFIN_XDP_RECORD_LOST);
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_ns = bpf_ktime_get_ns();
	r->type = SYNFIN_EV_PACKET;
	r->ifindex = ctx->ingress_ifindex;
	r->family = seg->family;
	r->src_port = seg->src_port;
	r->dst_port = seg->dst_port;
	r->tcp_flags = seg->flags;
	r->flag_class = class;
	__builtin_memcpy(r->src_addr, seg->src_addr, 16);
	__builtin_memcpy(r->dst_addr, seg->dst_addr, 16);
	r->seq = seg->seq;
	r->ack = seg->ack;
	r->end_seq = seg->seq + seg->payload + ((seg->flags & SYNFIN_TCP_SYN) ? 1 : 0) +
		     ((seg->flags & SYNFIN_TCP_FIN) ? 1 : 0);
	r->window = seg->window;
	r->packet_flags = packet_flags;
	/* The completing ACK goes to a request socket; userspace matches it by 4-tuple. */
	if (!(packet_flags & SYNFIN_PACKET_HANDSHAKE_ACK)) {
		struct bpf_sock *sk = lookup_socket(ctx, seg);
		if (sk) {
			describe_socket(r, sk);
			bpf_sk_release(sk);
		}
	}
	count(slot, SYNFIN_XDP_RECORD_SENT);
	bpf_ringbuf_submit(r, ring_submit_flags(&packets, wakeup_threshold_bytes, r->ts_ns));
}

SEC("xdp")
int synfin_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 slot = iface_slot(ctx->ingress_ifindex);
	struct tcp_segment seg = {};

	int verdict = parse_tcp_frame(data, data_end, &seg);
	if (verdict != PARSED_TCP) {
		count(slot, verdict);
		return XDP_PASS;
	}
	int class = flag_class(seg.flags);
	count(slot, class);
	if (exclude_port && (seg.src_port == exclude_port || seg.dst_port == exclude_port))
		return XDP_PASS;
	if (class == SYNFIN_XDP_OTHER) {
		/* Only a bare ACK can complete a handshake; data costs nothing more. */
		if (seg.payload || seg.flags != SYNFIN_TCP_ACK)
			return XDP_PASS;
		__u64 fingerprint = flow_fingerprint(&seg);
		__u32 key = handshake_slot(fingerprint);
		__u64 *pending = bpf_map_lookup_elem(&pending_handshakes, &key);
		if (!pending || *pending != fingerprint)
			return XDP_PASS;
		*pending = 0;
		emit_packet(ctx, slot, &seg, class, SYNFIN_PACKET_HANDSHAKE_ACK);
		return XDP_PASS;
	}
	if (class == SYNFIN_XDP_SYN) {
		__u64 fingerprint = flow_fingerprint(&seg);
		__u32 key = handshake_slot(fingerprint);
		bpf_map_update_elem(&pending_handshakes, &key, &fingerprint, BPF_ANY);
	}
	emit_packet(ctx, slot, &seg, class, 0);
	return XDP_PASS;
}
