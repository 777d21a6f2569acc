// The daemon's HTTP API under load: N clients, each on its own kept-alive connection, cycle
// through the /api/v1 routes for a fixed time while one prober opens a fresh connection for
// /healthz every few milliseconds, as a kubelet or a load balancer would. Before the load it
// holds --hold loopback connection pairs (half of them left in CLOSE_WAIT) so that the answers
// carry rows and owners, and it times requests 2..21 on one kept-alive connection (Nagle and
// delayed ACKs show there as ~40 ms). Prints figures only; bench/api_load.sh runs it against a
// fresh daemon.
//
//   build/synfin_api_load --daemon 127.0.0.1:19798 --clients 200 --seconds 30 --hold 500
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 19798;
  int clients = 200;
  double seconds = 30;
  int hold = 500;
  int hold_port = 18791;
  int health_interval_ms = 20;
};

struct Samples {
  std::mutex mutex;
  std::vector<double> latencies_ms;
  uint64_t errors = 0;

  void add(const std::vector<double>& more, uint64_t more_errors) {
    std::lock_guard lock(mutex);
    latencies_ms.insert(latencies_ms.end(), more.begin(), more.end());
    errors += more_errors;
  }
};

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Loopback pairs kept open for the whole run; the clients of every second pair shut down
// their side, which leaves the accepted end in CLOSE_WAIT (a stuck socket for the daemon).
std::vector<int> hold_connections(int pairs, int port) {
  std::vector<int> fds;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("hold: bind/listen");
    std::exit(1);
  }
  for (int i = 0; i < pairs; ++i) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      std::perror("hold: connect");
      std::exit(1);
    }
    int server = accept(listener, nullptr, nullptr);
    if (i % 2) shutdown(client, SHUT_WR);
    fds.push_back(client);
    fds.push_back(server);
  }
  close(listener);
  return fds;
}

void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--daemon") {
      auto colon = value.rfind(':');
      o.host = value.substr(0, colon);
      o.port = std::atoi(value.c_str() + colon + 1);
    } else if (flag == "--clients") {
      o.clients = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      o.seconds = std::atof(value.c_str());
    } else if (flag == "--hold") {
      o.hold = std::atoi(value.c_str());
    } else if (flag == "--hold-port") {
      o.hold_port = std::atoi(value.c_str());
    } else if (flag == "--health-interval-ms") {
      o.health_interval_ms = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return o;
}
}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  raise_descriptor_limit();
  std::vector<int> held = hold_connections(o.hold, o.hold_port);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the stuck threshold pass

  {
    httplib::Client client(o.host, o.port);
    client.set_keep_alive(true);
    std::vector<double> second_requests;
    for (int i = 0; i < 21; ++i) {
      auto start = Clock::now();
      auto response = client.Get("/api/v1/timewait");
      if (!response) {
        std::printf("no daemon answering at %s:%d\n", o.host.c_str(), o.port);
        return 1;
      }
      if (i > 0) second_requests.push_back(elapsed_ms(start));
    }
    std::printf(
        "kept-alive connection, requests 2..21 (idle daemon): median %.2f ms, max %.2f ms\n",
        percentile(second_requests, 0.5), percentile(second_requests, 1.0));
  }

  const char* routes[] = {"/api/v1/connections", "/api/v1/stuck", "/api/v1/timewait",
                          "/api/v1/closed"};
  std::atomic<bool> stop{false};
  Samples api, health;
  std::atomic<uint64_t> bytes{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client(o.host, o.port);
      client.set_keep_alive(true);
      client.set_connection_timeout(30);
      client.set_read_timeout(60);
      std::vector<double> latencies;
      uint64_t errors = 0;
      for (std::size_t i = static_cast<std::size_t>(c); !stop; ++i) {
        auto start = Clock::now();
        auto response = client.Get(routes[i % std::size(routes)]);
        if (stop) break;  // answered after the window: not counted
        if (!response || response->status != 200) {
          ++errors;
          continue;
        }
        latencies.push_back(elapsed_ms(start));
        bytes += response->body.size();
      }
      api.add(latencies, errors);
    });
  }
  threads.emplace_back([&] {
    std::vector<double> latencies;
    uint64_t failed = 0;
    while (!stop) {
      auto start = Clock::now();
      httplib::Client client(o.host, o.port);  // a fresh connection per probe
      client.set_connection_timeout(30);
      client.set_read_timeout(30);
      auto response = client.Get("/healthz");
      if (!response || response->status != 200)
        ++failed;
      else
        latencies.push_back(elapsed_ms(start));
      std::this_thread::sleep_until(start + std::chrono::milliseconds(o.health_interval_ms));
    }
    health.add(latencies, failed);
  });

  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  double seconds = elapsed_ms(start) / 1000;
  for (auto& thread : threads) thread.join();
  for (int fd : held) close(fd);

  std::size_t requests = api.latencies_ms.size();
  std::printf(
      "api: %d clients for %.1f s: %zu answered (%.0f requests/s, %.1f MB/s), latency p50 %.1f ms,"
      " p99 %.1f ms, max %.1f ms; %lu errors\n",
      o.clients, seconds, requests, static_cast<double>(requests) / seconds,
      static_cast<double>(bytes) / seconds / 1e6, percentile(api.latencies_ms, 0.5),
      percentile(api.latencies_ms, 0.99), percentile(api.latencies_ms, 1.0),
      static_cast<unsigned long>(api.errors));
  std::printf(
      "healthz: %zu probes, a new connection every %d ms: p50 %.1f ms, p99 %.1f ms, max %.1f ms;"
      " %lu failed\n",
      health.latencies_ms.size(), o.health_interval_ms, percentile(health.latencies_ms, 0.5),
      percentile(health.latencies_ms, 0.99), percentile(health.latencies_ms, 1.0),
      static_cast<unsigned long>(health.errors));
  return 0;
}
