#include "model/reasons.h"

namespace synfin::model {

namespace {
constexpr std::array<std::string_view, kResetReasonCount> kResetNames = {
    "UNKNOWN",
#define SYNFIN_RESET_NAME(name) #name,
    SYNFIN_RESET_REASONS(SYNFIN_RESET_NAME)
#undef SYNFIN_RESET_NAME
        "OTHER"};

constexpr std::array<std::string_view, kDropReasonCount> kDropNames = {
    "UNKNOWN",
#define SYNFIN_DROP_NAME(name) #name,
    SYNFIN_DROP_REASONS(SYNFIN_DROP_NAME)
#undef SYNFIN_DROP_NAME
        "OTHER"};
}  // namespace

std::string_view reset_reason_name(std::size_t reason) {
  return reason < kResetNames.size() ? kResetNames[reason] : std::string_view{};
}

std::string_view drop_reason_name(std::size_t reason) {
  return reason < kDropNames.size() ? kDropNames[reason] : std::string_view{};
}

void DropCounts::add(uint8_t reason) {
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (reasons[i] == reason && counts[i]) {
      ++counts[i];
      return;
    }
    if (counts[i] == 0) {
      reasons[i] = reason;
      counts[i] = 1;
      return;
    }
  }
  ++other;
}

uint32_t DropCounts::total() const {
  uint32_t sum = other;
  for (uint32_t count : counts) sum += count;
  return sum;
}

void RecentResets::sent(const SocketTuple& from, uint8_t reason, uint64_t ts_ns) {
  entries_[next_] = {from, reason, ts_ns};
  next_ = (next_ + 1) % entries_.size();
}

uint8_t RecentResets::reason_received(const SocketTuple& to, uint64_t ts_ns) const {
  // Newest first: a port reused within the window names its latest reset.
  for (std::size_t n = 1; n <= entries_.size(); ++n) {
    const Entry& e = entries_[(next_ + entries_.size() - n) % entries_.size()];
    if (e.ts_ns == 0 || e.ts_ns > ts_ns || ts_ns - e.ts_ns > kWindowNs) continue;
    if (e.from.family == to.family && e.from.local == to.remote && e.from.remote == to.local)
      return e.reason;
  }
  return 0;
}

void RecentResets::await_reason(uint64_t cookie, const SocketTuple& to, uint64_t ts_ns) {
  awaiting_[next_awaiting_] = {cookie, to, ts_ns};
  next_awaiting_ = (next_awaiting_ + 1) % awaiting_.size();
}

uint64_t RecentResets::take_awaiting(const SocketTuple& from, uint64_t ts_ns) {
  for (Awaiting& a : awaiting_) {
    if (a.cookie == 0 || a.ts_ns > ts_ns + kWindowNs || ts_ns > a.ts_ns + kWindowNs) continue;
    if (a.to.family == from.family && a.to.local == from.remote && a.to.remote == from.local) {
      uint64_t cookie = a.cookie;
      a.cookie = 0;
      return cookie;
    }
  }
  return 0;
}

}  // namespace synfin::model
