#include "outputs/prometheus.h"

#include <iterator>

#include <fmt/format.h>

namespace synfin::outputs {

namespace {
using model::TcpState;

constexpr std::array<std::string_view, 9> kSources = {
    "",        "state_change", "retransmit", "synack_retransmit", "send_reset", "receive_reset",
    "destroy", "accept",       "untrack"};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <typename Value>
  void sample(std::string_view name, std::string_view labels, Value value) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  template <std::size_t N>
  void histogram(std::string_view name, std::string_view labels, const model::Histogram<N>& h) {
    std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i < N; ++i) {
      cumulative += h.bucket_counts[i];
      fmt::format_to(std::back_inserter(out_), "{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix,
                     h.upper_bounds[i], cumulative);
    }
    fmt::format_to(std::back_inserter(out_), "{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix,
                   h.count);
    sample(fmt::format("{}_sum", name), labels, h.sum);
    sample(fmt::format("{}_count", name), labels, h.count);
  }

 private:
  std::string& out_;
};

std::string state_label(TcpState state) {
  return fmt::format("state=\"{}\"", model::state_name(state));
}

bool has_threshold(const model::StuckThresholds& t, TcpState state) {
  return t.for_state(state) > 0;
}
}  // namespace

std::string_view event_source_name(std::size_t type) {
  return type < kSources.size() ? kSources[type] : std::string_view{};
}

