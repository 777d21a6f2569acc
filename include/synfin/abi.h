/* The one record layout shared by the BPF programs (bpf/) and the C++ daemon.
 * Both sides include this file; C++ checks the layout with static_assert so a
 * change on one side cannot silently mis-decode on the other.
 *
 * Adding a kind of record: add one line to SYNFIN_RECORD_KINDS. The enum, the
 * C++ EventKind, the decoder's size check and dispatch, the loss counters and
 * the metric labels all derive from it (docs/internals.md lists the rest). */
#ifndef SYNFIN_ABI_H
#define SYNFIN_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "synfin/tcp_life.h"

#define SYNFIN_COMM_LEN 16
#define SYNFIN_ADDR_LEN 16
#define SYNFIN_MAX_PORT_FILTERS 8
#define SYNFIN_MAX_XDP_IFACES 8

/* Address families as the kernel numbers them (AF_INET, AF_INET6). */
#define SYNFIN_AF_INET 2
#define SYNFIN_AF_INET6 10

/* Every kind of ring-buffer record:
 *   X(ABI name, value, C++ EventKind, metric source label, layout, origin)
 * Values are contiguous from 1. The layout is the record's struct: the decoder
 * takes its size from it and reads it with the function of that struct
 * (decode/decoder.cpp). The origin says who writes it: KERNEL records go
 * through a ring buffer, whose reserve failures BPF counts per kind (the value
 * indexes the per-CPU lost-record counters, or for packets the interface
 * counters), so each of them has a loss figure; USERSPACE records are added to
 * a capture (and its recording) by synfin itself and are never lost. */
#define SYNFIN_RECORD_KINDS(X)                                                                     \
	X(STATE, 1, StateChange, "state_change", synfin_event,                                     \
	  KERNEL) /* inet_sock_set_state */                                                        \
	X(RETRANSMIT, 2, Retransmit, "retransmit", synfin_event, KERNEL) /* tcp_retransmit_skb */  \
	X(SYNACK_RETRANSMIT, 3, SynAckRetransmit, "synack_retransmit", synfin_event,               \
	  KERNEL) /* tcp_retransmit_synack: cookie of the listener */                              \
	X(SEND_RESET, 4, ResetSent, "send_reset", synfin_event, KERNEL) /* tcp_send_reset */       \
	X(RECEIVE_RESET, 5, ResetReceived, "receive_reset", synfin_event,                          \
	  KERNEL) /* tcp_receive_reset */                                                          \
	X(DESTROY, 6, Destroyed, "destroy", synfin_event,                                          \
	  KERNEL) /* tcp_destroy_sock: socket gone */                                              \
	X(ACCEPT, 7, Accepted, "accept", synfin_event,                                             \
	  KERNEL) /* sys_exit_accept: task owns it */                                              \
	X(UNTRACK, 8, Untracked, "untrack", synfin_event,                                          \
	  KERNEL) /* passed before its ports were known, then filtered out: forget it */           \
	X(PACKET, 9, Packet, "packet", synfin_packet,                                              \
	  KERNEL) /* XDP ingress: SYN/SYN-ACK/FIN/RST/ACK */                                       \
	X(INTERFACE, 10, Interface, "interface", synfin_interface_record,                          \
	  USERSPACE) /* once per --xdp interface: its name, for recordings */                      \
	X(CLOCK, 11, Clock, "clock", synfin_clock_record,                                          \
	  USERSPACE) /* time passed with no record (unanswered SYNs expire) */                     \
	X(DROP, 12, Dropped, "drop", synfin_event,                                                 \
	  KERNEL) /* skb:kfree_skb: the kernel dropped a TCP packet of this socket */              \
	X(PATH, 13, Path, "path", synfin_path_record,                                              \
	  KERNEL) /* the daemon: a socket's whole path, once, when it ended in a way that matters */ \
	X(TIME_WAIT, 14, TimeWaitEntered, "time_wait", synfin_event,                               \
	  KERNEL) /* the daemon: a clean active close not sent whole left a TIME_WAIT socket */

