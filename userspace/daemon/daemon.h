#pragma once
// The daemon as an application: attach, seed from the kernel's socket table, reconcile on a
// schedule, serve the API, metrics and web page, keep health and loss figures. cli/ only turns
// flags into DaemonOptions.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "capture/capture_settings.h"
#include "model/unit_breakdown.h"

namespace synfin::daemon {

struct DaemonOptions {
  std::string listen = "127.0.0.1:9847";
  std::vector<std::string> stuck_thresholds;
  double reconcile_interval_s = 10;
  // The live view is read from the kernel-kept paths when a reader finds it older than
  // live_interval_s, and unread every reconcile_interval_s (not with --xdp, whose packet view
  // follows every step).
  double live_interval_s = 1;
  // Clean closes sent to userspace per second beyond those that matter (the sample).
  uint32_t closes_per_second = 2000;
  std::vector<uint16_t> watch_ports;  // every close on these ports crosses
  std::vector<uint16_t> ports;        // --port: only sockets with either end on these
  std::size_t recent_closes = 4096;
  std::vector<uint16_t> metrics_ports;
  // Other network namespaces walked with the iterator (setns, keeps CAP_SYS_ADMIN); else each
  // namespace's /proc table is its walk.
  bool enter_namespaces = false;
  // --metrics-by unit: the stuck and TIME_WAIT gauges by systemd unit, the metrics_by_limit
  // units with most sockets, the rest summed (model/unit_breakdown.h).
  bool metrics_by_unit = false;
  std::size_t metrics_by_limit = model::kDefaultUnitLimit;
  capture::CaptureSettings capture;
};

// Runs until SIGINT/SIGTERM; returns the exit code (errors reported as one line on stderr).
int run(const DaemonOptions& options);

}  // namespace synfin::daemon
