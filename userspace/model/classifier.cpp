#include <array>

#include "model/connection.h"

namespace synfin::model {

namespace {
constexpr std::array<std::string_view, 4> kRoleNames = {"unknown", "client", "server", "listener"};
constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames = {
    "active_close", "passive_close",  "simultaneous_close", "reset_received",
    "reset_sent",   "refused",        "handshake_timeout",  "aborted",
    "unknown",      "listener_closed"};
constexpr std::array<std::string_view, 3> kVerdictNames = {"valid", "invalid", "incomplete"};
constexpr std::array<std::string_view, kReasonCount> kReasonNames = {
    "none",        "illegal_transition", "discontinuity", "joined_mid_life",
    "events_lost", "history_truncated"};

TcpState last_state_before_close(const Connection& c) {
  if (c.history_length() >= 2 && c.visit_state(c.history_length() - 1) == TcpState::Close)
    return c.visit_state(c.history_length() - 2);
  return TcpState::Unknown;
}

// A socket seeded mid-life may never show ESTABLISHED itself, only a state after it.
bool was_established(const Connection& c) {
  for (TcpState s : {TcpState::Established, TcpState::FinWait1, TcpState::FinWait2,
                     TcpState::Closing, TcpState::CloseWait, TcpState::LastAck})
    if (c.visited(s)) return true;
  return false;
}

Outcome classify_outcome(const Connection& c) {
  if (c.role == Role::Listener) return Outcome::ListenerClosed;
  if (!was_established(c)) {
    if (c.reset_received)
      return c.visited(TcpState::SynSent) ? Outcome::Refused : Outcome::ResetReceived;
    if (c.visited(TcpState::SynSent) && c.retransmits > 0) return Outcome::HandshakeTimeout;
    return Outcome::Aborted;
  }
  if (c.reset_received) return Outcome::ResetReceived;
  TcpState before_close = last_state_before_close(c);
  bool orderly_end = before_close == TcpState::FinWait2 || before_close == TcpState::Closing ||
                     before_close == TcpState::LastAck;
  if (c.reset_sent && !orderly_end) return Outcome::ResetSent;
  if (c.visited(TcpState::Closing)) return Outcome::SimultaneousClose;
  if (c.visited(TcpState::FinWait1) || c.visited(TcpState::FinWait2)) return Outcome::ActiveClose;
  if (c.visited(TcpState::CloseWait)) return Outcome::PassiveClose;
  if (before_close == TcpState::Established) return Outcome::Aborted;
  return Outcome::Unknown;
}
}  // namespace

std::string_view role_name(Role role) {
  return kRoleNames[static_cast<std::size_t>(role)];
}
std::string_view outcome_name(Outcome o) {
  return kOutcomeNames[static_cast<std::size_t>(o)];
}
std::string_view verdict_name(Verdict v) {
  return kVerdictNames[static_cast<std::size_t>(v)];
}
std::string_view reason_name(Reason r) {
  return kReasonNames[static_cast<std::size_t>(r)];
}

Classification classify(const Connection& c) {
  Classification result;
  result.outcome = classify_outcome(c);
  TcpState before_close = last_state_before_close(c);
  result.enters_time_wait =
      !c.reset_received && !c.reset_sent &&
      (before_close == TcpState::FinWait2 || before_close == TcpState::Closing);
  // Missing history makes a sequence incomplete, never invalid: only a step the kernel itself
  // reported (both of its ends in one record) can be illegal. A gap between two steps means
  // synfin missed one — whether or not a loss was noticed (it may have happened before the
  // socket was first seen, or while the table was full).
  if (c.first_violation == Reason::IllegalTransition) {
    result.verdict = Verdict::Invalid;
    result.reason = c.first_violation;
  } else if (c.first_violation == Reason::Discontinuity) {
    result.verdict = Verdict::Incomplete;
    result.reason = c.events_lost ? Reason::EventsLost : Reason::Discontinuity;
  } else if (c.events_lost) {
    result.verdict = Verdict::Incomplete;
    result.reason = Reason::EventsLost;
  } else if (c.joined_mid_life) {
    result.verdict = Verdict::Incomplete;
    result.reason = Reason::JoinedMidLife;
  } else if (c.history_truncated) {
    result.verdict = Verdict::Incomplete;
    result.reason = Reason::HistoryTruncated;
  }
  return result;
}

}  // namespace synfin::model
