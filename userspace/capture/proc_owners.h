#pragma once
// Who holds a socket, found the way `ss -p` finds it: the socket's inode among the
// descriptors in /proc/PID/fd. Cached; rescanned when asked about an inode no scan has looked
// for, and every 10 s.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/event.h"
#include "model/process.h"

namespace synfin::capture {

using model::ProcessInfo;

class ProcOwners {
 public:
  explicit ProcOwners(std::string proc_root = "/proc") : proc_root_(std::move(proc_root)) {}

  // Holders of each inode (several after fork()); rescans /proc once if any is unknown.
  std::unordered_map<uint64_t, std::vector<ProcessInfo>> resolve(std::span<const uint64_t> inodes);

  // One process by pid (an owner a syscall named): its cgroup and network namespace; nullopt once
  // it has exited. Cached like the holders: a pid is read again after 10 s.
  std::optional<ProcessInfo> process(uint32_t pid);

  // The socket table of pid's network namespace for one family, from /proc/PID/net/tcp or tcp6
  // (no cookie, no byte counts): what the socket-table iterator, which walks only the daemon's
  // namespace, cannot list. Empty once the process has exited.
  std::vector<model::KernelSocket> namespace_sockets(uint32_t pid,
                                                     model::AddressFamily family) const;

  // One process as /proc tells it now, uncached; nullopt once it has exited.
  std::optional<ProcessInfo> describe(uint32_t pid) const;

 private:
  void rescan();

  std::string proc_root_;
  std::mutex mutex_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> holders_by_inode_;
  std::unordered_map<uint32_t, ProcessInfo> processes_;
  std::unordered_set<uint64_t> not_found_;  // asked for, absent from /proc since last_scan_
  std::chrono::steady_clock::time_point last_scan_{};
  std::chrono::steady_clock::time_point processes_since_{};  // processes_ read since then
};

// The owners `synfin trace` names on its close lines: a pid is read from /proc the first time
// a line asks, and kept until expire() finds it older than kMaxAge, for at most kCapacity
// pids (past that, read on every ask). Each read is handed to `read` (the recording notes
// it), and entries change only then or in expire(), which the trace calls between records:
// so a replay that learns each note before the record it followed finds the same owners.
// One thread.
class TraceProcesses final : public model::ProcessDirectory {
 public:
  static constexpr std::size_t kCapacity = 4096;
  static constexpr std::chrono::seconds kMaxAge{10};
  using Read = std::function<void(uint32_t pid, const ProcessInfo* info)>;

  TraceProcesses(const ProcOwners& proc, uint32_t host_netns, Read read = {})
      : proc_(proc), host_netns_(host_netns), read_(std::move(read)) {}

  const ProcessInfo* find(uint32_t pid) override;
  uint32_t host_netns() const override { return host_netns_; }
  void expire(std::chrono::steady_clock::time_point now);

 private:
  struct Entry {
    std::optional<ProcessInfo> info;
    std::chrono::steady_clock::time_point read_at;
  };
  const ProcOwners& proc_;
  uint32_t host_netns_;
  Read read_;
  std::unordered_map<uint32_t, Entry> entries_;
  // The entry found last: a trace's lines mostly come from one process after another.
  // unordered_map keeps its elements where they are until erased (expire() forgets it).
  uint32_t last_pid_ = 0;
  const Entry* last_ = nullptr;
  std::optional<ProcessInfo> uncached_;  // the last one read while entries_ was full
};

}  // namespace synfin::capture
