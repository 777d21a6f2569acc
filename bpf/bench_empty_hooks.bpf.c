// SPDX-License-Identifier: GPL-2.0
/* The floor for bench/program_cost.sh: programs that do nothing, on the hooks synfin's socket
 * programs use, so that a program's ns/run can be read against what running any program there
 * costs (the kernel's run-time accounting included) on the same machine at the same moment. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_set_state)
{
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(empty_destroy_sock)
{
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(empty_kfree_skb)
{
	return 0;
}

SEC("tp_btf/consume_skb")
int BPF_PROG(empty_consume_skb)
{
	return 0;
}
