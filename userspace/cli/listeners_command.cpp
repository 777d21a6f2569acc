#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/daemon_client.h"
#include "cli/owner_columns.h"
#include "common/report_error.h"

namespace synfin::cli {

namespace {
struct ListenersOptions {
  std::string daemon = "127.0.0.1:9847";
  uint16_t port = 0;
  std::string unit, pod, netns;
  bool json = false;
};

std::string text_or(const nlohmann::json& j, const char* key, const char* fallback = "-") {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

int run_listeners(const ListenersOptions& o) {
  std::vector<std::pair<std::string, std::string>> params;
  if (o.port) params.emplace_back("port", std::to_string(o.port));
  if (!o.unit.empty()) params.emplace_back("unit", o.unit);
  if (!o.pod.empty()) params.emplace_back("pod", o.pod);
  if (!o.netns.empty()) params.emplace_back("netns", o.netns);
  int exit_code = 1;
  auto response = get_from_daemon(o.daemon, "/api/v1/listeners", params, &exit_code);
  if (!response) return report_error(response.error().message, exit_code);
  if (o.json) {
    fmt::print("{}\n", response->body);
    return 0;
  }
  auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("listeners"))
    return report_error(
        fmt::format("daemon at {} sent something that is not a listener list", o.daemon));
  const auto& rows = body["listeners"];
  if (rows.empty()) {
    fmt::print("no listening sockets{}\n", o.port ? fmt::format(" on port {}", o.port) : "");
    return 0;
  }
  // The daemon sends them most-overflowing first.
  fmt::print("{:<28} {:>8} {:<16} {:>9} {:>5} {:>9} {:>10} {:>7} {:>7} {:>10} {}\n", "LOCAL", "PID",
             "COMM", "ACCEPT-Q", "SYN-Q", "OVERFLOWS", "SYNQ-DROPS", "DROPS", "RESETS", "NETNS",
             "OWNER");
  for (const auto& row : rows)
    fmt::print(
        "{:<28} {:>8} {:<16} {:>9} {:>5} {:>9} {:>10} {:>7} {:>7} {:>10} {}\n",
        text_or(row, "local"), text_or(row, "pid"), text_or(row, "comm"),
        fmt::format("{}/{}", text_or(row, "accept_queue"), text_or(row, "accept_queue_limit")),
        text_or(row, "syn_queue"), text_or(row, "overflows"), text_or(row, "syn_queue_drops"),
        text_or(row, "other_drops"), text_or(row, "resets_sent"), netns_text(row), owner_text(row));
  fmt::print("{} listening socket{}\n", rows.size(), rows.size() == 1 ? "" : "s");
  return 0;
}
}  // namespace

Runner register_listeners(CLI::App& app) {
  auto o = std::make_shared<ListenersOptions>();
  CLI::App* listeners = app.add_subcommand(
      "listeners",
      "Show every listening socket as a running daemon sees it: owner, accept queue (length/\n"
      "limit), SYN queue, and since the daemon started, SYNs and handshakes refused because\n"
      "a queue was full (OVERFLOWS: accept queue; SYNQ-DROPS: SYN queue without syncookies),\n"
      "other drops and resets sent. Most-overflowing first.\n"
      "Example: synfin listeners --port 8080");
  listeners->add_option("--daemon", o->daemon, "Address of the daemon's --listen")
      ->capture_default_str();
  listeners->add_option("--port", o->port, "Only listeners on this local port")
      ->check(CLI::Range(1, 65535));
  listeners->add_option("--unit", o->unit, "Only listeners of this systemd unit");
  listeners->add_option("--pod", o->pod, "Only listeners of this Kubernetes pod (its UID)");
  listeners->add_option("--netns", o->netns, "Only listeners of this network namespace (inode)");
  listeners->add_flag("--json", o->json, "Print the daemon's JSON answer as is");
  return [listeners, o]() -> int {
    if (!listeners->parsed()) return -1;
    return run_listeners(*o);
  };
}

}  // namespace synfin::cli
