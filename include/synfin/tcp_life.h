/* The TCP life as synfin judges it, shared by the BPF programs (the daemon's kernel side checks
 * and counts every socket's steps where they happen) and the C++ model (`synfin trace`,
 * `replay`, the daemon's close lines): one table of legal steps, one classifier of outcomes,
 * one set of histogram bounds. Two consumers of one source cannot drift apart.
 *
 * Plain C with no kernel or libc dependency beyond <linux/types.h> (or vmlinux.h in BPF). */
#ifndef SYNFIN_TCP_LIFE_H
#define SYNFIN_TCP_LIFE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#if defined(__bpf__) || defined(__BPF__)
#define SYNFIN_SHARED static __attribute__((always_inline)) inline
#else
#define SYNFIN_SHARED static inline
#endif

/* States in the kernel's own numbering (include/net/tcp_states.h). */
#define SYNFIN_TCP_ESTABLISHED 1
#define SYNFIN_TCP_SYN_SENT 2
#define SYNFIN_TCP_SYN_RECV 3
#define SYNFIN_TCP_FIN_WAIT1 4
#define SYNFIN_TCP_FIN_WAIT2 5
#define SYNFIN_TCP_TIME_WAIT 6
#define SYNFIN_TCP_CLOSE 7
#define SYNFIN_TCP_CLOSE_WAIT 8
#define SYNFIN_TCP_LAST_ACK 9
#define SYNFIN_TCP_LISTEN 10
#define SYNFIN_TCP_CLOSING 11
#define SYNFIN_TCP_NEW_SYN_RECV 12
#define SYNFIN_TCP_STATE_SLOTS 16 /* per-state tables are indexed 0..15 */

/* Every step the kernel makes on a full socket through tcp_set_state()/inet_sk_set_state().
 * TIME_WAIT never appears: the full socket goes to CLOSE and a mini-socket takes over. */
#define SYNFIN_LEGAL_STEPS(X)                                                                      \
	X(CLOSE, SYN_SENT)	   /* connect() */                                                 \
	X(CLOSE, LISTEN)	   /* listen() */                                                  \
	X(LISTEN, CLOSE)	   /* listener closed */                                           \
	X(LISTEN, SYN_RECV)	   /* child cloned from the listener on the final ACK */           \
	X(SYN_SENT, ESTABLISHED)   /* SYN+ACK received */                                          \
	X(SYN_SENT, SYN_RECV)	   /* simultaneous open */                                         \
	X(SYN_SENT, CLOSE)	   /* refused, timed out, or aborted by the application */         \
	X(SYN_RECV, ESTABLISHED)   /* handshake completes */                                       \
	X(SYN_RECV, FIN_WAIT1)	   /* closed before the final ACK (TCP Fast Open) */               \
	X(SYN_RECV, CLOSE)	   /* reset during the handshake */                                \
	X(ESTABLISHED, FIN_WAIT1)  /* we close first */                                            \
	X(ESTABLISHED, CLOSE_WAIT) /* peer's FIN */                                                \
	X(ESTABLISHED, CLOSE)	   /* reset, abort, or retransmission timeout */                   \
	X(FIN_WAIT1, FIN_WAIT2)	   /* our FIN acknowledged */                                      \
	X(FIN_WAIT1, CLOSING)	   /* peer's FIN crossed ours */                                   \
	X(FIN_WAIT1, CLOSE)	   /* reset or orphan timeout */                                   \
	X(FIN_WAIT2, CLOSE)	   /* peer's FIN: full socket handed over to TIME_WAIT */          \
	X(CLOSING, CLOSE)	   /* ACK of our FIN: on to TIME_WAIT */                           \
	X(CLOSE_WAIT, LAST_ACK)	   /* application finally closes */                                \
	X(CLOSE_WAIT, CLOSE)	   /* closed with unread data (reset) or peer reset */             \
	X(LAST_ACK, CLOSE)	   /* our FIN acknowledged */                                      \
	/* close() after shutdown(SHUT_WR): tcp_close_state() maps these states to themselves and  \
	 * tcp_set_state() reports the step anyway (new_state[] in net/ipv4/tcp.c). */             \
	X(FIN_WAIT1, FIN_WAIT1)                                                                    \
	X(FIN_WAIT2, FIN_WAIT2)                                                                    \
	X(LAST_ACK, LAST_ACK)                                                                      \
	X(CLOSING, CLOSING)

