/* The daemon's kernel side: each socket's path in its own socket storage, every step checked
 * against the state machine (synfin/tcp_life.h, the model's own table) and counted where it
 * happens; at the socket's end the shared classifier judges it, and the close crosses to
 * userspace only when it matters, in a rate-bounded sample, or as a small TIME_WAIT record. */
#ifndef SYNFIN_BPF_PATHS_H
#define SYNFIN_BPF_PATHS_H

static __always_inline struct synfin_path *path_of(const struct sock *sk, bool create)
{
	return bpf_sk_storage_get(&socket_paths, (struct sock *)sk, 0,
				  create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
}

static __always_inline void count_close(__u32 counter)
{
	__u64 *count = bpf_map_lookup_elem(&close_counters, &counter);
	if (count)
		(*count)++;
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

static __always_inline enum path_verdict path_verdict_at(const struct synfin_path *p, bool final)
{
	if (!port_filters_configured())
		return PATH_KEEP;
	if (p->verdict != PATH_UNDECIDED || !(p->path_flags & SYNFIN_PATH_ENDPOINTS_KNOWN))
		return p->verdict;
	/* A listener never learns a remote end. */
	enum socket_verdict verdict =
		decide_ends(p->sport, p->dport, final || p->role == SYNFIN_ROLE_LISTENER);
	if (verdict == VERDICT_PENDING)
		return PATH_UNDECIDED;
	return verdict == VERDICT_KEEP ? PATH_KEEP : PATH_DROP;
}

static __always_inline enum path_verdict path_verdict_now(const struct synfin_path *p)
{
	return path_verdict_at(p, false);
}

static __always_inline void remember_owner(struct synfin_path *p)
{
	p->owner_tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(p->owner_comm, sizeof(p->owner_comm));
	p->path_flags = (p->path_flags | SYNFIN_PATH_OWNER_KNOWN) & ~SYNFIN_PATH_OWNER_INHERITED;
}

/* Steps the kernel makes only inside the owner's own system call: connect(), listen(), and
 * close() or shutdown() (tcp_close_state). Every other step may run in softirq, on behalf of
 * whoever happens to be on the CPU. */
static __always_inline bool step_runs_in_owner(__u32 old_state, __u32 new_state)
{
	if (old_state == SYNFIN_TCP_CLOSE)
		return new_state == SYNFIN_TCP_SYN_SENT || new_state == SYNFIN_TCP_LISTEN;
	if (new_state == SYNFIN_TCP_FIN_WAIT1)
		return old_state == SYNFIN_TCP_ESTABLISHED || old_state == SYNFIN_TCP_SYN_RECV;
	return old_state == SYNFIN_TCP_CLOSE_WAIT && new_state == SYNFIN_TCP_LAST_ACK;
}

/* A child's storage arrives cloned from its listener (BPF_F_CLONE): only the owner carries
 * over, the rest is the child's own from its first step. */
static __always_inline void start_child_path(struct synfin_path *p)
{
	char comm[SYNFIN_COMM_LEN];
	__u32 tgid = p->owner_tgid;
	__u16 owner_known = p->path_flags & SYNFIN_PATH_OWNER_KNOWN;
	__builtin_memcpy(comm, p->owner_comm, sizeof(comm));
	__builtin_memset(p, 0, sizeof(*p));
	if (owner_known) {
		p->owner_tgid = tgid;
		__builtin_memcpy(p->owner_comm, comm, sizeof(comm));
		p->path_flags = SYNFIN_PATH_OWNER_KNOWN | SYNFIN_PATH_OWNER_INHERITED;
	}
}

/* ---- tallies ---- */

static __always_inline void count_transition(__u32 from, __u32 to)
{
	__u32 key = (from & (SYNFIN_TCP_STATE_SLOTS - 1)) * SYNFIN_TCP_STATE_SLOTS +
		    (to & (SYNFIN_TCP_STATE_SLOTS - 1));
	__u64 *count = bpf_map_lookup_elem(&tally_transitions, &key);
	if (count)
		(*count)++;
}

static __always_inline void observe(__u32 histogram, __u32 bucket, __u64 ns)
{
	struct synfin_histogram *h = bpf_map_lookup_elem(&tally_histograms, &histogram);
	if (!h)
		return;
	if (bucket < SYNFIN_HISTOGRAM_MAX_BUCKETS)
		h->buckets[bucket]++;
	h->count++;
	h->sum_ns += ns;
}

/* Time spent in `left` until a step out of it: the model observes the same steps. */
static __always_inline void observe_step(__u32 left, __u32 entered, __u64 spent_ns)
{
	if (entered == SYNFIN_TCP_ESTABLISHED && left == SYNFIN_TCP_SYN_SENT)
		observe(SYNFIN_HISTOGRAM_CLIENT_HANDSHAKE, synfin_handshake_bucket(spent_ns),
			spent_ns);
	else if (entered == SYNFIN_TCP_ESTABLISHED && left == SYNFIN_TCP_SYN_RECV)
		observe(SYNFIN_HISTOGRAM_SERVER_HANDSHAKE, synfin_handshake_bucket(spent_ns),
			spent_ns);
	else if (left == SYNFIN_TCP_CLOSE_WAIT)
		observe(SYNFIN_HISTOGRAM_CLOSE_WAIT, synfin_state_duration_bucket(spent_ns),
			spent_ns);
	else if (left == SYNFIN_TCP_FIN_WAIT2)
		observe(SYNFIN_HISTOGRAM_FIN_WAIT2, synfin_state_duration_bucket(spent_ns),
			spent_ns);
	else if (left == SYNFIN_TCP_LAST_ACK)
		observe(SYNFIN_HISTOGRAM_LAST_ACK, synfin_state_duration_bucket(spent_ns),
			spent_ns);
}

/* The steps stored before the socket came into scope (its ports were not known yet). */
static __always_inline void count_stored_steps(const struct synfin_path *p, __u32 upto)
{
	for (__u32 i = 0; i < SYNFIN_PATH_STEPS; i++) {
		if (i >= upto)
			break;
		count_transition(p->step_from[i], p->step_to[i]);
	}
}

/* ---- each step ---- */

static __always_inline void record_step(const struct sock *sk, __u32 old_state, __u32 new_state,
					bool child_being_cloned)
{
	struct synfin_path *p = path_of(sk, true);
	if (!p) {
		count_close(SYNFIN_CLOSES_UNTRACKED); /* no memory: the daemon's walk may find it */
		return;
	}
	if (child_being_cloned && p->last_state)
		start_child_path(p);
	__u64 now = bpf_ktime_get_ns();
	bool first_step = p->last_state == 0;
	/* close() after shutdown(): the kernel reports a step to the same state; nothing was left.
	 */
	bool self_step = old_state == new_state && old_state == p->last_state;
	/* Assigned now: the TIME_WAIT mini-socket copies the cookie before the last step. A child's
	 * first step may still see its listener's cookie (6.1: clones_awaiting_cookie), so its step
	 * out of SYN_RECV assigns its own. */
	if (first_step || old_state == SYNFIN_TCP_SYN_RECV)
		bpf_get_socket_cookie((void *)sk);
	if (first_step) {
		if (synfin_is_birth(old_state, new_state))
			p->born_ns = now;
		else
			p->path_flags |= SYNFIN_PATH_JOINED_MID_LIFE;
		p->visited |= SYNFIN_STATE_BIT(old_state & 15);
	} else if (old_state != p->last_state) {
		p->path_flags |= SYNFIN_PATH_DISCONTINUITY;
	}
	if (!self_step && !synfin_is_legal_step(old_state, new_state))
		p->path_flags |= SYNFIN_PATH_ILLEGAL_STEP;
	if (p->role == SYNFIN_ROLE_UNKNOWN)
		p->role = synfin_role_from_first_step(old_state, new_state);
	p->visited |= SYNFIN_STATE_BIT(new_state & 15);
	if (new_state == SYNFIN_TCP_CLOSE)
		p->before_close = old_state;

	__u32 slot = p->steps;
	bool full = slot >= SYNFIN_PATH_STEPS;
	if (full)
		slot = SYNFIN_PATH_STEPS - 1;
	p->step_ns[slot] = now;
	p->step_from[slot] = old_state;
	p->step_to[slot] = new_state;
	/* Published after the slot is written: the live walk may read this path meanwhile on
	 * another CPU. BPF has no fence; the compiler barrier keeps the stores in order (x86
	 * keeps stores in order), and userspace also stops at a slot still empty. */
	asm volatile("" ::: "memory");
	if (full)
		p->path_flags |= SYNFIN_PATH_TRUNCATED;
	else
		p->steps = slot + 1;
	if (step_runs_in_owner(old_state, new_state))
		remember_owner(p);
	remember_endpoints(p, sk, !child_being_cloned);
	if (p->verdict == PATH_UNDECIDED)
		p->verdict = path_verdict_now(p);

	__u64 entered = p->state_entered_ns;
	__u64 spent = now - entered;
	if (!self_step && entered) {
		__u64 threshold = stuck_threshold_ns[old_state & 15];
		if (threshold && spent >= threshold)
			p->path_flags |= SYNFIN_PATH_HELD_PAST_THRESHOLD;
	}
	if (p->verdict == PATH_KEEP) {
		if (!(p->path_flags & SYNFIN_PATH_COUNTED)) {
			count_stored_steps(p, slot);
			p->path_flags |= SYNFIN_PATH_COUNTED;
		}
		count_transition(old_state, new_state);
		if (!self_step && entered)
			observe_step(old_state, new_state, spent);
	}
	if (!self_step)
		p->state_entered_ns = now;
	p->last_state = new_state;
	/* Only where a socket can be stuck does its activity since entering the state matter. */
	if (!child_being_cloned && stuck_threshold_ns[new_state & 15]) {
		const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
		if (tp)
			p->bytes_sent_at_entry = tp->bytes_sent;
	}
}

/* ---- the end ---- */

static __always_inline bool port_watched(const struct synfin_path *p)
{
	return watch_port_count && (port_listed(p->sport, watch_ports, watch_port_count) ||
				    port_listed(p->dport, watch_ports, watch_port_count));
}

/* Whether a clean close fits in this CPU's share of --closes-per-second (a token bucket that
 * holds at most one second's worth). */
static __always_inline bool take_sample(__u64 now)
{
	const __u64 one = 1000000000ULL; /* a close, in billionths */
	__u32 zero = 0;
	if (!sampled_closes_per_cpu_second)
		return false;
	struct sample_budget *budget = bpf_map_lookup_elem(&sample_budgets, &zero);
	if (!budget)
		return false;
	__u64 elapsed = now - budget->refilled_ns;
	if (elapsed > one)
		elapsed = one;
	budget->refilled_ns = now;
	__u64 full = sampled_closes_per_cpu_second * one;
	__u64 tokens = budget->tokens + elapsed * sampled_closes_per_cpu_second;
	if (tokens > full)
		tokens = full;
	if (tokens < one) {
		budget->tokens = tokens;
		return false;
	}
	budget->tokens = tokens - one;
	return true;
}

static __always_inline void emit_path_record(const struct sock *sk, __u64 cookie,
					     const struct synfin_path *p, __u32 record_flags,
					     __u64 now)
{
	struct synfin_path_record *r = reserve_record_at(SYNFIN_EV_PATH, sizeof(*r), now);
	if (!r)
		return;
	r->cookie = cookie;
	r->record_flags = record_flags;
	if (p)
		__builtin_memcpy(&r->path, p, sizeof(*p));
	else
		remember_endpoints(&r->path, sk,
				   true); /* born before synfin, never stepped since */
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (tp)
		r->bytes_sent = tp->bytes_sent;
	submit_record(r);
}

/* The mini-socket an unsent clean active close left: the daemon's TIME_WAIT count stays exact. */
static __always_inline void emit_time_wait(__u64 cookie, const struct synfin_path *p, __u64 now)
{
	struct synfin_event *e = reserve_record_at(SYNFIN_EV_TIME_WAIT, sizeof(*e), now);
	if (!e)
		return;
	e->cookie = cookie;
	e->family = p->family;
	e->sport = p->sport;
	e->dport = p->dport;
	__builtin_memcpy(e->saddr, p->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, p->daddr, sizeof(e->daddr));
	e->netns = p->netns;
	submit_event(e);
}

/* The daemon on a kernel whose live walk covers only its own namespace (the storage-map
 * iterator refused): another namespace's sockets cross step by step instead, so that they are
 * followed live; their paths are still kept, checked and counted. */
static __always_inline bool steps_cross(const struct sock *sk)
{
	if (per_step_records)
		return true;
	return report_closes && walked_netns &&
	       sk->__sk_common.skc_net.net->ns.inum != walked_netns;
}

/* A step record of a socket that crosses step by step: the owner its path knows (a child's
 * is its listener's, a closer names itself), for the accept() hook the daemon does not load. */
static __always_inline void owner_from_path(struct synfin_event *e, const struct sock *sk)
{
	struct synfin_path *p = path_of(sk, false);
	if (!p || !(p->path_flags & SYNFIN_PATH_OWNER_KNOWN))
		return;
	e->flags |= SYNFIN_FLAG_TASK_IS_OWNER;
	e->tgid = p->owner_tgid;
	__builtin_memcpy(e->comm, p->owner_comm, sizeof(e->comm));
}

/* stepped: its steps crossed one by one (steps_cross): counted here, its end sent as such.
 * Returns whether the socket may have been a listener (listener_counters may hold it). */
static __always_inline bool end_path(const struct sock *sk, __u64 cookie, bool stepped)
{
	struct synfin_path *p = path_of(sk, false);
	if (!p) {
		if (report_closes && !stepped && family_wanted(sk->__sk_common.skc_family)) {
			struct synfin_path ends = {};
			remember_endpoints(&ends, sk, true);
			if (path_verdict_at(&ends, true) != PATH_DROP)
				emit_path_record(sk, cookie, NULL, SYNFIN_PATH_RECORD_ENDED,
						 bpf_ktime_get_ns());
		}
		return true; /* born before synfin and never stepped: it may be one */
	}
	bool maybe_listener =
		p->role == SYNFIN_ROLE_LISTENER || p->role == SYNFIN_ROLE_UNKNOWN;
	/* Ports still unknown now never will be (a refused or timed-out connect's local one). */
	if (p->verdict == PATH_UNDECIDED)
		p->verdict = path_verdict_at(p, true);
	if (p->verdict == PATH_DROP)
		return maybe_listener;
	p->path_flags |= SYNFIN_PATH_ENDED;
	/* Decided only now: count the steps it made meanwhile. */
	if (!(p->path_flags & SYNFIN_PATH_COUNTED)) {
		count_stored_steps(p, p->steps);
		p->path_flags |= SYNFIN_PATH_COUNTED;
	}
	__u16 flags = p->path_flags;
	struct synfin_close_facts facts = {
		.visited = p->visited,
		.before_close = p->before_close,
		.role = p->role,
		.reset_received = (flags & SYNFIN_PATH_RESET_RECEIVED) != 0,
		.reset_sent = (flags & SYNFIN_PATH_RESET_SENT) != 0,
		.retransmitted = p->retransmits > 0,
	};
	__u32 outcome = synfin_classify_outcome(&facts);
	__u32 verdict = SYNFIN_VERDICT_VALID, reason = SYNFIN_REASON_NONE;
	if (flags & SYNFIN_PATH_ILLEGAL_STEP) {
		verdict = SYNFIN_VERDICT_INVALID;
		reason = SYNFIN_REASON_ILLEGAL_TRANSITION;
	} else if ((flags & SYNFIN_PATH_DISCONTINUITY) || p->last_state != SYNFIN_TCP_CLOSE) {
		verdict = SYNFIN_VERDICT_INCOMPLETE;
		reason = SYNFIN_REASON_DISCONTINUITY;
	} else if (flags & SYNFIN_PATH_JOINED_MID_LIFE) {
		verdict = SYNFIN_VERDICT_INCOMPLETE;
		reason = SYNFIN_REASON_JOINED_MID_LIFE;
	}
	__u64 now = bpf_ktime_get_ns();
	if (p->role != SYNFIN_ROLE_LISTENER) {
		__u32 key = outcome * SYNFIN_VERDICT_COUNT + verdict;
		__u64 *closed = bpf_map_lookup_elem(&tally_closes, &key);
		if (closed)
			(*closed)++;
		if (verdict == SYNFIN_VERDICT_INVALID) {
			__u64 *invalid = bpf_map_lookup_elem(&tally_invalid, &reason);
			if (invalid)
				(*invalid)++;
		}
		if (p->born_ns && now >= p->born_ns)
			observe(SYNFIN_HISTOGRAM_LIFETIME, synfin_lifetime_bucket(now - p->born_ns),
				now - p->born_ns);
	}
	if (!report_closes || stepped)
		return maybe_listener;
	bool clean = verdict == SYNFIN_VERDICT_VALID &&
		     outcome <= SYNFIN_OUTCOME_SIMULTANEOUS_CLOSE &&
		     !(flags &
		       (SYNFIN_PATH_RESET_SENT | SYNFIN_PATH_RESET_RECEIVED | SYNFIN_PATH_DROPPED |
			SYNFIN_PATH_HELD_PAST_THRESHOLD | SYNFIN_PATH_TRUNCATED)) &&
		     !p->retransmits && !port_watched(p);
	if (!clean) {
		count_close(SYNFIN_CLOSES_NOTABLE);
		emit_path_record(sk, cookie, p, SYNFIN_PATH_RECORD_ENDED, now);
		return maybe_listener;
	}
	count_close(SYNFIN_CLOSES_CLEAN);
	if (take_sample(now)) {
		count_close(SYNFIN_CLOSES_SAMPLED);
		emit_path_record(sk, cookie, p,
				 SYNFIN_PATH_RECORD_ENDED | SYNFIN_PATH_RECORD_SAMPLED, now);
	} else if (synfin_enters_time_wait(&facts)) {
		count_close(SYNFIN_CLOSES_TIME_WAIT);
		emit_time_wait(cookie, p, now);
	}
	return maybe_listener;
}

/* What happened to a socket between its steps, kept on its path. */
static __always_inline void mark_path(const struct sock *sk, __u16 flag)
{
	if (!keep_paths || !sk)
		return;
	struct synfin_path *p = path_of(sk, false);
	if (!p)
		return;
	p->path_flags |= flag;
	if (flag & (SYNFIN_PATH_RESET_SENT | SYNFIN_PATH_RESET_RECEIVED))
		remember_endpoints(p, sk, true); /* a refused client's port shows only now */
}

/* A live socket's path, for the daemon's walk. */
static __always_inline void write_live_path(struct seq_file *seq, struct sock *sk,
					    struct synfin_path *p)
{
	struct synfin_path_record r = {};

	if (path_verdict_now(p) == PATH_DROP)
		return;
	r.ts_ns = bpf_ktime_get_ns();
	r.type = SYNFIN_EV_PATH;
	r.cookie = bpf_get_socket_cookie(sk);
	__builtin_memcpy(&r.path, p, sizeof(*p));
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (tp)
		r.bytes_sent = tp->bytes_sent;
	bpf_seq_write(seq, &r, sizeof(r));
}

#endif
