#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "capture/environment.h"
#include "capture/proc_owners.h"
#include "capture/session.h"
#include "cli/capture_flags.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "common/report_error.h"
#include "decode/recording.h"
#include "decode/replay.h"
#include "model/cookie_index.h"
#include "outputs/json_lines.h"

namespace synfin::cli {

namespace {

// The end of trace's and replay's summary line: what was written, and how closes were judged.
std::string written_and_judged(const outputs::JsonLinesWriter& writer) {
  const auto& closes = writer.closes_by_verdict();
  return fmt::format("{} lines written; closes judged: {} valid, {} incomplete, {} invalid",
                     writer.lines_written(),
                     closes[static_cast<std::size_t>(model::Verdict::Valid)],
                     closes[static_cast<std::size_t>(model::Verdict::Incomplete)],
                     closes[static_cast<std::size_t>(model::Verdict::Invalid)]);
}
// The filters `trace` and `replay` share.
struct FilterFlags {
  std::vector<uint16_t> local_ports;
  std::vector<uint16_t> remote_ports;
  std::vector<uint16_t> any_ports;
  bool ipv4_only = false;
  bool ipv6_only = false;
  std::optional<uint32_t> pid;

  int family() const { return ipv4_only ? 4 : ipv6_only ? 6 : 0; }
  outputs::OutputFilter output_filter() const {
    return {family(), local_ports, remote_ports, pid, any_ports};
  }
};

void add_filter_flags(CLI::App* command, FilterFlags& f) {
  command
      ->add_option("--sport", f.local_ports,
                   "Only sockets whose local port is this (repeatable, at most 8)")
      ->check(CLI::Range(1, 65535));
  command
      ->add_option("--dport", f.remote_ports,
                   "Only sockets whose remote port is this (repeatable, at most 8)")
      ->check(CLI::Range(1, 65535));
  command
      ->add_option("--port", f.any_ports,
                   "Only sockets with this local or remote port: both ends of a service's\n"
                   "connections (repeatable, at most 8)")
      ->check(CLI::Range(1, 65535));
  auto* v4 = command->add_flag("-4,--ipv4", f.ipv4_only, "Only IPv4 sockets");
  command->add_flag("-6,--ipv6", f.ipv6_only, "Only IPv6 sockets")->excludes(v4);
  command->add_option("--pid", f.pid, "Only sockets owned by this process id");
}

struct TraceOptions {
  FilterFlags filter;
  double duration_s = 0;
  std::string record_path;
  capture::CaptureSettings capture;
};

struct ReplayOptions {
  FilterFlags filter;
  std::string path;
  std::size_t max_connections = 262144;
  double handshake_timeout_s = 10;

