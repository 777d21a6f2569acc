#pragma once
// Counters and histograms kept up to date event by event, so that a scrape reads them in
// O(labels) instead of walking connections. Fixed-size arrays: nothing allocates per event.
#include <array>
#include <cstdint>
#include <span>

#include "model/connection.h"
#include "model/reasons.h"
#include "model/tcp_state.h"

namespace synfin::model {

template <std::size_t N>
struct Histogram {
  std::array<double, N> upper_bounds;       // seconds, ascending; +Inf is implicit
  std::array<uint64_t, N> bucket_counts{};  // non-cumulative
  uint64_t count = 0;
  double sum = 0;

  void observe(double seconds) {
    for (std::size_t i = 0; i < N; ++i) {
      if (seconds <= upper_bounds[i]) {
        ++bucket_counts[i];
        break;
      }
    }
    ++count;
    sum += seconds;
  }
};

using HandshakeHistogram = Histogram<12>;
using LifetimeHistogram = Histogram<11>;
using StateDurationHistogram = Histogram<12>;

HandshakeHistogram make_handshake_histogram();
LifetimeHistogram make_lifetime_histogram();
StateDurationHistogram make_state_duration_histogram();

// States whose time-in-state is a histogram: the ones users alert on.
inline constexpr std::array<TcpState, 4> kTimedStates = {TcpState::CloseWait, TcpState::FinWait2,
                                                         TcpState::LastAck, TcpState::TimeWait};

struct Aggregates {
  std::array<std::array<uint64_t, kTcpStateCount>, kTcpStateCount> transitions{};
  std::array<uint64_t, kOutcomeCount> closed_by_outcome{};
  std::array<uint64_t, kReasonCount> invalid_by_reason{};
  std::array<uint64_t, 3> closed_by_verdict{};
  uint64_t retransmits = 0;
  uint64_t synack_retransmits = 0;
  uint64_t resets_sent = 0;
  uint64_t resets_received = 0;
  // By synfin reset reason; a received reset has one when its sender was on this host.
  std::array<uint64_t, kResetReasonCount> resets_sent_by_reason{};
  std::array<uint64_t, kResetReasonCount> resets_received_by_reason{};
  uint64_t no_socket_resets = 0;  // sent to segments no socket matched (refused, port scans)
  // Kernel drops on TIME_WAIT sockets (PAWS, old duplicates), by synfin drop reason.
  std::array<uint64_t, kDropReasonCount> time_wait_drops{};
  HandshakeHistogram client_handshake = make_handshake_histogram();
  HandshakeHistogram server_handshake = make_handshake_histogram();
  LifetimeHistogram lifetime = make_lifetime_histogram();
  std::array<StateDurationHistogram, kTimedStates.size()> state_duration = {
      make_state_duration_histogram(), make_state_duration_histogram(),
      make_state_duration_histogram(), make_state_duration_histogram()};

  // The packet view (XDP): zero unless --xdp.
  HandshakeHistogram server_handshake_from_syn = make_handshake_histogram();
  StateDurationHistogram close_wait_reaction = make_state_duration_histogram();
  std::array<uint64_t, kAnomalyCount> anomalies{};
  std::array<uint64_t, kSynFateCount> syns_without_socket{};
  // Packets for which the kernel found no socket at all, by flag class (SYN .. OTHER).
  std::array<uint64_t, 6> packets_without_socket{};

  // Current gauges, refreshed by DaemonModel::tick.
  std::array<uint64_t, kTcpStateCount> sockets_by_state{};
  std::array<uint64_t, kTcpStateCount> stuck_by_state{};
};

}  // namespace synfin::model
