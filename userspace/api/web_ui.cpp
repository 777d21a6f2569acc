#include "api/web_ui.h"

#include <charconv>

#include <fmt/format.h>

#include "outputs/ladder_render.h"
#include "synfin_web_assets.h"

namespace synfin::api {

namespace {
std::optional<uint64_t> parse_cookie(std::string_view text) {
  uint64_t cookie = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), cookie, 16);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return cookie;
}

HttpAnswer not_found(std::string_view what) {
  return {404, error_body(what)};
}

bool mirrored(const model::SocketTuple& a, const model::SocketTuple& b) {
  return a.family == b.family && a.local == b.remote && a.remote == b.local && a.local.port != 0;
}

bool opposite(model::Role a, model::Role b) {
  return (a == model::Role::Client && b == model::Role::Server) ||
         (a == model::Role::Server && b == model::Role::Client);
}
}  // namespace

WebUi::WebUi(const model::DaemonModel& model, std::mutex& model_mutex, Clock clock)
    : model_(model), mutex_(model_mutex), clock_(clock) {}

std::optional<model::Ladder> WebUi::ladder(uint64_t cookie) const {
  std::vector<model::LadderEnd> ends;
  std::lock_guard lock(mutex_);
  // Only the connection asked for and its peer are copied: the recent closes hold thousands.
  if (const model::Connection* live = model_.table().find(cookie)) {
    ends.push_back({*live, std::nullopt});
  } else {
    model_.for_each_recent_close([&](const model::ClosedConnection& closed) {
      if (closed.connection.cookie == cookie) ends = {{closed.connection, closed.classification}};
    });
  }
  if (ends.empty()) return std::nullopt;
  const model::Connection me = ends[0].connection;
  bool peer_found = false;
  model_.table().for_each([&](const model::Connection& c) {
    if (!peer_found && mirrored(c.tuple, me.tuple) && opposite(c.role, me.role)) {
      ends.push_back({c, std::nullopt});
      peer_found = true;
    }
  });
  if (!peer_found)
    model_.for_each_recent_close([&](const model::ClosedConnection& closed) {
      const model::Connection& c = closed.connection;
      if (c.cookie != cookie && mirrored(c.tuple, me.tuple) && opposite(c.role, me.role)) {
        if (peer_found) ends.pop_back();  // the most recent one of that 4-tuple
        ends.push_back({c, closed.classification});
        peer_found = true;
      }
    });
  return model::build_ladder(cookie, ends);
}

HttpAnswer WebUi::ladder_answer(std::string_view cookie_text, std::string_view format) const {
  auto cookie = parse_cookie(cookie_text);
  if (!cookie) return {400, error_body("a connection is named by its cookie, in hex")};
  auto found = ladder(*cookie);
  if (!found) return not_found("no live or recently closed connection with that cookie");
  if (format == "svg") return {200, outputs::render_ladder_svg(*found, clock_), "image/svg+xml"};
  if (format.empty() || format == "text")
    return {200, outputs::render_ladder_text(*found, clock_), "text/plain; charset=utf-8"};
  return {400, error_body("format must be text or svg")};
}

HttpAnswer WebUi::connection_page(std::string_view cookie_text) const {
  auto cookie = parse_cookie(cookie_text);
  auto found = cookie ? ladder(*cookie) : std::nullopt;
  std::string body =
      R"(<!doctype html><html lang="en"><head><meta charset="utf-8"><title>synfin: connection )";
  body += std::string(cookie ? fmt::format("{:x}", *cookie) : "?");
  body +=
      R"(</title><link rel="stylesheet" href="/static/style.css"></head><body><header><h1><a href="/" style="color:inherit">synfin</a></h1></header><main>)";
  if (!found) {
    body += "<p>No live or recently closed connection with that cookie.</p></main></body></html>";
    return {404, body, "text/html; charset=utf-8"};
  }
  body += fmt::format("<h2>Connection {:x}</h2>", *cookie);
  body += outputs::render_ladder_svg(*found, clock_);
  body += R"(<h2>As text</h2><pre class="ladder">)";
  for (char ch : outputs::render_ladder_text(*found, clock_)) {
    if (ch == '<')
      body += "&lt;";
    else if (ch == '>')
      body += "&gt;";
    else if (ch == '&')
      body += "&amp;";
    else
      body += ch;
  }
  body += "</pre></main></body></html>";
  return {200, body, "text/html; charset=utf-8"};
}

bool WebUi::serves(std::string_view path) {
  for (std::string_view prefix : {"/static/", "/conn/", "/api/v1/ladder/"})
    if (path.substr(0, prefix.size()) == prefix) return true;
  return path == "/" || path == "/index.html";
}

std::optional<HttpAnswer> WebUi::route(std::string_view path, std::string_view format) const {
  if (path == "/" || path == "/index.html")
    return HttpAnswer{200, std::string(assets::k_index_html), "text/html; charset=utf-8"};
  if (path == "/static/app.js")
    return HttpAnswer{200, std::string(assets::k_app_js), "text/javascript; charset=utf-8"};
  if (path == "/static/style.css")
    return HttpAnswer{200, std::string(assets::k_style_css), "text/css; charset=utf-8"};
  constexpr std::string_view kConn = "/conn/", kLadder = "/api/v1/ladder/";
  if (path.substr(0, kConn.size()) == kConn) return connection_page(path.substr(kConn.size()));
  if (path.substr(0, kLadder.size()) == kLadder)
    return ladder_answer(path.substr(kLadder.size()), format);
  return std::nullopt;
}

}  // namespace synfin::api
