
#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "cli/commands.h"
#include "cli/daemon_client.h"
#include "cli/owner_columns.h"
#include "common/report_error.h"
#include "outputs/utf8.h"

namespace synfin::cli {

namespace {
struct StuckOptions {
  std::string daemon = "127.0.0.1:9847";
  std::string state;
  uint16_t port = 0;
  std::string unit, pod, netns;
  bool json = false;
};

// A cell of the table. Names are whatever a process chose: control characters are shown as
// \xNN, so a name cannot move the cursor, recolour the terminal or fake a row.
std::string text_or(const nlohmann::json& j, const char* key, const char* fallback = "-") {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (j[key].is_string()) return outputs::printable(j[key].get<std::string>());
  return j[key].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

double age_of(const nlohmann::json& row) {
  auto age = row.find("age_seconds");
  return age != row.end() && age->is_number() ? age->get<double>() : 0.0;
}

std::string age_text(const nlohmann::json& row) {
  double seconds = age_of(row);
  std::string text = seconds >= 3600 ? fmt::format("{:.1f}h", seconds / 3600)
                     : seconds >= 60 ? fmt::format("{:.1f}m", seconds / 60)
                                     : fmt::format("{:.1f}s", seconds);
  auto lower_bound = row.find("age_is_lower_bound");
  return lower_bound != row.end() && lower_bound->is_boolean() && lower_bound->get<bool>()
             ? ">=" + text
             : text;
}

int run_stuck(const StuckOptions& o) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!o.state.empty()) params.emplace_back("state", o.state);
  if (o.port) params.emplace_back("port", std::to_string(o.port));
  if (!o.unit.empty()) params.emplace_back("unit", o.unit);
  if (!o.pod.empty()) params.emplace_back("pod", o.pod);
  if (!o.netns.empty()) params.emplace_back("netns", o.netns);
  int exit_code = 1;
  auto response = get_from_daemon(o.daemon, "/api/v1/stuck", params, &exit_code);
  if (!response) return report_error(response.error().message, exit_code);
  if (o.json) {
    fmt::print("{}\n", response->body);
    return 0;
  }
  auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("stuck") ||
      !body["stuck"].is_array()) {
    return report_error(
        fmt::format("daemon at {} sent something that is not a stuck list", o.daemon));
  }
  std::vector<nlohmann::json> rows;
  for (const auto& row : body["stuck"])
    if (row.is_object()) rows.push_back(row);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return age_of(a) > age_of(b); });
  if (rows.empty()) {
    fmt::print(
        "no stuck sockets (thresholds: {})\n",
        body["thresholds_seconds"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("{:<12} {:>9} {:<28} {:<28} {:>8} {:<16} {:>7} {:>7} {:<8} {:>10} {}\n", "STATE",
             "AGE", "LOCAL", "REMOTE", "PID", "COMM", "RECV-Q", "SEND-Q", "ACTIVITY", "NETNS",
             "OWNER");
  for (const auto& row : rows)
    fmt::print("{:<12} {:>9} {:<28} {:<28} {:>8} {:<16} {:>7} {:>7} {:<8} {:>10} {}\n",
               text_or(row, "state"), age_text(row), text_or(row, "local"), text_or(row, "remote"),
               text_or(row, "pid"), text_or(row, "comm"), text_or(row, "recv_queue_bytes"),
               text_or(row, "send_queue_bytes"), text_or(row, "activity"), netns_text(row),
               owner_text(row));
  fmt::print("{} stuck socket{}\n", rows.size(), rows.size() == 1 ? "" : "s");
  return 0;
}
}  // namespace

Runner register_stuck(CLI::App& app) {
  auto o = std::make_shared<StuckOptions>();
  CLI::App* stuck = app.add_subcommand(
      "stuck",
      "Show sockets stuck in a state past its threshold (CLOSE_WAIT: the application never\n"
      "called close()), oldest first, with the owning process, as a running daemon sees them.\n"
      "Example: synfin stuck --state CLOSE_WAIT --port 8080");
  stuck->add_option("--daemon", o->daemon, "Address of the daemon's --listen")
      ->capture_default_str();
  stuck->add_option("--state", o->state, "Only this state (e.g. CLOSE_WAIT)");
  stuck->add_option("--port", o->port, "Only sockets with this local or remote port")
      ->check(CLI::Range(1, 65535));
  stuck->add_option("--unit", o->unit, "Only sockets of this systemd unit (nginx: nginx.service)");
  stuck->add_option("--pod", o->pod, "Only sockets of this Kubernetes pod (its UID)");
  stuck->add_option("--netns", o->netns, "Only sockets of this network namespace (its inode)");
  stuck->add_flag("--json", o->json, "Print the daemon's JSON answer as is");
  return [stuck, o]() -> int {
    if (!stuck->parsed()) return -1;
    return run_stuck(*o);
  };
}

}  // namespace synfin::cli
