/* Bounds-checked packet parsing for XDP: a cursor walks the frame and every header is
 * checked against data_end before it is read, so the verifier accepts each step and a
 * malformed frame ends in a named parse error instead of a wrong read. */
#ifndef SYNFIN_PACKET_PARSING_H
#define SYNFIN_PACKET_PARSING_H

#include "synfin/abi.h"
#include "lib/constants.h"

#define SYNFIN_ETH_P_8021Q 0x8100
#define SYNFIN_ETH_P_8021AD 0x88A8
#define SYNFIN_ETH_HLEN 14
#define SYNFIN_VLAN_HLEN 4
#define SYNFIN_VLAN_MAX_DEPTH 2
#define SYNFIN_IPV6_MAX_EXTENSIONS 6

#define SYNFIN_IPPROTO_HOPOPTS 0
#define SYNFIN_IPPROTO_ROUTING 43
#define SYNFIN_IPPROTO_FRAGMENT 44
#define SYNFIN_IPPROTO_AH 51
#define SYNFIN_IPPROTO_DSTOPTS 60
#define SYNFIN_IPPROTO_NONE 59

struct cursor {
	void *pos;
	void *end;
};

/* What a TCP segment looks like to synfin once its headers are checked. */
struct tcp_segment {
	__u32 src_addr[4]; /* network order; IPv4 in the first word */
	__u32 dst_addr[4];
	__u16 family;
	__u16 src_port; /* host order */
	__u16 dst_port;
	__u8 flags;
	__u16 window;
	__u32 seq; /* host order */
	__u32 ack;
	__u32 payload; /* bytes of data after the TCP header */
};

/* Result of a parse: a TCP segment, or the counter that says why not. */
enum parse_verdict {
	PARSED_TCP = -1,
	/* otherwise a SYNFIN_XDP_* counter: NON_TCP, FRAGMENT or one of the ERR_* */
};

/* Ethernet plus up to two VLAN tags (802.1Q / 802.1ad, QinQ); returns the EtherType in
 * network order, or 0 with *verdict set when the frame is too short. */
static __always_inline __u16 parse_ethernet(struct cursor *c, int *verdict)
{
	struct ethhdr *eth = c->pos;
	if ((void *)(eth + 1) > c->end) {
		*verdict = SYNFIN_XDP_ERR_ETHERNET;
		return 0;
	}
	c->pos = eth + 1;
	__u16 proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < SYNFIN_VLAN_MAX_DEPTH; i++) {
		if (proto != bpf_htons(SYNFIN_ETH_P_8021Q) &&
		    proto != bpf_htons(SYNFIN_ETH_P_8021AD))
			break;
		struct vlan_hdr *vlan = c->pos;
		if ((void *)(vlan + 1) > c->end) {
			*verdict = SYNFIN_XDP_ERR_VLAN;
			return 0;
		}
		proto = vlan->h_vlan_encapsulated_proto;
		c->pos = vlan + 1;
	}
	return proto;
}

/* IPv4 with its options skipped; the IP payload length comes back in *ip_payload. Non-first
 * fragments carry no TCP header and are counted, not parsed. */
static __always_inline int parse_ipv4(struct cursor *c, struct tcp_segment *seg, __u32 *ip_payload)
{
	struct iphdr *ip = c->pos;
	if ((void *)(ip + 1) > c->end)
		return SYNFIN_XDP_ERR_IPV4;
	__u32 header_len = ip->ihl * 4;
	if (header_len < sizeof(*ip))
		return SYNFIN_XDP_ERR_IHL;
	if ((void *)ip + header_len > c->end)
		return SYNFIN_XDP_ERR_IHL;
	__u32 total = bpf_ntohs(ip->tot_len);
	if (total < header_len)
		return SYNFIN_XDP_ERR_IPV4;
	if (bpf_ntohs(ip->frag_off) & 0x1fff)
		return SYNFIN_XDP_FRAGMENT;
	if (ip->protocol != SYNFIN_IPPROTO_TCP)
		return SYNFIN_XDP_NON_TCP;
	seg->family = SYNFIN_AF_INET;
	__builtin_memcpy(seg->src_addr, &ip->saddr, 4);
	__builtin_memcpy(seg->dst_addr, &ip->daddr, 4);
	*ip_payload = total - header_len;
	c->pos = (void *)ip + header_len;
	return PARSED_TCP;
}

