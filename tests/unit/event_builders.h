#pragma once
// Kernel-shaped event sequences for the model's unit tests: each helper reproduces what
// inet_sock_set_state and the tcp tracepoints report for one side of a scenario (the
// privileged tests verify the same sequences against the real kernel).
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "model/event.h"

namespace synfin::testing {

using model::Event;
using model::EventKind;
using model::TcpState;

inline model::Task task(uint32_t pid, std::string_view comm) {
  model::Task t;
  t.pid = pid;
  std::memcpy(t.comm.data(), comm.data(), std::min(comm.size(), t.comm.size() - 1));
  return t;
}

inline model::SocketTuple loopback_tuple(uint16_t local_port, uint16_t remote_port) {
  model::SocketTuple tuple;
  tuple.local.address = {127, 0, 0, 1};
  tuple.remote.address = {127, 0, 0, 1};
  tuple.local.port = local_port;
  tuple.remote.port = remote_port;
  return tuple;
}

class Sequence {
 public:
  Sequence(uint64_t cookie, model::SocketTuple tuple) : cookie_(cookie), tuple_(tuple) {}

  Sequence& step(TcpState from, TcpState to, model::Task on_cpu = task(0, "swapper/0"),
                 bool task_is_owner = false) {
    Event e = base(EventKind::StateChange);
    e.from = from;
    e.to = to;
    e.task = on_cpu;
    e.task_is_owner = task_is_owner;
    events_.push_back(e);
    return *this;
  }
  Sequence& steps(std::initializer_list<TcpState> states) {
    const TcpState* previous = states.begin();
    for (const TcpState* s = states.begin() + 1; s != states.end(); ++s, ++previous)
      step(*previous, *s);
    return *this;
  }
  Sequence& signal(EventKind kind, model::Task on_cpu = task(0, "swapper/0"),
                   bool task_is_owner = false) {
    Event e = base(kind);
    e.task = on_cpu;
    e.task_is_owner = task_is_owner;
    events_.push_back(e);
    return *this;
  }
  const std::vector<Event>& events() const { return events_; }

 private:
  Event base(EventKind kind) {
    Event e;
    e.kind = kind;
    e.ts_ns = ts_ += 1000;
    e.cookie = cookie_;
    e.tuple = tuple_;
    return e;
  }
  uint64_t cookie_;
  model::SocketTuple tuple_;
  uint64_t ts_ = 1'000'000;
  std::vector<Event> events_;
};

}  // namespace synfin::testing
