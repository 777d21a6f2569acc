#pragma once
// The daemon's web page, on the same listener as the API: `/` (stuck sockets, listeners,
// TIME_WAIT by peer, recent closes; refreshed in place by a small script shipped in the
// binary), `/conn/<cookie>` (the connection as a ladder diagram, SVG) and
// `/api/v1/ladder/<cookie>?format=text|svg`. No external assets: it works air-gapped.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

#include "api/http_answer.h"
#include "model/daemon_model.h"
#include "model/ladder.h"
#include "outputs/json_lines.h"

namespace synfin::api {

class WebUi {
 public:
  WebUi(const model::DaemonModel& model, std::mutex& model_mutex, Clock clock);

  // Whether the path is one of the page's (the API routes are the daemon API's).
  static bool serves(std::string_view path);
  // The answer for a page path, or nullopt when the path is not the web page's.
  std::optional<HttpAnswer> route(std::string_view path, std::string_view format) const;
  // The ladder of a live or recently closed connection and, when local, its peer.
  std::optional<model::Ladder> ladder(uint64_t cookie) const;

 private:
  HttpAnswer connection_page(std::string_view cookie_text) const;
  HttpAnswer ladder_answer(std::string_view cookie_text, std::string_view format) const;

  const model::DaemonModel& model_;
  std::mutex& mutex_;
  Clock clock_;
};

}  // namespace synfin::api
