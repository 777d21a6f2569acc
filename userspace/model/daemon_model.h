#pragma once
// Everything the daemon knows, as one pure object: the live connection table, TIME_WAIT
// tracking, recent closes, aggregates and stuck gauges. Time comes in with each call; the
// daemon serialises access (one mutex around it).
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/aggregates.h"
#include "model/connection_table.h"
#include "model/stuck.h"
#include "model/time_wait.h"
#include "model/unit_breakdown.h"
#include "model/walk_coverage.h"

namespace synfin::model {

struct ClosedConnection {
  Connection connection;
  Classification classification;
  uint64_t closed_ns = 0;
};

struct LiveDrift {
  uint64_t found = 0;  // in the kernel's table, unknown to synfin: seeded
  uint64_t lost = 0;   // tracked, but the kernel no longer has them: finished as incomplete
  // Followed through their paths, gone without a record: ended clean, counted in the kernel.
  uint64_t ended_unsent = 0;
};

// Sockets by state on one local port an operator asked to break metrics down by.
struct PortSockets {
  uint16_t port = 0;
  std::array<uint64_t, kTcpStateCount> sockets_by_state{};
  std::array<uint64_t, kSynFateCount> syns_without_socket{};  // XDP: SYNs to this port
  uint64_t no_socket_resets = 0;  // RSTs answering segments to this port that no socket took
};

struct DaemonModelConfig {
  std::size_t max_connections = 262144;
  std::size_t recent_closes = 4096;
  StuckThresholds stuck = StuckThresholds::defaults();
  std::vector<uint16_t> metrics_ports;  // bounded by the caller
  PacketViewConfig packet_view;
  bool xdp = false;  // XDP on: closes carry anomalies and packet timings
  // Sockets followed through their kernel-kept paths (not per step): only closes that matter,
  // and a sample of the rest, cross; the kernel counts them all.
  bool compact = false;
  // The namespace the iterator's snapshots list by default (the daemon's own); a walk that
  // covers others says so with a WalkCoverage. 0: every socket is in it.
  uint32_t netns = 0;
  // net.ipv4.tcp_max_tw_buckets of that namespace (0: unknown): no more TIME_WAIT sockets than
  // this are inferred there, as the kernel creates no more.
  uint64_t time_wait_buckets = 0;
  // Each tick also counts the stuck and TIME_WAIT sockets by owner (--metrics-by unit).
  bool count_by_owner = false;
};

// Connections finished lately, in the order they finished: appended at each close (no
// per-close allocation once grown), looked up once per walk, trimmed to what a walk can
// still list.
class RecentCloses {
 public:
  void add(uint64_t cookie, uint64_t ts_ns);
  // Sorted cookies of those finished at or after start_ns.
  std::vector<uint64_t> since(uint64_t start_ns) const;
  void forget_before(uint64_t start_ns);

 private:
  struct Close {
    uint64_t ts_ns;
    uint64_t cookie;
  };
  std::vector<Close> closes_;
};

class DaemonModel final : public ConnectionObserver {
 public:
  explicit DaemonModel(const DaemonModelConfig& config);

  void apply(const Event& event) { table_.apply(event); }
  // Startup: adopts every socket of a snapshot that began at start_ns and ended at end_ns.
  void seed(std::span<const KernelSocket> snapshot, uint64_t end_ns);
  // Periodic: corrects TIME_WAIT inference and live tracking against the kernel's table.
  void reconcile(std::span<const KernelSocket> snapshot, uint64_t start_ns, uint64_t now_ns);
  // The same in parts, so records keep being applied in between (a table of 100 000s of
  // TIME_WAIT sockets takes ~100 ms): begin, the TIME_WAIT sockets in as many parts as
  // wanted, then finish with the whole snapshot (its other sockets).
  // A walk of the kernel's table began at start_ns (nullopt: none is under way any more):
  // until its reconciliation finishes, the closes it must know of are kept.
  void note_walk(std::optional<uint64_t> start_ns) { walk_start_ns_ = start_ns; }
  void begin_reconcile();
  void reconcile_time_wait(std::span<const KernelSocket> part, uint64_t now_ns);
  void finish_reconcile(std::span<const KernelSocket> snapshot, uint64_t start_ns, uint64_t now_ns);
  // A walk of several network namespaces: a socket is found gone only in one it covered.
  void finish_reconcile(std::span<const KernelSocket> snapshot, const WalkCoverage& coverage,
                        uint64_t start_ns, uint64_t now_ns);
  // Compact mode: the paths of every live socket the kernel keeps one for, read by a walk that
  // began at start_ns; records ended since have been applied. Brings each connection up to
  // date; a connection the walk no longer lists lost its end record.
  void refresh(std::span<const SocketPath> live, uint64_t start_ns, uint64_t now_ns);
  // Expires TIME_WAIT entries and refreshes the gauges.
  void tick(uint64_t now_ns);

