#include "decode/record_merge.h"

#include <cstring>

namespace synfin::decode {

RecordMerge::RecordMerge(std::size_t packet_capacity, std::size_t event_capacity, Apply apply)
    : apply_(std::move(apply)) {
  packets_.slots.resize(packet_capacity ? packet_capacity : 1);
  events_.slots.resize(event_capacity ? event_capacity : 1);
}

void RecordMerge::add(Fifo& fifo, std::span<const std::byte> record) {
  if (record.size() < sizeof(uint64_t) || record.size() > kMaxRecord) {
    apply_(record);  // malformed: the decoder counts it, its place in time does not matter
    return;
  }
  uint64_t ts_ns = 0;
  std::memcpy(&ts_ns, record.data(), sizeof(ts_ns));  // every record starts with ts_ns
  if (fifo.full()) release_until(fifo.front().ts_ns);
  Slot& slot = fifo.slots[(fifo.head + fifo.count) % fifo.slots.size()];
  slot.ts_ns = ts_ns;
  slot.size = static_cast<uint32_t>(record.size());
  std::memcpy(slot.bytes.data(), record.data(), record.size());
  ++fifo.count;
}

void RecordMerge::add_packet(std::span<const std::byte> record) {
  add(packets_, record);
}

void RecordMerge::add_event(std::span<const std::byte> record) {
  add(events_, record);
}

void RecordMerge::release_until(uint64_t horizon_ns) {
  for (;;) {
    bool packet_ready = packets_.count > 0 && packets_.front().ts_ns <= horizon_ns;
    bool event_ready = events_.count > 0 && events_.front().ts_ns <= horizon_ns;
    if (!packet_ready && !event_ready) return;
    bool take_packet =
        packet_ready && (!event_ready || packets_.front().ts_ns <= events_.front().ts_ns);
    Fifo& fifo = take_packet ? packets_ : events_;
    const Slot& slot = fifo.front();
    apply_({slot.bytes.data(), slot.size});
    fifo.pop();
  }
}

}  // namespace synfin::decode
