#pragma once
// RAII owner of the synfin BPF skeleton: open → configure .rodata → load → attach, destroyed
// (detached and freed) exactly once. Non-copyable; every failure comes back as a value.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "synfin/abi.h"

struct synfin_bpf;
struct bpf_link;

namespace synfin::capture {

struct CaptureOptions {
  int family = 0;  // 0 both, 4, 6
  std::vector<uint16_t> local_ports;
  std::vector<uint16_t> remote_ports;
  uint16_t exclude_port = 0;  // sockets with this local or remote port are not traced
  uint32_t ring_bytes = 16u << 20;
  bool verbose = false;  // libbpf's own log (verifier output) on stderr
  // The daemon's compact mode: each socket's path stays in the kernel (socket-local storage)
  // and crosses the ring once, when the socket is destroyed; walk_paths() reads live ones.
  bool compact_paths = false;
};

struct ProgramStatus {
  std::string name;
  bool attached = false;
};

using LostCounts = std::array<uint64_t, SYNFIN_EV_TYPE_COUNT>;

class TracerProgram {
 public:
  static Result<std::unique_ptr<TracerProgram>> load(const CaptureOptions& options);
  ~TracerProgram();
  TracerProgram(const TracerProgram&) = delete;
  TracerProgram& operator=(const TracerProgram&) = delete;

  // Attaches every tracepoint program and the socket-table iterator (read on demand by
  // snapshot_sockets(), from any thread).
  Status attach();
  int ring_buffer_fd() const;
  // Reserve failures per event type, summed over CPUs.
  LostCounts lost_counts() const;
  // Walks the kernel's TCP socket table (TIME_WAIT mini-sockets included) once.
  Result<std::vector<synfin_socket_record>> snapshot_sockets() const;
  // Compact mode: the path of every live socket that has one, in every network namespace.
  Result<std::vector<synfin_path_record>> walk_paths() const;
  // Whether each attached program's link still runs it, as the kernel says now.
  std::vector<ProgramStatus> program_status() const;

 private:
  explicit TracerProgram(synfin_bpf* skeleton);
  synfin_bpf* skeleton_;
  bpf_link* socket_iterator_ = nullptr;
  bpf_link* path_iterator_ = nullptr;
};

}  // namespace synfin::capture
