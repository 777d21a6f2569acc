#pragma once
// Flags every capturing command shares (trace, daemon), registered once.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "capture/xdp_program.h"
#include "common/report_error.h"
#include "model/connection_table.h"
#include "model/cookie_index.h"

namespace synfin::cli {

struct CaptureFlags {
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
  // slow reader); the daemon 2 MiB per CPU, 4 to 64 (a 2-vCPU host churning 33 000
  // connections/s fills ~1 MiB per 20 ms). The daemon's compact mode sends one 216-byte
  // record per socket end: 4 MiB holds ~19 000 ends. The ring's pages are mapped twice:
  // its size counts twice in RSS.
  uint32_t trace_ring_mib() const { return ring_mib ? ring_mib : 16; }
  uint32_t daemon_ring_mib(bool compact, unsigned cpus) const {
    if (ring_mib) return ring_mib;
    if (compact) return 4;
    return std::clamp(std::bit_ceil(2 * std::max(cpus, 1u)), 4u, 64u);
  }

  // Null when no --xdp was given.
  std::optional<capture::XdpOptions> xdp_options() const {
    if (xdp_interfaces.empty()) return std::nullopt;
    capture::XdpOptions options;
    options.interfaces = xdp_interfaces;
    options.mode = xdp_mode == "native"    ? capture::XdpMode::Native
                   : xdp_mode == "generic" ? capture::XdpMode::Generic
                                           : capture::XdpMode::Auto;
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

inline void add_capture_flags(CLI::App* command, CaptureFlags& flags) {
  command
      ->add_option("--max-connections", flags.max_connections,
                   "Cap on connections tracked at once (memory bound; TIME_WAIT sockets are\n"
                   "capped by it too)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{model::CookieIndex::kMaxSlots}));
  command
      ->add_option("--ring-size-mib", flags.ring_mib,
                   "BPF ring buffer size in MiB (power of 2). Default: 16 for trace; for the\n"
                   "daemon 2 per CPU (4 to 64), 4 in compact mode")
      ->check(CLI::IsMember({1, 2, 4, 8, 16, 32, 64, 128, 256}));
  command
      ->add_option("--drain-interval-ms", flags.drain_interval_ms,
                   "How often the ring buffer is drained (bounds output latency)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  command->add_flag("-v,--verbose", flags.verbose, "Print libbpf's log, verifier output included");
  command->add_option("--xdp", flags.xdp_interfaces,
                      "Also watch packets arriving on IFACE with XDP (repeatable, at most 8):\n"
                      "SYNs that never became sockets, handshake time from the SYN, the peer's\n"
                      "FIN before CLOSE_WAIT, RSTs, and checks of SEQ/ACK arithmetic. Never\n"
                      "drops a packet. Shares the interface through libxdp's dispatcher where the\n"
                      "kernel allows it, else attaches directly; never replaces another program");
  command
      ->add_option("--xdp-mode", flags.xdp_mode,
                   "auto (native where the driver supports it, else generic), native, generic")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "native", "generic"}));
  command
      ->add_option("--xdp-max-records", flags.xdp_records_per_second,
                   "Packet records per CPU per second sent to synfin; the rest are counted\n"
                   "(synfin_xdp_records_total{result=\"suppressed\"}) so a flood stays cheap")
      ->capture_default_str()
      ->check(CLI::Range(10, 10000000));
  command
      ->add_option("--handshake-timeout", flags.handshake_timeout_s,
                   "Seconds a SYN seen by XDP may wait for its socket before it counts as a\n"
                   "SYN without a socket")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
}

}  // namespace synfin::cli
