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

#include "model/cookie_index.h"
#include "model/event.h"

namespace synfin::model {

inline constexpr uint64_t kTimeWaitLengthNs = 60'000'000'000ull;  // TCP_TIMEWAIT_LEN

struct TimeWaitEntry {
  uint64_t cookie = 0;  // 0: a free slot
  SocketTuple tuple;
  uint32_t listed_in_snapshot = 0;  // the last reconciliation that found it in the kernel
  // The last walk found the mini-socket still in FIN_WAIT2: closed before the peer's FIN,
  // waiting for it (what ss shows). Entries no walk has listed yet are taken as TIME_WAIT.
  bool awaiting_peer_fin = false;
  // A walk found it waiting: its time in TIME_WAIT began at the FIN, which no record shows.
  bool awaited_peer_fin = false;
  uint64_t entered_ns = 0;  // 0: found by a snapshot, entry time unknown
  uint64_t expires_ns = 0;
  uint64_t deadline_ns = 0;  // its earliest deadline waiting in the tracker's queue
  // The connection's last owner when its close reached the daemon (a mini-socket has no
  // process); 0: none known, or found by a walk.
  uint32_t owner_pid = 0;
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

// Entries live in chunked slots found by cookie; expiry follows a queue of deadlines ordered
// by time, so a tick looks only at what has run out, and a reconciliation marks what the
// kernel listed instead of building a set of it.
class TimeWaitTracker {
 public:
  // At most `capacity` entries: TIME_WAIT sockets beyond it are counted, not tracked.
  explicit TimeWaitTracker(std::size_t capacity = SIZE_MAX);
  uint64_t untracked() const { return untracked_; }

  // The kernel creates no TIME_WAIT socket past net.ipv4.tcp_max_tw_buckets of its network
  // namespace: it closes the socket at once (TcpExtTCPTimeWaitOverflow), and the state
  // changes look the same. Entries inferred in `netns` (or of no known namespace) stop at
  // `max_buckets` as the kernel's do; those refused are counted. Entries a walk lists are real
  // and always kept.
  void limit_namespace(uint32_t netns, uint64_t max_buckets);
  uint64_t refused_by_kernel_limit() const { return refused_; }

  // The kernel reaps a TIME_WAIT socket when its timer wheel reaches the end of the bucket
  // its 60 s fall in: up to one bucket late (2.048 s at HZ=250). Given the bucket's length,
  // an inferred entry expires at that bucket's end, whose phase each walk's reap times tell;
  // before the first walk lists one, half a bucket after its 60 s. 0: exactly 60 s.
  void follow_timer_wheel(uint64_t bucket_ns) { bucket_ns_ = bucket_ns; }
  // When the kernel reaps a TIME_WAIT socket entered at entered_ns, as far as known.
  uint64_t reap_time(uint64_t entered_ns) const;

  void enter(uint64_t cookie, const SocketTuple& tuple, uint64_t now_ns, uint32_t owner_pid = 0);
  // Removes entries whose kernel timer has run out, handing each to on_expired first;
  // returns how many.
  std::size_t expire(uint64_t now_ns,
                     const std::function<void(const TimeWaitEntry&)>& on_expired = {});
  // `kernel` is a snapshot that began at snapshot_start_ns; its TIME_WAIT sockets count.
  // Entries inferred after it began are kept: the snapshot could not have seen them.
  // `listed` says whether the snapshot can list an entry at all (its network namespace);
  // entries it cannot are left alone.
  ReconcileDrift reconcile(std::span<const KernelSocket> kernel, uint64_t snapshot_start_ns,
                           uint64_t now_ns, const std::function<bool(const SocketTuple&)>& listed);
  // The same in steps, so a caller can do other work between them: begin, take the snapshot
  // in as many parts as it likes, finish. Entering and expiring may go on in between: a part
  // applied at current_ns does not bring back a socket the kernel has reaped since (expired
  // here meanwhile, or about to be).
  void begin_reconcile();
  void reconcile_part(std::span<const KernelSocket> kernel, uint64_t current_ns);
  ReconcileDrift finish_reconcile(uint64_t snapshot_start_ns,
                                  const std::function<bool(const SocketTuple&)>& listed);

