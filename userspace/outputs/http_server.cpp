#include "outputs/http_server.h"

#include <httplib.h>

#include <charconv>

#include <fmt/format.h>

namespace synfin::outputs {

Result<ListenAddress> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return Error{fmt::format("--listen '{}' is not ADDR:PORT (e.g. 127.0.0.1:9847)", text)};
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']')
    address.host = address.host.substr(1, address.host.size() - 2);
  if (address.host.empty()) address.host = "0.0.0.0";
  std::string port = text.substr(colon + 1);
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (error != std::errc() || end != port.data() + port.size() || address.port < 1 ||
      address.port > 65535)
    return Error{fmt::format("--listen '{}': port must be 1-65535", text)};
  return address;
}

HttpServer::HttpServer(DaemonApi& api, std::function<std::string()> metrics)
    : api_(api), metrics_(std::move(metrics)), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() {
  stop();
}

namespace {
DaemonApi::Params params_of(const httplib::Request& request) {
  DaemonApi::Params params;
  for (const auto& [name, value] : request.params) params[name] = value;
  return params;
}

void send(httplib::Response& response, const HttpAnswer& answer) {
  response.status = answer.status;
  response.set_content(answer.body, answer.content_type);
}
}  // namespace

void HttpServer::add_route(const std::string& path, Route route) {
  server_->Get(path, [route = std::move(route)](const httplib::Request& q, httplib::Response& r) {
    send(r, route(params_of(q)));
  });
}

Status HttpServer::start(const ListenAddress& address) {
  auto& s = *server_;
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/healthz",
        [this](const httplib::Request&, httplib::Response& r) { send(r, api_.healthz()); });
  s.Get("/api/v1/connections", [this](const httplib::Request& q, httplib::Response& r) {
    send(r, api_.connections(params_of(q)));
  });
  s.Get("/api/v1/stuck", [this](const httplib::Request& q, httplib::Response& r) {
    send(r, api_.stuck(params_of(q)));
  });
  s.Get("/api/v1/timewait", [this](const httplib::Request& q, httplib::Response& r) {
    send(r, api_.time_wait(params_of(q)));
  });
  s.Get("/api/v1/closed", [this](const httplib::Request& q, httplib::Response& r) {
    send(r, api_.closed(params_of(q)));
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(
        "synfin daemon\n  /metrics  /healthz\n  /api/v1/connections?state=CLOSE_WAIT&port=443\n"
        "  /api/v1/stuck  /api/v1/timewait  /api/v1/closed?verdict=invalid  /api/v1/listeners\n",
        "text/plain");
  });
  // httplib's default adds SO_REUSEPORT, which would let a second daemon share the port
  // silently; a busy port must be an error.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (!s.bind_to_port(address.host, address.port))
    return Error{fmt::format("cannot listen on {}:{} (in use, or not an address of this host)",
                             address.host, address.port)};
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Ok{};
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace synfin::outputs
