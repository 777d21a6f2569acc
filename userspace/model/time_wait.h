#pragma once
// TIME_WAIT mini-sockets: no tracepoint reports them, so entry is inferred (FIN_WAIT2 or
// CLOSING → CLOSE without a reset), expiry follows the kernel's timer, and periodic
// reconciliation against the kernel's socket table corrects whatever inference missed.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory_resource>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/event.h"

namespace synfin::model {

inline constexpr uint64_t kTimeWaitLengthNs = 60'000'000'000ull;  // TCP_TIMEWAIT_LEN

struct TimeWaitEntry {
  uint64_t cookie = 0;
  SocketTuple tuple;
  uint64_t entered_ns = 0;  // 0: found by a snapshot, entry time unknown
  uint64_t expires_ns = 0;
};

// (local address, remote endpoint): the unit of ephemeral-port exhaustion.
struct PeerKey {
  AddressFamily family = AddressFamily::IPv4;
  std::array<uint8_t, 16> local_address{};
  Endpoint remote;
  bool operator==(const PeerKey&) const = default;
};

struct PeerKeyHash {
  std::size_t operator()(const PeerKey& key) const;
};

struct ReconcileDrift {
  uint64_t added = 0;    // in the kernel's table, not inferred
  uint64_t removed = 0;  // inferred, but the kernel no longer has them
};

class TimeWaitTracker {
 public:
  // At most `capacity` entries: TIME_WAIT sockets beyond it are counted, not tracked.
  explicit TimeWaitTracker(std::size_t capacity = SIZE_MAX);
  uint64_t untracked() const { return untracked_; }

  void enter(uint64_t cookie, const SocketTuple& tuple, uint64_t now_ns);
  // Removes entries whose kernel timer has run out; returns how many.
  std::size_t expire(uint64_t now_ns);
  // `kernel` holds the TIME_WAIT sockets of a snapshot that began at snapshot_start_ns.
  // Entries inferred after it began are kept: the snapshot could not have seen them.
  // `listed` says whether the snapshot can list an entry at all (its network namespace);
  // entries it cannot are left alone.
  ReconcileDrift reconcile(std::span<const KernelSocket> kernel, uint64_t snapshot_start_ns,
                           uint64_t now_ns, const std::function<bool(const SocketTuple&)>& listed);

  std::size_t size() const { return entries_.size(); }
  const std::pmr::unordered_map<PeerKey, uint64_t, PeerKeyHash>& per_peer() const {
    return per_peer_;
  }
  uint64_t largest_peer_count() const;

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    for (const auto& [cookie, entry] : entries_) visit(entry);
  }

 private:
  void add(const TimeWaitEntry& entry);
  void remove(std::pmr::unordered_map<uint64_t, TimeWaitEntry>::iterator it);

  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::unordered_map<uint64_t, TimeWaitEntry> entries_;
  std::pmr::unordered_map<PeerKey, uint64_t, PeerKeyHash> per_peer_;
  std::size_t capacity_;
  uint64_t untracked_ = 0;
};

PeerKey peer_of(const SocketTuple& tuple);

}  // namespace synfin::model
