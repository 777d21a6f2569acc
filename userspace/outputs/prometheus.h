#pragma once
// /metrics in the Prometheus text format, rendered from the model's incrementally kept
// aggregates (O(label values), never O(connections)). Every series a dashboard or alert
// uses exists from the first scrape, at zero, so rate() works at once.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <optional>

#include "decode/decoder.h"
#include "model/daemon_model.h"
#include "model/kernel_tally.h"
#include "model/unit_breakdown.h"

namespace synfin::outputs {

// One interface synfin's XDP program watches, with its counters summed over CPUs.
struct XdpInterfaceMetrics {
  std::string name;
  std::string mode;  // native or generic
  bool attached = false;
  std::array<uint64_t, SYNFIN_XDP_COUNTER_COUNT> counters{};  // enum synfin_xdp_counter
};

// What the kernel refused listening sockets (counted in BPF), since synfin started.
struct ListenDrops {
  uint64_t overflows = 0;        // accept queue full
  uint64_t syn_queue_drops = 0;  // SYN queue full, no syncookies
  uint64_t other_drops = 0;
  uint64_t resets_sent = 0;
};

struct PortListenDrops {
  uint16_t port = 0;
  ListenDrops drops;
};

struct KernelFeature {
  std::string name;
  bool available = false;
};

struct SelfMetrics {
  decode::DecodeCounters decoded;
  uint64_t live_paths_undecodable = 0;  // rows of the live path walk (compact mode)
  std::array<uint64_t, model::kEventKindSlots> lost_by_type{};  // enum synfin_event_type order
  std::vector<XdpInterfaceMetrics> xdp;
  double last_snapshot_timestamp_seconds = 0;
  uint32_t ephemeral_port_range_size = 0;
  std::string version;
  std::array<uint64_t, model::kDropReasonCount> drops{};  // kernel drops of TCP packets (BPF)
  ListenDrops listen;                                     // every listener, gone ones included
  std::vector<PortListenDrops> port_listen;  // per listening port; shown for --metrics-port ones
  std::vector<KernelFeature> kernel_features;
  // The daemon's kernel-side counts: steps, closes and their histograms come from here (every
  // connection in scope), not from the model (only the closes that crossed).
  std::optional<model::KernelTally> kernel_tally;
  // --metrics-by unit: the stuck and TIME_WAIT gauges by systemd unit, bounded; absent: off.
  std::optional<model::UnitBreakdown> by_unit;
};

// A label value as the text format wants it: backslash, double quote and newline escaped;
// control characters and ill-formed UTF-8 bytes written as \xNN (a cgroup path is any bytes).
std::string label_value(std::string_view text);

std::string render_metrics(const model::DaemonModel& model, const SelfMetrics& self);

}  // namespace synfin::outputs