  ConnectionTable& table() { return table_; }
  const ConnectionTable& table() const { return table_; }
  const TimeWaitTracker& time_wait() const { return time_wait_; }
  // The kernel timer wheel's bucket for a 60 s timer (TimeWaitTracker::follow_timer_wheel).
  void follow_timer_wheel(uint64_t bucket_ns) { time_wait_.follow_timer_wheel(bucket_ns); }
  const Aggregates& aggregates() const { return aggregates_; }
  const std::vector<PortSockets>& port_sockets() const { return port_sockets_; }
  // As of the last tick; empty unless config.count_by_owner.
  const SocketsByOwner& sockets_by_owner() const { return sockets_by_owner_; }
  // The holders the last walk found for sockets no syscall named an owner of (those from before
  // the start), by cookie: they count for that pid. Replaced by each walk.
  void set_holders(std::unordered_map<uint64_t, uint32_t> holders) {
    holders_ = std::move(holders);
  }
  const StuckThresholds& thresholds() const { return config_.stuck; }
  bool xdp() const { return config_.xdp; }
  const ReconcileDrift& time_wait_drift() const { return time_wait_drift_; }
  const LiveDrift& live_drift() const { return live_drift_; }
  uint64_t reconciliations() const { return reconciliations_; }
  // Oldest first.
  template <typename Visitor>
  void for_each_recent_close(Visitor&& visit) const {
    std::size_t n = closes_stored_ < recent_.size() ? closes_stored_ : recent_.size();
    std::size_t start = (next_close_ + recent_.size() - n) % recent_.size();
    for (std::size_t i = 0; i < n; ++i) visit(recent_[(start + i) % recent_.size()]);
  }

  void on_transition(const Connection& connection, TcpState from, TcpState to,
                     uint64_t ts_ns) override;
  void on_closed(const Connection& connection, const Classification& classification,
                 uint64_t ts_ns) override;
  void on_signal(const Connection* connection, const Event& event) override;
  void on_packet(const Connection* connection, const Event& packet) override;
  void on_anomaly(const Connection& connection, Anomaly anomaly, uint64_t ts_ns) override;
  void on_syn_without_socket(const PendingSyn& syn, uint64_t ts_ns) override;
  void on_time_wait_entered(const Event& event, const Connection* connection) override;

 private:
  // A connection's owner pid for the by-owner counts: its own, else its holder; 0: none known.
  uint32_t owner_of(const Connection& c) const;

  DaemonModelConfig config_;
  ConnectionTable table_;
  TimeWaitTracker time_wait_;
  Aggregates aggregates_;
  std::vector<PortSockets> port_sockets_;
  SocketsByOwner sockets_by_owner_;
  std::unordered_map<uint64_t, uint32_t> holders_;
  std::vector<ClosedConnection> recent_;  // ring, preallocated
  std::size_t next_close_ = 0;
  uint64_t closes_stored_ = 0;
  // Cookies finished since the last reconciliation began: a snapshot walked while they were
  // being destroyed still lists them, and they must not come back as untracked sockets.
  RecentCloses recently_closed_;
  std::optional<uint64_t> walk_start_ns_;  // a walk under way: its closes are kept
  ReconcileDrift time_wait_drift_;
  LiveDrift live_drift_;
  uint64_t reconciliations_ = 0;
};

}  // namespace synfin::model
