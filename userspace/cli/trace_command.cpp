#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "capture/environment.h"
#include "capture/session.h"
#include "cli/capture_flags.h"
#include "cli/commands.h"
#include "cli/monotonic.h"
#include "outputs/json_lines.h"

namespace synfin::cli {

namespace {
struct TraceOptions {
  std::vector<uint16_t> local_ports;
  std::vector<uint16_t> remote_ports;
  bool ipv4_only = false;
  bool ipv6_only = false;
  std::optional<uint32_t> pid;
  double duration_s = 0;
  CaptureFlags capture;
};

int run_trace(const TraceOptions& o) {
  if (auto ready = capture::prepare_environment(); !ready)
    return report_error(ready.error().message);
  int family = o.ipv4_only ? 4 : o.ipv6_only ? 6 : 0;
  outputs::OutputFilter filter{family, o.local_ports, o.remote_ports, o.pid};
  outputs::JsonLinesWriter writer(stdout, filter, {realtime_minus_monotonic_ns()});
  model::ConnectionTable table(o.capture.max_connections, writer);

  capture::CaptureOptions capture_options;
  capture_options.family = family;
  capture_options.local_ports = o.local_ports;
  capture_options.remote_ports = o.remote_ports;
  capture_options.ring_bytes = o.capture.ring_mib << 20;
  capture_options.verbose = o.capture.verbose;
  auto session = capture::CaptureSession::start(capture_options, table);
  if (!session) return report_error(session.error().message);
  fmt::print(stderr, "synfin: tracing TCP state changes{} (Ctrl-C to stop)\n",
             o.duration_s > 0 ? fmt::format(" for {} s", o.duration_s) : "");

  uint64_t deadline_ns =
      o.duration_s > 0 ? monotonic_now_ns() + static_cast<uint64_t>(o.duration_s * 1e9) : 0;
  auto status = (*session)->run(o.capture.drain_interval_ms, [&] {
    writer.flush();
    return deadline_ns == 0 || monotonic_now_ns() < deadline_ns;
  });
  // Sockets already closed whose owner still holds the descriptor are finished too.
  table.finish_closed_connections(monotonic_now_ns());
  writer.flush();
  const auto& decoded = (*session)->decode_counters();
  uint64_t lost = 0;
  for (uint64_t count : (*session)->lost_counts()) lost += count;
  fmt::print(stderr, "synfin: {} events decoded, {} lost, {} undecodable, {} lines written\n",
             decoded.decoded, lost,
             decoded.truncated + decoded.oversized + decoded.unknown_type + decoded.bad_field,
             writer.lines_written());
  return status ? 0 : report_error(status.error().message);
}
}  // namespace

Runner register_trace(CLI::App& app) {
  auto options = std::make_shared<TraceOptions>();
  CLI::App* trace = app.add_subcommand(
      "trace",
      "Stream TCP state changes and finished connections as JSON lines (no daemon needed).\n"
      "Each state change prints {\"event\":\"transition\",...}; each connection prints one\n"
      "{\"event\":\"close\",...} line with its whole state sequence, outcome and verdict once its\n"
      "socket is gone. Example: synfin trace --dport 443 --duration 30 | jq "
      "'select(.event==\"close\")'");
  trace
      ->add_option("--sport", options->local_ports,
                   "Only sockets whose local port is this (repeatable, at most 8)")
      ->check(CLI::Range(1, 65535));
  trace
      ->add_option("--dport", options->remote_ports,
                   "Only sockets whose remote port is this (repeatable, at most 8)")
      ->check(CLI::Range(1, 65535));
  auto* v4 = trace->add_flag("-4,--ipv4", options->ipv4_only, "Only IPv4 sockets");
  trace->add_flag("-6,--ipv6", options->ipv6_only, "Only IPv6 sockets")->excludes(v4);
  trace->add_option("--pid", options->pid, "Only sockets owned by this process id");
  trace->add_option("--duration", options->duration_s, "Stop after SECONDS (default: until Ctrl-C)")
      ->check(CLI::PositiveNumber);
  add_capture_flags(trace, options->capture);
  return [trace, options]() -> int {
    if (!trace->parsed()) return -1;
    return run_trace(*options);
  };
}

}  // namespace synfin::cli
