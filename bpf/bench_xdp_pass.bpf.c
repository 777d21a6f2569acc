// SPDX-License-Identifier: GPL-2.0
/* The baseline for bench/xdp_packet_cost: an XDP program that does nothing but pass, so the
 * benchmark reports what synfin's parsing and counting add on top of running any program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_pass_baseline(struct xdp_md *ctx)
{
	return XDP_PASS;
}
