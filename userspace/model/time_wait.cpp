#include "model/time_wait.h"

#include <algorithm>
#include <unordered_set>

namespace synfin::model {

std::size_t PeerKeyHash::operator()(const PeerKey& key) const {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  auto mix = [&hash](uint8_t byte) { hash = (hash ^ byte) * 1099511628211ull; };
  for (uint8_t byte : key.local_address) mix(byte);
  for (uint8_t byte : key.remote.address) mix(byte);
  mix(static_cast<uint8_t>(key.remote.port));
  mix(static_cast<uint8_t>(key.remote.port >> 8));
  mix(static_cast<uint8_t>(key.family));
  return static_cast<std::size_t>(hash);
}

PeerKey peer_of(const SocketTuple& tuple) {
  return {tuple.family, tuple.local.address, tuple.remote};
}

TimeWaitTracker::TimeWaitTracker(std::size_t capacity)
    : entries_(&pool_), per_peer_(&pool_), capacity_(capacity) {}

void TimeWaitTracker::add(const TimeWaitEntry& entry) {
  if (auto it = entries_.find(entry.cookie); it != entries_.end()) {
    it->second.expires_ns = entry.expires_ns;
    return;
  }
  if (entries_.size() >= capacity_) {
    ++untracked_;
    return;
  }
  entries_.emplace(entry.cookie, entry);
  ++per_peer_[peer_of(entry.tuple)];
}

void TimeWaitTracker::remove(std::pmr::unordered_map<uint64_t, TimeWaitEntry>::iterator it) {
  auto peer = per_peer_.find(peer_of(it->second.tuple));
  if (peer != per_peer_.end() && --peer->second == 0) per_peer_.erase(peer);
  entries_.erase(it);
}

void TimeWaitTracker::enter(uint64_t cookie, const SocketTuple& tuple, uint64_t now_ns) {
  add({cookie, tuple, now_ns, now_ns + kTimeWaitLengthNs});
}

std::size_t TimeWaitTracker::expire(uint64_t now_ns) {
  std::size_t removed = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.expires_ns <= now_ns) {
      remove(it);
      ++removed;
    }
    it = next;
  }
  return removed;
}

ReconcileDrift TimeWaitTracker::reconcile(std::span<const KernelSocket> kernel,
                                          uint64_t snapshot_start_ns, uint64_t now_ns,
                                          const std::function<bool(const SocketTuple&)>& listed) {
  ReconcileDrift drift;
  std::unordered_set<uint64_t> in_kernel;
  in_kernel.reserve(kernel.size());
  for (const KernelSocket& socket : kernel) {
    in_kernel.insert(socket.cookie);
    auto it = entries_.find(socket.cookie);
    uint64_t expires = now_ns + socket.time_wait_remaining_ns;
    if (it == entries_.end()) {
      ++drift.added;
      add({socket.cookie, socket.tuple, 0, expires});
    } else {
      it->second.expires_ns = expires;  // the kernel's own timer beats the 60 s estimate
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (!in_kernel.count(it->first) && it->second.entered_ns < snapshot_start_ns &&
        listed(it->second.tuple)) {
      ++drift.removed;
      remove(it);
    }
    it = next;
  }
  return drift;
}

uint64_t TimeWaitTracker::largest_peer_count() const {
  uint64_t largest = 0;
  for (const auto& [peer, count] : per_peer_) largest = std::max(largest, count);
  return largest;
}

}  // namespace synfin::model
