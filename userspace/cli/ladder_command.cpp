#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "api/http_server.h"
#include "cli/commands.h"
#include "cli/daemon_client.h"
#include "common/report_error.h"
#include "decode/recording.h"
#include "outputs/ladder_render.h"

namespace synfin::cli {

namespace {
struct LadderOptions {
  std::string target;  // a recording, or a connection's cookie (hex) to ask the daemon for
  std::string conn;
  std::string daemon = "127.0.0.1:9847";
};

std::optional<uint64_t> parse_cookie(const std::string& text) {
  uint64_t cookie = 0;
  std::string digits = text.rfind("sk:", 0) == 0 ? text.substr(3) : text;  // as `ss -e` prints
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), cookie, 16);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.empty())
    return std::nullopt;
  return cookie;
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int from_recording(const LadderOptions& o) {
  std::optional<uint64_t> cookie;
  if (!o.conn.empty()) {
    cookie = parse_cookie(o.conn);
    if (!cookie) return report_error(fmt::format("--conn '{}' is not a cookie (hex)", o.conn), 2);
  }
  auto recording = decode::read_recording(o.target);
  if (!recording) return report_error(recording.error().message);
  std::string text = outputs::render_recording_ladders(*recording, cookie);
  if (text.empty())
    return report_error(cookie ? fmt::format("no connection {} in {}", o.conn, o.target)
                               : fmt::format("{} holds no connection", o.target));
  std::fputs(text.c_str(), stdout);
  if (recording->truncated) {
    std::fflush(stdout);  // what is whole first, then the one line saying the rest is missing
    return report_error(fmt::format("{} {}: drew the connections of the {} whole records before it",
                                    o.target, recording->truncation, recording->records.size()));
  }
  return 0;
}

int from_daemon(const LadderOptions& o) {
  auto cookie = parse_cookie(o.target);
  if (!cookie)
    return report_error(
        fmt::format("'{}' is neither a recording nor a connection cookie (hex, as in the "
                    "\"conn\" field or `ss -e`'s sk:)",
                    o.target),
        2);
  int exit_code = 1;
  auto response = get_from_daemon(o.daemon, fmt::format("/api/v1/ladder/{:x}", *cookie),
                                  {{"format", "text"}}, &exit_code);
  if (!response) return report_error(response.error().message, exit_code);
  std::fputs(response->body.c_str(), stdout);
  return 0;
}
}  // namespace

Runner register_ladder(CLI::App& app) {
  auto o = std::make_shared<LadderOptions>();
  CLI::App* ladder = app.add_subcommand(
      "ladder",
      "Draw a connection as the ladder diagram TCP is taught with: both ends as columns when\n"
      "both are local, each state with the time it was entered, the packets between them (seen\n"
      "by XDP, or inferred from the steps and marked ~). From a running daemon or a recording:\n"
      "  synfin ladder 7f2e                       the connection with that cookie (daemon)\n"
      "  synfin ladder trace.rec [--conn 7f2e]    every connection of a recording, or one");
  ladder->add_option("target", o->target, "A recording (synfin trace --record), or a cookie")
      ->required();
  ladder->add_option("--conn", o->conn, "With a recording: only this connection (cookie, hex)");
  ladder->add_option("--daemon", o->daemon, "The daemon's ADDR:PORT")->capture_default_str();
  return [ladder, o]() -> int {
    if (!ladder->parsed()) return -1;
    return is_file(o->target) ? from_recording(*o) : from_daemon(*o);
  };
}

}  // namespace synfin::cli