enum synfin_event_type {
#define SYNFIN_KIND_ENUM(abi, value, cpp, source, layout, origin) SYNFIN_EV_##abi = value,
	SYNFIN_RECORD_KINDS(SYNFIN_KIND_ENUM)
#undef SYNFIN_KIND_ENUM
#define SYNFIN_KIND_COUNT(abi, value, cpp, source, layout, origin) +1
		SYNFIN_EV_TYPE_COUNT = 1 SYNFIN_RECORD_KINDS(SYNFIN_KIND_COUNT),
#undef SYNFIN_KIND_COUNT
};

/* Flags of synfin_event.flags */
#define SYNFIN_FLAG_TASK_IS_OWNER 0x1 /* hook ran in the owner's process context */
#define SYNFIN_FLAG_SEQ_VALID 0x2     /* snd_una/snd_nxt/rcv_nxt read from a full socket */
#define SYNFIN_FLAG_NO_SOCKET                                                                      \
	0x4 /* SEND_RESET to a segment no socket matched: the tuple is                             \
	       the segment's (local = its destination), cookie 0 */

/* Why the kernel sent a reset: the kernel's enum sk_rst_reason (6.10+), by name as tracefs
 * prints it. synfin numbers them itself (position in this list, from 1) so that a recording
 * replays without the recording machine's BTF; BPF maps the running kernel's values onto these
 * with CO-RE. 0: the kernel gave no reason (a received reset, or a kernel without reasons);
 * SYNFIN_RESET_REASON_OTHER: a reason this build does not know. */
#define SYNFIN_RESET_REASONS(X)                                                                    \
	X(NOT_SPECIFIED)                                                                           \
	X(NO_SOCKET)                                                                               \
	X(TCP_INVALID_ACK_SEQUENCE)                                                                \
	X(TCP_RFC7323_PAWS)                                                                        \
	X(TCP_TOO_OLD_ACK)                                                                         \
	X(TCP_ACK_UNSENT_DATA)                                                                     \
	X(TCP_FLAGS)                                                                               \
	X(TCP_OLD_ACK)                                                                             \
	X(TCP_ABORT_ON_DATA)                                                                       \
	X(TCP_TIMEWAIT_SOCKET)                                                                     \
	X(INVALID_SYN)                                                                             \
	X(TCP_ABORT_ON_CLOSE)                                                                      \
	X(TCP_ABORT_ON_LINGER)                                                                     \
	X(TCP_ABORT_ON_MEMORY)                                                                     \
	X(TCP_STATE)                                                                               \
	X(TCP_KEEPALIVE_TIMEOUT)                                                                   \
	X(TCP_DISCONNECT_WITH_DATA)                                                                \
	X(MPTCP_RST_EUNSPEC)                                                                       \
	X(MPTCP_RST_EMPTCP)                                                                        \
	X(MPTCP_RST_ERESOURCE)                                                                     \
	X(MPTCP_RST_EPROHIBIT)                                                                     \
	X(MPTCP_RST_EWQ2BIG)                                                                       \
	X(MPTCP_RST_EBADPERF)                                                                      \
	X(MPTCP_RST_EMIDDLEBOX)                                                                    \
	X(ERROR)

enum synfin_reset_reason {
	SYNFIN_RESET_REASON_NONE = 0,
#define SYNFIN_RESET_REASON_ENUM(name) SYNFIN_RESET_##name,
	SYNFIN_RESET_REASONS(SYNFIN_RESET_REASON_ENUM)
#undef SYNFIN_RESET_REASON_ENUM
		SYNFIN_RESET_REASON_OTHER,
	SYNFIN_RESET_REASON_COUNT,
};

