#pragma once
// What every capturing command (trace, daemon) sets about the capture: the table's cap, the
// ring, the drain, XDP. Plain values: cli/capture_flags.h binds them to flags, the daemon and
// the trace read them, and neither needs the command-line library to do so.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "capture/xdp_program.h"
#include "model/connection_table.h"

namespace synfin::capture {

struct CaptureSettings {
  std::size_t max_connections = 262144;
  uint32_t ring_mib = 0;  // 0: the default for the mode (ring_mib_or)
  int drain_interval_ms = 100;
  bool verbose = false;
  std::vector<std::string> xdp_interfaces;
  std::string xdp_mode = "auto";
  uint32_t xdp_records_per_second = 50000;
  double handshake_timeout_s = 10;

  // The ring holds what arrives between two drains, and what arrives grows with the CPUs
  // making connections. Per-step records: `synfin trace` 16 MiB (its output can block on a
  // slow reader); the daemon with --xdp 2 MiB per CPU, 4 to 64 (a 2-vCPU host churning
  // 33 000 connections/s fills ~1 MiB per 20 ms). Without --xdp the daemon sends one
  // 216-byte record per socket end that matters: 4 MiB holds ~19 000 ends. The ring's pages
  // are mapped twice: its size counts twice in RSS.
  uint32_t trace_ring_mib() const { return ring_mib ? ring_mib : 16; }
  uint32_t daemon_ring_mib(bool compact, unsigned cpus) const {
    if (ring_mib) return ring_mib;
    if (compact) return 4;
    return std::clamp(std::bit_ceil(2 * std::max(cpus, 1u)), 4u, 64u);
  }

  // Null when no --xdp was given.
  std::optional<XdpOptions> xdp_options() const {
    if (xdp_interfaces.empty()) return std::nullopt;
    XdpOptions options;
    options.interfaces = xdp_interfaces;
    options.mode = xdp_mode == "native"    ? XdpMode::Native
                   : xdp_mode == "generic" ? XdpMode::Generic
                                           : XdpMode::Auto;
    options.records_per_second_per_cpu = xdp_records_per_second;
    options.verbose = verbose;
    return options;
  }
  model::PacketViewConfig packet_view() const {
    model::PacketViewConfig config;
    config.handshake_timeout_ns = static_cast<uint64_t>(handshake_timeout_s * 1e9);
    config.enabled = !xdp_interfaces.empty();
    return config;
  }
};

}  // namespace synfin::capture
