#pragma once
// synfin's XDP program on the interfaces an operator names (--xdp), attached through libxdp's
// multi-program dispatcher so it shares an interface with other XDP programs instead of
// replacing them. RAII: detached from every interface when destroyed. Errors as values.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "synfin/abi.h"

struct synfin_xdp_bpf;
struct xdp_program;

namespace synfin::capture {

enum class XdpMode { Auto, Native, Generic };

struct XdpOptions {
  std::vector<std::string> interfaces;
  XdpMode mode = XdpMode::Auto;
  uint32_t ring_bytes = 4u << 20;
  // Handshake/teardown records per CPU per second before the rest is counted as suppressed.
  uint32_t records_per_second_per_cpu = 50000;
  uint16_t exclude_port = 0;  // counted, but no records (the daemon's own HTTP port)
  bool verbose = false;
};

using XdpCounters = std::array<uint64_t, SYNFIN_XDP_COUNTER_COUNT>;

struct XdpInterface {
  std::string name;
  int ifindex = 0;
  std::string mode;  // "native" or "generic", as attached
  bool attached = false;
  // Through libxdp's multi-program dispatcher (shared with other XDP programs), or attached
  // directly where the kernel cannot run the dispatcher (it needs freplace programs, which
  // use the same trampolines as fentry); directly, synfin still never replaces a program.
  bool dispatcher = false;
  uint32_t attached_id = 0;  // what the interface runs: synfin's program, or the dispatcher
};

class XdpProgram {
 public:
  // Loads the program and attaches it to every interface, or fails with one line naming
  // the interface and the reason; nothing stays attached after a failure.
  static Result<std::unique_ptr<XdpProgram>> attach(const XdpOptions& options);
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  int ring_buffer_fd() const;
  // Counters per attached interface (same order as interfaces()), summed over CPUs.
  std::vector<XdpCounters> counters() const;
  // Whether each interface still runs the program (asks the kernel through netlink, which
  // needs no capability); for /healthz.
  std::vector<XdpInterface> interfaces() const;
  // Whether any interface shares a dispatcher: detaching from one then needs CAP_SYS_ADMIN
  // (libxdp reads the other programs by id), not only CAP_NET_ADMIN.
  bool uses_dispatcher() const;

 private:
  XdpProgram() = default;
  Status attach_to(XdpInterface& interface, XdpMode mode);
  void detach_all();

  synfin_xdp_bpf* skeleton_ = nullptr;
  xdp_program* program_ = nullptr;
  std::vector<XdpInterface> interfaces_;
};

// The same program loaded as a plain XDP program, not attached anywhere, to run frames
// through it with BPF_PROG_TEST_RUN (parser tests and the per-packet benchmark).
class XdpTestRun {
 public:
  static Result<std::unique_ptr<XdpTestRun>> load();
  ~XdpTestRun();
  XdpTestRun(const XdpTestRun&) = delete;
  XdpTestRun& operator=(const XdpTestRun&) = delete;

  struct Outcome {
    uint32_t action = 0;       // XDP_PASS is 2
    uint64_t duration_ns = 0;  // mean per run, as the kernel measured it
  };
  Result<Outcome> run(const std::vector<uint8_t>& frame, uint32_t repeat = 1);
  // Counters of frames that arrived on no configured interface (test runs), summed.
  XdpCounters counters() const;
  int ring_buffer_fd() const;

 private:
  XdpTestRun() = default;
  synfin_xdp_bpf* skeleton_ = nullptr;
};

}  // namespace synfin::capture
