#pragma once
// One socket's life as synfin saw it. Fixed-size so that tracking allocates nothing per event.
#include <array>
#include <cstdint>
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

struct Connection {
  static constexpr std::size_t kMaxHistory = 16;

  uint64_t cookie = 0;
  SocketTuple tuple;
  Role role = Role::Unknown;
  TcpState state = TcpState::Unknown;
  uint64_t first_seen_ns = 0;
  uint64_t state_entered_ns = 0;  // 0 when unknown (seeded from a snapshot)

  std::array<StateVisit, kMaxHistory> history{};
  uint8_t history_length = 0;

  std::optional<Task> owner;

  bool joined_mid_life = false;
  bool events_lost = false;
  bool history_truncated = false;
  bool reset_received = false;
  bool reset_sent = false;
  uint32_t retransmits = 0;
  // The first reset's reason: its own when it sent one, the sender's when a reset from another
  // socket of this host reached it; 0 when the kernel gave none.
  uint8_t reset_reason = 0;
  DropCounts drops;         // packets of this connection the kernel dropped, by reason
  uint64_t bytes_sent = 0;  // as of the latest event or snapshot
  uint64_t bytes_sent_at_state_entry = 0;  // tells an active half-close from an idle one
  bool bytes_known_at_state_entry = false;
  // Seeded from a snapshot taken up to this time: steps stamped earlier may already be
  // reflected in the seeded state, so they reconcile instead of being validated.
  uint64_t seeded_until_ns = 0;
  PacketFacts packets;  // what XDP saw of this connection (empty without --xdp)
  // Compact mode: the kernel keeps this socket's path; its first `path_steps_applied` steps
  // are in `history` already.
  bool has_path = false;
  uint8_t path_steps_applied = 0;
  Reason first_violation = Reason::None;
  TcpState violation_from = TcpState::Unknown;
  TcpState violation_to = TcpState::Unknown;

  bool visited(TcpState wanted) const {
    for (uint8_t i = 0; i < history_length; ++i)
      if (history[i].state == wanted) return true;
    return false;
  }
};

struct Classification {
  Outcome outcome = Outcome::Unknown;
  Verdict verdict = Verdict::Valid;
  Reason reason = Reason::None;
  bool enters_time_wait = false;  // active closer: a TIME_WAIT mini-socket lives on
};

Classification classify(const Connection& connection);

}  // namespace synfin::model