/* Why the kernel dropped a TCP packet: the kernel's enum skb_drop_reason (5.17+) values that a
 * TCP packet can meet, named as tracefs prints them, numbered by synfin as above. 0: none;
 * SYNFIN_DROP_REASON_OTHER: any other value (not TCP-specific, or newer than this build). */
#define SYNFIN_DROP_REASONS(X)                                                                     \
	X(NOT_SPECIFIED)                                                                           \
	X(NO_SOCKET)                                                                               \
	X(SOCKET_CLOSE)                                                                            \
	X(SOCKET_FILTER)                                                                           \
	X(SOCKET_RCVBUFF)                                                                          \
	X(SOCKET_BACKLOG)                                                                          \
	X(PKT_TOO_SMALL)                                                                           \
	X(PROTO_MEM)                                                                               \
	X(NETFILTER_DROP)                                                                          \
	X(OTHERHOST)                                                                               \
	X(IP_CSUM)                                                                                 \
	X(IP_INHDR)                                                                                \
	X(IP_RPFILTER)                                                                             \
	X(XFRM_POLICY)                                                                             \
	X(TCP_CSUM)                                                                                \
	X(TCP_AUTH_HDR)                                                                            \
	X(TCP_MD5NOTFOUND)                                                                         \
	X(TCP_MD5UNEXPECTED)                                                                       \
	X(TCP_MD5FAILURE)                                                                          \
	X(TCP_AONOTFOUND)                                                                          \
	X(TCP_AOUNEXPECTED)                                                                        \
	X(TCP_AOKEYNOTFOUND)                                                                       \
	X(TCP_AOFAILURE)                                                                           \
	X(TCP_FLAGS)                                                                               \
	X(TCP_ABORT_ON_DATA)                                                                       \
	X(TCP_ZEROWINDOW)                                                                          \
	X(TCP_OLD_DATA)                                                                            \
	X(TCP_OVERWINDOW)                                                                          \
	X(TCP_OFOMERGE)                                                                            \
	X(TCP_RFC7323_PAWS)                                                                        \
	X(TCP_RFC7323_PAWS_ACK)                                                                    \
	X(TCP_RFC7323_TW_PAWS)                                                                     \
	X(TCP_RFC7323_TSECR)                                                                       \
	X(TCP_LISTEN_OVERFLOW)                                                                     \
	X(TCP_OLD_SEQUENCE)                                                                        \
	X(TCP_INVALID_SEQUENCE)                                                                    \
	X(TCP_INVALID_END_SEQUENCE)                                                                \
	X(TCP_INVALID_ACK_SEQUENCE)                                                                \
	X(TCP_RESET)                                                                               \
	X(TCP_INVALID_SYN)                                                                         \
	X(TCP_CLOSE)                                                                               \
	X(TCP_FASTOPEN)                                                                            \
	X(TCP_OLD_ACK)                                                                             \
	X(TCP_TOO_OLD_ACK)                                                                         \
	X(TCP_ACK_UNSENT_DATA)                                                                     \
	X(TCP_OFO_QUEUE_PRUNE)                                                                     \
	X(TCP_OFO_DROP)                                                                            \
	X(TCP_MINTTL)                                                                              \
	X(IP_OUTNOROUTES)                                                                          \
	X(BPF_CGROUP_EGRESS)                                                                       \
	X(NEIGH_FAILED)                                                                            \
	X(QDISC_DROP)                                                                              \
	X(CPU_BACKLOG)                                                                             \
	X(NOMEM)                                                                                   \
	X(QUEUE_PURGE)

enum synfin_drop_reason {
	SYNFIN_DROP_REASON_NONE = 0,
#define SYNFIN_DROP_REASON_ENUM(name) SYNFIN_DROP_##name,
	SYNFIN_DROP_REASONS(SYNFIN_DROP_REASON_ENUM)
#undef SYNFIN_DROP_REASON_ENUM
		SYNFIN_DROP_REASON_OTHER,
	SYNFIN_DROP_REASON_COUNT,
};

