#include "model/tcp_state.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace synfin::model {
namespace {

using S = TcpState;

// Every step the kernel's inet_sock_set_state reports on a full socket (the TCP
// life as the tracepoint shows it), each one seen in a privileged test.
const std::set<std::pair<S, S>> kKernelSteps = {
    {S::Close, S::SynSent},
    {S::Close, S::Listen},
    {S::Listen, S::Close},
    {S::Listen, S::SynRecv},
    {S::SynSent, S::Established},
    {S::SynSent, S::SynRecv},
    {S::SynSent, S::Close},
    {S::SynRecv, S::Established},
    {S::SynRecv, S::FinWait1},
    {S::SynRecv, S::Close},
    {S::Established, S::FinWait1},
    {S::Established, S::CloseWait},
    {S::Established, S::Close},
    {S::FinWait1, S::FinWait2},
    {S::FinWait1, S::Closing},
    {S::FinWait1, S::Close},
    {S::FinWait2, S::Close},
    {S::Closing, S::Close},
    {S::CloseWait, S::LastAck},
    {S::CloseWait, S::Close},
    {S::LastAck, S::Close},
    // close() after shutdown(SHUT_WR): tcp_close_state() keeps these states and reports it.
    {S::FinWait1, S::FinWait1},
    {S::FinWait2, S::FinWait2},
    {S::LastAck, S::LastAck},
    {S::Closing, S::Closing},
};

TEST(TcpStateTest, EveryKernelStepIsLegal) {
  for (const auto& [from, to] : kKernelSteps)
    EXPECT_TRUE(is_legal_transition(from, to)) << state_name(from) << "->" << state_name(to);
}

TEST(TcpStateTest, EveryOtherStepIsIllegal) {
  int illegal = 0;
  for (std::size_t from = 0; from < kTcpStateCount; ++from) {
    for (std::size_t to = 0; to < kTcpStateCount; ++to) {
      auto step = std::make_pair(static_cast<S>(from), static_cast<S>(to));
      if (kKernelSteps.count(step)) continue;
      EXPECT_FALSE(is_legal_transition(step.first, step.second))
          << state_name(step.first) << "->" << state_name(step.second);
      ++illegal;
    }
  }
  EXPECT_EQ(illegal, 13 * 13 - 25);
}

TEST(TcpStateTest, TypicalIllegalStepsNamed) {
  EXPECT_FALSE(is_legal_transition(S::Established, S::SynSent));
  EXPECT_FALSE(is_legal_transition(S::FinWait2, S::CloseWait));
  EXPECT_FALSE(is_legal_transition(S::CloseWait, S::FinWait1));
  EXPECT_FALSE(is_legal_transition(S::Close, S::Established));
  EXPECT_FALSE(is_legal_transition(S::LastAck, S::TimeWait));
  EXPECT_FALSE(is_legal_transition(S::FinWait2, S::TimeWait));  // never on a full socket
  EXPECT_FALSE(is_legal_transition(S::Established, S::Established));
}

TEST(TcpStateTest, NamesRoundTripAsTheKernelSpellsThem) {
  for (S state : kTrackedStates) EXPECT_EQ(parse_state(state_name(state)), state);
  EXPECT_EQ(state_name(S::FinWait1), "FIN_WAIT1");
  EXPECT_EQ(state_name(S::CloseWait), "CLOSE_WAIT");
  EXPECT_EQ(state_name(S::SynRecv), "SYN_RECV");
  EXPECT_FALSE(parse_state("TCP_CLOSE").has_value());
  EXPECT_FALSE(state_from_kernel(0).has_value());
  EXPECT_FALSE(state_from_kernel(13).has_value());
  EXPECT_EQ(state_from_kernel(7), S::Close);
}

}  // namespace
}  // namespace synfin::model
