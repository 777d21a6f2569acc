#include "model/daemon_model.h"

#include <algorithm>

#include "model/packet_checks.h"

namespace synfin::model {

namespace {
double seconds(uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

int timed_state_index(TcpState state) {
  for (std::size_t i = 0; i < kTimedStates.size(); ++i)
    if (kTimedStates[i] == state) return static_cast<int>(i);
  return -1;
}
}  // namespace

DaemonModel::DaemonModel(const DaemonModelConfig& config)
    : config_(config),
      table_(config.max_connections, *this, config.packet_view),
      time_wait_(config.max_connections),
      recent_(config.recent_closes ? config.recent_closes : 1) {
  for (uint16_t port : config.metrics_ports) port_sockets_.push_back({port, {}});
  table_.follow_paths(config.compact);
  if (config.netns && config.time_wait_buckets)
    time_wait_.limit_namespace(config.netns, config.time_wait_buckets);
}

void DaemonModel::on_transition(const Connection& c, TcpState from, TcpState to, uint64_t ts_ns) {
  ++aggregates_.transitions[index_of(from)][index_of(to)];
  if (from == to) return;  // close() after shutdown(): no state was left
  // The step just pushed is history[len-1]; the state it left is history[len-2].
  if (c.history_length() >= 2) {
    const StateVisit& left = c.visit(c.history_length() - 2);
    if (left.entered_ns && ts_ns >= left.entered_ns) {
      double spent = seconds(ts_ns - left.entered_ns);
      if (from == TcpState::SynSent && to == TcpState::Established)
        aggregates_.client_handshake.observe(spent);
      if (from == TcpState::SynRecv && to == TcpState::Established) {
        aggregates_.server_handshake.observe(spent);
        if (uint64_t from_syn = handshake_from_syn_ns(c))
          aggregates_.server_handshake_from_syn.observe(seconds(from_syn));
      }
      if (from == TcpState::CloseWait)
        if (uint64_t reaction = close_wait_reaction_ns(c))
          aggregates_.close_wait_reaction.observe(seconds(reaction));
      if (int timed = timed_state_index(from); timed >= 0)
        aggregates_.state_duration[timed].observe(spent);
    }
  }
}

void DaemonModel::on_closed(const Connection& c, const Classification& k, uint64_t ts_ns) {
  if (c.role != Role::Listener) {
    ++aggregates_.closed_by_outcome[static_cast<std::size_t>(k.outcome)];
    ++aggregates_.closed_by_verdict[static_cast<std::size_t>(k.verdict)];
    if (k.verdict == Verdict::Invalid)
      ++aggregates_.invalid_by_reason[static_cast<std::size_t>(k.reason)];
    if (!c.joined_mid_life && c.history_length() >= 2 && c.visit(1).entered_ns &&
        ts_ns >= c.visit(1).entered_ns)
      aggregates_.lifetime.observe(seconds(ts_ns - c.visit(1).entered_ns));
  }
  if (k.enters_time_wait) time_wait_.enter(c.cookie, c.tuple, ts_ns, c.owner_pid());
  recently_closed_.add(c.cookie, ts_ns);
  recent_[next_close_] = {c, k, ts_ns};
  next_close_ = (next_close_ + 1) % recent_.size();
  ++closes_stored_;
}

void DaemonModel::on_signal(const Connection* c, const Event& e) {
  switch (e.kind) {
    case EventKind::Retransmit:
      ++aggregates_.retransmits;
      break;
    case EventKind::SynAckRetransmit:
      ++aggregates_.synack_retransmits;
      break;
    case EventKind::ResetSent:
      ++aggregates_.resets_sent;
      ++aggregates_.resets_sent_by_reason[e.reason];
      if (e.no_socket) {
        ++aggregates_.no_socket_resets;
        // Per port only where the operator asked: a port scan must not grow the label set.
        for (PortSockets& port : port_sockets_)
          if (port.port == e.tuple.local.port) ++port.no_socket_resets;
      }
      break;
    case EventKind::ResetReceived:
      ++aggregates_.resets_received;
      ++aggregates_.resets_received_by_reason[c ? c->reset_reason : 0];
      break;
    case EventKind::Dropped:
      if (e.socket_state == TcpState::TimeWait) ++aggregates_.time_wait_drops[e.reason];
      break;
    default:
      break;
  }
}

void DaemonModel::on_packet(const Connection*, const Event& e) {
  if (e.cookie == 0 && e.packet.flag_class < aggregates_.packets_without_socket.size())
    ++aggregates_.packets_without_socket[e.packet.flag_class];
}

void DaemonModel::on_anomaly(const Connection&, Anomaly anomaly, uint64_t) {
  ++aggregates_.anomalies[static_cast<std::size_t>(anomaly)];
}

void DaemonModel::on_time_wait_entered(const Event& e, const Connection* c) {
  time_wait_.enter(e.cookie, e.tuple, e.ts_ns, c ? c->owner_pid() : 0);
  recently_closed_.add(e.cookie, e.ts_ns);
}

void DaemonModel::on_syn_without_socket(const PendingSyn& syn, uint64_t) {
  auto fate = static_cast<std::size_t>(syn.fate_if_unanswered);
  ++aggregates_.syns_without_socket[fate];
  for (PortSockets& port : port_sockets_)
    if (port.port == syn.tuple.local.port) ++port.syns_without_socket[fate];
}

void DaemonModel::seed(std::span<const KernelSocket> snapshot, uint64_t end_ns) {
  for (const KernelSocket& socket : snapshot) {
    if (socket.state == TcpState::TimeWait) continue;  // the tracker's, below
    if (table_.find(socket.cookie)) continue;          // already followed through its events
    if (Connection* c = table_.seed(socket.cookie, socket.tuple, socket.state, end_ns))
      c->set_bytes_sent_at_state_entry(socket.bytes_sent);
  }
  // Inferred entries can only be newer than the snapshot here: nothing is dropped.
  time_wait_.reconcile(snapshot, 0, end_ns, [](const SocketTuple&) { return true; });
}

void DaemonModel::reconcile(std::span<const KernelSocket> snapshot, uint64_t start_ns,
                            uint64_t now_ns) {
  begin_reconcile();
  reconcile_time_wait(snapshot, now_ns);
  finish_reconcile(snapshot, start_ns, now_ns);
}

void DaemonModel::begin_reconcile() {
  time_wait_.begin_reconcile();
}

void DaemonModel::reconcile_time_wait(std::span<const KernelSocket> part, uint64_t now_ns) {
  time_wait_.reconcile_part(part, now_ns);
}

void DaemonModel::finish_reconcile(std::span<const KernelSocket> snapshot, uint64_t start_ns,
                                   uint64_t now_ns) {
  finish_reconcile(snapshot, WalkCoverage(config_.netns), start_ns, now_ns);
}

void DaemonModel::finish_reconcile(std::span<const KernelSocket> snapshot,
                                   const WalkCoverage& coverage, uint64_t start_ns,
                                   uint64_t now_ns) {
  std::vector<uint64_t> closed = recently_closed_.since(start_ns);
  auto closed_during_walk = [&closed](uint64_t cookie) {
    return std::binary_search(closed.begin(), closed.end(), cookie);
  };
  std::vector<uint64_t> live;
  for (const KernelSocket& socket : snapshot) {
    if (socket.state == TcpState::TimeWait) continue;  // the tracker's, below
    live.push_back(socket.cookie);
    if (table_.find(socket.cookie)) continue;
    if (socket.has_path) continue;  // followed through its path: the next walk brings it
    if (closed_during_walk(socket.cookie)) continue;
    if (table_.seed(socket.cookie, socket.tuple, socket.state, now_ns)) ++live_drift_.found;
  }
  std::sort(live.begin(), live.end());
  // A CLOSE socket is off the kernel's hash tables while its owner still holds it: its end is
  // its destroy record. Unless records were lost since it reached CLOSE: that record may be one
  // of them, and only the walk can tell it is gone (it cannot tell a held one, which then ends
  // here as incomplete). Anything else tracked since before the snapshot began must have been
  // listed.
  uint64_t loss_ns = table_.loss_noticed_ns();
  std::vector<uint64_t> gone, ended;
  table_.for_each([&](const Connection& c) {
    if (c.state == TcpState::Close && !(loss_ns && loss_ns >= c.state_entered_ns())) return;
    // Not listed where the walk would have listed it (a namespace it did not cover says nothing).
    if (!coverage.shows_gone(c.tuple, std::binary_search(live.begin(), live.end(), c.cookie)))
      return;
    uint64_t last_change = c.state_entered_ns() ? c.state_entered_ns() : c.first_seen_ns;
    if (last_change < start_ns) (c.has_path ? ended : gone).push_back(c.cookie);
  });
  for (uint64_t cookie : gone) table_.finish_lost(cookie, now_ns);
  for (uint64_t cookie : ended) table_.forget(cookie);
  live_drift_.lost += gone.size();
  live_drift_.ended_unsent += ended.size();
  recently_closed_.forget_before(start_ns);
  ReconcileDrift drift = time_wait_.finish_reconcile(start_ns, [&](const SocketTuple& tuple) {
    return coverage.shows_gone(tuple, /*cookie_listed=*/false);
  });
  time_wait_drift_.added += drift.added;
  time_wait_drift_.removed += drift.removed;
  ++reconciliations_;
}

void DaemonModel::refresh(std::span<const SocketPath> live, uint64_t start_ns, uint64_t now_ns) {
  std::vector<uint64_t> closed = recently_closed_.since(start_ns);
  std::vector<uint64_t> listed;
  listed.reserve(live.size());
  for (const SocketPath& path : live) {
    listed.push_back(path.cookie);
    // Ended after the walk read it: its end record was applied, it must not come back.
    if (std::binary_search(closed.begin(), closed.end(), path.cookie)) continue;
    table_.apply_path(path);
  }
  std::sort(listed.begin(), listed.end());
  // Gone without a record: the kernel judged and counted them, and a clean close outside the
  // sample does not cross. (A lost record is counted where it was lost, per CPU.)
  std::vector<uint64_t> gone;
  table_.for_each([&](const Connection& c) {
    if (c.has_path && !std::binary_search(listed.begin(), listed.end(), c.cookie))
      gone.push_back(c.cookie);
  });
  for (uint64_t cookie : gone) table_.forget(cookie);
  live_drift_.ended_unsent += gone.size();
  (void)now_ns;
  recently_closed_.forget_before(walk_start_ns_ ? std::min(start_ns, *walk_start_ns_) : start_ns);
}

uint32_t DaemonModel::owner_of(const Connection& c) const {
  if (c.has_owner()) return c.owner_pid();
  auto holder = holders_.find(c.cookie);
  return holder == holders_.end() ? 0 : holder->second;
}

void DaemonModel::tick(uint64_t now_ns) {
  table_.expire_pending_syns(now_ns);
  // TIME_WAIT durations are known once the kernel's timer has run out. Not for a mini-socket a
  // walk found in FIN_WAIT2: its TIME_WAIT began when the peer's FIN came, if it came at all.
  time_wait_.expire(now_ns, [&](const TimeWaitEntry& entry) {
    if (entry.entered_ns && !entry.awaited_peer_fin)
      aggregates_.state_duration[timed_state_index(TcpState::TimeWait)].observe(
          seconds(entry.expires_ns - entry.entered_ns));
  });
  aggregates_.sockets_by_state.fill(0);
  aggregates_.stuck_by_state.fill(0);
  for (auto& p : port_sockets_) p.sockets_by_state.fill(0);
  sockets_by_owner_.clear();
  auto count_port = [this](uint16_t local_port, TcpState state) {
    for (auto& p : port_sockets_)
      if (p.port == local_port) ++p.sockets_by_state[index_of(state)];
  };
  table_.for_each([&](const Connection& c) {
    if (c.state == TcpState::Close || c.state == TcpState::Unknown) return;
    ++aggregates_.sockets_by_state[index_of(c.state)];
    count_port(c.tuple.local.port, c.state);
    uint64_t threshold = config_.stuck.for_state(c.state);
    if (threshold && c.role != Role::Listener && age_of(c, now_ns).age_ns >= threshold) {
      ++aggregates_.stuck_by_state[index_of(c.state)];
      if (config_.count_by_owner)
        ++sockets_by_owner_[owner_of(c)].stuck_by_state[index_of(c.state)];
    }
  });
  aggregates_.sockets_by_state[index_of(TcpState::TimeWait)] =
      time_wait_.size() - time_wait_.awaiting_peer_fin();
  aggregates_.sockets_by_state[index_of(TcpState::FinWait2)] += time_wait_.awaiting_peer_fin();
  if (!port_sockets_.empty() || config_.count_by_owner)
    time_wait_.for_each([&](const TimeWaitEntry& e) {
      TcpState state = TimeWaitTracker::state_of(e);
      count_port(e.tuple.local.port, state);
      if (config_.count_by_owner && state == TcpState::TimeWait)
        ++sockets_by_owner_[e.owner_pid].time_wait;
    });
}

void RecentCloses::add(uint64_t cookie, uint64_t ts_ns) {
  closes_.push_back({ts_ns, cookie});
}

std::vector<uint64_t> RecentCloses::since(uint64_t start_ns) const {
  std::vector<uint64_t> cookies;
  for (const Close& close : closes_)
    if (close.ts_ns >= start_ns) cookies.push_back(close.cookie);
  std::sort(cookies.begin(), cookies.end());
  return cookies;
}

void RecentCloses::forget_before(uint64_t start_ns) {
  std::erase_if(closes_, [start_ns](const Close& close) { return close.ts_ns < start_ns; });
}

}  // namespace synfin::model
