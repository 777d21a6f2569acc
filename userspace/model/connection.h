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
  std::array<uint32_t, 13> more_visit_times{};  // visits 3 to 15
  // A visit entered 4.3 s or more after the one before it (or before it) keeps its time here.
  std::array<uint64_t, 16> exact_visit_ns{};

  // Recycled per thread: a busy host's churn reaches malloc only while the pool grows.
  static void* operator new(std::size_t size);
  static void operator delete(void* p) noexcept;
};

// A connection's extras, copied with it (deep), allocated only when first written.
class ExtrasPtr {
 public:
  ExtrasPtr() = default;
  ExtrasPtr(const ExtrasPtr& other)
      : extras_(other.extras_ ? std::make_unique<ConnectionExtras>(*other.extras_) : nullptr) {}
  ExtrasPtr& operator=(const ExtrasPtr& other) {
    if (this != &other) *this = ExtrasPtr(other);
    return *this;
  }
  ExtrasPtr(ExtrasPtr&&) noexcept = default;
  ExtrasPtr& operator=(ExtrasPtr&&) noexcept = default;

  const ConnectionExtras* get() const { return extras_.get(); }
  ConnectionExtras& for_update() {
    if (!extras_) extras_ = std::make_unique<ConnectionExtras>();
    return *extras_;
  }

 private:
  std::unique_ptr<ConnectionExtras> extras_;
};

// Kept by the million in the daemon, so its size is watched (bench/memory_per_connection):
// states are 4 bits each; entry times are nanosecond deltas from the previous visit in 32 bits
// (exact; a gap of 4.3 s or more keeps its time out of line); the owner's name is interned;
// packet facts, drops and long paths live in the extras, allocated only for the connections
// that have them.
class Connection {
 public:
  static constexpr std::size_t kMaxHistory = 16;

  uint64_t cookie = 0;
  uint64_t first_seen_ns = 0;
  SocketTuple tuple;
  uint32_t retransmits = 0;
  Role role = Role::Unknown;
  TcpState state = TcpState::Unknown;
  uint8_t path_steps_applied = 0;  // compact mode: the kernel's path steps in the history
  // The first reset's reason: its own when it sent one, the sender's when a reset from another
  // socket of this host reached it; 0 when the kernel gave none.
  uint8_t reset_reason = 0;
  Reason first_violation = Reason::None;
  TcpState violation_from = TcpState::Unknown;
  TcpState violation_to = TcpState::Unknown;
  bool joined_mid_life : 1 = false;
  bool events_lost : 1 = false;
  bool history_truncated : 1 = false;
  bool reset_received : 1 = false;
  bool reset_sent : 1 = false;
  bool bytes_known_at_state_entry : 1 = false;
  // Seeded from a snapshot taken at first_seen_ns: steps stamped earlier may already be
  // reflected in the seeded state, so they reconcile instead of being validated.
  bool seeded : 1 = false;
  bool has_path : 1 = false;  // compact mode: the kernel keeps this socket's path

  uint64_t seeded_until_ns() const { return seeded ? first_seen_ns : 0; }
  // When the current state was entered; 0 when unknown (seeded from a snapshot).
  uint64_t state_entered_ns() const {
    return history_length_ ? visit(static_cast<uint8_t>(history_length_ - 1)).entered_ns : 0;
  }

  // The socket's bytes-sent counter when it entered its state (its low 32 bits): tells an
  // active half-close from an idle one.
  void set_bytes_sent_at_state_entry(uint64_t bytes) {
    bytes_sent_at_state_entry_ = static_cast<uint32_t>(bytes);
  }
  uint32_t bytes_sent_at_state_entry() const { return bytes_sent_at_state_entry_; }

  bool has_owner() const { return owner_known_; }
  uint32_t owner_pid() const { return owner_known_ ? owner_pid_ : 0; }
  std::string_view owner_comm() const;
  std::optional<Task> owner() const;
  // inherited: the listener's owner, not named by a step of this socket (a pre-forked server's
  // worker may hold it).
  void set_owner(const Task& task, bool inherited = false);
  bool owner_inherited() const { return owner_known_ && owner_inherited_; }
  void clear_owner() { owner_known_ = false; }

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
  PacketFacts& packets_for_update() { return extras_.for_update().packets; }
  const DropCounts& drops() const;
  DropCounts& drops_for_update() { return extras_.for_update().drops; }

 private:
  // A live connection's usual path (CLOSE or LISTEN, SYN_SENT or SYN_RECV, ESTABLISHED) keeps
  // its times inline.
  static constexpr uint8_t kInlineVisitTimes = 3;
  uint32_t visit_time_code(uint8_t index) const;
  void set_visit_time(uint8_t index, uint64_t entered_ns);

  uint64_t history_base_ns_ = 0;  // the first known entry time
  uint64_t history_states_ = 0;   // 4 bits per visit
  uint32_t owner_pid_ = 0;
  uint32_t bytes_sent_at_state_entry_ = 0;
  uint16_t owner_comm_ = 0;     // interned (model/comm_names.h)
  uint16_t unknown_times_ = 0;  // bit per visit entered before tracking began
  uint8_t history_length_ = 0;
  bool owner_known_ = false;
  bool owner_inherited_ = false;
  // Visit i > 0 (when known, and not the first known): its delta from the previous known
  // visit. Index 0 is unused: visit 0 is unknown or the base.
  std::array<uint32_t, kInlineVisitTimes - 1> visit_times_{};
  ExtrasPtr extras_;
};

struct Classification {
  Outcome outcome = Outcome::Unknown;
  Verdict verdict = Verdict::Valid;
  Reason reason = Reason::None;
  bool enters_time_wait = false;  // active closer: a TIME_WAIT mini-socket lives on
};

Classification classify(const Connection& connection);

}  // namespace synfin::model
