#pragma once
// One socket's life as synfin saw it. Fixed-size so that tracking allocates nothing per event.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "model/event.h"
#include "model/packet_view.h"
#include "model/reasons.h"
#include "model/tcp_state.h"

namespace synfin::model {

enum class Role : uint8_t { Unknown, Client, Server, Listener };

enum class Outcome : uint8_t {
  ActiveClose,
  PassiveClose,
  SimultaneousClose,
  ResetReceived,
  ResetSent,
  Refused,
  HandshakeTimeout,
  Aborted,
  Unknown,
  ListenerClosed,  // not a connection: a listening socket went away
};
inline constexpr std::size_t kOutcomeCount = 10;

enum class Verdict : uint8_t { Valid, Invalid, Incomplete };

// Why a sequence is not valid; bounded so it can label a metric.
enum class Reason : uint8_t {
  None,
  IllegalTransition,  // invalid: a step the TCP state machine does not allow
  Discontinuity,      // incomplete: a step that does not start where the last one ended — the
                      // kernel always reports the state it leaves, so a step was missed
  JoinedMidLife,      // incomplete: tracking began after the socket was born
  EventsLost,         // incomplete: records were lost while the socket was open
  HistoryTruncated,   // incomplete: more steps than the history keeps
};
inline constexpr std::size_t kReasonCount = 6;

std::string_view role_name(Role role);
std::string_view outcome_name(Outcome outcome);
std::string_view verdict_name(Verdict verdict);
std::string_view reason_name(Reason reason);

struct StateVisit {
  TcpState state = TcpState::Unknown;
  uint64_t entered_ns = 0;  // 0: entered before tracking began
};

// What few connections need: kept out of line so that a tracked connection stays small.
struct ConnectionExtras {
  PacketFacts packets;  // what XDP saw of this connection
  DropCounts drops;     // packets of this connection the kernel dropped, by reason
  // Entry times of the visits past the ones a connection keeps inline (long paths only).
  std::array<uint32_t, 12> more_visit_times{};  // visits 4 to 15
  // A visit entered 4.3 s or more after the one before it (or before it) keeps its time here.
  std::array<uint64_t, 16> exact_visit_ns{};

  // Recycled per thread: a busy host's churn reaches malloc only while the pool grows.
  static void* operator new(std::size_t size);
  static void operator delete(void* p) noexcept;
};

// Kept by the million in the daemon, so its size is watched (bench/memory_per_connection):
// states are 4 bits each; entry times are nanosecond deltas from the previous visit in 32 bits
// (exact; a gap of 4.3 s or more keeps its time out of line); packet facts, drops and long
// paths live in `extras`, allocated only for the connections that have them.
class Connection {
 public:
  static constexpr std::size_t kMaxHistory = 16;

  uint64_t cookie = 0;
  uint64_t first_seen_ns = 0;
  uint64_t state_entered_ns = 0;  // 0 when unknown (seeded from a snapshot)
  uint64_t bytes_sent_at_state_entry = 0;  // tells an active half-close from an idle one
  SocketTuple tuple;
  std::optional<Task> owner;
  uint32_t retransmits = 0;
  Role role = Role::Unknown;
  TcpState state = TcpState::Unknown;
  bool joined_mid_life = false;
  bool events_lost = false;
  bool history_truncated = false;
  bool reset_received = false;
  bool reset_sent = false;
  bool bytes_known_at_state_entry = false;
  // Seeded from a snapshot taken at first_seen_ns: steps stamped earlier may already be
  // reflected in the seeded state, so they reconcile instead of being validated.
  bool seeded = false;
  // Compact mode: the kernel keeps this socket's path; its first `path_steps_applied` steps
  // are in the history already.
  bool has_path = false;
  uint8_t path_steps_applied = 0;
  // The first reset's reason: its own when it sent one, the sender's when a reset from another
  // socket of this host reached it; 0 when the kernel gave none.
  uint8_t reset_reason = 0;
  Reason first_violation = Reason::None;
  TcpState violation_from = TcpState::Unknown;
  TcpState violation_to = TcpState::Unknown;

  uint64_t seeded_until_ns() const { return seeded ? first_seen_ns : 0; }

  // The states visited, in order, with their entry times.
  uint8_t history_length() const { return history_length_; }
  StateVisit visit(uint8_t index) const;
  TcpState visit_state(uint8_t index) const {
    return static_cast<TcpState>((history_states_ >> (4 * index)) & 0xF);
  }
  // Appends a visit; once kMaxHistory are kept the last one is replaced and the history is
  // marked truncated.
  void push_visit(TcpState state, uint64_t entered_ns);
  void set_visit_state(uint8_t index, TcpState state);
  bool visited(TcpState wanted) const;

  const PacketFacts& packets() const;
  PacketFacts& packets_for_update() { return extras_for_update().packets; }
  const DropCounts& drops() const;
  DropCounts& drops_for_update() { return extras_for_update().drops; }

  Connection() = default;
  Connection(const Connection& other);
  Connection& operator=(const Connection& other);
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

 private:
  static constexpr uint8_t kInlineVisitTimes = 4;  // a live connection's usual path
  ConnectionExtras& extras_for_update();
  uint32_t visit_time_code(uint8_t index) const;
  void set_visit_time(uint8_t index, uint64_t entered_ns);

  uint64_t history_base_ns_ = 0;  // the first known entry time
  uint64_t history_states_ = 0;   // 4 bits per visit
  // Visit i > 0 (when known, and not the first known): its delta from the previous known
  // visit, encoded. Index 0 is unused: visit 0 is unknown or the base.
  std::array<uint32_t, kInlineVisitTimes - 1> visit_times_{};
  uint16_t unknown_times_ = 0;  // bit per visit entered before tracking began
  uint8_t history_length_ = 0;
  std::unique_ptr<ConnectionExtras> extras_;
};

struct Classification {
  Outcome outcome = Outcome::Unknown;
  Verdict verdict = Verdict::Valid;
  Reason reason = Reason::None;
  bool enters_time_wait = false;  // active closer: a TIME_WAIT mini-socket lives on
};

Classification classify(const Connection& connection);

}  // namespace synfin::model
