#pragma once
// Flags every capturing command shares (trace, daemon), registered once, into the plain
// settings of capture/capture_settings.h.
#include <CLI/CLI.hpp>
#include <cstddef>

#include "capture/capture_settings.h"
#include "model/cookie_index.h"

namespace synfin::cli {

inline void add_capture_flags(CLI::App* command, capture::CaptureSettings& flags) {
  command
      ->add_option("--max-connections", flags.max_connections,
                   "Cap on connections tracked at once (memory bound; TIME_WAIT sockets are\n"
                   "capped by it too)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{model::CookieIndex::kMaxSlots}));
  command
      ->add_option("--ring-size-mib", flags.ring_mib,
                   "BPF ring buffer size in MiB (power of 2), shared out among the CPUs (one\n"
                   "ring each, at least 256 KiB). Default: 16 for trace; for the daemon 4, with\n"
                   "--xdp 2 per CPU (4 to 64)")
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
