#pragma once
// RAII owner of the synfin BPF skeleton: open → configure .rodata → load → attach, destroyed
// (detached and freed) exactly once. Non-copyable; every failure comes back as a value.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "model/kernel_tally.h"
#include "synfin/abi.h"

struct synfin_bpf;
struct bpf_link;

namespace synfin::capture {

struct CaptureOptions {
  int family = 0;  // 0 both, 4, 6
  std::vector<uint16_t> local_ports;
  std::vector<uint16_t> remote_ports;
  std::vector<uint16_t> any_ports;  // --port: either end on one of these
  uint16_t exclude_port = 0;        // sockets with this local or remote port are not traced
  uint32_t ring_bytes = 16u << 20;  // shared out among the CPUs' rings (per_cpu_ring_bytes)
  bool verbose = false;             // libbpf's own log (verifier output) on stderr
  // What crosses the ring (bpf/lib/config.h). A record per step: `synfin trace`, and the daemon
  // with --xdp (its packet view joins live sockets step by step).
  bool per_step_records = true;
  // The daemon: each socket's path in socket storage, checked and counted in the kernel
  // (tally()); without per-step records a close crosses only when it matters, in a sample of
  // closes_per_second, or as a TIME_WAIT record; walk_paths() reads the live ones.
  bool keep_paths = false;
  uint32_t closes_per_second = 0;
  std::vector<uint16_t> watch_ports;  // closes on these ports (either end) always cross
  std::array<uint64_t, SYNFIN_TCP_STATE_SLOTS> stuck_threshold_ns{};  // by kernel state number

  bool report_closes() const { return keep_paths && !per_step_records; }
};

struct ProgramStatus {
  std::string name;
  bool attached = false;
};

using LostCounts = std::array<uint64_t, SYNFIN_EV_TYPE_COUNT>;
using DropTotals = std::array<uint64_t, SYNFIN_DROP_REASON_COUNT>;

// What the running kernel lets synfin report, probed in its BTF before loading: tracepoints
// whose arguments grew across versions can only be loaded in the shape the kernel has.
struct KernelFeatures {
  bool reset_reasons = false;  // tcp_send_reset(sk, skb, reason): Linux 6.10
  bool drop_reasons = false;   // skb:kfree_skb(skb, location, reason): Linux 5.17
  bool drop_sockets = false;   // ... and rx_sk after it: Linux 6.11
  // Listen refusals per listener: skb:consume_skb with its location (Linux 6.3), the kernel's
  // per-CPU counters reachable (bpf_map_lookup_percpu_elem, Linux 5.19), tcp_rcv_state_process
  // in kallsyms. Those on the handshake's last ACK need drop_sockets too.
  bool listen_refusals = false;
  uint64_t rcv_state_process_start = 0;
  uint64_t rcv_state_process_end = 0;
  uint32_t mib_listen_overflows = 0;  // LINUX_MIB_LISTENOVERFLOWS
  uint32_t mib_syn_queue_drops = 0;   // LINUX_MIB_TCPREQQFULLDROP

  // One sentence per thing synfin cannot report on this kernel; empty when all is there.
  std::vector<std::string> missing() const;
};

// Reads the running kernel's BTF (/sys/kernel/btf/vmlinux) and /proc/kallsyms.
KernelFeatures probe_kernel_features();

struct PortListenerCounters {
  uint16_t port = 0;
  synfin_listener_counters counters{};
};

class TracerProgram {
 public:
  static Result<std::unique_ptr<TracerProgram>> load(const CaptureOptions& options);
  ~TracerProgram();
  TracerProgram(const TracerProgram&) = delete;
  TracerProgram& operator=(const TracerProgram&) = delete;

  // Attaches every tracepoint program and the socket-table iterator (read on demand by
  // snapshot_sockets(), from any thread).
  Status attach();
  // One ring buffer per possible CPU, in CPU order: each CPU's records, in its own order.
  const std::vector<int>& ring_fds() const { return ring_fds_; }
  // Reserve failures per event type, summed over CPUs.
  LostCounts lost_counts() const;
  // Walks the kernel's TCP socket table (TIME_WAIT mini-sockets included) once, handing each
  // row over as it is read (a table of 100 000s of sockets is never held twice).
  Status snapshot_sockets(const std::function<void(const synfin_socket_record&)>& on_row) const;
  // The same walk of another network namespace's table: the calling thread enters netns_fd's
  // namespace to open the iterator and goes back to home_netns_fd's at once (needs
  // CAP_SYS_ADMIN). Rows carry no namespace: the caller knows which it asked for.
  Status snapshot_sockets_in(int netns_fd, int home_netns_fd,
                             const std::function<void(const synfin_socket_record&)>& on_row) const;
  // With report_closes(): the path of every live socket that has one (every network namespace
  // where the kernel lets synfin walk the storage, else synfin's own).
  Status walk_paths(const std::function<void(const synfin_path_record&)>& on_row) const;
  // Whether each attached program's link still runs it, as the kernel says now.
  std::vector<ProgramStatus> program_status() const;
  const KernelFeatures& features() const { return features_; }
  // The kernel timer wheel's bucket for a TIME_WAIT socket's 60 s timer, from the running
  // kernel's CONFIG_HZ (0 if unknown).
  uint64_t time_wait_reap_bucket_ns() const;
  // The daemon's live walk: every socket's storage (all network namespaces), or — on kernels
  // that refuse the storage-map iterator — the socket table of synfin's own namespace, whose
  // other namespaces' sockets then show when they end.
  enum class LiveWalk { StorageMap, OwnNamespaceTable };
  LiveWalk live_walk() const { return live_walk_; }
  // Kernel drops of TCP packets by synfin drop reason, summed over CPUs.
  DropTotals drop_totals() const;
  // With keep_paths: what the kernel side counted, summed over CPUs.
  model::KernelTally tally() const;
  // Per listening socket (by cookie): what the kernel refused it since synfin started.
  std::unordered_map<uint64_t, synfin_listener_counters> listener_counters() const;
  // Per local port of a listener, including listeners gone since (never decreasing).
  std::vector<PortListenerCounters> port_listener_counters() const;

 private:
  TracerProgram(synfin_bpf* skeleton, KernelFeatures features);
  static Result<std::unique_ptr<TracerProgram>> load_with(const CaptureOptions& options,
                                                          LiveWalk walk);
  synfin_bpf* skeleton_;
  bpf_link* socket_iterator_ = nullptr;
  bpf_link* path_iterator_ = nullptr;
  KernelFeatures features_;
  LiveWalk live_walk_ = LiveWalk::StorageMap;
  std::vector<int> ring_fds_;
};

// Each CPU reserves in a ring of its own (no CPU waits on another's reservation lock): the
// ring size asked for is shared out among them, each a power of two of at least 256 KiB.
inline constexpr uint32_t kMinCpuRingBytes = 256u << 10;
uint32_t per_cpu_ring_bytes(uint32_t total_bytes, uint32_t cpus);

}  // namespace synfin::capture