/* What the kernel refused a listening socket, counted in BPF per listener (socket cookie) and
 * per local port: a SYN flood must cost map updates, not ring records. */
struct synfin_listener_counters {
	__u64 overflows; /* accept queue full: SYNs (tcp_conn_request) and handshake-completing
			    ACKs (TCP_LISTEN_OVERFLOW); the kernel's TcpExtListenOverflows */
	__u64 syn_queue_drops; /* SYN queue full without syncookies: TcpExtTCPReqQFullDrop */
	__u64 other_drops;     /* any other packet dropped on the listener (kfree_skb, rx_sk) */
	__u64 resets_sent;     /* RSTs the kernel sent on the listener's behalf */
};

/* Socket tracepoint record. Every record starts with ts_ns, cookie, type: the
 * decoder reads the type at the same offset whatever the layout. */
struct synfin_event {
	__u64 ts_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cookie;	/* socket cookie, as `ss -e` prints it (sk:<hex>) */
	__u32 type;	/* enum synfin_event_type */
	__u32 tgid;	/* current task's process id (a bystander unless TASK_IS_OWNER) */
	__u16 family;	/* AF_INET or AF_INET6 */
	__u16 sport;	/* local port, host byte order */
	__u16 dport;	/* remote port, host byte order */
	__u8 old_state; /* kernel TCP_* numbering; 0 when not a state change */
	__u8 new_state;
	__u8 saddr[SYNFIN_ADDR_LEN]; /* IPv4 in the first 4 bytes, network order */
	__u8 daddr[SYNFIN_ADDR_LEN];
	char comm[SYNFIN_COMM_LEN];
	__u32 flags;
	/* SEND_RESET: enum synfin_reset_reason; DROP: enum synfin_drop_reason. In SEND_RESET and
	 * DROP records new_state is the state of the socket it happened on (0: none). */
	__u32 reason;
	/* The socket's sequence numbers after the step (host order): the packet view
	 * checks the handshake and teardown arithmetic against them. */
	__u32 snd_una;
	__u32 snd_nxt;
	__u32 rcv_nxt;
	__u32 netns;	  /* inode of the socket's network namespace (as /proc/PID/ns/net) */
	__u64 bytes_sent; /* tells a CLOSE_WAIT socket that keeps sending from an idle one */
};

/* A socket's path as BPF keeps it in socket-local storage (the daemon): every state step since
 * synfin first saw the socket, its owner, its counters, and what the kernel side judged of it
 * so far (states visited, steps that broke the state machine). The kernel frees it with the
 * socket. A ring record carries it when the socket ends in a way that matters (or in the
 * rate-bounded sample of the rest); the daemon's live view reads it through an iterator. */
#define SYNFIN_PATH_STEPS 10

/* Flags of synfin_path.path_flags */
#define SYNFIN_PATH_TRUNCATED                                                                      \
	0x1			    /* more steps than SYNFIN_PATH_STEPS: the last slot was reused \
				     */
#define SYNFIN_PATH_OWNER_KNOWN 0x2 /* owner_tgid/owner_comm set by connect/listen/accept */
#define SYNFIN_PATH_RESET_SENT 0x4
#define SYNFIN_PATH_RESET_RECEIVED 0x8
#define SYNFIN_PATH_ENDPOINTS_KNOWN 0x10      /* family, ports and addresses filled */
#define SYNFIN_PATH_ILLEGAL_STEP 0x20	      /* a step the state machine does not allow */
#define SYNFIN_PATH_DISCONTINUITY 0x40	      /* a step that did not start where the last ended */
#define SYNFIN_PATH_JOINED_MID_LIFE 0x80      /* the first step seen was not a birth */
#define SYNFIN_PATH_HELD_PAST_THRESHOLD 0x100 /* a state was held past its stuck threshold */
#define SYNFIN_PATH_DROPPED 0x200	      /* the kernel dropped a packet of this socket */
#define SYNFIN_PATH_COUNTED 0x400 /* in scope: its steps are counted in the kernel's tallies */
#define SYNFIN_PATH_OWNER_INHERITED 0x1000 /* the owner is the listener's, cloned with it */
#define SYNFIN_PATH_ENDED 0x800		   /* judged at its destroy: what follows is its teardown */

