#include "model/tcp_state.h"

namespace synfin::model {

namespace {
constexpr std::array<std::string_view, kTcpStateCount> kNames = {
    "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
    "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};

using S = TcpState;
struct Step {
  TcpState from;
  TcpState to;
};
// Every step the kernel makes on a full socket through tcp_set_state()/inet_sk_set_state().
// TIME_WAIT never appears: the full socket goes to CLOSE and a mini-socket takes over.
constexpr Step kLegalSteps[] = {
    {S::Close, S::SynSent},          // connect()
    {S::Close, S::Listen},           // listen()
    {S::Listen, S::Close},           // listener closed
    {S::Listen, S::SynRecv},         // child cloned from the listener on the final ACK
    {S::SynSent, S::Established},    // SYN+ACK received
    {S::SynSent, S::SynRecv},        // simultaneous open
    {S::SynSent, S::Close},          // refused, timed out, or aborted by the application
    {S::SynRecv, S::Established},    // handshake completes
    {S::SynRecv, S::FinWait1},       // closed before the final ACK (TCP Fast Open)
    {S::SynRecv, S::Close},          // reset during the handshake
    {S::Established, S::FinWait1},   // we close first
    {S::Established, S::CloseWait},  // peer's FIN
    {S::Established, S::Close},      // reset, abort, or retransmission timeout
    {S::FinWait1, S::FinWait2},      // our FIN acknowledged
    {S::FinWait1, S::Closing},       // peer's FIN crossed ours
    {S::FinWait1, S::Close},         // reset or orphan timeout
    {S::FinWait2, S::Close},         // peer's FIN: full socket handed over to TIME_WAIT
    {S::Closing, S::Close},          // ACK of our FIN: on to TIME_WAIT
    {S::CloseWait, S::LastAck},      // application finally closes
    {S::CloseWait, S::Close},        // closed with unread data (reset) or peer reset
    {S::LastAck, S::Close},          // our FIN acknowledged
    // close() after shutdown(SHUT_WR): tcp_close_state() maps these states to themselves and
    // tcp_set_state() reports the step anyway (new_state[] in net/ipv4/tcp.c).
    {S::FinWait1, S::FinWait1},
    {S::FinWait2, S::FinWait2},
    {S::LastAck, S::LastAck},
    {S::Closing, S::Closing},
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

}  // namespace synfin::model
