/* The one record layout shared by the BPF programs (bpf/) and the C++ daemon.
 * Both sides include this file; C++ checks the layout with static_assert so a
 * change on one side cannot silently mis-decode on the other. */
#ifndef SYNFIN_ABI_H
#define SYNFIN_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SYNFIN_COMM_LEN 16
#define SYNFIN_ADDR_LEN 16
#define SYNFIN_MAX_PORT_FILTERS 8

/* Kinds of ring-buffer records. Values double as the index of the per-CPU
 * lost-record counters, so every source has its own loss figure. */
enum synfin_event_type {
	SYNFIN_EV_STATE = 1,		 /* sock:inet_sock_set_state */
	SYNFIN_EV_RETRANSMIT = 2,	 /* tcp:tcp_retransmit_skb */
	SYNFIN_EV_SYNACK_RETRANSMIT = 3, /* tcp:tcp_retransmit_synack (cookie of the listener) */
	SYNFIN_EV_SEND_RESET = 4,	 /* tcp:tcp_send_reset */
	SYNFIN_EV_RECEIVE_RESET = 5,	 /* tcp:tcp_receive_reset */
	SYNFIN_EV_DESTROY = 6,		 /* tcp:tcp_destroy_sock: the full socket is gone */
	SYNFIN_EV_ACCEPT = 7,  /* syscalls:sys_exit_accept{,4}: the task owns the socket */
	SYNFIN_EV_UNTRACK = 8, /* a socket passed before its ports were known turned out
				* to be filtered out: forget it */
	SYNFIN_EV_TYPE_COUNT = 9,
};

/* Flags of synfin_event.flags */
#define SYNFIN_FLAG_TASK_IS_OWNER 0x1 /* hook ran in the owner's process context */

struct synfin_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cookie;	 /* socket cookie, as `ss -e` prints it (sk:<hex>) */
	__u64 cgroup_id; /* cgroup v2 id of the current task */
	__u32 type;	 /* enum synfin_event_type */
	__u32 tgid;	 /* current task's process id (a bystander unless TASK_IS_OWNER) */
	__u16 family;	 /* AF_INET or AF_INET6 */
	__u16 sport;	 /* local port, host byte order */
	__u16 dport;	 /* remote port, host byte order */
	__u8 old_state;	 /* kernel TCP_* numbering; 0 when not a state change */
	__u8 new_state;
	__u8 saddr[SYNFIN_ADDR_LEN]; /* IPv4 in the first 4 bytes, network order */
	__u8 daddr[SYNFIN_ADDR_LEN];
	char comm[SYNFIN_COMM_LEN];
	__u32 flags;
	__u32 reserved;
	__u64 bytes_sent;     /* tcp_sock counters at the event: tell a CLOSE_WAIT socket */
	__u64 bytes_received; /* that keeps sending (half-close) from an idle one */
};

/* One row of the iter/tcp snapshot of the kernel's socket table, written with
 * bpf_seq_write; TIME_WAIT mini-sockets included. */
struct synfin_socket_record {
	__u64 cookie;
	__u64 inode;			 /* socket inode (0 for TIME_WAIT and orphans) */
	__u64 timer_expires_ns_from_now; /* TIME_WAIT: time left before the kernel reaps it */
	__u32 rx_queue;			 /* bytes received, not yet read by the application */
	__u32 tx_queue;			 /* bytes sent, not yet acknowledged */
	__u32 uid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 state;
	__u8 reserved;
	__u8 saddr[SYNFIN_ADDR_LEN];
	__u8 daddr[SYNFIN_ADDR_LEN];
	__u32 padding;
	__u64 bytes_sent;
	__u64 bytes_received;
};

#ifdef __cplusplus
#include <cstddef>
static_assert(sizeof(synfin_event) == 112, "synfin_event layout changed: bump both sides");
static_assert(offsetof(synfin_event, ts_ns) == 0);
static_assert(offsetof(synfin_event, cookie) == 8);
static_assert(offsetof(synfin_event, cgroup_id) == 16);
static_assert(offsetof(synfin_event, type) == 24);
static_assert(offsetof(synfin_event, tgid) == 28);
static_assert(offsetof(synfin_event, family) == 32);
static_assert(offsetof(synfin_event, sport) == 34);
static_assert(offsetof(synfin_event, dport) == 36);
static_assert(offsetof(synfin_event, old_state) == 38);
static_assert(offsetof(synfin_event, new_state) == 39);
static_assert(offsetof(synfin_event, saddr) == 40);
static_assert(offsetof(synfin_event, daddr) == 56);
static_assert(offsetof(synfin_event, comm) == 72);
static_assert(offsetof(synfin_event, flags) == 88);
static_assert(offsetof(synfin_event, bytes_sent) == 96);
static_assert(offsetof(synfin_event, bytes_received) == 104);
static_assert(sizeof(synfin_socket_record) == 96, "synfin_socket_record layout changed");
static_assert(offsetof(synfin_socket_record, rx_queue) == 24);
static_assert(offsetof(synfin_socket_record, family) == 36);
static_assert(offsetof(synfin_socket_record, state) == 42);
static_assert(offsetof(synfin_socket_record, saddr) == 44);
static_assert(offsetof(synfin_socket_record, daddr) == 60);
static_assert(offsetof(synfin_socket_record, bytes_sent) == 80);
#else
_Static_assert(sizeof(struct synfin_event) == 112, "synfin_event layout changed");
_Static_assert(sizeof(struct synfin_socket_record) == 96, "synfin_socket_record layout changed");
#endif

#endif /* SYNFIN_ABI_H */
