// Memory per tracked connection: the daemon's model (connection table, aggregates, TIME_WAIT
// tracker) follows N synthetic connections, each a client that connected and stays
// ESTABLISHED (the steps CLOSE -> SYN_SENT -> ESTABLISHED, its owner known), with distinct
// addresses and ports. Prints the process's resident memory before and after, per connection.
// Figures only.
//
//   build/synfin_memory_bench [connections...]     (default: 100000 1000000)
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "model/daemon_model.h"

namespace {
using synfin::model::Event;
using synfin::model::EventKind;
using synfin::model::TcpState;

long resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * sysconf(_SC_PAGESIZE);
}

Event client_step(uint64_t n, TcpState from, TcpState to, uint64_t ts_ns) {
  Event e;
  e.kind = EventKind::StateChange;
  e.ts_ns = ts_ns;
  e.cookie = n + 1;
  e.from = from;
  e.to = to;
  e.tuple.local.address = {10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                           static_cast<uint8_t>(n)};
  e.tuple.local.port = static_cast<uint16_t>(32768 + n % 28000);
  e.tuple.remote.address = {10, 200, 0, 1};
  e.tuple.remote.port = 443;
  e.task.pid = 1000 + static_cast<uint32_t>(n % 64);
  std::memcpy(e.task.comm.data(), "bench-client", 13);
  e.task_is_owner = true;
  return e;
}

void measure(std::size_t connections) {
  malloc_trim(0);  // what an earlier run freed must not be counted as reused
  synfin::model::DaemonModelConfig config;
  config.max_connections = connections;
  long empty = resident_bytes();
  {
    synfin::model::DaemonModel model(config);
    // The model's fixed part (preallocated tables) is not a connection's cost.
    long before = resident_bytes();
    uint64_t ts = 1'000'000'000;
    for (uint64_t n = 0; n < connections; ++n) {
      model.apply(client_step(n, TcpState::Close, TcpState::SynSent, ts += 1000));
      model.apply(client_step(n, TcpState::SynSent, TcpState::Established, ts += 20000));
    }
    long after = resident_bytes();
    std::printf(
        "%9zu connections tracked (%zu in the table): model fixed %.1f MB, then +%.1f MB: "
        "%.0f bytes per tracked connection\n",
        connections, model.table().size(), (before - empty) / 1e6, (after - before) / 1e6,
        static_cast<double>(after - before) / static_cast<double>(connections));
  }
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {100000, 1000000};
  std::printf("synfin model: resident memory per tracked connection (sizeof(Connection) = %zu)\n",
              sizeof(synfin::model::Connection));
  for (std::size_t n : sizes) measure(n);
  return 0;
}