/* IPv6 and a bounded walk over its extension headers. */
static __always_inline int parse_ipv6(struct cursor *c, struct tcp_segment *seg, __u32 *ip_payload)
{
	struct ipv6hdr *ip6 = c->pos;
	if ((void *)(ip6 + 1) > c->end)
		return SYNFIN_XDP_ERR_IPV6;
	c->pos = ip6 + 1;
	__u32 remaining = bpf_ntohs(ip6->payload_len);
	__u8 next = ip6->nexthdr;
	for (int i = 0; i < SYNFIN_IPV6_MAX_EXTENSIONS; i++) {
		if (next == SYNFIN_IPPROTO_TCP)
			break;
		if (next != SYNFIN_IPPROTO_HOPOPTS && next != SYNFIN_IPPROTO_ROUTING &&
		    next != SYNFIN_IPPROTO_FRAGMENT && next != SYNFIN_IPPROTO_DSTOPTS &&
		    next != SYNFIN_IPPROTO_AH)
			return SYNFIN_XDP_NON_TCP; /* ESP, no-next-header, UDP, ICMPv6, ... */
		__u8 *ext = c->pos;
		if ((void *)(ext + 8) > c->end)
			return SYNFIN_XDP_ERR_EXTENSION;
		__u32 length;
		if (next == SYNFIN_IPPROTO_FRAGMENT) {
			struct frag_hdr *frag = (struct frag_hdr *)ext;
			if (bpf_ntohs(frag->frag_off) & 0xfff8)
				return SYNFIN_XDP_FRAGMENT;
			length = 8;
		} else if (next == SYNFIN_IPPROTO_AH) {
			length = (ext[1] + 2) * 4;
		} else {
			length = (ext[1] + 1) * 8;
		}
		if (length > remaining)
			return SYNFIN_XDP_ERR_EXTENSION;
		remaining -= length;
		next = ext[0];
		c->pos = ext + length;
		if (c->pos > c->end)
			return SYNFIN_XDP_ERR_EXTENSION;
	}
	if (next != SYNFIN_IPPROTO_TCP)
		return SYNFIN_XDP_ERR_EXTENSION; /* more extension headers than the walk allows */
	seg->family = SYNFIN_AF_INET6;
	__builtin_memcpy(seg->src_addr, &ip6->saddr, 16);
	__builtin_memcpy(seg->dst_addr, &ip6->daddr, 16);
	*ip_payload = remaining;
	return PARSED_TCP;
}

/* The TCP header, options included (doff >= 5 and the whole header within the frame). */
static __always_inline int parse_tcp(struct cursor *c, struct tcp_segment *seg, __u32 ip_payload)
{
	struct tcphdr *tcp = c->pos;
	if ((void *)(tcp + 1) > c->end)
		return SYNFIN_XDP_ERR_TCP;
	__u32 header_len = tcp->doff * 4;
	if (header_len < sizeof(*tcp))
		return SYNFIN_XDP_ERR_DOFF;
	if ((void *)tcp + header_len > c->end || header_len > ip_payload)
		return SYNFIN_XDP_ERR_TCP;
	seg->src_port = bpf_ntohs(tcp->source);
	seg->dst_port = bpf_ntohs(tcp->dest);
	seg->seq = bpf_ntohl(tcp->seq);
	seg->ack = bpf_ntohl(tcp->ack_seq);
	seg->window = bpf_ntohs(tcp->window);
	seg->flags = ((__u8 *)tcp)[13];
	seg->payload = ip_payload - header_len;
	return PARSED_TCP;
}

/* The whole frame: returns PARSED_TCP with *seg filled, or the counter to bump. */
static __always_inline int parse_tcp_frame(void *data, void *data_end, struct tcp_segment *seg)
{
	struct cursor c = {.pos = data, .end = data_end};
	int verdict = SYNFIN_XDP_NON_TCP;
	__u16 proto = parse_ethernet(&c, &verdict);
	if (!proto)
		return verdict;
	__u32 ip_payload = 0;
	if (proto == bpf_htons(SYNFIN_ETH_P_IP))
		verdict = parse_ipv4(&c, seg, &ip_payload);
	else if (proto == bpf_htons(SYNFIN_ETH_P_IPV6))
		verdict = parse_ipv6(&c, seg, &ip_payload);
	else
		return SYNFIN_XDP_NON_TCP;
	if (verdict != PARSED_TCP)
		return verdict;
	return parse_tcp(&c, seg, ip_payload);
}

/* Exactly one flag class per TCP packet. */
static __always_inline int flag_class(__u8 flags)
{
	bool syn = flags & SYNFIN_TCP_SYN, fin = flags & SYNFIN_TCP_FIN,
	     rst = flags & SYNFIN_TCP_RST;
	if ((syn && fin) || (syn && rst) || (rst && fin) || !(flags & 0x3f))
		return SYNFIN_XDP_INVALID;
	if (syn)
		return (flags & SYNFIN_TCP_ACK) ? SYNFIN_XDP_SYNACK : SYNFIN_XDP_SYN;
	if (rst)
		return SYNFIN_XDP_RST;
	if (fin)
		return SYNFIN_XDP_FIN;
	return SYNFIN_XDP_OTHER;
}

#endif
