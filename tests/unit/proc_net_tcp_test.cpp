// /proc/PID/net/tcp{,6} lines as a little-endian kernel prints them (taken from a real host),
// and what is not one.
#include "model/proc_net_tcp.h"

#include <gtest/gtest.h>

#include <bit>

namespace synfin::model {
namespace {

using A = AddressFamily;

TEST(ProcNetTcpTest, AListenerAnEstablishedSocketAndAMiniSocket) {
  if constexpr (std::endian::native != std::endian::little) GTEST_SKIP() << "lines of an x86 host";
  auto listener = parse_proc_net_tcp_line(
      "   0: 00000000:07E8 00000000:0000 0A 00000000:00000080 00:00000000 00000000     0        0 "
      "153 1 00000000c3190ea6 100 0 0 10 0",
      A::IPv4);
  ASSERT_TRUE(listener);
  EXPECT_EQ(listener->state, TcpState::Listen);
  EXPECT_EQ(listener->tuple.local.port, 2024);
  EXPECT_EQ(listener->recv_queue_bytes, 0x80u);
  EXPECT_EQ(listener->inode, 153u);
  EXPECT_EQ(listener->cookie, 0u);

  auto close_wait = parse_proc_net_tcp_line(
      "   4: 0100007F:48D9 0100007F:B3F0 08 0000000A:00000002 00:00000000 00000000     0        0 "
      "987654 1 0000000000000000 20 4 30 10 -1",
      A::IPv4);
  ASSERT_TRUE(close_wait);
  EXPECT_EQ(close_wait->state, TcpState::CloseWait);
  EXPECT_EQ(close_wait->tuple.local.address[0], 127);
  EXPECT_EQ(close_wait->tuple.local.address[3], 1);
  EXPECT_EQ(close_wait->tuple.local.port, 18649);
  EXPECT_EQ(close_wait->tuple.remote.port, 46064);
  EXPECT_EQ(close_wait->send_queue_bytes, 10u);
  EXPECT_EQ(close_wait->recv_queue_bytes, 2u);
  EXPECT_EQ(close_wait->inode, 987654u);

  auto v6 = parse_proc_net_tcp_line(
      "   0: 00000000000000000000000001000000:490D 00000000000000000000000001000000:EDCC 06 "
      "00000000:00000000 03:00000E82 00000000     0        0 0 3 0000000001a1b9bd",
      A::IPv6);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->state, TcpState::TimeWait);
  EXPECT_EQ(v6->tuple.local.address[15], 1);  // ::1
  EXPECT_EQ(v6->tuple.local.address[0], 0);
  EXPECT_EQ(v6->tuple.local.port, 0x490D);
  EXPECT_EQ(v6->inode, 0u);
}

TEST(ProcNetTcpTest, HeadersAndMalformedLinesAreNoSockets) {
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode",
      A::IPv4));
  EXPECT_FALSE(parse_proc_net_tcp_line("", A::IPv4));
  EXPECT_FALSE(parse_proc_net_tcp_line("   0: 0100007F:48D9", A::IPv4));
  // An IPv6 line read as IPv4 and the reverse: the address widths do not fit.
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "   0: 00000000000000000000000001000000:490D 00000000000000000000000001000000:EDCC 06 "
      "00000000:00000000 03:00000E82 00000000     0        0 0 3 0",
      A::IPv4));
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "   0: 0100007F:48D9 0100007F:B3F0 08 0000000A:00000002 00:00000000 00000000 0 0 9 1",
      A::IPv6));
  // A state the kernel does not have, queues without their colon, an inode that is not decimal.
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "   0: 0100007F:48D9 0100007F:B3F0 FF 0000000A:00000002 00:00000000 00000000 0 0 9 1",
      A::IPv4));
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "   0: 0100007F:48D9 0100007F:B3F0 08 0000000A00000002 00:00000000 00000000 0 0 9 1",
      A::IPv4));
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "   0: 0100007F:48D9 0100007F:B3F0 08 0000000A:00000002 00:00000000 00000000 0 0 9x 1",
      A::IPv4));
  EXPECT_FALSE(parse_proc_net_tcp_line(
      "   0: 0100007G:48D9 0100007F:B3F0 08 0000000A:00000002 00:00000000 00000000 0 0 9 1",
      A::IPv4));
}

TEST(ProcNetTcpTest, SameEndsComparesFamilyAddressesAndPorts) {
  SocketTuple a;
  a.local.address = {127, 0, 0, 1};
  a.remote.address = {127, 0, 0, 1};
  a.local.port = 80;
  a.remote.port = 5000;
  SocketTuple b = a;
  b.netns = 12345;  // not an end
  EXPECT_TRUE(same_ends(a, b));
  b.remote.port = 5001;
  EXPECT_FALSE(same_ends(a, b));
  b = a;
  b.family = AddressFamily::IPv6;
  EXPECT_FALSE(same_ends(a, b));
  b = a;
  b.remote.address[3] = 2;
  EXPECT_FALSE(same_ends(a, b));
}

}  // namespace
}  // namespace synfin::model
