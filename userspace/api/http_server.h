#pragma once
// The daemon's HTTP endpoint (cpp-httplib) in front of DaemonApi::handle: /metrics, /healthz
// and the /api/v1 routes, every answer (errors included) JSON but the exposition.
//
// Serving policy, so that /healthz answers fast while the API is busy: every connection gets a
// worker thread of its own (up to kMaxWorkers; a kept-alive client never makes another wait),
// /api/v1 answers are computed one per core at a time by threads at a lower CPU priority (the
// rest wait in line, asleep), /healthz and /metrics never wait in that line, responses go out
// without Nagle's delay, and the listen backlog is the kernel's maximum, not cpp-httplib's 5.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/daemon_api.h"
#include "common/result.h"

namespace synfin::api {

struct ListenAddress {
  std::string host;
  int port = 0;
};

// "127.0.0.1:9847", "[::1]:9847", "0.0.0.0:9847", ":9847" (every interface).
Result<ListenAddress> parse_listen_address(const std::string& text);

class ListeningServer;
class BackgroundComputations;

class HttpServer {
 public:
  static constexpr std::size_t kMaxWorkers = 256;

  explicit HttpServer(DaemonApi& api);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds now, so a busy port is reported before anything else starts; port 0 picks one.
  Status bind(const ListenAddress& address);
  // Serves on threads of its own (started here: threads inherit the capabilities of the
  // thread that creates them, so the daemon drops its own before calling this).
  // thread_nice: the priority of the server's threads, where the caller's own was raised.
  void serve(std::optional<int> thread_nice = std::nullopt);
  Status start(const ListenAddress& address);  // bind() then serve()
  void stop();

  int port() const { return port_; }
  // False when the bound address is not a loopback one: anyone who can reach the host's
  // interfaces can read the unauthenticated API.
  bool loopback_only() const { return loopback_only_; }

 private:
  DaemonApi& api_;
  std::unique_ptr<ListeningServer> server_;
  std::unique_ptr<BackgroundComputations> computations_;
  std::thread thread_;
  int port_ = 0;
  bool loopback_only_ = true;
};

}  // namespace synfin::api
