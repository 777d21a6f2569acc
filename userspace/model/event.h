#pragma once
// Typed events the model consumes: what the decoder makes of a ring-buffer record, or what a
// test or a replay file feeds in. Fixed-size, no heap: the hot path copies them by value.
#include <array>
#include <cstdint>
#include <string_view>

#include "model/tcp_state.h"

namespace synfin::model {

enum class AddressFamily : uint8_t { IPv4 = 4, IPv6 = 6 };

struct Endpoint {
  std::array<uint8_t, 16> address{};  // IPv4 in the first four bytes, network order
  uint16_t port = 0;

  bool operator==(const Endpoint&) const = default;
};

struct SocketTuple {
  AddressFamily family = AddressFamily::IPv4;
  Endpoint local;
  Endpoint remote;
};

struct Task {
  uint32_t pid = 0;  // process id (tgid)
  std::array<char, 16> comm{};
  uint64_t cgroup_id = 0;

  std::string_view comm_view() const {
    std::size_t length = 0;
    while (length < comm.size() && comm[length] != '\0') ++length;
    return {comm.data(), length};
  }
};

enum class EventKind : uint8_t {
  StateChange,
  Retransmit,
  SynAckRetransmit,
  ResetSent,
  ResetReceived,
  Destroyed,
  Accepted,
  Untracked,  // filtered out once its ports were known: forget it, report nothing
};

struct Event {
  EventKind kind = EventKind::StateChange;
  uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
  uint64_t cookie = 0;
  SocketTuple tuple;
  TcpState from = TcpState::Unknown;  // StateChange only
  TcpState to = TcpState::Unknown;
  Task task;                   // the task on the CPU when the hook ran
  bool task_is_owner = false;  // true where the hook runs in the owner's own context
  uint64_t bytes_sent = 0;     // the socket's counters at the event (0 when unknown)
  uint64_t bytes_received = 0;
};

// One socket of the kernel's table (iter/tcp), as the startup snapshot and reconciliation
// see it. TIME_WAIT mini-sockets included.
struct KernelSocket {
  uint64_t cookie = 0;
  SocketTuple tuple;
  TcpState state = TcpState::Unknown;
  uint64_t inode = 0;  // 0 for TIME_WAIT and orphaned sockets
  uint32_t recv_queue_bytes = 0;
  uint32_t send_queue_bytes = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t time_wait_remaining_ns = 0;  // TIME_WAIT: until the kernel reaps it
};

}  // namespace synfin::model
