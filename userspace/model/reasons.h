#pragma once
// Why the kernel reset a connection or dropped one of its packets, in synfin's own bounded
// numbering (include/synfin/abi.h): names as tracefs prints them, the same on any machine that
// replays a recording. Per connection, drops are kept in a few fixed slots.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/event.h"
#include "synfin/abi.h"

namespace synfin::model {

inline constexpr std::size_t kResetReasonCount = SYNFIN_RESET_REASON_COUNT;
inline constexpr std::size_t kDropReasonCount = SYNFIN_DROP_REASON_COUNT;

// "TCP_ABORT_ON_CLOSE", ...; index 0 (the kernel gave none) is "UNKNOWN", a kernel value this
// build does not know is "OTHER"; out of range: empty.
std::string_view reset_reason_name(std::size_t reason);
std::string_view drop_reason_name(std::size_t reason);

// A connection's kernel drops by reason: the first kSlots reasons seen get a slot each, any
// further reason counts in `other`, so a connection's size never depends on what it met.
struct DropCounts {
  static constexpr std::size_t kSlots = 4;
  std::array<uint8_t, kSlots> reasons{};  // synfin drop reasons; 0: slot free
  std::array<uint32_t, kSlots> counts{};
  uint32_t other = 0;

  void add(uint8_t reason);
  uint32_t total() const;
  bool empty() const { return total() == 0; }
};

// Resets sent on this host, remembered for a moment: when both ends of a connection are local
// (loopback, containers of one host), the end that receives a reset learns why it was sent.
class RecentResets {
 public:
  static constexpr std::size_t kCapacity = 64;
  static constexpr uint64_t kWindowNs = 1'000'000'000;  // a local reset lands within this

  void sent(const SocketTuple& from, uint8_t reason, uint64_t ts_ns);
  // The reason of a reset sent by `to`'s remote end towards its local end; 0 when none known.
  uint8_t reason_received(const SocketTuple& to, uint64_t ts_ns) const;
  // A reset reached `cookie` (tuple `to`) before the record of its sending: it waits here.
  void await_reason(uint64_t cookie, const SocketTuple& to, uint64_t ts_ns);
  // The connection waiting for the reason of a reset just sent from `from` (0: none); each
  // waiting connection is returned once.
  uint64_t take_awaiting(const SocketTuple& from, uint64_t ts_ns);

 private:
  struct Entry {
    SocketTuple from;
    uint8_t reason = 0;
    uint64_t ts_ns = 0;
  };
  std::array<Entry, kCapacity> entries_{};
  std::size_t next_ = 0;
  struct Awaiting {
    uint64_t cookie = 0;
    SocketTuple to;
    uint64_t ts_ns = 0;
  };
  std::array<Awaiting, kCapacity> awaiting_{};
  std::size_t next_awaiting_ = 0;
};

}  // namespace synfin::model
