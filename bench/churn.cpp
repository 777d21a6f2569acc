// Loopback connection churn for bench/overhead_table.sh: client threads connect from 200
// source addresses (127.0.1.1 .. 127.0.1.200, so ephemeral ports never run out), write one
// byte and close; server threads accept, read and close. Runs for SECONDS and prints one
// line: "<connections> connections in <s> s: <rate> connections/s". Prints figures only.
// With RESET_PERCENT, that share of the clients abort (SO_LINGER 0: a reset) instead of closing.
//
//   build/synfin_churn [seconds] [port] [client threads] [reset percent]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {
constexpr int kSourceAddresses = 200;

sockaddr_in loopback(uint32_t host_order_address, uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(host_order_address);
  return address;
}
}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3;
  auto port = static_cast<uint16_t>(argc > 2 ? std::atoi(argv[2]) : 29000);
  int clients = argc > 3 ? std::atoi(argv[3]) : 2;
  int reset_percent = argc > 4 ? std::atoi(argv[4]) : 0;

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in server_address = loopback(INADDR_LOOPBACK, port);
  if (bind(listener, reinterpret_cast<sockaddr*>(&server_address), sizeof(server_address)) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> completed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&] {  // accepting side: one per client thread
      char byte;
      while (!stop.load(std::memory_order_relaxed)) {
        int conn = accept(listener, nullptr, nullptr);
        if (conn < 0) continue;
        (void)!read(conn, &byte, 1);
        close(conn);
      }
    });
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> connectors;
  for (int t = 0; t < clients; ++t)
    connectors.emplace_back([&, t] {
      long n = 0;
      for (int i = t; std::chrono::steady_clock::now() < deadline; i += clients, ++n) {
        int sock = socket(AF_INET, SOCK_STREAM, 0);
        // The client closes first: TIME_WAIT lands on the client's many source addresses.
        sockaddr_in source = loopback((127u << 24) | (1u << 8) | (1 + i % kSourceAddresses), 0);
        if (bind(sock, reinterpret_cast<sockaddr*>(&source), sizeof(source)) != 0 ||
            connect(sock, reinterpret_cast<sockaddr*>(&server_address), sizeof(server_address)) !=
                0) {
          std::perror("connect");
          close(sock);
          continue;
        }
        (void)!write(sock, "x", 1);
        if (reset_percent > 0 && i % 100 < reset_percent) {
          linger abort{1, 0};
          setsockopt(sock, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
        }
        close(sock);
        completed.fetch_add(1, std::memory_order_relaxed);
      }
    });
  for (auto& c : connectors) c.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  shutdown(listener, SHUT_RDWR);
  for (auto& t : threads) t.join();
  close(listener);
  long total = completed.load();
  std::printf("%ld connections in %.2f s: %.0f connections/s\n", total, elapsed, total / elapsed);
  return 0;
}