struct synfin_path {
	__u64 step_ns[SYNFIN_PATH_STEPS];  /* bpf_ktime_get_ns() of each step */
	__u8 step_from[SYNFIN_PATH_STEPS]; /* kernel TCP_* numbering */
	__u8 step_to[SYNFIN_PATH_STEPS];
	__u8 steps;	  /* slots used */
	__u8 verdict;	  /* port-filter verdict, decided once both ports are known */
	__u16 path_flags; /* SYNFIN_PATH_* */
	__u32 retransmits;
	__u32 owner_tgid;
	char owner_comm[SYNFIN_COMM_LEN];
	/* The socket's ends as last seen complete: the kernel zeroes the ports on the way to
	 * CLOSE, before the socket is destroyed. */
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 visited; /* SYNFIN_STATE_BIT of every state seen (the classifier's input) */
	__u8 saddr[SYNFIN_ADDR_LEN];
	__u8 daddr[SYNFIN_ADDR_LEN];
	__u32 netns;
	__u8 last_state;    /* the state the last step entered (0: no step yet) */
	__u8 before_close;  /* the state the step into CLOSE left */
	__u8 role;	    /* enum synfin_role, from the first step */
	__u8 steps_counted; /* steps already counted in the tallies (the rest await the scope) */
	__u64 bytes_sent_at_entry; /* bytes_sent when the current state was entered */
	__u64 state_entered_ns;	   /* when the current state was entered (0: before synfin) */
	__u64 born_ns;		   /* the first step's time, when it was a birth (lifetime) */
};

/* Flags of synfin_path_record.record_flags */
#define SYNFIN_PATH_RECORD_ENDED 0x1   /* written when the socket was destroyed (else: live) */
#define SYNFIN_PATH_RECORD_SAMPLED 0x2 /* a clean close, sent within --closes-per-second */

/* The ring record of a destroyed socket's path (SYNFIN_EV_PATH), and the row the storage
 * iterator writes for each live one. */
struct synfin_path_record {
	__u64 ts_ns;
	__u64 cookie;
	__u32 type; /* SYNFIN_EV_PATH */
	__u32 record_flags;
	__u64 bytes_sent; /* now */
	struct synfin_path path;
};

/* The daemon's kernel-side tallies: per-CPU arrays, summed by userspace for /metrics.
 *   tally_transitions[from * SYNFIN_TCP_STATE_SLOTS + to]     steps, kernel state numbers
 *   tally_closes[outcome * SYNFIN_VERDICT_COUNT + verdict]     ended connections (no listeners)
 *   tally_invalid[enum synfin_verdict_reason]                  invalid ones, by reason
 *   tally_histograms[enum synfin_kernel_histogram]             struct synfin_histogram
 *   close_counters[enum synfin_close_counter]                  what crossed, what was sampled
 *   time_wait_drop_totals[enum synfin_drop_reason]             drops on TIME_WAIT mini-sockets */
#define SYNFIN_TALLY_TRANSITION_SLOTS (SYNFIN_TCP_STATE_SLOTS * SYNFIN_TCP_STATE_SLOTS)
#define SYNFIN_TALLY_CLOSE_SLOTS ((int)SYNFIN_OUTCOME_COUNT * (int)SYNFIN_VERDICT_COUNT)

/* TCP header flags as they sit in byte 13 of the header. */
#define SYNFIN_TCP_FIN 0x01
#define SYNFIN_TCP_SYN 0x02
#define SYNFIN_TCP_RST 0x04
#define SYNFIN_TCP_PSH 0x08
#define SYNFIN_TCP_ACK 0x10

