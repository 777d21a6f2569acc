#pragma once
// Puts the records of several sources back into one time order: the per-CPU socket rings, the
// XDP packet ring and the records userspace writes itself. Each source is read in its own order;
// a record leaves once it is the oldest head stamped at or before a horizon, so that a socket's
// steps taken on two CPUs, or a packet and the step it caused, apply in the order they happened.
// Records are read in place (a ring's record stays in the ring until it is applied): nothing is
// copied or allocated per record. Pure: time comes in with the calls.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace synfin::decode {

// A sequence of records read in place, oldest first.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // The oldest record not yet taken; empty when there is none (yet).
  virtual std::span<const std::byte> peek() = 0;
  // Takes what peek() returned.
  virtual void pop() = 0;
};

class RecordMerge {
 public:
  using Apply = std::function<void(std::span<const std::byte>)>;

  explicit RecordMerge(Apply apply) : apply_(std::move(apply)) {}

  // Sources in priority order: on equal stamps the earlier source's record goes first (packets
  // before the steps they cause).
  void add_source(RecordSource& source);
  // Applies, in time order, every record at the sources' heads stamped at or before horizon_ns;
  // a record too short to carry a stamp goes at once (the decoder counts it). Returns how many.
  std::size_t release_until(uint64_t horizon_ns);

 private:
  struct Head {
    RecordSource* source = nullptr;
    std::span<const std::byte> record;
    uint64_t ts_ns = 0;
  };
  // Refreshes a head from its source, applying records that carry no stamp on the way.
  void look(Head& head);

  std::vector<Head> heads_;
  Apply apply_;
  std::size_t released_ = 0;
};

// Records userspace writes into the stream (time marks, interface names): a bounded queue that
// is one more source of the merge, so they take their place in time among the kernel's.
class QueuedRecords : public RecordSource {
 public:
  static constexpr std::size_t kMaxRecord = 128;
  static constexpr std::size_t kCapacity = 64;

  // False when the queue is full (release up to front_ts_ns() first) or the record is too long.
  bool push(std::span<const std::byte> record);
  std::span<const std::byte> peek() override;
  void pop() override;
  bool full() const { return count_ == kCapacity; }
  uint64_t front_ts_ns() const;

 private:
  struct Slot {
    uint32_t size = 0;
    std::array<std::byte, kMaxRecord> bytes{};
  };
  std::array<Slot, kCapacity> slots_{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace synfin::decode
