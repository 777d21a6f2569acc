#include "model/tcp_state.h"

#include "synfin/tcp_life.h"

namespace synfin::model {

namespace {
constexpr std::array<std::string_view, kTcpStateCount> kNames = {
    "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
    "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};

struct Step {
  TcpState from;
  TcpState to;
};
// The one table of legal steps, shared with the BPF programs that check them in the kernel.
constexpr Step kLegalSteps[] = {
#define SYNFIN_STEP_ENTRY(from, to) \
  {static_cast<TcpState>(SYNFIN_TCP_##from), static_cast<TcpState>(SYNFIN_TCP_##to)},
    SYNFIN_LEGAL_STEPS(SYNFIN_STEP_ENTRY)
#undef SYNFIN_STEP_ENTRY
};

constexpr auto build_table() {
  std::array<std::array<bool, kTcpStateCount>, kTcpStateCount> table{};
  for (const Step& step : kLegalSteps) table[index_of(step.from)][index_of(step.to)] = true;
  return table;
}
constexpr auto kLegalTable = build_table();
}  // namespace

std::string_view state_name(TcpState state) {
  std::size_t index = index_of(state);
  return index < kNames.size() ? kNames[index] : kNames[0];
}

std::optional<TcpState> parse_state(std::string_view name) {
  for (std::size_t i = 1; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<TcpState>(i);
  return std::nullopt;
}

std::optional<TcpState> state_from_kernel(uint8_t value) {
  if (value == 0 || value >= kTcpStateCount) return std::nullopt;
  return static_cast<TcpState>(value);
}

bool is_legal_transition(TcpState from, TcpState to) {
  return kLegalTable[index_of(from)][index_of(to)];
}

// The kernel numbering is the enum's: a state byte from BPF needs no translation.
static_assert(index_of(TcpState::Established) == SYNFIN_TCP_ESTABLISHED);
static_assert(index_of(TcpState::SynSent) == SYNFIN_TCP_SYN_SENT);
static_assert(index_of(TcpState::SynRecv) == SYNFIN_TCP_SYN_RECV);
static_assert(index_of(TcpState::FinWait1) == SYNFIN_TCP_FIN_WAIT1);
static_assert(index_of(TcpState::FinWait2) == SYNFIN_TCP_FIN_WAIT2);
static_assert(index_of(TcpState::TimeWait) == SYNFIN_TCP_TIME_WAIT);
static_assert(index_of(TcpState::Close) == SYNFIN_TCP_CLOSE);
static_assert(index_of(TcpState::CloseWait) == SYNFIN_TCP_CLOSE_WAIT);
static_assert(index_of(TcpState::LastAck) == SYNFIN_TCP_LAST_ACK);
static_assert(index_of(TcpState::Listen) == SYNFIN_TCP_LISTEN);
static_assert(index_of(TcpState::Closing) == SYNFIN_TCP_CLOSING);
static_assert(index_of(TcpState::NewSynRecv) == SYNFIN_TCP_NEW_SYN_RECV);
static_assert(kTcpStateCount <= SYNFIN_TCP_STATE_SLOTS);

}  // namespace synfin::model