  // Every mini-socket tracked, TIME_WAIT and FIN_WAIT2 alike: both hold their port and count
  // towards the kernel's tcp_max_tw_buckets.
  std::size_t size() const { return index_.size(); }
  // Of those, the ones the last walk found in FIN_WAIT2.
  std::size_t awaiting_peer_fin() const { return awaiting_peer_fin_; }
  static TcpState state_of(const TimeWaitEntry& entry) {
    return entry.awaiting_peer_fin ? TcpState::FinWait2 : TcpState::TimeWait;
  }
  const std::pmr::unordered_map<PeerKey, uint64_t, PeerKeyHash>& per_peer() const {
    return per_peer_;
  }
  uint64_t largest_peer_count() const;

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    slots_.for_each_slot([&](const TimeWaitEntry& entry) {
      if (entry.cookie != 0) visit(entry);
    });
  }

 private:
  struct Deadline {
    uint64_t at_ns;
    uint64_t cookie;
  };

  auto cookie_of() const {
    return [this](uint32_t slot) { return slots_[slot].cookie; };
  }
  uint32_t find(uint64_t cookie) const { return index_.find(cookie, cookie_of()); }
  // A new entry for `cookie` (not tracked yet), or CookieIndex::kNone when at capacity.
  uint32_t add(uint64_t cookie, const SocketTuple& tuple, uint64_t entered_ns);
  void set_expiry(TimeWaitEntry& entry, uint64_t expires_ns);
  void push_deadline(TimeWaitEntry& entry, uint64_t at_ns);
  void remove(uint32_t slot);
  bool in_limited_netns(const SocketTuple& tuple) const {
    return limit_ && (tuple.netns == limited_netns_ || tuple.netns == 0);
  }

  ChunkedSlots<TimeWaitEntry> slots_;
  CookieIndex index_;
  // Deadlines in two queues, the earlier front due first. Inferred entries come in time order
  // (each 60 s after its record), so almost every deadline joins the back of a FIFO; only one
  // earlier than that back (a walk's reap time, a re-queue) goes into a min-heap. An entry
  // whose expiry moves later keeps its deadline, which re-queues it when reached; one that
  // moves earlier gets a new deadline and the old one goes stale.
  // A ring that doubles when full: in steady state no allocation.
  class DeadlineFifo {
   public:
    bool empty() const { return size_ == 0; }
    const Deadline& front() const { return ring_[head_]; }
    const Deadline& back() const { return ring_[(head_ + size_ - 1) & (ring_.size() - 1)]; }
    void pop_front() {
      head_ = (head_ + 1) & (ring_.size() - 1);
      --size_;
    }
    void push_back(Deadline deadline) {
      if (size_ == ring_.size()) grow();
      ring_[(head_ + size_) & (ring_.size() - 1)] = deadline;
      ++size_;
    }

   private:
    void grow() {
      std::vector<Deadline> larger(ring_.empty() ? 1024 : ring_.size() * 2);
      for (std::size_t i = 0; i < size_; ++i) larger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
      ring_ = std::move(larger);
      head_ = 0;
    }
    std::vector<Deadline> ring_;  // a power of two long
    std::size_t head_ = 0;
    std::size_t size_ = 0;
  };
  DeadlineFifo ordered_deadlines_;
  std::vector<Deadline> deadlines_;
  // Peers come and go with their last entry: pooled nodes make that allocation-free.
  std::pmr::unsynchronized_pool_resource peer_pool_;
  std::pmr::unordered_map<PeerKey, uint64_t, PeerKeyHash> per_peer_{&peer_pool_};
  std::size_t capacity_;
  uint64_t untracked_ = 0;
  std::size_t awaiting_peer_fin_ = 0;
  uint32_t snapshots_ = 0;
  uint64_t added_this_snapshot_ = 0;
  uint32_t limited_netns_ = 0;
  uint64_t limit_ = 0;  // 0: none
  uint64_t in_limited_netns_ = 0;
  uint64_t refused_ = 0;
  uint64_t bucket_ns_ = 0;        // the timer wheel's bucket for a 60 s timer; 0: not followed
  uint64_t bucket_phase_ns_ = 0;  // where its buckets end, modulo bucket_ns_
  bool bucket_phase_known_ = false;
};

PeerKey peer_of(const SocketTuple& tuple);

}  // namespace synfin::model
