// Loopback connection rate: one thread accepts and closes, the main thread connects, writes a
// byte and closes, N times. Run alone, then with synfin tracing (bench/capture_overhead.sh),
// to see what tracing costs a connection-heavy host. Prints figures only.
//
//   build/synfin_loopback_bench [connections] [port]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  long connections = argc > 1 ? std::atol(argv[1]) : 20000;
  int port = argc > 2 ? std::atoi(argv[2]) : 18700;
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
  std::thread server([&] {
    char byte;
    for (long i = 0; i < connections; ++i) {
      int conn = accept(listener, nullptr, nullptr);
      if (conn < 0) continue;
      (void)!read(conn, &byte, 1);
      close(conn);  // the server closes first: TIME_WAIT stays on its side, not on ours
    }
  });
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < connections; ++i) {
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      std::perror("connect");
      return 1;
    }
    (void)!write(sock, "x", 1);
    char byte;
    while (read(sock, &byte, 1) > 0) {
    }
    close(sock);
  }
  server.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld connections in %.2f s: %.0f connections/s\n", connections, seconds,
              connections / seconds);
  close(listener);
  return 0;
}
