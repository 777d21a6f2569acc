#include "model/connection_table.h"

#include <algorithm>
#include <vector>

#include "model/packet_checks.h"
#include "synfin/tcp_life.h"

namespace synfin::model {

namespace {
Role role_from_first_step(TcpState from, TcpState to) {
  return static_cast<Role>(synfin_role_from_first_step(index_of(from), index_of(to)));
}

bool is_birth(TcpState from, TcpState to) {
  return synfin_is_birth(index_of(from), index_of(to)) != 0;
}

// The kernel zeroes a socket's ports as it unhashes it on the way to CLOSE, and a child's
// remote end is filled in only after its first step: keep the most recent complete ends.
void merge_tuple(SocketTuple& kept, const SocketTuple& seen) {
  kept.family = seen.family;
  if (seen.netns != 0) kept.netns = seen.netns;
  if (seen.local.port != 0) kept.local = seen.local;
  if (seen.remote.port != 0) kept.remote = seen.remote;
}

}  // namespace

ConnectionTable::ConnectionTable(std::size_t max_connections, ConnectionObserver& observer,
                                 PacketViewConfig packet_view)
    : max_connections_(max_connections),
      observer_(observer),
      packet_view_(packet_view),
      pending_syns_(packet_view.max_pending_syns),
      packet_view_active_(packet_view.enabled) {}

const Connection* ConnectionTable::find(uint64_t cookie) const {
  return connections_.find(cookie);
}

Connection* ConnectionTable::find(uint64_t cookie) {
  return connections_.find(cookie);
}

void ConnectionTable::count_untracked(uint64_t cookie) {
  // Each record of an untracked socket ends up here: count the socket once. A direct-mapped
  // memory of recent refusals (a collision may count a socket twice, never allocates).
  uint64_t& slot = refused_[(cookie * 0x9E3779B97F4A7C15ull) >> (64 - kRefusedBits)];
  if (slot == cookie) return;
  slot = cookie;
  ++counters_.untracked_connections;
}

Connection* ConnectionTable::find_or_start(const Event& event) {
  if (Connection* c = connections_.find(event.cookie)) return c;
  return start(event.cookie, event.tuple, event.ts_ns);
}

Connection* ConnectionTable::start(uint64_t cookie, const SocketTuple& tuple,
                                   uint64_t first_seen_ns) {
  if (cookie == 0) return nullptr;  // not a socket: nothing to track
  if (connections_.size() >= max_connections_) {
    count_untracked(cookie);
    return nullptr;
  }
  Connection& c = connections_.insert(cookie);
  c.tuple = tuple;
  c.first_seen_ns = first_seen_ns;
  c.events_lost = first_seen_ns <= loss_noticed_ns_;
  return &c;
}

void ConnectionTable::apply_path(const SocketPath& path) {
  Connection* c = find(path.cookie);
  if (!c) {
    if (path.step_count == 0) return;  // ended before any step synfin saw: nothing to report
    c = start(path.cookie, path.tuple, path.steps[0].ts_ns);
    if (!c) return;
    c->has_path = true;
  }
  c->has_path = true;
  Event step;
  step.kind = EventKind::StateChange;
  step.cookie = path.cookie;
  step.tuple = path.tuple;
  auto apply_step = [&](const PathStep& s) {
    step.ts_ns = s.ts_ns;
    step.from = s.from;
    step.to = s.to;
    step.bytes_sent = path.bytes_sent_at_state_entry;
    apply_state_change(*c, step);
  };
  // A live walk can read a path while the kernel writes its next step: a slot counted but not
  // written yet (time 0) ends what is applied now; the next walk or the end brings it.
  uint8_t written = path.step_count;
  for (uint8_t i = c->path_steps_applied; i < path.step_count; ++i)
    if (path.steps[i].ts_ns == 0) {
      written = i;
      break;
    }
  for (uint8_t i = c->path_steps_applied; i < written; ++i) apply_step(path.steps[i]);
  // Once full, the kernel reuses the last slot: a newer step there is applied too.
  if (path.truncated && written > 0 && written == c->path_steps_applied) {
    const PathStep& last = path.steps[written - 1];
    if (last.ts_ns > c->state_entered_ns()) apply_step(last);
  }
  if (written > c->path_steps_applied) c->path_steps_applied = written;
  if (path.truncated) c->history_truncated = true;
  if (path.owner_known) c->set_owner(path.owner, path.owner_inherited);
  c->reset_sent = c->reset_sent || path.reset_sent;
  c->reset_received = c->reset_received || path.reset_received;
  c->retransmits = std::max(c->retransmits, path.retransmits);
  merge_tuple(c->tuple, path.tuple);
  if (path.ended) finish(*c, path.read_ns);
}

Connection* ConnectionTable::seed(uint64_t cookie, const SocketTuple& tuple, TcpState state,
                                  uint64_t seen_ns) {
  if (cookie == 0 || connections_.find(cookie)) return nullptr;
  if (connections_.size() >= max_connections_) {
    count_untracked(cookie);
    return nullptr;
  }
  Connection& c = connections_.insert(cookie);
  c.tuple = tuple;
  c.first_seen_ns = seen_ns;
  c.seeded = true;
  c.state = state;
  c.joined_mid_life = true;
  c.role = role_from_first_step(state, state);
  c.push_visit(state, 0);
  return &c;
}

void ConnectionTable::apply_state_change(Connection& c, const Event& e) {
  // A step to the same state (close() after shutdown()) changes nothing: the socket stays where
  // it is, its history and its time in the state go on; the step is still reported.
  if (e.from == e.to && c.history_length() > 0 && c.state == e.from) {
    if (e.task_is_owner) c.set_owner(e.task);
    observer_.on_transition(c, e.from, e.to, e.ts_ns);
    return;
  }
  bool first_step = c.history_length() == 0;
  // Only a seeded socket has a snapshot to compare with (a record stamped 0, as a crafted
  // recording can carry, would otherwise rewrite history[-1]).
  if (!first_step && e.ts_ns <= c.seeded_until_ns() && e.from != c.state) {
    // Made before the snapshot that seeded this socket finished: either already reflected
    // in the seeded state, or the seeded state is older than this step. Neither is a fault.
    if (e.to == c.state || c.visited(e.to)) return;
    c.state = e.from;
    c.set_visit_state(c.history_length() - 1, e.from);
    // Born during the snapshot: its whole life is in the ring after all.
    if (c.history_length() == 1 && is_birth(e.from, e.to)) {
      c.joined_mid_life = false;
      c.role = role_from_first_step(e.from, e.to);
    }
  }
  if (first_step) {
    c.joined_mid_life = c.joined_mid_life || !is_birth(e.from, e.to);
    c.push_visit(e.from, 0);
  } else if (e.from != c.state && c.first_violation == Reason::None) {
    c.first_violation = Reason::Discontinuity;
    c.violation_from = c.state;
    c.violation_to = e.from;
  }
  if (!is_legal_transition(e.from, e.to) &&
      (c.first_violation == Reason::None || c.first_violation == Reason::Discontinuity)) {
    c.first_violation = Reason::IllegalTransition;
    c.violation_from = e.from;
    c.violation_to = e.to;
  }
  if (c.role == Role::Unknown) c.role = role_from_first_step(e.from, e.to);
  merge_tuple(c.tuple, e.tuple);
  c.state = e.to;
  c.set_bytes_sent_at_state_entry(e.bytes_sent);
  c.bytes_known_at_state_entry = true;
  c.push_visit(e.to, e.ts_ns);
  if (e.task_is_owner) c.set_owner(e.task);
  // A server socket is born at the final ACK: the SYN XDP saw for its flow is its own.
  std::optional<PendingSyn> syn;
  if (e.from == TcpState::SynRecv && e.to == TcpState::Established)
    syn = pending_syns_.take(c.tuple);
  // Without XDP nothing reads a connection's packet facts: they are not kept.
  uint16_t anomalies = packet_view_active_ || syn ? note_step(c, e, syn ? &*syn : nullptr) : 0;
  observer_.on_transition(c, e.from, e.to, e.ts_ns);
  report_anomalies(c, anomalies, e.ts_ns);
}

void ConnectionTable::report_anomalies(const Connection& c, uint16_t anomalies, uint64_t ts_ns) {
  for (std::size_t a = 0; anomalies && a < kAnomalyCount; ++a)
    if (anomalies & (1u << a)) observer_.on_anomaly(c, static_cast<Anomaly>(a), ts_ns);
}

void ConnectionTable::apply_packet(const Event& e) {
  const auto& scope = packet_view_.scope_ports;
  if (!scope.empty() && std::find(scope.begin(), scope.end(), e.tuple.local.port) == scope.end() &&
      std::find(scope.begin(), scope.end(), e.tuple.remote.port) == scope.end())
    return;
  const Packet& p = e.packet;
  Connection* c = nullptr;
  if (e.cookie && p.socket_state != TcpState::Listen) c = find(e.cookie);
  if (p.flag_class == SYNFIN_XDP_SYN)
    pending_syns_.add(e);
  else if (p.completes_handshake)
    pending_syns_.note_handshake_ack(e);
  uint16_t anomalies = c ? note_packet(*c, e) : 0;
  observer_.on_packet(c, e);
  if (c) report_anomalies(*c, anomalies, e.ts_ns);
}

void ConnectionTable::expire_pending_syns(uint64_t now_ns) {
  if (pending_syns_.size() == 0 || now_ns < packet_view_.handshake_timeout_ns) return;
  pending_syns_.expire(now_ns - packet_view_.handshake_timeout_ns, [&](const PendingSyn& syn) {
    observer_.on_syn_without_socket(syn, now_ns);
  });
}

void ConnectionTable::apply(const Event& e) {
  // Event time, not a clock: a replay reports the same unanswered SYNs as the live trace.
  expire_pending_syns(e.ts_ns);
  switch (e.kind) {
    case EventKind::StateChange: {
      if (Connection* c = find_or_start(e)) apply_state_change(*c, e);
      return;
    }
    case EventKind::Accepted: {
      if (Connection* c = find_or_start(e)) {
        if (c->history_length() == 0) c->joined_mid_life = true;
        c->set_owner(e.task);
        merge_tuple(c->tuple, e.tuple);
      }
      return;
    }
    case EventKind::Destroyed: {
      if (Connection* c = connections_.find(e.cookie)) finish(*c, e.ts_ns);
      return;
    }
    case EventKind::ResetReceived:
    case EventKind::ResetSent:
    case EventKind::Retransmit:
    case EventKind::Dropped: {
      Connection* c = connections_.find(e.cookie);
      // Following paths, a live socket is not in the table until a walk or its end brings its
      // path: what happens to it meanwhile is kept on an entry its path then fills in.
      // (Not for a socket already in CLOSE: its path was judged and any end record sent.)
      if (!c && follow_paths_ && e.cookie && e.socket_state != TcpState::TimeWait &&
          e.socket_state != TcpState::NewSynRecv && e.socket_state != TcpState::Close)
        c = start(e.cookie, e.tuple, e.ts_ns);
      if (c) {
        // A refused client's port shows only here: assigned after CLOSE -> SYN_SENT, zeroed
        // before SYN_SENT -> CLOSE.
        merge_tuple(c->tuple, e.tuple);
        if (e.kind == EventKind::ResetReceived) c->reset_received = true;
        if (e.kind == EventKind::ResetSent) c->reset_sent = true;
        if (e.kind == EventKind::Retransmit) ++c->retransmits;
        if (e.kind == EventKind::Dropped) c->drops_for_update().add(e.reason);
        if (e.kind == EventKind::ResetReceived && !c->reset_reason) {
          c->reset_reason = recent_resets_.reason_received(c->tuple, e.ts_ns);
          // On loopback the receiver can run before the sender's record is written.
          if (!c->reset_reason) recent_resets_.await_reason(c->cookie, c->tuple, e.ts_ns);
        }
        if (e.kind == EventKind::ResetSent && !c->reset_reason) c->reset_reason = e.reason;
      }
      // The kernel zeroes a closing socket's ports: its kept ends say where the reset went.
      if (e.kind == EventKind::ResetSent) {
        const SocketTuple& from = c ? c->tuple : e.tuple;
        recent_resets_.sent(from, e.reason, e.ts_ns);
        while (uint64_t waiting = e.reason ? recent_resets_.take_awaiting(from, e.ts_ns) : 0)
          if (Connection* receiver = find(waiting); receiver && !receiver->reset_reason)
            receiver->reset_reason = e.reason;
      }
      observer_.on_signal(c, e);
      return;
    }
    case EventKind::SynAckRetransmit:
      observer_.on_signal(nullptr, e);
      return;
    case EventKind::Untracked:
      connections_.erase(e.cookie);
      return;
    case EventKind::Packet:
      packet_view_active_ = true;
      apply_packet(e);
      return;
    case EventKind::Interface:
      packet_view_active_ = true;
      observer_.on_interface(e.packet.ifindex, e.packet.interface_name_view());
      return;
    case EventKind::Clock:  // only time passing: what expires has expired above
      return;
    case EventKind::Path:  // a whole path: apply_path()
      return;
    case EventKind::TimeWaitEntered:
      observer_.on_time_wait_entered(e, find(e.cookie));
      connections_.erase(e.cookie);
      return;
  }
}

void ConnectionTable::finish(Connection& c, uint64_t ts_ns) {
  if (c.history_length() == 0) {  // only an accept() was seen: nothing to report
    connections_.erase(c.cookie);
    return;
  }
  if (c.state != TcpState::Close && c.first_violation == Reason::None) {
    c.first_violation = Reason::Discontinuity;
    c.violation_from = c.state;
    c.violation_to = TcpState::Close;
  }
  report_anomalies(c, note_finish(c), ts_ns);
  observer_.on_closed(c, classify(c), ts_ns);
  connections_.erase(c.cookie);
}

void ConnectionTable::finish_lost(uint64_t cookie, uint64_t now_ns) {
  Connection* c = connections_.find(cookie);
  if (!c) return;
  c->events_lost = true;
  if (c->history_length() > 0) observer_.on_closed(*c, classify(*c), now_ns);
  connections_.erase(cookie);
}

void ConnectionTable::note_loss(uint64_t noticed_ns) {
  loss_noticed_ns_ = std::max(loss_noticed_ns_, noticed_ns);
  mark_open_connections_incomplete();
}

void ConnectionTable::mark_open_connections_incomplete() {
  connections_.for_each([](Connection& connection) { connection.events_lost = true; });
}

void ConnectionTable::finish_closed_connections() {
  // In the order they closed, so that a trace and its replay print the same lines.
  std::vector<std::pair<uint64_t, uint64_t>> closed;  // (closed at, cookie)
  connections_.for_each([&](const Connection& connection) {
    if (connection.state == TcpState::Close && connection.history_length() > 1)
      closed.emplace_back(connection.state_entered_ns(), connection.cookie);
  });
  std::sort(closed.begin(), closed.end());
  for (auto [closed_ns, cookie] : closed)
    if (Connection* c = connections_.find(cookie)) finish(*c, closed_ns);
}

}  // namespace synfin::model
