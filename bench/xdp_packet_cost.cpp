// What synfin's XDP program costs per packet over a bare XDP_PASS program, measured by the
// kernel itself (BPF_PROG_TEST_RUN with repeat), for data, a bare ACK and a SYN.
// Prints figures; never fails on a clock. Needs root.
//
//   sudo build/synfin_xdp_bench [repeat]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "bench_xdp_pass_bpf.skel.h"
#include "capture/xdp_program.h"
#include "frames.h"

namespace {
using synfin::testing::build_frame;
using synfin::testing::FrameSpec;

constexpr uint32_t kChunk =
    5000;  // runs between ring drains: SYN records stay below the wakeup threshold

int drop_record(void*, void*, size_t) {
  return 0;
}

// Mean ns per run over `repeat` runs made in chunks; run_chunk(n) returns its mean.
double measure(uint32_t repeat, const std::function<double(uint32_t)>& run_chunk) {
  double total = 0;
  for (uint32_t done = 0; done < repeat;) {
    uint32_t n = repeat - done < kChunk ? repeat - done : kChunk;
    total += run_chunk(n) * n;
    done += n;
  }
  return total / repeat;
}

double bare_chunk(int fd, const std::vector<uint8_t>& frame, uint32_t n) {
  std::vector<uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()), .repeat = static_cast<int>(n));
  if (bpf_prog_test_run_opts(fd, &opts) != 0) {
    std::perror("BPF_PROG_TEST_RUN");
    std::exit(1);
  }
  return static_cast<double>(opts.duration);
}
}  // namespace

int main(int argc, char** argv) {
  uint32_t repeat = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : 2'000'000;
  auto loaded = synfin::capture::XdpTestRun::load();
  if (!loaded) {
    std::fprintf(stderr, "synfin_xdp_bench: %s (run as root)\n", loaded.error().message.c_str());
    return 1;
  }
  synfin::capture::XdpTestRun& synfin_xdp = **loaded;
  bench_xdp_pass_bpf* bare = bench_xdp_pass_bpf__open_and_load();
  if (!bare) {
    std::fprintf(stderr, "synfin_xdp_bench: cannot load the baseline program\n");
    return 1;
  }
  ring_buffer* ring = ring_buffer__new(synfin_xdp.ring_buffer_fd(), drop_record, nullptr, nullptr);
  int bare_fd = bpf_program__fd(bare->progs.xdp_pass_baseline);

  FrameSpec data;
  data.tcp.flags = SYNFIN_TCP_ACK | SYNFIN_TCP_PSH;
  data.tcp.payload = std::vector<uint8_t>(1400, 0x5a);
  FrameSpec data6 = data;
  data6.family = 6;
  FrameSpec ack;
  ack.tcp.flags = SYNFIN_TCP_ACK;
  FrameSpec syn;
  syn.tcp.flags = SYNFIN_TCP_SYN;
  struct Case {
    const char* name;
    FrameSpec spec;
  };
  std::printf("%-30s %9s %10s %9s   (mean of %u runs each, BPF_PROG_TEST_RUN)\n", "packet",
              "bare ns", "synfin ns", "added ns", repeat);
  for (const Case& c :
       {Case{"IPv4 data, 1400 B", data}, Case{"IPv6 data, 1400 B", data6},
        Case{"IPv4 bare ACK (one probe)", ack}, Case{"IPv4 SYN (lookup + record)", syn}}) {
    std::vector<uint8_t> frame = build_frame(c.spec);
    auto synfin_chunk = [&](uint32_t n) {
      auto outcome = synfin_xdp.run(frame, n);
      if (!outcome) {
        std::fprintf(stderr, "%s\n", outcome.error().message.c_str());
        std::exit(1);
      }
      ring_buffer__consume(ring);
      return static_cast<double>(outcome->duration_ns);
    };
    auto baseline = [&](uint32_t n) { return bare_chunk(bare_fd, frame, n); };
    // Alternated, so drift of the machine spreads over both.
    double bare_ns = (measure(repeat, baseline) + measure(repeat, baseline)) / 2;
    double synfin_ns = (measure(repeat, synfin_chunk) + measure(repeat, synfin_chunk)) / 2;
    std::printf("%-30s %9.1f %10.1f %9.1f\n", c.name, bare_ns, synfin_ns, synfin_ns - bare_ns);
  }
  ring_buffer__free(ring);
  bench_xdp_pass_bpf__destroy(bare);
  return 0;
}