/* Flags of synfin_packet.packet_flags */
#define SYNFIN_PACKET_HANDSHAKE_ACK 0x1 /* the ACK that completes a handshake seen as a SYN */
#define SYNFIN_PACKET_SOCKET_SEQ 0x2	/* sk_rcv_nxt/sk_write_seq/sk_rcv_wnd are the socket's */

/* One handshake or teardown packet seen by XDP on ingress. Addresses and ports
 * are as in the packet: src is the remote end, dst is this host. */
struct synfin_packet {
	__u64 ts_ns;
	__u64 cookie; /* socket the kernel's lookup found for it (listener for a SYN); 0: none */
	__u32 type;   /* SYNFIN_EV_PACKET */
	__u32 ifindex;
	__u16 family;
	__u16 src_port; /* host byte order */
	__u16 dst_port;
	__u8 tcp_flags;
	__u8 sk_state; /* state of the socket found; 0: none */
	__u8 src_addr[SYNFIN_ADDR_LEN];
	__u8 dst_addr[SYNFIN_ADDR_LEN];
	__u32 seq; /* host byte order */
	__u32 ack;
	__u32 end_seq; /* seq + payload length + 1 for SYN + 1 for FIN */
	__u32 sk_rcv_nxt;
	__u32 sk_write_seq; /* all this socket ever queued: no valid ACK goes past it */
	__u32 sk_rcv_wnd;
	__u16 window;
	__u16 packet_flags;
	__u32 accept_queue; /* listener found for a SYN: sk_ack_backlog ... */
	__u32 accept_limit; /* ... and sk_max_ack_backlog */
	__u8 flag_class;    /* enum synfin_xdp_counter: SYN .. OTHER */
	__u8 reserved[3];
};

/* Written by userspace, not BPF: names the interface behind an ifindex, so packet records
 * replayed from a recording print the same interface names as the live trace did. */
struct synfin_interface_record {
	__u64 ts_ns;
	__u64 reserved;
	__u32 type; /* SYNFIN_EV_INTERFACE */
	__u32 ifindex;
	char name[16];
};

/* Written by userspace, not BPF: the time now, on a quiet host where no kernel record says
 * that time has passed; recorded so that a replay expires unanswered SYNs where the trace did. */
struct synfin_clock_record {
	__u64 ts_ns;
	__u64 reserved;
	__u32 type; /* SYNFIN_EV_CLOCK */
	__u32 padding;
};

/* Per-interface XDP counters: X(ABI name, metric label, group). The flag classes
 * are exclusive: every TCP packet counts in exactly one of them. */
#define SYNFIN_XDP_COUNTERS(X)                                                                     \
	X(SYN, "syn", FLAGS)                                                                       \
	X(SYNACK, "synack", FLAGS)                                                                 \
	X(FIN, "fin", FLAGS)                                                                       \
	X(RST, "rst", FLAGS)                                                                       \
	X(INVALID, "invalid", FLAGS) /* SYN+FIN, SYN+RST, RST+FIN, no flags at all */              \
	X(OTHER, "other", FLAGS)     /* ACK, data */                                               \
	X(NON_TCP, "non_tcp", TRAFFIC)                                                             \
	X(FRAGMENT, "fragment", TRAFFIC) /* IPv4/IPv6 non-first fragment: skipped */               \
	X(ERR_ETHERNET, "truncated_ethernet", ERROR)                                               \
	X(ERR_VLAN, "truncated_vlan", ERROR)                                                       \
	X(ERR_IPV4, "truncated_ipv4", ERROR)                                                       \
	X(ERR_IHL, "bad_ihl", ERROR)                                                               \
	X(ERR_IPV6, "truncated_ipv6", ERROR)                                                       \
	X(ERR_EXTENSION, "bad_extension_header", ERROR)                                            \
	X(ERR_TCP, "truncated_tcp", ERROR)                                                         \
	X(ERR_DOFF, "bad_doff", ERROR)                                                             \
	X(RECORD_SENT, "sent", RING)                                                               \
	X(RECORD_SUPPRESSED, "suppressed", RING) /* over the per-CPU rate bound */                 \
	X(RECORD_LOST, "lost", RING)		 /* ring buffer full */

