// Hot-path benchmark: ring-buffer records → decoder → model (connection table, classifier,
// daemon aggregates, TIME_WAIT tracker) and, for `trace`, JSON lines to /dev/null. Prints
// events per second and heap allocations per event in steady state (after a warm-up that
// fills the pools). Figures only: nothing here passes or fails on a clock.
//
//   build/bench/synfin_model_bench [connections]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "decode/decoder.h"
#include "model/daemon_model.h"
#include "outputs/json_lines.h"
#include "synfin/abi.h"

namespace {
std::size_t g_allocations = 0;
}

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {
using synfin::model::TcpState;

// One loopback connection as the kernel reports it: client active close, server passive.
void append_connection(std::vector<synfin_event>& out, uint64_t n, uint64_t& ts) {
  auto record = [&](uint64_t cookie, uint32_t type, TcpState from, TcpState to, uint16_t sport,
                    uint16_t dport) {
    synfin_event e{};
    e.ts_ns = ts += 1000;
    e.cookie = cookie;
    e.type = type;
    e.tgid = 1234;
    e.family = 2;
    e.sport = sport;
    e.dport = dport;
    e.old_state = static_cast<uint8_t>(from);
    e.new_state = static_cast<uint8_t>(to);
    e.saddr[0] = e.daddr[0] = 127;
    e.saddr[3] = e.daddr[3] = 1;
    std::memcpy(e.comm, "bench", 6);
    out.push_back(e);
  };
  uint64_t client = 2 * n + 1, server = 2 * n + 2;
  uint16_t port = static_cast<uint16_t>(32768 + n % 28000);
  using S = TcpState;
  record(client, SYNFIN_EV_STATE, S::Close, S::SynSent, 0, 80);
  record(client, SYNFIN_EV_STATE, S::SynSent, S::Established, port, 80);
  record(server, SYNFIN_EV_STATE, S::Listen, S::SynRecv, 80, 0);
  record(server, SYNFIN_EV_STATE, S::SynRecv, S::Established, 80, port);
  record(server, SYNFIN_EV_ACCEPT, S::Unknown, S::Unknown, 80, port);
  record(client, SYNFIN_EV_STATE, S::Established, S::FinWait1, port, 80);
  record(server, SYNFIN_EV_STATE, S::Established, S::CloseWait, 80, port);
  record(client, SYNFIN_EV_STATE, S::FinWait1, S::FinWait2, port, 80);
  record(server, SYNFIN_EV_STATE, S::CloseWait, S::LastAck, 80, port);
  record(client, SYNFIN_EV_STATE, S::FinWait2, S::Close, 0, 80);
  record(client, SYNFIN_EV_DESTROY, S::Unknown, S::Unknown, 0, 80);
  record(server, SYNFIN_EV_STATE, S::LastAck, S::Close, 0, port);
  record(server, SYNFIN_EV_DESTROY, S::Unknown, S::Unknown, 0, port);
}

// What the daemon hears of a clean active close outside the sample: one TIME_WAIT record.
// `per_second` of them a second, so that the tracker expires as many as enter once full.
std::vector<synfin_event> time_wait_records(uint64_t count, uint64_t per_second) {
  std::vector<synfin_event> out;
  out.reserve(count);
  for (uint64_t n = 0; n < count; ++n) {
    synfin_event e{};
    e.ts_ns = 1'000'000'000 + n * (1'000'000'000 / per_second);
    e.cookie = n + 1;
    e.type = SYNFIN_EV_TIME_WAIT;
    e.family = 2;
    e.sport = static_cast<uint16_t>(32768 + n % 28000);
    e.dport = 80;
    e.saddr[0] = e.daddr[0] = 127;
    e.saddr[3] = e.daddr[3] = 1;
    out.push_back(e);
  }
  return out;
}

template <typename Apply>
void measure(const char* name, const std::vector<synfin_event>& records, std::size_t warmup,
             Apply apply) {
  synfin::decode::Decoder decoder;
  auto feed = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      auto bytes = std::as_bytes(std::span(&records[i], 1));
      if (auto event = decoder.decode(bytes)) apply(*event);
    }
  };
  feed(0, warmup);
  std::size_t allocations_before = g_allocations;
  auto start = std::chrono::steady_clock::now();
  feed(warmup, records.size());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t measured = records.size() - warmup;
  std::printf("%-34s %10.0f events/s  %6.1f ns/event  %zu allocations in %zu events\n", name,
              measured / seconds, seconds * 1e9 / measured, g_allocations - allocations_before,
              measured);
}
}  // namespace

int main(int argc, char** argv) {
  uint64_t connections = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  std::vector<synfin_event> records;
  records.reserve(connections * 13);
  uint64_t ts = 1'000'000'000;
  for (uint64_t n = 0; n < connections; ++n) append_connection(records, n, ts);
  std::size_t warmup = records.size() / 10;

  {
    synfin::model::DaemonModel model({});
    measure("daemon model (table+aggregates+TW)", records, warmup,
            [&](const synfin::model::Event& e) { model.apply(e); });
    std::printf("  closed %llu, TIME_WAIT tracked %zu\n",
                static_cast<unsigned long long>(model.aggregates().closed_by_verdict[0]),
                model.time_wait().size());
  }
  {
    // Past the warm-up the tracker holds 60 s of them (120 000, about what a saturated host's
    // kernel keeps: tcp_max_tw_buckets) and expires as many as enter.
    constexpr uint64_t kPerSecond = 2000;
    auto closes = time_wait_records(std::max<uint64_t>(connections, 200 * kPerSecond), kPerSecond);
    synfin::model::DaemonModel model({});
    uint64_t next_tick = 0;
    measure("daemon model, TIME_WAIT records", closes, 65 * kPerSecond,
            [&](const synfin::model::Event& e) {
              if (e.ts_ns >= next_tick) {  // the drain thread's once-a-second tick
                model.tick(e.ts_ns);
                next_tick = e.ts_ns + 1'000'000'000;
              }
              model.apply(e);
            });
    std::printf("  TIME_WAIT tracked %zu\n", model.time_wait().size());
  }
  {
    std::FILE* sink = std::fopen("/dev/null", "w");
    synfin::outputs::JsonLinesWriter writer(sink, {}, {});
    synfin::model::ConnectionTable table(262144, writer);
    measure("trace (table + JSON lines)", records, warmup,
            [&](const synfin::model::Event& e) { table.apply(e); });
    writer.flush();  // the writer holds lines back in batches: out before the stream closes
    std::fclose(sink);
  }
  return 0;
}
