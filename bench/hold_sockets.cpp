// Holds N TCP sockets open on loopback (N/2 connections: each client and its accepted server
// end), so that a tracer can be started on a host that already has many sockets. Clients come
// from 127.0.<port % 200 + 1>.x source addresses, so the ephemeral port range is never the limit.
// Prints "ready N" once all are open, then holds them until stdin closes or a signal ends it.
//
//   build/synfin_hold_sockets [sockets=100000] [port=29500]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  long sockets = argc > 1 ? std::atol(argv[1]) : 100000;
  int port = argc > 2 ? std::atoi(argv[2]) : 29500;
  long connections = sockets / 2;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = static_cast<rlim_t>(sockets + 64);
  if (files.rlim_max < files.rlim_cur) files.rlim_max = files.rlim_cur;
  if (setrlimit(RLIMIT_NOFILE, &files) != 0) {
    std::perror("setrlimit RLIMIT_NOFILE (run several holders, each under the hard limit)");
    return 1;
  }
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  std::vector<int> held;
  held.reserve(static_cast<std::size_t>(sockets));
  for (long n = 0; n < connections; ++n) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    // 20 000 connections per source address stay well inside the ephemeral range; holders
    // on other ports use other addresses (127.0.<port % 200 + 1>.x).
    uint32_t network = 0x7F000000u | (static_cast<uint32_t>(port % 200 + 1) << 8);
    source.sin_addr.s_addr = htonl(network + 1 + static_cast<uint32_t>(n / 20000));
    if (client < 0 || bind(client, reinterpret_cast<sockaddr*>(&source), sizeof(source)) != 0 ||
        connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      std::perror("connect");
      return 1;
    }
    int server = accept(listener, nullptr, nullptr);
    if (server < 0) {
      std::perror("accept");
      return 1;
    }
    held.push_back(client);
    held.push_back(server);
  }
  std::printf("ready %zu\n", held.size());
  std::fflush(stdout);
  char byte;
  while (read(STDIN_FILENO, &byte, 1) > 0) {
  }
  return 0;
}
