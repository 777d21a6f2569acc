#include "model/connection.h"

#include <climits>
#include <cstdint>

namespace synfin::model {

namespace {
// A visit's entry time: its nanosecond delta from the previous known visit, or this code when
// the delta does not fit (the time is then kept in the extras).
constexpr uint32_t kTimeOutOfLine = UINT32_MAX;

struct ExtrasFreeList {
  void* head = nullptr;
  ~ExtrasFreeList() {
    while (head) {
      void* next = *static_cast<void**>(head);
      ::operator delete(head);
      head = next;
    }
  }
};
thread_local ExtrasFreeList extras_free_list;

const ConnectionExtras kNoExtras{};
}  // namespace

void* ConnectionExtras::operator new(std::size_t size) {
  if (void* p = extras_free_list.head; p && size == sizeof(ConnectionExtras)) {
    extras_free_list.head = *static_cast<void**>(p);
    return p;
  }
  return ::operator new(size);
}

void ConnectionExtras::operator delete(void* p) noexcept {
  if (!p) return;
  *static_cast<void**>(p) = extras_free_list.head;
  extras_free_list.head = p;
}

Connection::Connection(const Connection& other)
    : cookie(other.cookie),
      first_seen_ns(other.first_seen_ns),
      state_entered_ns(other.state_entered_ns),
      bytes_sent_at_state_entry(other.bytes_sent_at_state_entry),
      tuple(other.tuple),
      owner(other.owner),
      retransmits(other.retransmits),
      role(other.role),
      state(other.state),
      joined_mid_life(other.joined_mid_life),
      events_lost(other.events_lost),
      history_truncated(other.history_truncated),
      reset_received(other.reset_received),
      reset_sent(other.reset_sent),
      bytes_known_at_state_entry(other.bytes_known_at_state_entry),
      seeded(other.seeded),
      has_path(other.has_path),
      path_steps_applied(other.path_steps_applied),
      reset_reason(other.reset_reason),
      first_violation(other.first_violation),
      violation_from(other.violation_from),
      violation_to(other.violation_to),
      history_base_ns_(other.history_base_ns_),
      history_states_(other.history_states_),
      visit_times_(other.visit_times_),
      unknown_times_(other.unknown_times_),
      history_length_(other.history_length_),
      extras_(other.extras_ ? std::make_unique<ConnectionExtras>(*other.extras_) : nullptr) {}

Connection& Connection::operator=(const Connection& other) {
  if (this != &other) *this = Connection(other);
  return *this;
}

const PacketFacts& Connection::packets() const {
  return extras_ ? extras_->packets : kNoExtras.packets;
}

const DropCounts& Connection::drops() const {
  return extras_ ? extras_->drops : kNoExtras.drops;
}

ConnectionExtras& Connection::extras_for_update() {
  if (!extras_) extras_ = std::make_unique<ConnectionExtras>();
  return *extras_;
}

uint32_t Connection::visit_time_code(uint8_t index) const {
  if (index < kInlineVisitTimes) return visit_times_[index - 1];
  return extras_ ? extras_->more_visit_times[index - kInlineVisitTimes] : 0;
}

StateVisit Connection::visit(uint8_t index) const {
  StateVisit result{visit_state(index), 0};
  if (index >= history_length_ || (unknown_times_ >> index & 1)) return result;
  bool base_seen = false;
  uint64_t at = history_base_ns_;
  for (uint8_t i = 0; i <= index; ++i) {
    if (unknown_times_ >> i & 1) continue;
    if (base_seen) {
      uint32_t code = visit_time_code(i);
      at = code == kTimeOutOfLine ? extras_->exact_visit_ns[i] : at + code;
    }
    base_seen = true;
  }
  result.entered_ns = at;
  return result;
}

void Connection::set_visit_time(uint8_t index, uint64_t entered_ns) {
  uint16_t bit = static_cast<uint16_t>(1u << index);
  unknown_times_ &= static_cast<uint16_t>(~bit);
  if (entered_ns == 0) {
    unknown_times_ |= bit;
    return;
  }
  // The previous known visit, as decoded: errors of a coarse unit never add up.
  int previous = index - 1;
  while (previous >= 0 && (unknown_times_ >> previous & 1)) --previous;
  if (previous < 0) {
    history_base_ns_ = entered_ns;
    return;
  }
  uint64_t from = visit(static_cast<uint8_t>(previous)).entered_ns;
  uint32_t code = kTimeOutOfLine;
  if (entered_ns >= from && entered_ns - from < kTimeOutOfLine)
    code = static_cast<uint32_t>(entered_ns - from);
  else
    extras_for_update().exact_visit_ns[index] = entered_ns;
  if (index < kInlineVisitTimes)
    visit_times_[index - 1] = code;
  else
    extras_for_update().more_visit_times[index - kInlineVisitTimes] = code;
}

void Connection::push_visit(TcpState visited_state, uint64_t entered_ns) {
  uint8_t index = history_length_;
  if (index == kMaxHistory) {
    history_truncated = true;
    index = kMaxHistory - 1;
  } else {
    ++history_length_;
  }
  set_visit_state(index, visited_state);
  set_visit_time(index, entered_ns);
}

void Connection::set_visit_state(uint8_t index, TcpState visited_state) {
  unsigned shift = 4 * index;
  history_states_ = (history_states_ & ~(0xFull << shift)) |
                    (static_cast<uint64_t>(visited_state) & 0xF) << shift;
}

bool Connection::visited(TcpState wanted) const {
  for (uint8_t i = 0; i < history_length_; ++i)
    if (visit_state(i) == wanted) return true;
  return false;
}

}  // namespace synfin::model