enum synfin_xdp_counter {
#define SYNFIN_XDP_COUNTER_ENUM(abi, label, group) SYNFIN_XDP_##abi,
	SYNFIN_XDP_COUNTERS(SYNFIN_XDP_COUNTER_ENUM)
#undef SYNFIN_XDP_COUNTER_ENUM
		SYNFIN_XDP_COUNTER_COUNT,
};

/* One row of the iter/tcp snapshot of the kernel's socket table, written with
 * bpf_seq_write; TIME_WAIT mini-sockets included. */
struct synfin_socket_record {
	__u64 cookie;
	__u64 inode;		      /* socket inode (0 for TIME_WAIT and orphans) */
	__u64 time_wait_reaped_at_ns; /* TIME_WAIT: when the kernel reaps it (CLOCK_MONOTONIC) */
	__u32 rx_queue;		      /* bytes received, not yet read by the application */
	__u32 tx_queue;		      /* bytes sent, not yet acknowledged */
	__u32 uid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 state;
	__u8 has_path; /* compact mode: the socket has a path in socket-local storage */
	__u8 saddr[SYNFIN_ADDR_LEN];
	__u8 daddr[SYNFIN_ADDR_LEN];
	__u32 syn_queue; /* LISTEN: request sockets waiting for the handshake's last ACK */
	__u64 bytes_sent;
	/* A TIME_WAIT mini-socket's own state: TIME_WAIT, or FIN_WAIT2 while the peer's FIN is
	 * pending (what ss shows). 0 for full sockets. */
	__u8 time_wait_substate;
	__u8 reserved[7];
};

/* The kernel's timer wheel (kernel/time/timer.c) runs a timer at the end of the bucket its
 * expiry falls in, never before: a bucket spans 8^level jiffies, the level set by how far
 * ahead the timer was armed (level n holds what is due within 63 << 3n jiffies). A TIME_WAIT
 * socket, armed TCP_TIMEWAIT_LEN ahead, is reaped up to one bucket after its 60 s: 60.05 to
 * 62.05 s measured at HZ=250 (512 jiffies). Both the iterator and the daemon use this. */
#define SYNFIN_TIME_WAIT_SECONDS 60

static inline __u64 synfin_timer_wheel_bucket_jiffies(__u64 armed_ahead_jiffies)
{
	__u64 bucket = 1;
	for (int level = 0; level < 8; level++) {
		if (armed_ahead_jiffies < (63ULL << (3 * level)))
			break;
		bucket <<= 3;
	}
	return bucket;
}

