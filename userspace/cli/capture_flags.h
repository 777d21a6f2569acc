#pragma once
// Flags every capturing command shares (trace, daemon), registered once.
#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace synfin::cli {

struct CaptureFlags {
  std::size_t max_connections = 262144;
  uint32_t ring_mib = 16;
  int drain_interval_ms = 100;
  bool verbose = false;
};

inline void add_capture_flags(CLI::App* command, CaptureFlags& flags) {
  command
      ->add_option("--max-connections", flags.max_connections,
                   "Cap on connections tracked at once (memory bound)")
      ->capture_default_str();
  command->add_option("--ring-size-mib", flags.ring_mib, "BPF ring buffer size in MiB (power of 2)")
      ->capture_default_str()
      ->check(CLI::IsMember({1, 2, 4, 8, 16, 32, 64, 128, 256}));
  command
      ->add_option("--drain-interval-ms", flags.drain_interval_ms,
                   "How often the ring buffer is drained (bounds output latency)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  command->add_flag("-v,--verbose", flags.verbose, "Print libbpf's log, verifier output included");
}

// One line on stderr, as every synfin failure is reported; returns the exit code.
inline int report_error(const std::string& message, int exit_code = 1) {
  fmt::print(stderr, "synfin: error: {}\n", message);
  return exit_code;
}

}  // namespace synfin::cli
