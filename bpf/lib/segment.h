/* One TCP segment's ends and flags, read from an skb's headers: the one reader for every
 * program that meets a packet rather than a socket (resets to no socket, drops, listeners' SYNs).
 */
#ifndef SYNFIN_BPF_SEGMENT_H
#define SYNFIN_BPF_SEGMENT_H

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

#endif
