#pragma once
// TCP states in the kernel's own numbering (include/net/tcp_states.h), so a state byte from
// BPF maps onto this enum without translation.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace synfin::model {

enum class TcpState : uint8_t {
  Unknown = 0,
  Established = 1,
  SynSent = 2,
  SynRecv = 3,
  FinWait1 = 4,
  FinWait2 = 5,
  TimeWait = 6,
  Close = 7,
  CloseWait = 8,
  LastAck = 9,
  Listen = 10,
  Closing = 11,
  NewSynRecv = 12,
};

inline constexpr std::size_t kTcpStateCount = 13;

constexpr std::size_t index_of(TcpState state) {
  return static_cast<std::size_t>(state);
}

// The name as the kernel spells it without "TCP_" (ESTABLISHED, FIN_WAIT1, ...).
std::string_view state_name(TcpState state);
std::optional<TcpState> parse_state(std::string_view name);
std::optional<TcpState> state_from_kernel(uint8_t value);

// Whether inet_sock_set_state can legitimately report from → to on a full socket.
bool is_legal_transition(TcpState from, TcpState to);

// Every state a full socket is seen in through inet_sock_set_state or the socket table.
inline constexpr std::array<TcpState, 11> kTrackedStates = {
    TcpState::Established, TcpState::SynSent,  TcpState::SynRecv, TcpState::FinWait1,
    TcpState::FinWait2,    TcpState::TimeWait, TcpState::Close,   TcpState::CloseWait,
    TcpState::LastAck,     TcpState::Listen,   TcpState::Closing};

}  // namespace synfin::model