std::string render_metrics(const model::DaemonModel& model, const SelfMetrics& self) {
  std::string out;
  out.reserve(32 * 1024);
  Writer w(out);
  const model::Aggregates& a = model.aggregates();

  w.family("synfin_build_info", "gauge", "synfin version, always 1.");
  w.sample("synfin_build_info", fmt::format("version=\"{}\"", self.version), 1);

  w.family("synfin_tcp_state_transitions_total", "counter",
           "TCP state changes seen by sock:inet_sock_set_state, by from and to state.");
  for (std::size_t from = 1; from < model::kTcpStateCount; ++from) {
    for (std::size_t to = 1; to < model::kTcpStateCount; ++to) {
      auto f = static_cast<TcpState>(from), t = static_cast<TcpState>(to);
      uint64_t count = a.transitions[from][to];
      // Legal steps always exist (at 0); an illegal one appears once it was seen.
      if (!model::is_legal_transition(f, t) && count == 0) continue;
      w.sample("synfin_tcp_state_transitions_total",
               fmt::format("from=\"{}\",to=\"{}\"", model::state_name(f), model::state_name(t)),
               count);
    }
  }

  w.family(
      "synfin_tcp_sockets", "gauge",
      "TCP sockets tracked now, by state (TIME_WAIT from inference reconciled with the kernel).");
  for (TcpState state : model::kTrackedStates)
    if (state != TcpState::Close)
      w.sample("synfin_tcp_sockets", state_label(state),
               a.sockets_by_state[model::index_of(state)]);

  w.family("synfin_tcp_connections_closed_total", "counter",
           "Connections whose socket is gone, by outcome (both ends count when both are local).");
  for (std::size_t o = 0; o < model::kOutcomeCount; ++o) {
    auto outcome = static_cast<model::Outcome>(o);
    if (outcome == model::Outcome::ListenerClosed) continue;
    w.sample("synfin_tcp_connections_closed_total",
             fmt::format("outcome=\"{}\"", model::outcome_name(outcome)), a.closed_by_outcome[o]);
  }

  w.family("synfin_tcp_sequences_total", "counter",
           "Closed connections by verdict of their state sequence (valid, invalid, incomplete).");
  for (std::size_t v = 0; v < 3; ++v)
    w.sample("synfin_tcp_sequences_total",
             fmt::format("verdict=\"{}\"", model::verdict_name(static_cast<model::Verdict>(v))),
             a.closed_by_verdict[v]);

  w.family("synfin_tcp_invalid_sequences_total", "counter",
           "Connections whose state sequence broke the TCP state machine, by reason.");
  for (auto reason : {model::Reason::IllegalTransition, model::Reason::Discontinuity})
    w.sample("synfin_tcp_invalid_sequences_total",
             fmt::format("reason=\"{}\"", model::reason_name(reason)),
             a.invalid_by_reason[static_cast<std::size_t>(reason)]);

  w.family("synfin_tcp_handshake_duration_seconds", "histogram",
           "Handshake time: client SYN_SENT to ESTABLISHED; server SYN_RECV to ESTABLISHED.");
  w.histogram("synfin_tcp_handshake_duration_seconds", "role=\"client\"", a.client_handshake);
  w.histogram("synfin_tcp_handshake_duration_seconds", "role=\"server\"", a.server_handshake);

  w.family("synfin_tcp_connection_lifetime_seconds", "histogram",
           "Connection lifetime from SYN_SENT/SYN_RECV to the socket's end (born while traced).");
  w.histogram("synfin_tcp_connection_lifetime_seconds", "", a.lifetime);

  w.family(
      "synfin_tcp_state_duration_seconds", "histogram",
      "Time spent in a closing state before leaving it (TIME_WAIT: until the kernel reaps it).");
  for (std::size_t i = 0; i < model::kTimedStates.size(); ++i)
    w.histogram("synfin_tcp_state_duration_seconds", state_label(model::kTimedStates[i]),
                a.state_duration[i]);

  w.family("synfin_tcp_stuck_sockets", "gauge",
           "Sockets in a state longer than its stuck threshold, by state.");
  for (TcpState state : model::kTrackedStates)
    if (has_threshold(model.thresholds(), state))
      w.sample("synfin_tcp_stuck_sockets", state_label(state),
               a.stuck_by_state[model::index_of(state)]);

  w.family("synfin_tcp_stuck_threshold_seconds", "gauge", "Configured stuck threshold, by state.");
  for (TcpState state : model::kTrackedStates)
    if (has_threshold(model.thresholds(), state))
      w.sample("synfin_tcp_stuck_threshold_seconds", state_label(state),
               static_cast<double>(model.thresholds().for_state(state)) / 1e9);

  w.family("synfin_tcp_retransmits_total", "counter",
           "Segments retransmitted (tcp:tcp_retransmit_skb).");
  w.sample("synfin_tcp_retransmits_total", "", a.retransmits);
  w.family("synfin_tcp_synack_retransmits_total", "counter",
           "SYN+ACKs retransmitted by listeners (tcp:tcp_retransmit_synack).");
  w.sample("synfin_tcp_synack_retransmits_total", "", a.synack_retransmits);
  w.family("synfin_tcp_resets_total", "counter", "RSTs sent and received on tracked sockets.");
  w.sample("synfin_tcp_resets_total", "direction=\"sent\"", a.resets_sent);
  w.sample("synfin_tcp_resets_total", "direction=\"received\"", a.resets_received);

  w.family("synfin_tcp_time_wait_peer_sockets_max", "gauge",
           "TIME_WAIT sockets towards the busiest (local address, remote endpoint) pair.");
  uint64_t largest = model.time_wait().largest_peer_count();
  w.sample("synfin_tcp_time_wait_peer_sockets_max", "", largest);
  w.family(
      "synfin_tcp_time_wait_port_range_usage_ratio", "gauge",
      "Busiest pair's TIME_WAIT sockets over net.ipv4.ip_local_port_range's size (1 = exhausted).");
  w.sample("synfin_tcp_time_wait_port_range_usage_ratio", "",
           self.ephemeral_port_range_size
               ? static_cast<double>(largest) / self.ephemeral_port_range_size
               : 0.0);
  w.family("synfin_tcp_time_wait_reconcile_drift_total", "counter",
           "TIME_WAIT sockets the kernel's table added to or removed from synfin's inference.");
  w.sample("synfin_tcp_time_wait_reconcile_drift_total", "direction=\"added\"",
           model.time_wait_drift().added);
  w.sample("synfin_tcp_time_wait_reconcile_drift_total", "direction=\"removed\"",
           model.time_wait_drift().removed);
  w.family("synfin_tcp_tracking_drift_total", "counter",
           "Live sockets found in the kernel's table but not tracked, or tracked but gone.");
  w.sample("synfin_tcp_tracking_drift_total", "direction=\"found\"", model.live_drift().found);
  w.sample("synfin_tcp_tracking_drift_total", "direction=\"lost\"", model.live_drift().lost);

  // Only ports an operator named (bounded, never ephemeral ones), counted each second.
  if (!model.port_sockets().empty()) {
    w.family("synfin_tcp_port_sockets", "gauge",
             "Sockets by local port and state, for the ports named by --metrics-port.");
    for (const model::PortSockets& p : model.port_sockets())
      for (TcpState state : model::kTrackedStates)
        if (state != TcpState::Close)
          w.sample("synfin_tcp_port_sockets",
                   fmt::format("port=\"{}\",state=\"{}\"", p.port, model::state_name(state)),
                   p.sockets_by_state[model::index_of(state)]);
  }

  w.family("synfin_tracked_connections", "gauge", "Connections in synfin's table now.");
  w.sample("synfin_tracked_connections", "", model.table().size());
  w.family("synfin_tracked_connections_capacity", "gauge", "Cap on synfin's connection table.");
  w.sample("synfin_tracked_connections_capacity", "", model.table().capacity());
  w.family("synfin_untracked_connections_total", "counter",
           "Connections not tracked because the table was full.");
  w.sample("synfin_untracked_connections_total", "",
           model.table().counters().untracked_connections);

  w.family("synfin_events_received_total", "counter", "Ring-buffer records decoded, by source.");
  for (std::size_t t = 1; t < kSources.size(); ++t)
    w.sample("synfin_events_received_total", fmt::format("source=\"{}\"", kSources[t]),
             self.events_by_type[t]);
  w.family("synfin_events_lost_total", "counter",
           "Records the kernel could not put in the ring buffer (it was full), by source.");
  for (std::size_t t = 1; t < kSources.size(); ++t)
    w.sample("synfin_events_lost_total", fmt::format("source=\"{}\"", kSources[t]),
             self.lost_by_type[t]);
  w.family("synfin_events_undecodable_total", "counter", "Ring-buffer records skipped, by reason.");
  w.sample("synfin_events_undecodable_total", "reason=\"truncated\"", self.undecodable_truncated);
  w.sample("synfin_events_undecodable_total", "reason=\"oversized\"", self.undecodable_oversized);
  w.sample("synfin_events_undecodable_total", "reason=\"unknown_type\"",
           self.undecodable_unknown_type);
  w.sample("synfin_events_undecodable_total", "reason=\"bad_field\"", self.undecodable_bad_field);

  w.family("synfin_snapshot_last_timestamp_seconds", "gauge",
           "Unix time of the last successful read of the kernel's socket table.");
  w.sample("synfin_snapshot_last_timestamp_seconds", "", self.last_snapshot_timestamp_seconds);
  return out;
}

}  // namespace synfin::outputs