  model::PacketViewConfig packet_view() const {
    model::PacketViewConfig config;
    config.handshake_timeout_ns = static_cast<uint64_t>(handshake_timeout_s * 1e9);
    return config;
  }
};

int run_trace(const TraceOptions& o) {
  if (auto ready = capture::prepare_environment(); !ready)
    return report_error(ready.error().message);
  int64_t clock_offset = realtime_minus_monotonic_ns();
  uint32_t host_netns = capture::host_network_namespace();
  outputs::JsonLinesWriter writer(stdout, o.filter.output_filter(), {clock_offset});
  model::ConnectionTable table(o.capture.max_connections, writer, o.capture.packet_view());
  std::optional<decode::RecordingWriter> recording;
  if (!o.record_path.empty()) {
    auto created = decode::RecordingWriter::create(o.record_path, clock_offset, host_netns);
    if (!created) return report_error(created.error().message);
    recording.emplace(std::move(*created));
  }
  // Close lines name their owner's unit, container, pod and namespace; a recording notes what
  // /proc said, so its replay names the same.
  capture::ProcOwners proc;
  capture::TraceProcesses processes(proc, host_netns,
                                    [&recording](uint32_t pid, const model::ProcessInfo* info) {
                                      if (recording) recording->write_process(pid, info);
                                    });
  writer.set_processes(&processes);

  capture::CaptureOptions capture_options;
  capture_options.family = o.filter.family();
  capture_options.local_ports = o.filter.local_ports;
  capture_options.remote_ports = o.filter.remote_ports;
  capture_options.any_ports = o.filter.any_ports;
  capture_options.ring_bytes = o.capture.trace_ring_mib() << 20;
  capture_options.verbose = o.capture.verbose;
  auto xdp = o.capture.xdp_options();
  if (xdp) {
    if (auto ready = capture::ensure_bpffs(); !ready) return report_error(ready.error().message);
  }
  auto session = capture::CaptureSession::start(capture_options, xdp ? &*xdp : nullptr, table);
  if (!session) return report_error(session.error().message);
  if (recording) (*session)->set_recording(&*recording);
  fmt::print(stderr, "synfin: tracing TCP state changes{} (Ctrl-C to stop)\n",
             o.duration_s > 0 ? fmt::format(" for {} s", o.duration_s) : "");

  uint64_t deadline_ns =
      o.duration_s > 0 ? monotonic_now_ns() + static_cast<uint64_t>(o.duration_s * 1e9) : 0;
  auto status = (*session)->run(o.capture.drain_interval_ms, [&] {
    if (table.pending_syns().size() > 0) (*session)->mark_time(monotonic_now_ns());
    processes.expire(std::chrono::steady_clock::now());  // between records, never inside one
    if (recording) recording->flush();  // a trace killed later leaves a readable recording
    writer.flush();
    return deadline_ns == 0 || monotonic_now_ns() < deadline_ns;
  });
  // Sockets already closed whose owner still holds the descriptor are finished too.
  table.finish_closed_connections();
  writer.flush();
  const auto& decoded = (*session)->decode_counters();
  uint64_t lost = 0;
  for (uint64_t count : (*session)->lost_counts()) lost += count;
  fmt::print(stderr, "synfin: {} events decoded, {} lost, {} undecodable, {}\n", decoded.decoded,
             lost, decoded.truncated + decoded.oversized + decoded.unknown_type + decoded.bad_field,
             written_and_judged(writer));
  if (recording) recording->close();
  if (recording && recording->failed())
    return report_error(
        fmt::format("writing {} failed: the recording is incomplete", o.record_path));
  return status ? 0 : report_error(status.error().message);
}

int run_replay(const ReplayOptions& o) {
  auto recording = decode::read_recording(o.path);
  if (!recording) return report_error(recording.error().message);
  outputs::JsonLinesWriter writer(stdout, o.filter.output_filter(),
                                  {recording->realtime_minus_monotonic_ns});
  decode::RecordedProcesses processes(recording->host_netns);
  writer.set_processes(&processes);
  model::ConnectionTable table(o.max_connections, writer, o.packet_view());
  decode::ReplayStats stats = decode::replay(*recording, table, &processes);
  writer.flush();
  fmt::print(stderr, "synfin: replayed {} records: {} decoded, {} undecodable, {}\n", stats.records,
             stats.decoded.decoded, stats.decoded.undecodable(), written_and_judged(writer));
  if (recording->truncated)
    return report_error(fmt::format(
        "{} {}: replayed the {} whole records before it (was the trace killed while writing?)",
        o.path, recording->truncation, stats.records));
  return 0;
}
}  // namespace

Runner register_trace(CLI::App& app) {
  auto options = std::make_shared<TraceOptions>();
  CLI::App* trace = app.add_subcommand(
      "trace",
      "Stream TCP state changes and finished connections as JSON lines (no daemon needed).\n"
      "Each state change prints {\"event\":\"transition\",...}; each connection prints one\n"
      "{\"event\":\"close\",...} line with its whole state sequence, outcome and verdict once its\n"
      "socket is gone, and who owns it: pid, comm, systemd unit, container, pod, network\n"
      "namespace. Example: synfin trace --dport 443 --duration 30 | jq "
      "'select(.event==\"close\")'");
  add_filter_flags(trace, options->filter);
  trace->add_option("--duration", options->duration_s, "Stop after SECONDS (default: until Ctrl-C)")
      ->check(CLI::PositiveNumber);
  trace->add_option("--record", options->record_path,
                    "Also write every raw kernel record to FILE, for `synfin replay FILE`;\n"
                    "gzip-compressed when FILE ends in .gz");
  add_capture_flags(trace, options->capture);
  return [trace, options]() -> int {
    if (!trace->parsed()) return -1;
    return run_trace(*options);
  };
}

Runner register_replay(CLI::App& app) {
  auto options = std::make_shared<ReplayOptions>();
  CLI::App* replay = app.add_subcommand(
      "replay",
      "Replay a `synfin trace --record FILE` recording through the model: the same JSON lines\n"
      "as the live trace, without root or a kernel (bug reports, regression fixtures).");
  replay->add_option("file", options->path, "The recording (plain or gzip)")->required();
  add_filter_flags(replay, options->filter);
  replay
      ->add_option("--max-connections", options->max_connections,
                   "Cap on connections tracked at once")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{model::CookieIndex::kMaxSlots}));
  replay
      ->add_option("--handshake-timeout", options->handshake_timeout_s,
                   "As for trace: seconds a SYN may wait for its socket")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  return [replay, options]() -> int {
    if (!replay->parsed()) return -1;
    return run_replay(*options);
  };
}

}  // namespace synfin::cli