#ifdef __cplusplus
#include <cstddef>
static_assert(sizeof(synfin_event) == 112, "synfin_event layout changed: bump both sides");
static_assert(offsetof(synfin_event, ts_ns) == 0);
static_assert(offsetof(synfin_event, cookie) == 8);
static_assert(offsetof(synfin_event, type) == 16);
static_assert(offsetof(synfin_event, tgid) == 20);
static_assert(offsetof(synfin_event, family) == 24);
static_assert(offsetof(synfin_event, sport) == 26);
static_assert(offsetof(synfin_event, dport) == 28);
static_assert(offsetof(synfin_event, old_state) == 30);
static_assert(offsetof(synfin_event, new_state) == 31);
static_assert(offsetof(synfin_event, saddr) == 32);
static_assert(offsetof(synfin_event, daddr) == 48);
static_assert(offsetof(synfin_event, comm) == 64);
static_assert(offsetof(synfin_event, flags) == 80);
static_assert(offsetof(synfin_event, reason) == 84);
static_assert(offsetof(synfin_event, snd_una) == 88);
static_assert(offsetof(synfin_event, rcv_nxt) == 96);
static_assert(offsetof(synfin_event, bytes_sent) == 104);
static_assert(sizeof(synfin_packet) == 104, "synfin_packet layout changed: bump both sides");
static_assert(offsetof(synfin_packet, type) == offsetof(synfin_event, type));
static_assert(offsetof(synfin_packet, family) == 24);
static_assert(offsetof(synfin_packet, tcp_flags) == 30);
static_assert(offsetof(synfin_packet, src_addr) == 32);
static_assert(offsetof(synfin_packet, dst_addr) == 48);
static_assert(offsetof(synfin_packet, seq) == 64);
static_assert(offsetof(synfin_packet, sk_rcv_wnd) == 84);
static_assert(offsetof(synfin_packet, window) == 88);
static_assert(offsetof(synfin_packet, accept_queue) == 92);
static_assert(sizeof(synfin_interface_record) == 40);
static_assert(sizeof(synfin_clock_record) == 24);
static_assert(offsetof(synfin_clock_record, type) == offsetof(synfin_event, type));
static_assert(offsetof(synfin_interface_record, type) == offsetof(synfin_event, type));
static_assert(sizeof(synfin_socket_record) == 96, "synfin_socket_record layout changed");
static_assert(sizeof(synfin_path) == 200, "synfin_path layout changed: bump both sides");
static_assert(offsetof(synfin_path, step_from) == 80);
static_assert(offsetof(synfin_path, steps) == 100);
static_assert(offsetof(synfin_path, owner_comm) == 112);
static_assert(offsetof(synfin_path, family) == 128);
static_assert(offsetof(synfin_path, saddr) == 136);
static_assert(offsetof(synfin_path, netns) == 168);
static_assert(offsetof(synfin_path, visited) == 134);
static_assert(offsetof(synfin_path, last_state) == 172);
static_assert(offsetof(synfin_path, steps_counted) == 175);
static_assert(offsetof(synfin_path, bytes_sent_at_entry) == 176);
static_assert(offsetof(synfin_path, state_entered_ns) == 184);
static_assert(offsetof(synfin_path, born_ns) == 192);
static_assert(sizeof(synfin_path_record) == 232, "synfin_path_record layout changed");
static_assert(sizeof(synfin_histogram) == 144);
static_assert(sizeof(synfin_close_facts) == 8);
static_assert(offsetof(synfin_path_record, type) == offsetof(synfin_event, type));
static_assert(offsetof(synfin_path_record, path) == 32);
static_assert(offsetof(synfin_socket_record, rx_queue) == 24);
static_assert(offsetof(synfin_socket_record, family) == 36);
static_assert(offsetof(synfin_socket_record, state) == 42);
static_assert(offsetof(synfin_socket_record, saddr) == 44);
static_assert(offsetof(synfin_socket_record, daddr) == 60);
static_assert(offsetof(synfin_socket_record, syn_queue) == 76);
static_assert(offsetof(synfin_socket_record, bytes_sent) == 80);
static_assert(offsetof(synfin_socket_record, time_wait_substate) == 88);
static_assert(sizeof(synfin_listener_counters) == 32);
#else
_Static_assert(sizeof(struct synfin_event) == 112, "synfin_event layout changed");
_Static_assert(sizeof(struct synfin_packet) == 104, "synfin_packet layout changed");
_Static_assert(sizeof(struct synfin_socket_record) == 96, "synfin_socket_record layout changed");
_Static_assert(sizeof(struct synfin_path) == 200, "synfin_path layout changed");
_Static_assert(sizeof(struct synfin_path_record) == 232, "synfin_path_record layout changed");
#endif

#endif /* SYNFIN_ABI_H */