/* The states `from` may legally step to, as a bit per state. */
SYNFIN_SHARED __u32 synfin_legal_next_states(__u32 from)
{
	__u32 next = 0;
#define SYNFIN_LEGAL_NEXT(f, t)                                                                    \
	if (from == SYNFIN_TCP_##f)                                                                \
		next |= 1u << SYNFIN_TCP_##t;
	SYNFIN_LEGAL_STEPS(SYNFIN_LEGAL_NEXT)
#undef SYNFIN_LEGAL_NEXT
	return next;
}

SYNFIN_SHARED int synfin_is_legal_step(__u32 from, __u32 to)
{
	return to < 32 && (synfin_legal_next_states(from) >> to) & 1;
}

/* What a socket is, told by its first step. */
#define SYNFIN_ROLES(X)                                                                            \
	X(UNKNOWN, "unknown")                                                                      \
	X(CLIENT, "client")                                                                        \
	X(SERVER, "server")                                                                        \
	X(LISTENER, "listener")

enum synfin_role {
#define SYNFIN_ROLE_ENUM(name, label) SYNFIN_ROLE_##name,
	SYNFIN_ROLES(SYNFIN_ROLE_ENUM)
#undef SYNFIN_ROLE_ENUM
};

SYNFIN_SHARED __u8 synfin_role_from_first_step(__u32 from, __u32 to)
{
	if (to == SYNFIN_TCP_LISTEN || (from == SYNFIN_TCP_LISTEN && to == SYNFIN_TCP_CLOSE))
		return SYNFIN_ROLE_LISTENER;
	if (from == SYNFIN_TCP_LISTEN || to == SYNFIN_TCP_SYN_RECV || from == SYNFIN_TCP_SYN_RECV)
		return SYNFIN_ROLE_SERVER;
	if (to == SYNFIN_TCP_SYN_SENT || from == SYNFIN_TCP_SYN_SENT)
		return SYNFIN_ROLE_CLIENT;
	return SYNFIN_ROLE_UNKNOWN;
}

/* A socket whose first traced step is one of these was born while synfin watched. */
SYNFIN_SHARED int synfin_is_birth(__u32 from, __u32 to)
{
	return (from == SYNFIN_TCP_CLOSE &&
		(to == SYNFIN_TCP_SYN_SENT || to == SYNFIN_TCP_LISTEN)) ||
	       (from == SYNFIN_TCP_LISTEN && to == SYNFIN_TCP_SYN_RECV);
}

/* How a connection ended: X(name, metric label). The order is the metrics' and the ABI's. */
#define SYNFIN_OUTCOMES(X)                                                                         \
	X(ACTIVE_CLOSE, "active_close")                                                            \
	X(PASSIVE_CLOSE, "passive_close")                                                          \
	X(SIMULTANEOUS_CLOSE, "simultaneous_close")                                                \
	X(RESET_RECEIVED, "reset_received")                                                        \
	X(RESET_SENT, "reset_sent")                                                                \
	X(REFUSED, "refused")                                                                      \
	X(HANDSHAKE_TIMEOUT, "handshake_timeout")                                                  \
	X(ABORTED, "aborted")                                                                      \
	X(UNKNOWN, "unknown")                                                                      \
	X(LISTENER_CLOSED, "listener_closed") /* not a connection: a listening socket went away */

enum synfin_outcome {
#define SYNFIN_OUTCOME_ENUM(name, label) SYNFIN_OUTCOME_##name,
	SYNFIN_OUTCOMES(SYNFIN_OUTCOME_ENUM)
#undef SYNFIN_OUTCOME_ENUM
		SYNFIN_OUTCOME_COUNT,
};

#define SYNFIN_VERDICTS(X) X(VALID, "valid") X(INVALID, "invalid") X(INCOMPLETE, "incomplete")

enum synfin_verdict {
#define SYNFIN_VERDICT_ENUM(name, label) SYNFIN_VERDICT_##name,
	SYNFIN_VERDICTS(SYNFIN_VERDICT_ENUM)
#undef SYNFIN_VERDICT_ENUM
		SYNFIN_VERDICT_COUNT,
};

/* Why a sequence is not valid (bounded: it labels a metric). */
#define SYNFIN_VERDICT_REASONS(X)                                                                  \
	X(NONE, "none")                                                                            \
	X(ILLEGAL_TRANSITION, "illegal_transition") /* invalid: a step TCP does not allow */       \
	X(DISCONTINUITY,                                                                           \
	  "discontinuity") /* incomplete: a step not starting where the last ended */              \
	X(JOINED_MID_LIFE, "joined_mid_life")	  /* incomplete: tracking began after birth */     \
	X(EVENTS_LOST, "events_lost")		  /* incomplete: records lost while it was open */ \
	X(HISTORY_TRUNCATED, "history_truncated") /* incomplete: more steps than are kept */

enum synfin_verdict_reason {
#define SYNFIN_VERDICT_REASON_ENUM(name, label) SYNFIN_REASON_##name,
	SYNFIN_VERDICT_REASONS(SYNFIN_VERDICT_REASON_ENUM)
#undef SYNFIN_VERDICT_REASON_ENUM
		SYNFIN_VERDICT_REASON_COUNT,
};

#define SYNFIN_STATE_BIT(state) (1u << (state))

/* What the classifier needs of a socket's life, whoever kept it. */
struct synfin_close_facts {
	__u16 visited;	   /* SYNFIN_STATE_BIT of every state the socket was seen in */
	__u8 before_close; /* the state the step into CLOSE left (0: none) */
	__u8 role;	   /* enum synfin_role */
	__u8 reset_received;
	__u8 reset_sent;
	__u8 retransmitted; /* any segment retransmitted (SYN included) */
	__u8 padding;
};

SYNFIN_SHARED int synfin_visited(const struct synfin_close_facts *f, __u32 state)
{
	return (f->visited >> state) & 1;
}

SYNFIN_SHARED __u8 synfin_classify_outcome(const struct synfin_close_facts *f)
{
	/* A socket seeded mid-life may never show ESTABLISHED itself, only a state after it. */
	const __u32 established_or_later =
		SYNFIN_STATE_BIT(SYNFIN_TCP_ESTABLISHED) | SYNFIN_STATE_BIT(SYNFIN_TCP_FIN_WAIT1) |
		SYNFIN_STATE_BIT(SYNFIN_TCP_FIN_WAIT2) | SYNFIN_STATE_BIT(SYNFIN_TCP_CLOSING) |
		SYNFIN_STATE_BIT(SYNFIN_TCP_CLOSE_WAIT) | SYNFIN_STATE_BIT(SYNFIN_TCP_LAST_ACK);
	if (f->role == SYNFIN_ROLE_LISTENER)
		return SYNFIN_OUTCOME_LISTENER_CLOSED;
	if (!(f->visited & established_or_later)) {
		if (f->reset_received)
			return synfin_visited(f, SYNFIN_TCP_SYN_SENT)
				       ? SYNFIN_OUTCOME_REFUSED
				       : SYNFIN_OUTCOME_RESET_RECEIVED;
		if (synfin_visited(f, SYNFIN_TCP_SYN_SENT) && f->retransmitted)
			return SYNFIN_OUTCOME_HANDSHAKE_TIMEOUT;
		return SYNFIN_OUTCOME_ABORTED;
	}
	if (f->reset_received)
		return SYNFIN_OUTCOME_RESET_RECEIVED;
	int orderly_end = f->before_close == SYNFIN_TCP_FIN_WAIT2 ||
			  f->before_close == SYNFIN_TCP_CLOSING ||
			  f->before_close == SYNFIN_TCP_LAST_ACK;
	if (f->reset_sent && !orderly_end)
		return SYNFIN_OUTCOME_RESET_SENT;
	if (synfin_visited(f, SYNFIN_TCP_CLOSING))
		return SYNFIN_OUTCOME_SIMULTANEOUS_CLOSE;
	if (synfin_visited(f, SYNFIN_TCP_FIN_WAIT1) || synfin_visited(f, SYNFIN_TCP_FIN_WAIT2))
		return SYNFIN_OUTCOME_ACTIVE_CLOSE;
	if (synfin_visited(f, SYNFIN_TCP_CLOSE_WAIT))
		return SYNFIN_OUTCOME_PASSIVE_CLOSE;
	if (f->before_close == SYNFIN_TCP_ESTABLISHED)
		return SYNFIN_OUTCOME_ABORTED;
	return SYNFIN_OUTCOME_UNKNOWN;
}

/* An active closer: a TIME_WAIT mini-socket lives on after the full socket. */
SYNFIN_SHARED int synfin_enters_time_wait(const struct synfin_close_facts *f)
{
	return !f->reset_received && !f->reset_sent &&
	       (f->before_close == SYNFIN_TCP_FIN_WAIT2 || f->before_close == SYNFIN_TCP_CLOSING);
}

/* Histogram upper bounds in nanoseconds (+Inf implicit). Prometheus shows them in seconds. */
#define SYNFIN_HANDSHAKE_BOUNDS_NS(X)                                                              \
	X(100000)                                                                                  \
	X(250000) X(500000) X(1000000) X(2500000) X(5000000) X(10000000) X(50000000) X(100000000)  \
		X(500000000) X(1000000000) X(3000000000)
#define SYNFIN_LIFETIME_BOUNDS_NS(X)                                                               \
	X(1000000)                                                                                 \
	X(10000000) X(100000000) X(1000000000) X(10000000000) X(60000000000) X(300000000000)       \
		X(1800000000000) X(3600000000000) X(21600000000000) X(86400000000000)
#define SYNFIN_STATE_DURATION_BOUNDS_NS(X)                                                         \
	X(1000000)                                                                                 \
	X(10000000) X(100000000) X(500000000) X(1000000000) X(5000000000) X(10000000000)           \
		X(30000000000) X(60000000000) X(120000000000) X(300000000000) X(3600000000000)

/* The histograms the daemon's kernel side keeps: X(name, bounds). TIME_WAIT's duration is not
 * among them: no tracepoint sees a mini-socket end (the daemon times it). */
#define SYNFIN_KERNEL_HISTOGRAMS(X)                                                                \
	X(CLIENT_HANDSHAKE, HANDSHAKE)                                                             \
	X(SERVER_HANDSHAKE, HANDSHAKE)                                                             \
	X(LIFETIME, LIFETIME)                                                                      \
	X(CLOSE_WAIT, STATE_DURATION)                                                              \
	X(FIN_WAIT2, STATE_DURATION)                                                               \
	X(LAST_ACK, STATE_DURATION)

enum synfin_kernel_histogram {
#define SYNFIN_KERNEL_HISTOGRAM_ENUM(name, bounds) SYNFIN_HISTOGRAM_##name,
	SYNFIN_KERNEL_HISTOGRAMS(SYNFIN_KERNEL_HISTOGRAM_ENUM)
#undef SYNFIN_KERNEL_HISTOGRAM_ENUM
		SYNFIN_HISTOGRAM_COUNT,
};

#define SYNFIN_HISTOGRAM_MAX_BUCKETS 16

/* Non-cumulative buckets; what exceeds the last bound counts in `count` only. */
struct synfin_histogram {
	__u64 buckets[SYNFIN_HISTOGRAM_MAX_BUCKETS];
	__u64 count;
	__u64 sum_ns;
};

#define SYNFIN_BOUND_STEP(bound)                                                                   \
	if (ns <= (__u64)(bound##ULL))                                                             \
		return bucket;                                                                     \
	bucket++;

/* The bucket `ns` falls in for a histogram of these bounds (the count of bounds: above all). */
SYNFIN_SHARED __u32 synfin_handshake_bucket(__u64 ns)
{
	__u32 bucket = 0;
	SYNFIN_HANDSHAKE_BOUNDS_NS(SYNFIN_BOUND_STEP)
	return bucket;
}

SYNFIN_SHARED __u32 synfin_lifetime_bucket(__u64 ns)
{
	__u32 bucket = 0;
	SYNFIN_LIFETIME_BOUNDS_NS(SYNFIN_BOUND_STEP)
	return bucket;
}

SYNFIN_SHARED __u32 synfin_state_duration_bucket(__u64 ns)
{
	__u32 bucket = 0;
	SYNFIN_STATE_DURATION_BOUNDS_NS(SYNFIN_BOUND_STEP)
	return bucket;
}
#undef SYNFIN_BOUND_STEP

/* What the daemon's kernel side counts about closes beside their outcomes. */
#define SYNFIN_CLOSE_COUNTERS(X)                                                                   \
	X(CLEAN, "clean")     /* clean active/passive/simultaneous closes (the sampled pool) */    \
	X(SAMPLED, "sampled") /* clean closes sent to userspace within --closes-per-second */      \
	X(NOTABLE, "notable") /* closes sent because they matter (never sampled) */                \
	X(TIME_WAIT,                                                                               \
	  "time_wait") /* small records: an unsent clean close left a TIME_WAIT socket */          \
	X(UNTRACKED, "untracked") /* steps of sockets whose storage could not be had (no memory)   \
				   */

enum synfin_close_counter {
#define SYNFIN_CLOSE_COUNTER_ENUM(name, label) SYNFIN_CLOSES_##name,
	SYNFIN_CLOSE_COUNTERS(SYNFIN_CLOSE_COUNTER_ENUM)
#undef SYNFIN_CLOSE_COUNTER_ENUM
		SYNFIN_CLOSE_COUNTER_COUNT,
};

#endif /* SYNFIN_TCP_LIFE_H */
