#pragma once
// The daemon as an application: attach, seed from the kernel's socket table, reconcile on a
// schedule, serve the API, metrics and web page, keep health and loss figures. cli/ only turns
// flags into DaemonOptions.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/capture_flags.h"

namespace synfin::daemon {

struct DaemonOptions {
  std::string listen = "127.0.0.1:9847";
  std::vector<std::string> stuck_thresholds;
  double reconcile_interval_s = 10;
  // Compact mode (--compact-paths, not with --xdp): each socket's path stays in the kernel until
  // it ends; the live view is read from those paths every live_interval_s.
  bool compact_paths = false;
  double live_interval_s = 1;
  std::size_t recent_closes = 4096;
  std::vector<uint16_t> metrics_ports;
  cli::CaptureFlags capture;
};

// Runs until SIGINT/SIGTERM; returns the exit code (errors reported as one line on stderr).
int run(const DaemonOptions& options);

}  // namespace synfin::daemon
