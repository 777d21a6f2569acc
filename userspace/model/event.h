#pragma once
// Typed events the model consumes: what the decoder makes of a ring-buffer record, or what a
// test or a replay file feeds in. Fixed-size, no heap: the hot path copies them by value.
#include <array>
#include <cstdint>
#include <string_view>

#include "model/tcp_state.h"
#include "synfin/abi.h"

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
  // Network namespace (inode) of the socket; 0 when unknown. The daemon's view of the kernel's
  // socket table covers its own namespace only; tracepoints see every namespace.
  uint32_t netns = 0;
};

struct Task {
  uint32_t pid = 0;  // process id (tgid)
  std::array<char, 16> comm{};

  std::string_view comm_view() const {
    std::size_t length = 0;
    while (length < comm.size() && comm[length] != '\0') ++length;
    return {comm.data(), length};
  }
};

// One per kind of ring-buffer record, in the ABI's numbering (include/synfin/abi.h).
enum class EventKind : uint8_t {
#define SYNFIN_EVENT_KIND(abi, value, cpp, source, layout, origin) cpp = value,
  SYNFIN_RECORD_KINDS(SYNFIN_EVENT_KIND)
#undef SYNFIN_EVENT_KIND
};
inline constexpr std::size_t kEventKindSlots = SYNFIN_EV_TYPE_COUNT;  // index 0 unused

// Sequence numbers of a full socket right after a step (valid == false when not read).
struct SocketSequence {
  bool valid = false;
  uint32_t snd_una = 0;
  uint32_t snd_nxt = 0;
  uint32_t rcv_nxt = 0;
};

// A handshake or teardown packet XDP saw arrive (EventKind::Packet). The event's tuple is
// the receiving socket's view: local = the packet's destination, remote = its source.
struct Packet {
  uint32_t ifindex = 0;
  uint8_t tcp_flags = 0;
  uint8_t flag_class = 0;            // enum synfin_xdp_counter: SYN .. OTHER, as XDP counted it
  bool completes_handshake = false;  // the ACK after a SYN seen on this interface
  TcpState socket_state = TcpState::Unknown;  // of the socket the kernel's lookup found
  bool socket_sequence_valid = false;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint32_t end_seq = 0;  // seq + payload + SYN + FIN
  uint16_t window = 0;
  uint32_t socket_rcv_nxt = 0;
  uint32_t socket_write_seq = 0;  // no valid ACK goes past it
  uint32_t socket_rcv_wnd = 0;
  uint32_t accept_queue = 0;  // SYN to a listener: its accept queue and limit
  uint32_t accept_limit = 0;
  std::array<char, 16> interface_name{};  // EventKind::Interface only

  // Data bytes carried: the sequence space used, less what SYN and FIN consume.
  uint32_t payload_length() const {
    return end_seq - seq - ((tcp_flags & SYNFIN_TCP_SYN) ? 1u : 0u) -
           ((tcp_flags & SYNFIN_TCP_FIN) ? 1u : 0u);
  }

  std::string_view interface_name_view() const {
    std::size_t length = 0;
    while (length < interface_name.size() && interface_name[length] != '\0') ++length;
    return {interface_name.data(), length};
  }
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
  uint64_t bytes_sent = 0;     // the socket's counter at the event (0 when unknown)
  SocketSequence sequence;     // StateChange on a full socket
  // ResetSent: enum synfin_reset_reason; Dropped: enum synfin_drop_reason (0: none given).
  uint8_t reason = 0;
  TcpState socket_state = TcpState::Unknown;  // ResetSent, Dropped: the socket's state then
  bool no_socket = false;                     // ResetSent to a segment no socket matched (cookie 0)
  Packet packet;  // Packet (`cookie` is the socket the kernel found, 0: none) and Interface
};

// A socket's path as the kernel kept it in the daemon's compact mode (EventKind::Path): every
// step since synfin first saw the socket, read when it was destroyed (`ended`) or by a walk of
// the live ones. Slots are filled in order; once full, the last one is reused (`truncated`).
struct PathStep {
  TcpState from = TcpState::Unknown;
  TcpState to = TcpState::Unknown;
  uint64_t ts_ns = 0;
};

struct SocketPath {
  static constexpr std::size_t kMaxSteps = SYNFIN_PATH_STEPS;

  uint64_t cookie = 0;
  uint64_t read_ns = 0;  // when the kernel wrote the record: the end, or the walk
  bool ended = false;
  SocketTuple tuple;
  std::array<PathStep, kMaxSteps> steps{};
  uint8_t step_count = 0;
  bool truncated = false;
  bool owner_known = false;
  bool owner_inherited = false;  // the listener's, cloned with the storage
  Task owner;
  bool reset_sent = false;
  bool reset_received = false;
  uint32_t retransmits = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_sent_at_state_entry = 0;
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
  uint32_t syn_queue = 0;  // LISTEN: handshakes waiting for their last ACK
  uint64_t bytes_sent = 0;
  uint64_t time_wait_reaped_at_ns = 0;  // TIME_WAIT: when the kernel reaps it (monotonic)
  bool has_path = false;  // compact mode: the kernel keeps its path (walk_paths lists it)
  // TIME_WAIT: its mini-socket is still in FIN_WAIT2, waiting for the peer's FIN.
  bool awaiting_peer_fin = false;
};

}  // namespace synfin::model
