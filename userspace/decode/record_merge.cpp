#include "decode/record_merge.h"

#include <cstring>

namespace synfin::decode {

namespace {
// Every record starts with ts_ns (abi.h).
uint64_t stamp_of(std::span<const std::byte> record) {
  uint64_t ts_ns = 0;
  std::memcpy(&ts_ns, record.data(), sizeof(ts_ns));
  return ts_ns;
}
}  // namespace

void RecordMerge::add_source(RecordSource& source) {
  heads_.push_back(Head{&source, {}, 0});
}

void RecordMerge::look(Head& head) {
  for (;;) {
    head.record = head.source->peek();
    if (head.record.empty() || head.record.size() >= sizeof(uint64_t)) break;
    apply_(head.record);
    head.source->pop();
    ++released_;
  }
  if (!head.record.empty()) head.ts_ns = stamp_of(head.record);
}

std::size_t RecordMerge::release_until(uint64_t horizon_ns) {
  released_ = 0;
  for (Head& head : heads_) look(head);
  for (;;) {
    Head* oldest = nullptr;
    for (Head& head : heads_)
      if (!head.record.empty() && head.ts_ns <= horizon_ns &&
          (!oldest || head.ts_ns < oldest->ts_ns))
        oldest = &head;
    if (!oldest) return released_;
    apply_(oldest->record);
    oldest->source->pop();
    ++released_;
    look(*oldest);
  }
}

bool QueuedRecords::push(std::span<const std::byte> record) {
  if (full() || record.size() > kMaxRecord) return false;
  Slot& slot = slots_[(head_ + count_) % kCapacity];
  slot.size = static_cast<uint32_t>(record.size());
  std::memcpy(slot.bytes.data(), record.data(), record.size());
  ++count_;
  return true;
}

std::span<const std::byte> QueuedRecords::peek() {
  if (!count_) return {};
  return {slots_[head_].bytes.data(), slots_[head_].size};
}

void QueuedRecords::pop() {
  if (!count_) return;
  head_ = (head_ + 1) % kCapacity;
  --count_;
}

uint64_t QueuedRecords::front_ts_ns() const {
  if (!count_ || slots_[head_].size < sizeof(uint64_t)) return 0;
  return stamp_of({slots_[head_].bytes.data(), slots_[head_].size});
}

}  // namespace synfin::decode
