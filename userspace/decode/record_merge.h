#pragma once
// Puts the records of two ring buffers back into time order. The XDP ring and the socket ring
// are drained one after the other, so a packet and the state change it caused can arrive in
// either order; records wait here until every record of both rings stamped before a horizon
// has been read, and leave in timestamp order (packets first on ties: they cause steps).
// Preallocated FIFOs: nothing allocates per record. Pure: time comes in with the calls.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace synfin::decode {

class RecordMerge {
 public:
  using Apply = std::function<void(std::span<const std::byte>)>;
  static constexpr std::size_t kMaxRecord = 128;

  RecordMerge(std::size_t packet_capacity, std::size_t event_capacity, Apply apply);

  // A record of the packet ring (first) or of the socket ring (second). Records too short to
  // carry a timestamp, or too long to hold, go out at once. A full FIFO releases its oldest.
  void add_packet(std::span<const std::byte> record);
  void add_event(std::span<const std::byte> record);
  // Releases, in time order, every waiting record stamped at or before horizon_ns.
  void release_until(uint64_t horizon_ns);
  std::size_t waiting() const { return packets_.count + events_.count; }

 private:
  struct Slot {
    uint64_t ts_ns = 0;
    uint32_t size = 0;
    std::array<std::byte, kMaxRecord> bytes{};
  };
  struct Fifo {
    std::vector<Slot> slots;
    std::size_t head = 0;
    std::size_t count = 0;
    const Slot& front() const { return slots[head]; }
    void pop() {
      head = (head + 1) % slots.size();
      --count;
    }
    bool full() const { return count == slots.size(); }
  };
  void add(Fifo& fifo, std::span<const std::byte> record);

  Fifo packets_;
  Fifo events_;
  Apply apply_;
};

}  // namespace synfin::decode
