#include "outputs/prometheus.h"

#include <iterator>

#include <fmt/format.h>

#include "outputs/utf8.h"

namespace synfin::outputs {

namespace {
using model::TcpState;

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

// A kernel histogram (synfin/tcp_life.h) with the model's bounds, which are the same ones.
template <std::size_t N>
model::Histogram<N> from_kernel(model::Histogram<N> shape, const synfin_histogram& kernel) {
  for (std::size_t i = 0; i < N && i < SYNFIN_HISTOGRAM_MAX_BUCKETS; ++i)
    shape.bucket_counts[i] = kernel.buckets[i];
  shape.count = kernel.count;
  shape.sum = static_cast<double>(kernel.sum_ns) / 1e9;
  return shape;
}

// The step, close and time families: the kernel's tally where the daemon keeps one, else the
// model's own aggregates (which, per step, are the same counts).
struct Judged {
  std::array<std::array<uint64_t, model::kTcpStateCount>, model::kTcpStateCount> transitions{};
  std::array<uint64_t, model::kOutcomeCount> closed_by_outcome{};
  std::array<uint64_t, 3> closed_by_verdict{};
  std::array<uint64_t, model::kReasonCount> invalid_by_reason{};
  model::HandshakeHistogram client_handshake, server_handshake;
  model::LifetimeHistogram lifetime;
  std::array<model::StateDurationHistogram, model::kTimedStates.size()> state_duration;
};

Judged judged(const model::Aggregates& a, const std::optional<model::KernelTally>& kernel) {
  Judged j{a.transitions,      a.closed_by_outcome, a.closed_by_verdict, a.invalid_by_reason,
           a.client_handshake, a.server_handshake,  a.lifetime,          a.state_duration};
  if (!kernel) return j;
  for (std::size_t from = 0; from < model::kTcpStateCount; ++from)
    for (std::size_t to = 0; to < model::kTcpStateCount; ++to)
      j.transitions[from][to] = kernel->transition(from, to);
  j.closed_by_outcome.fill(0);
  j.closed_by_verdict.fill(0);
  for (std::size_t o = 0; o < model::kOutcomeCount; ++o)
    for (std::size_t v = 0; v < SYNFIN_VERDICT_COUNT; ++v) {
      j.closed_by_outcome[o] += kernel->closed(o, v);
      j.closed_by_verdict[v] += kernel->closed(o, v);
    }
  for (std::size_t r = 0; r < model::kReasonCount; ++r) j.invalid_by_reason[r] = kernel->invalid[r];
  j.client_handshake =
      from_kernel(j.client_handshake, kernel->histograms[SYNFIN_HISTOGRAM_CLIENT_HANDSHAKE]);
  j.server_handshake =
      from_kernel(j.server_handshake, kernel->histograms[SYNFIN_HISTOGRAM_SERVER_HANDSHAKE]);
  j.lifetime = from_kernel(j.lifetime, kernel->histograms[SYNFIN_HISTOGRAM_LIFETIME]);
  // TIME_WAIT's time stays the model's: no tracepoint sees a mini-socket end.
  for (std::size_t i = 0; i < model::kTimedStates.size(); ++i) {
    TcpState state = model::kTimedStates[i];
    int histogram = state == TcpState::CloseWait  ? SYNFIN_HISTOGRAM_CLOSE_WAIT
                    : state == TcpState::FinWait2 ? SYNFIN_HISTOGRAM_FIN_WAIT2
                    : state == TcpState::LastAck  ? SYNFIN_HISTOGRAM_LAST_ACK
                                                  : -1;
    if (histogram >= 0)
      j.state_duration[i] = from_kernel(j.state_duration[i], kernel->histograms[histogram]);
  }
  return j;
}

void render_kernel_closes(Writer& w, const model::KernelTally& kernel) {
  const auto& c = kernel.close_counters;
  w.family("synfin_closes_clean_total", "counter",
           "Clean active, passive and simultaneous closes the kernel side judged valid: the "
           "pool the sample of --closes-per-second is drawn from.");
  w.sample("synfin_closes_clean_total", "", c[SYNFIN_CLOSES_CLEAN]);
  w.family("synfin_closes_sampled_total", "counter",
           "Clean closes sent to the daemon whole as the rate-bounded sample (/api/v1/closed).");
  w.sample("synfin_closes_sampled_total", "", c[SYNFIN_CLOSES_SAMPLED]);
  w.family("synfin_closes_notable_total", "counter",
           "Closes sent to the daemon whole because they matter (not valid, not clean, reset, "
           "retransmitted, dropped, held past a stuck threshold, on a --watch-port).");
  w.sample("synfin_closes_notable_total", "", c[SYNFIN_CLOSES_NOTABLE]);
  w.family("synfin_time_wait_records_total", "counter",
           "Clean active closes outside the sample reported only by the TIME_WAIT socket they "
           "left (so that TIME_WAIT stays exact).");
  w.sample("synfin_time_wait_records_total", "", c[SYNFIN_CLOSES_TIME_WAIT]);
  w.family("synfin_socket_storage_failures_total", "counter",
           "State changes of sockets the kernel had no memory to give a path: not counted.");
  w.sample("synfin_socket_storage_failures_total", "", c[SYNFIN_CLOSES_UNTRACKED]);
}

std::string state_label(TcpState state) {
  return fmt::format("state=\"{}\"", model::state_name(state));
}

bool has_threshold(const model::StuckThresholds& t, TcpState state) {
  return t.for_state(state) > 0;
}

enum class CounterGroup { FLAGS, TRAFFIC, ERROR, RING };
struct XdpCounterInfo {
  std::string_view label;
  CounterGroup group;
};
constexpr std::array<XdpCounterInfo, SYNFIN_XDP_COUNTER_COUNT> kXdpCounters = [] {
  std::array<XdpCounterInfo, SYNFIN_XDP_COUNTER_COUNT> info{};
#define SYNFIN_XDP_COUNTER_INFO(abi, label, group) \
  info[SYNFIN_XDP_##abi] = {label, CounterGroup::group};
  SYNFIN_XDP_COUNTERS(SYNFIN_XDP_COUNTER_INFO)
#undef SYNFIN_XDP_COUNTER_INFO
  return info;
}();

// One family per counter group, a sample per interface and counter of the group.
void xdp_family(Writer& w, const std::vector<XdpInterfaceMetrics>& interfaces, CounterGroup group,
                std::string_view name, std::string_view label, std::string_view help) {
  w.family(name, "counter", help);
  for (const auto& interface : interfaces)
    for (std::size_t c = 0; c < kXdpCounters.size(); ++c)
      if (kXdpCounters[c].group == group)
        w.sample(
            name,
            fmt::format("iface=\"{}\",{}=\"{}\"", interface.name, label, kXdpCounters[c].label),
            interface.counters[c]);
}

// Why connections broke: reset reasons, kernel drops, listen-queue overflows.
void render_verdicts(Writer& w, const model::DaemonModel& model, const SelfMetrics& self) {
  const model::Aggregates& a = model.aggregates();
  w.family("synfin_tcp_resets_total", "counter",
           "RSTs sent and received, by the kernel's reason (tcp_send_reset, Linux 6.10+; "
           "UNKNOWN: none given, as for a reset received from another host).");
  for (std::size_t r = 0; r < model::kResetReasonCount; ++r)
    w.sample("synfin_tcp_resets_total",
             fmt::format("direction=\"sent\",reason=\"{}\"", model::reset_reason_name(r)),
             a.resets_sent_by_reason[r]);
  for (std::size_t r = 0; r < model::kResetReasonCount; ++r)
    w.sample("synfin_tcp_resets_total",
             fmt::format("direction=\"received\",reason=\"{}\"", model::reset_reason_name(r)),
             a.resets_received_by_reason[r]);
  w.family("synfin_tcp_no_socket_resets_total", "counter",
           "RSTs the kernel sent to segments that matched no socket (refused connects, scans).");
  w.sample("synfin_tcp_no_socket_resets_total", "", a.no_socket_resets);
  if (!model.port_sockets().empty()) {
    w.family("synfin_tcp_port_no_socket_resets_total", "counter",
             "RSTs to segments that matched no socket, by local port (--metrics-port ports).");
    for (const model::PortSockets& p : model.port_sockets())
      w.sample("synfin_tcp_port_no_socket_resets_total", fmt::format("port=\"{}\"", p.port),
               p.no_socket_resets);
  }
  w.family("synfin_tcp_drops_total", "counter",
           "TCP packets the kernel dropped, by its drop reason (skb:kfree_skb, Linux 5.17+).");
  for (std::size_t r = 1; r < model::kDropReasonCount; ++r)
    w.sample("synfin_tcp_drops_total", fmt::format("reason=\"{}\"", model::drop_reason_name(r)),
             self.drops[r]);
  w.family("synfin_tcp_time_wait_drops_total", "counter",
           "Packets the kernel dropped on TIME_WAIT sockets, by drop reason (PAWS, old data).");
  // The daemon counts them in the kernel (a mini-socket has no path for a record to join).
  for (std::size_t r = 1; r < model::kDropReasonCount; ++r)
    w.sample("synfin_tcp_time_wait_drops_total",
             fmt::format("reason=\"{}\"", model::drop_reason_name(r)),
             self.kernel_tally ? self.kernel_tally->time_wait_drops[r] : a.time_wait_drops[r]);

  auto listen_samples = [&w](std::string_view name, std::string_view prefix, const ListenDrops& d) {
    w.sample(name, fmt::format("{}cause=\"overflow\"", prefix), d.overflows);
    w.sample(name, fmt::format("{}cause=\"syn_queue_full\"", prefix), d.syn_queue_drops);
    w.sample(name, fmt::format("{}cause=\"other\"", prefix), d.other_drops);
  };
  w.family("synfin_tcp_listen_drops_total", "counter",
           "Connection attempts listening sockets refused: overflow (accept queue full, the "
           "kernel's ListenOverflows), syn_queue_full (no syncookies), other.");
  listen_samples("synfin_tcp_listen_drops_total", "", self.listen);
  w.family("synfin_tcp_listener_resets_total", "counter",
           "RSTs the kernel sent on behalf of listening sockets.");
  w.sample("synfin_tcp_listener_resets_total", "", self.listen.resets_sent);
  if (!model.port_sockets().empty()) {
    w.family("synfin_tcp_port_listen_drops_total", "counter",
             "Connection attempts refused by the listeners of a --metrics-port port, by cause.");
    for (const model::PortSockets& p : model.port_sockets()) {
      ListenDrops drops;
      for (const PortListenDrops& listen : self.port_listen)
        if (listen.port == p.port) drops = listen.drops;
      listen_samples("synfin_tcp_port_listen_drops_total", fmt::format("port=\"{}\",", p.port),
                     drops);
    }
  }
  w.family("synfin_kernel_feature_available", "gauge",
           "1 when the running kernel lets synfin report this (see /healthz cannot_report).");
  for (const KernelFeature& feature : self.kernel_features)
    w.sample("synfin_kernel_feature_available", fmt::format("feature=\"{}\"", feature.name),
             feature.available ? 1 : 0);
}

// --metrics-by unit: at most limit + 3 units a family (the ranked ones, unknown, none, other).
void render_by_unit(Writer& w, const model::DaemonModel& model, const model::UnitBreakdown& b) {
  w.family("synfin_tcp_unit_stuck_sockets", "gauge",
           "Stuck sockets by their owner's systemd unit and state (--metrics-by unit): the "
           "--metrics-by-limit units with most, then unknown (no owner known), none (in no "
           "unit), other (the rest, summed).");
  for (const model::UnitSockets& unit : b.stuck.units) {
    std::string label = label_value(unit.unit);
    for (TcpState state : model::kTrackedStates)
      if (has_threshold(model.thresholds(), state))
        w.sample("synfin_tcp_unit_stuck_sockets",
                 fmt::format("unit=\"{}\",state=\"{}\"", label, model::state_name(state)),
                 unit.stuck_by_state[model::index_of(state)]);
  }
  w.family("synfin_tcp_unit_time_wait_sockets", "gauge",
           "TIME_WAIT sockets by the systemd unit of the connection's last owner (--metrics-by "
           "unit); unknown: no owner known when its close reached synfin, or it has exited.");
  for (const model::UnitSockets& unit : b.time_wait.units)
    w.sample("synfin_tcp_unit_time_wait_sockets",
             fmt::format("unit=\"{}\"", label_value(unit.unit)), unit.count);
  w.family("synfin_metrics_units_folded", "gauge",
           "Units past --metrics-by-limit summed into unit=\"other\", by family (stuck, "
           "time_wait).");
  w.sample("synfin_metrics_units_folded", "family=\"stuck\"", b.stuck.folded_units);
  w.sample("synfin_metrics_units_folded", "family=\"time_wait\"", b.time_wait.folded_units);
}

void render_packet_view(Writer& w, const model::DaemonModel& model, const SelfMetrics& self) {
  const model::Aggregates& a = model.aggregates();
  if (!self.xdp.empty()) {
    w.family("synfin_xdp_attached", "gauge",
             "1 while synfin's XDP program runs on the interface (mode: native or generic).");
    for (const auto& interface : self.xdp)
      w.sample("synfin_xdp_attached",
               fmt::format("iface=\"{}\",mode=\"{}\"", interface.name, interface.mode),
               interface.attached ? 1 : 0);
    xdp_family(w, self.xdp, CounterGroup::FLAGS, "synfin_xdp_packets_total", "flags",
               "TCP packets arriving, by interface and flag class (invalid: SYN+FIN, SYN+RST, "
               "RST+FIN or no flags).");
    xdp_family(w, self.xdp, CounterGroup::ERROR, "synfin_xdp_parse_errors_total", "reason",
               "Frames the XDP parser could not read as TCP, by reason (passed unharmed).");
    xdp_family(w, self.xdp, CounterGroup::TRAFFIC, "synfin_xdp_skipped_packets_total", "reason",
               "Frames that are not TCP, or non-first IP fragments, by interface.");
    xdp_family(w, self.xdp, CounterGroup::RING, "synfin_xdp_records_total", "result",
               "Handshake/teardown packet records: sent to synfin, suppressed by the rate bound "
               "(--xdp-max-records), or lost to a full ring buffer.");
  }
  w.family("synfin_xdp_packets_without_socket_total", "counter",
           "Packets XDP saw for which the kernel has no socket, by flag class.");
  for (std::size_t c = 0; c < a.packets_without_socket.size(); ++c)
    w.sample("synfin_xdp_packets_without_socket_total",
             fmt::format("flags=\"{}\"", kXdpCounters[c].label), a.packets_without_socket[c]);
  w.family("synfin_tcp_syns_without_socket_total", "counter",
           "SYNs XDP saw that never became a socket within --handshake-timeout, by reason.");
  for (std::size_t f = 0; f < model::kSynFateCount; ++f)
    w.sample("synfin_tcp_syns_without_socket_total",
             fmt::format("reason=\"{}\"", model::syn_fate_name(static_cast<model::SynFate>(f))),
             a.syns_without_socket[f]);
  if (!model.port_sockets().empty()) {
    w.family("synfin_tcp_port_syns_without_socket_total", "counter",
             "SYNs without a socket by local port (the --metrics-port ports) and reason.");
    for (const model::PortSockets& p : model.port_sockets())
      for (std::size_t f = 0; f < model::kSynFateCount; ++f)
        w.sample("synfin_tcp_port_syns_without_socket_total",
                 fmt::format("port=\"{}\",reason=\"{}\"", p.port,
                             model::syn_fate_name(static_cast<model::SynFate>(f))),
                 p.syns_without_socket[f]);
  }
  w.family("synfin_tcp_packet_anomalies_total", "counter",
           "Connections on which a packet broke TCP's handshake/teardown arithmetic, by kind.");
  for (std::size_t k = 0; k < model::kAnomalyCount; ++k)
    w.sample("synfin_tcp_packet_anomalies_total",
             fmt::format("kind=\"{}\"", model::anomaly_name(static_cast<model::Anomaly>(k))),
             a.anomalies[k]);
  w.family("synfin_tcp_server_handshake_from_syn_seconds", "histogram",
           "Server handshake from the SYN's arrival (XDP) to ESTABLISHED: SYN-queue and backlog "
           "delay included, unlike synfin_tcp_handshake_duration_seconds{role=\"server\"}.");
  w.histogram("synfin_tcp_server_handshake_from_syn_seconds", "", a.server_handshake_from_syn);
  w.family("synfin_tcp_close_wait_reaction_seconds", "histogram",
           "From the peer's FIN arriving (XDP) to the application's close(): how long the "
           "application took to react.");
  w.histogram("synfin_tcp_close_wait_reaction_seconds", "", a.close_wait_reaction);
}
}  // namespace

std::string label_value(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    Utf8Piece piece = next_utf8(text);
    bool control = piece.well_formed && (piece.code_point < 0x20 || piece.code_point == 0x7f);
    if (piece.well_formed && piece.code_point == '\\')
      out += "\\\\";
    else if (piece.well_formed && piece.code_point == '"')
      out += "\\\"";
    else if (piece.well_formed && piece.code_point == '\n')
      out += "\\n";
    else if (piece.well_formed && !control)
      out.append(text.substr(0, piece.length));
    else
      for (std::size_t i = 0; i < piece.length; ++i)
        fmt::format_to(std::back_inserter(out), "\\\\x{:02x}", static_cast<uint8_t>(text[i]));
    text.remove_prefix(piece.length);
  }
  return out;
}

std::string render_metrics(const model::DaemonModel& model, const SelfMetrics& self) {
  std::string out;
  out.reserve(32 * 1024);
  Writer w(out);
  const model::Aggregates& a = model.aggregates();
  const Judged j = judged(a, self.kernel_tally);

  w.family("synfin_build_info", "gauge", "synfin version, always 1.");
  w.sample("synfin_build_info", fmt::format("version=\"{}\"", self.version), 1);

  w.family("synfin_tcp_state_transitions_total", "counter",
           "TCP state changes seen by sock:inet_sock_set_state, by from and to state.");
  for (std::size_t from = 1; from < model::kTcpStateCount; ++from) {
    for (std::size_t to = 1; to < model::kTcpStateCount; ++to) {
      auto f = static_cast<TcpState>(from), t = static_cast<TcpState>(to);
      uint64_t count = j.transitions[from][to];
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
             fmt::format("outcome=\"{}\"", model::outcome_name(outcome)), j.closed_by_outcome[o]);
  }

  w.family("synfin_tcp_sequences_total", "counter",
           "Closed connections by verdict of their state sequence (valid, invalid, incomplete).");
  for (std::size_t v = 0; v < 3; ++v)
    w.sample("synfin_tcp_sequences_total",
             fmt::format("verdict=\"{}\"", model::verdict_name(static_cast<model::Verdict>(v))),
             j.closed_by_verdict[v]);

  w.family("synfin_tcp_invalid_sequences_total", "counter",
           "Connections whose state sequence broke the TCP state machine, by reason.");
  for (auto reason : {model::Reason::IllegalTransition})
    w.sample("synfin_tcp_invalid_sequences_total",
             fmt::format("reason=\"{}\"", model::reason_name(reason)),
             j.invalid_by_reason[static_cast<std::size_t>(reason)]);

  w.family("synfin_tcp_handshake_duration_seconds", "histogram",
           "Handshake time: client SYN_SENT to ESTABLISHED; server SYN_RECV to ESTABLISHED.");
  w.histogram("synfin_tcp_handshake_duration_seconds", "role=\"client\"", j.client_handshake);
  w.histogram("synfin_tcp_handshake_duration_seconds", "role=\"server\"", j.server_handshake);

  w.family("synfin_tcp_connection_lifetime_seconds", "histogram",
           "Connection lifetime from SYN_SENT/SYN_RECV to the socket's end (born while traced).");
  w.histogram("synfin_tcp_connection_lifetime_seconds", "", j.lifetime);

  w.family(
      "synfin_tcp_state_duration_seconds", "histogram",
      "Time spent in a closing state before leaving it (TIME_WAIT: until the kernel reaps it).");
  for (std::size_t i = 0; i < model::kTimedStates.size(); ++i)
    w.histogram("synfin_tcp_state_duration_seconds", state_label(model::kTimedStates[i]),
                j.state_duration[i]);

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

  if (self.by_unit) render_by_unit(w, model, *self.by_unit);

  w.family("synfin_tcp_retransmits_total", "counter",
           "Segments retransmitted (tcp:tcp_retransmit_skb).");
  w.sample("synfin_tcp_retransmits_total", "", a.retransmits);
  w.family("synfin_tcp_synack_retransmits_total", "counter",
           "SYN+ACKs retransmitted by listeners (tcp:tcp_retransmit_synack).");
  w.sample("synfin_tcp_synack_retransmits_total", "", a.synack_retransmits);
  render_verdicts(w, model, self);

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

  render_packet_view(w, model, self);
  if (self.kernel_tally) render_kernel_closes(w, *self.kernel_tally);

  w.family("synfin_tracked_connections", "gauge", "Connections in synfin's table now.");
  w.sample("synfin_tracked_connections", "", model.table().size());
  w.family("synfin_tracked_connections_capacity", "gauge", "Cap on synfin's connection table.");
  w.sample("synfin_tracked_connections_capacity", "", model.table().capacity());
  w.family("synfin_untracked_connections_total", "counter",
           "Sockets not tracked because the table was full (each counted once).");
  w.sample("synfin_untracked_connections_total", "",
           model.table().counters().untracked_connections);
  w.family("synfin_untracked_time_wait_total", "counter",
           "TIME_WAIT sockets not tracked because --max-connections of them were already.");
  w.sample("synfin_untracked_time_wait_total", "", model.time_wait().untracked());

  w.family("synfin_events_received_total", "counter", "Ring-buffer records decoded, by source.");
  for (std::size_t t = 1; t < model::kEventKindSlots; ++t)
    w.sample("synfin_events_received_total",
             fmt::format("source=\"{}\"", decode::record_source_name(t)),
             self.decoded.decoded_by_type[t]);
  w.family("synfin_events_lost_total", "counter",
           "Records the kernel could not put in the ring buffer (it was full), by source.");
  for (std::size_t t = 1; t < model::kEventKindSlots; ++t)
    if (decode::record_origin(t) == decode::RecordOrigin::Kernel)  // userspace's are never lost
      w.sample("synfin_events_lost_total",
               fmt::format("source=\"{}\"", decode::record_source_name(t)), self.lost_by_type[t]);
  w.family("synfin_events_undecodable_total", "counter", "Ring-buffer records skipped, by reason.");
  w.sample("synfin_events_undecodable_total", "reason=\"truncated\"", self.decoded.truncated);
  w.sample("synfin_events_undecodable_total", "reason=\"oversized\"", self.decoded.oversized);
  w.sample("synfin_events_undecodable_total", "reason=\"unknown_type\"", self.decoded.unknown_type);
  w.sample("synfin_events_undecodable_total", "reason=\"bad_field\"", self.decoded.bad_field);
  w.family("synfin_live_paths_undecodable_total", "counter",
           "Rows of the live walk of the kernel-kept paths skipped (truncated, oversized, bad "
           "field).");
  w.sample("synfin_live_paths_undecodable_total", "", self.live_paths_undecodable);

  w.family("synfin_snapshot_last_timestamp_seconds", "gauge",
           "Unix time of the last successful read of the kernel's socket table.");
  w.sample("synfin_snapshot_last_timestamp_seconds", "", self.last_snapshot_timestamp_seconds);
  return out;
}

}  // namespace synfin::outputs
