#pragma once
// The daemon's HTTP endpoint (cpp-httplib): /metrics, /healthz and the /api/v1 routes.
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "outputs/daemon_api.h"

namespace httplib {
class Server;
}

namespace synfin::outputs {

struct ListenAddress {
  std::string host;
  int port = 0;
};

// "127.0.0.1:9847", "[::1]:9847", "0.0.0.0:9847".
Result<ListenAddress> parse_listen_address(const std::string& text);

class HttpServer {
 public:
  HttpServer(DaemonApi& api, std::function<std::string()> metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // A GET route served besides DaemonApi's; call before start().
  using Route = std::function<HttpAnswer(const DaemonApi::Params&)>;
  void add_route(const std::string& path, Route route);

  // Binds now (so a busy port is reported before anything else starts), serves on a thread.
  Status start(const ListenAddress& address);
  void stop();

 private:
  DaemonApi& api_;
  std::function<std::string()> metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace synfin::outputs
