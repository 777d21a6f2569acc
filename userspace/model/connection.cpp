#include "model/connection.h"

#include "model/comm_names.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

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

std::string_view Connection::owner_comm() const {
  return owner_known_ ? comm_name(owner_comm_) : std::string_view{};
}

std::optional<Task> Connection::owner() const {
  if (!owner_known_) return std::nullopt;
  Task task;
  task.pid = owner_pid_;
  std::string_view name = comm_name(owner_comm_);
  std::memcpy(task.comm.data(), name.data(), std::min(name.size(), task.comm.size() - 1));
  return task;
}

void Connection::set_owner(const Task& task, bool inherited) {
  owner_pid_ = task.pid;
  owner_comm_ = intern_comm(task.comm);
  owner_known_ = true;
  owner_inherited_ = inherited;
}

const PacketFacts& Connection::packets() const {
  return extras_.get() ? extras_.get()->packets : kNoExtras.packets;
}

const DropCounts& Connection::drops() const {
  return extras_.get() ? extras_.get()->drops : kNoExtras.drops;
}

uint32_t Connection::visit_time_code(uint8_t index) const {
  if (index < kInlineVisitTimes) return visit_times_[index - 1];
  return extras_.get() ? extras_.get()->more_visit_times[index - kInlineVisitTimes] : 0;
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
      at = code == kTimeOutOfLine ? extras_.get()->exact_visit_ns[i] : at + code;
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
    extras_.for_update().exact_visit_ns[index] = entered_ns;
  if (index < kInlineVisitTimes)
    visit_times_[index - 1] = code;
  else
    extras_.for_update().more_visit_times[index - kInlineVisitTimes] = code;
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
