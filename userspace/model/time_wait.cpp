#include "model/time_wait.h"

#include <algorithm>
#include <cstring>

namespace synfin::model {

namespace {
uint64_t mix(uint64_t hash, uint64_t word) {
  unsigned __int128 product = static_cast<unsigned __int128>(hash ^ word) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

uint64_t word_at(const std::array<uint8_t, 16>& bytes, std::size_t offset) {
  uint64_t word;
  std::memcpy(&word, bytes.data() + offset, sizeof(word));
  return word;
}

// Later deadlines sink: std::push_heap keeps the earliest at the front.
constexpr auto later = [](const auto& a, const auto& b) { return a.at_ns > b.at_ns; };
}  // namespace

std::size_t PeerKeyHash::operator()(const PeerKey& key) const {
  uint64_t hash = static_cast<uint64_t>(key.family) << 16 | key.remote.port;
  hash = mix(hash, word_at(key.local_address, 0));
  hash = mix(hash, word_at(key.local_address, 8));
  hash = mix(hash, word_at(key.remote.address, 0));
  hash = mix(hash, word_at(key.remote.address, 8));
  return static_cast<std::size_t>(hash);
}

PeerKey peer_of(const SocketTuple& tuple) {
  return {tuple.family, tuple.local.address, tuple.remote};
}

TimeWaitTracker::TimeWaitTracker(std::size_t capacity) : capacity_(capacity) {}

uint32_t TimeWaitTracker::add(uint64_t cookie, const SocketTuple& tuple, uint64_t entered_ns) {
  if (index_.size() >= capacity_) {
    ++untracked_;
    return CookieIndex::kNone;
  }
  uint32_t slot = slots_.acquire();
  TimeWaitEntry& entry = slots_[slot];
  entry.cookie = cookie;
  entry.tuple = tuple;
  entry.entered_ns = entered_ns;
  index_.insert(cookie, slot, cookie_of());
  ++per_peer_[peer_of(tuple)];
  if (in_limited_netns(tuple)) ++in_limited_netns_;
  return slot;
}

void TimeWaitTracker::push_deadline(TimeWaitEntry& entry, uint64_t at_ns) {
  entry.deadline_ns = at_ns;
  if (ordered_deadlines_.empty() || ordered_deadlines_.back().at_ns <= at_ns) {
    ordered_deadlines_.push_back({at_ns, entry.cookie});
    return;
  }
  deadlines_.push_back({at_ns, entry.cookie});
  std::push_heap(deadlines_.begin(), deadlines_.end(), later);
}

void TimeWaitTracker::set_expiry(TimeWaitEntry& entry, uint64_t expires_ns) {
  entry.expires_ns = expires_ns;
  if (entry.deadline_ns == 0 || expires_ns < entry.deadline_ns) push_deadline(entry, expires_ns);
}

void TimeWaitTracker::remove(uint32_t slot) {
  TimeWaitEntry& entry = slots_[slot];
  auto peer = per_peer_.find(peer_of(entry.tuple));
  if (peer != per_peer_.end() && --peer->second == 0) per_peer_.erase(peer);
  if (in_limited_netns(entry.tuple)) --in_limited_netns_;
  if (entry.awaiting_peer_fin) --awaiting_peer_fin_;
  index_.erase(entry.cookie, cookie_of());
  entry = TimeWaitEntry{};
  slots_.release(slot);
}

void TimeWaitTracker::limit_namespace(uint32_t netns, uint64_t max_buckets) {
  limited_netns_ = netns;
  limit_ = max_buckets;
  in_limited_netns_ = 0;
  for_each([&](const TimeWaitEntry& entry) { in_limited_netns_ += in_limited_netns(entry.tuple); });
}

void TimeWaitTracker::enter(uint64_t cookie, const SocketTuple& tuple, uint64_t now_ns,
                            uint32_t owner_pid) {
  uint32_t slot = find(cookie);
  if (slot == CookieIndex::kNone) {
    if (in_limited_netns(tuple) && in_limited_netns_ >= limit_) {
      ++refused_;
      return;
    }
    slot = add(cookie, tuple, now_ns);
  }
  if (slot == CookieIndex::kNone) return;
  if (owner_pid) slots_[slot].owner_pid = owner_pid;
  set_expiry(slots_[slot], reap_time(now_ns));
}

uint64_t TimeWaitTracker::reap_time(uint64_t entered_ns) const {
  uint64_t due = entered_ns + kTimeWaitLengthNs;
  if (!bucket_ns_) return due;
  if (!bucket_phase_known_) return due + bucket_ns_ / 2;
  // The first bucket end after the timer is due (one due exactly at an end waits a bucket).
  if (due < bucket_phase_ns_) return bucket_phase_ns_;
  return due + bucket_ns_ - (due - bucket_phase_ns_) % bucket_ns_;
}

std::size_t TimeWaitTracker::expire(uint64_t now_ns,
                                    const std::function<void(const TimeWaitEntry&)>& on_expired) {
  std::size_t removed = 0;
  for (;;) {
    bool from_heap =
        !deadlines_.empty() &&
        (ordered_deadlines_.empty() || deadlines_.front().at_ns < ordered_deadlines_.front().at_ns);
    const Deadline* front =
        from_heap ? &deadlines_.front()
                  : (ordered_deadlines_.empty() ? nullptr : &ordered_deadlines_.front());
    if (!front || front->at_ns > now_ns) break;
    Deadline due = *front;
    if (from_heap) {
      std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
      deadlines_.pop_back();
    } else {
      ordered_deadlines_.pop_front();
    }
    uint32_t slot = index_.find(due.cookie, cookie_of());
    if (slot == CookieIndex::kNone) continue;  // removed by a reconciliation
    TimeWaitEntry& entry = slots_[slot];
    if (entry.deadline_ns != due.at_ns) continue;  // superseded by an earlier deadline
    if (entry.expires_ns > now_ns) {               // the kernel's timer said later
      push_deadline(entry, entry.expires_ns);
      continue;
    }
    if (on_expired) on_expired(entry);
    remove(slot);
    ++removed;
  }
  return removed;
}

ReconcileDrift TimeWaitTracker::reconcile(std::span<const KernelSocket> kernel,
                                          uint64_t snapshot_start_ns, uint64_t now_ns,
                                          const std::function<bool(const SocketTuple&)>& listed) {
  begin_reconcile();
  reconcile_part(kernel, now_ns);
  return finish_reconcile(snapshot_start_ns, listed);
}

void TimeWaitTracker::begin_reconcile() {
  ++snapshots_;
  added_this_snapshot_ = 0;
}

void TimeWaitTracker::reconcile_part(std::span<const KernelSocket> kernel, uint64_t current_ns) {
  for (const KernelSocket& socket : kernel) {
    // A row of a /proc table has no cookie: it is matched by its ends (WalkCoverage).
    if (socket.state != TcpState::TimeWait || socket.cookie == 0) continue;
    // The kernel's own timer beats the estimate.
    uint64_t expires = socket.time_wait_reaped_at_ns;
    if (bucket_ns_ && expires) {
      bucket_phase_ns_ = expires % bucket_ns_;
      bucket_phase_known_ = true;
    }
    uint32_t slot = find(socket.cookie);
    if (slot == CookieIndex::kNone) {
      if (expires <= current_ns) continue;  // gone from the kernel by now
      slot = add(socket.cookie, socket.tuple, 0);
      if (slot == CookieIndex::kNone) continue;
      ++added_this_snapshot_;
    }
    TimeWaitEntry& entry = slots_[slot];
    entry.listed_in_snapshot = snapshots_;
    if (entry.awaiting_peer_fin != socket.awaiting_peer_fin) {
      entry.awaiting_peer_fin = socket.awaiting_peer_fin;
      entry.awaited_peer_fin = entry.awaited_peer_fin || socket.awaiting_peer_fin;
      entry.awaiting_peer_fin ? ++awaiting_peer_fin_ : --awaiting_peer_fin_;
    }
    set_expiry(entry, expires);
  }
}

ReconcileDrift TimeWaitTracker::finish_reconcile(
    uint64_t snapshot_start_ns, const std::function<bool(const SocketTuple&)>& listed) {
  std::vector<uint32_t> gone;
  uint32_t slot = 0;
  slots_.for_each_slot([&](const TimeWaitEntry& entry) {
    if (entry.cookie != 0 && entry.listed_in_snapshot != snapshots_ &&
        entry.entered_ns < snapshot_start_ns && listed(entry.tuple))
      gone.push_back(slot);
    ++slot;
  });
  for (uint32_t unlisted : gone) remove(unlisted);
  return {added_this_snapshot_, gone.size()};
}

uint64_t TimeWaitTracker::largest_peer_count() const {
  uint64_t largest = 0;
  for (const auto& [peer, count] : per_peer_) largest = std::max(largest, count);
  return largest;
}

}  // namespace synfin::model
