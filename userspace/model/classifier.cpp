#include <array>

#include "model/connection.h"
#include "synfin/tcp_life.h"

namespace synfin::model {

namespace {
#define SYNFIN_LABEL(name, label) label,
constexpr std::array<std::string_view, 4> kRoleNames = {SYNFIN_ROLES(SYNFIN_LABEL)};
constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames = {
    SYNFIN_OUTCOMES(SYNFIN_LABEL)};
constexpr std::array<std::string_view, 3> kVerdictNames = {SYNFIN_VERDICTS(SYNFIN_LABEL)};
constexpr std::array<std::string_view, kReasonCount> kReasonNames = {
    SYNFIN_VERDICT_REASONS(SYNFIN_LABEL)};
#undef SYNFIN_LABEL

// The model's enums are the shared ones: the kernel's counts index by the same numbers.
static_assert(kOutcomeCount == SYNFIN_OUTCOME_COUNT);
static_assert(static_cast<int>(Outcome::ListenerClosed) == SYNFIN_OUTCOME_LISTENER_CLOSED);
static_assert(static_cast<int>(Outcome::ActiveClose) == SYNFIN_OUTCOME_ACTIVE_CLOSE);
static_assert(static_cast<int>(Outcome::Aborted) == SYNFIN_OUTCOME_ABORTED);
static_assert(static_cast<int>(Verdict::Incomplete) == SYNFIN_VERDICT_INCOMPLETE);
static_assert(kReasonCount == SYNFIN_VERDICT_REASON_COUNT);
static_assert(static_cast<int>(Reason::HistoryTruncated) == SYNFIN_REASON_HISTORY_TRUNCATED);
static_assert(static_cast<int>(Role::Listener) == SYNFIN_ROLE_LISTENER);
static_assert(static_cast<int>(Role::Server) == SYNFIN_ROLE_SERVER);

TcpState last_state_before_close(const Connection& c) {
  if (c.history_length() >= 2 && c.visit_state(c.history_length() - 1) == TcpState::Close)
    return c.visit_state(c.history_length() - 2);
  return TcpState::Unknown;
}

// The facts the shared classifier (synfin/tcp_life.h) judges, as the model kept them.
synfin_close_facts facts_of(const Connection& c) {
  synfin_close_facts facts{};
  for (uint8_t i = 0; i < c.history_length(); ++i)
    facts.visited =
        static_cast<uint16_t>(facts.visited | SYNFIN_STATE_BIT(index_of(c.visit_state(i))));
  facts.before_close = static_cast<uint8_t>(index_of(last_state_before_close(c)));
  facts.role = static_cast<uint8_t>(c.role);
  facts.reset_received = c.reset_received;
  facts.reset_sent = c.reset_sent;
  facts.retransmitted = c.retransmits > 0;
  return facts;
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
  synfin_close_facts facts = facts_of(c);
  result.outcome = static_cast<Outcome>(synfin_classify_outcome(&facts));
  result.enters_time_wait = synfin_enters_time_wait(&facts) != 0;
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
