#pragma once
// /metrics in the Prometheus text format, rendered from the model's incrementally kept
// aggregates (O(label values), never O(connections)). Every series a dashboard or alert
// uses exists from the first scrape, at zero, so rate() works at once.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/daemon_model.h"

namespace synfin::outputs {

struct SelfMetrics {
  std::array<uint64_t, 9> events_by_type{};  // enum synfin_event_type order
  std::array<uint64_t, 9> lost_by_type{};
  uint64_t undecodable_truncated = 0;
  uint64_t undecodable_oversized = 0;
  uint64_t undecodable_unknown_type = 0;
  uint64_t undecodable_bad_field = 0;
  double last_snapshot_timestamp_seconds = 0;
  uint32_t ephemeral_port_range_size = 0;
  std::string version;
};

std::string render_metrics(const model::DaemonModel& model, const SelfMetrics& self);

// Source label of each ring-buffer record type; empty for index 0.
std::string_view event_source_name(std::size_t type);

}  // namespace synfin::outputs
