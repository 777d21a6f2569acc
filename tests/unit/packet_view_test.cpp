// The packet view joined to the socket view: pending SYNs, their fates, the handshake and
// teardown arithmetic checks in either arrival order, and the timings only packets give.
#include <gtest/gtest.h>

#include <vector>

#include "event_builders.h"
#include "model/connection_table.h"
#include "model/packet_checks.h"

namespace synfin::model {
namespace {

using testing::loopback_tuple;

class PacketObserver : public ConnectionObserver {
 public:
  void on_transition(const Connection&, TcpState, TcpState, uint64_t) override {}
  void on_closed(const Connection& c, const Classification&, uint64_t) override {
    closed.push_back(c);
  }
  void on_packet(const Connection* c, const Event&) override { matched.push_back(c != nullptr); }
  void on_anomaly(const Connection&, Anomaly a, uint64_t) override { anomalies.push_back(a); }
  void on_syn_without_socket(const PendingSyn& syn, uint64_t) override {
    unanswered.push_back(syn);
  }
  std::vector<Connection> closed;
  std::vector<bool> matched;
  std::vector<Anomaly> anomalies;
  std::vector<PendingSyn> unanswered;
};

constexpr uint16_t kServerPort = 8080, kClientPort = 40000;
constexpr uint32_t kClientIsn = 1000, kServerIsn = 500000;

Event packet(uint64_t ts, const SocketTuple& receiver, uint8_t flags, uint8_t flag_class,
             uint32_t seq, uint32_t ack, uint64_t cookie = 0,
             TcpState socket_state = TcpState::Unknown) {
  Event e;
  e.kind = EventKind::Packet;
  e.ts_ns = ts;
  e.cookie = cookie;
  e.tuple = receiver;
  e.packet.tcp_flags = flags;
  e.packet.flag_class = flag_class;
  e.packet.seq = seq;
  e.packet.ack = ack;
  e.packet.end_seq = seq + ((flags & SYNFIN_TCP_SYN) ? 1 : 0) + ((flags & SYNFIN_TCP_FIN) ? 1 : 0);
  e.packet.socket_state = socket_state;
  return e;
}

Event step(uint64_t ts, uint64_t cookie, const SocketTuple& tuple, TcpState from, TcpState to,
           uint32_t snd_una = 0, uint32_t rcv_nxt = 0) {
  Event e;
  e.kind = EventKind::StateChange;
  e.ts_ns = ts;
  e.cookie = cookie;
  e.tuple = tuple;
  e.from = from;
  e.to = to;
  e.sequence = {true, snd_una, snd_una, rcv_nxt};
  return e;
}

Event destroyed(uint64_t ts, uint64_t cookie, const SocketTuple& tuple) {
  Event e;
  e.kind = EventKind::Destroyed;
  e.ts_ns = ts;
  e.cookie = cookie;
  e.tuple = tuple;
  return e;
}

const SocketTuple kServerSide = loopback_tuple(kServerPort, kClientPort);
const SocketTuple kClientSide = loopback_tuple(kClientPort, kServerPort);
constexpr uint64_t kServer = 0x51, kClient = 0xc1, kListener = 0x11;

// A server child through its whole life, with the packets XDP sees arriving at it.
std::vector<Event> server_life(uint32_t ack_of_handshake, uint32_t fin_seq) {
  Event ack =
      packet(3000, kServerSide, SYNFIN_TCP_ACK, SYNFIN_XDP_OTHER, kClientIsn + 1, ack_of_handshake);
  ack.packet.completes_handshake = true;
  return {
      packet(1000, kServerSide, SYNFIN_TCP_SYN, SYNFIN_XDP_SYN, kClientIsn, 0, kListener,
             TcpState::Listen),
      ack,
      step(3100, kServer, kServerSide, TcpState::Listen, TcpState::SynRecv),
      step(3200, kServer, kServerSide, TcpState::SynRecv, TcpState::Established, kServerIsn + 1,
           kClientIsn + 1),
      packet(9000, kServerSide, SYNFIN_TCP_FIN | SYNFIN_TCP_ACK, SYNFIN_XDP_FIN, fin_seq,
             kServerIsn + 1, kServer, TcpState::Established),
      step(9100, kServer, kServerSide, TcpState::Established, TcpState::CloseWait, kServerIsn + 1,
           kClientIsn + 2),
      step(50000, kServer, kServerSide, TcpState::CloseWait, TcpState::LastAck, kServerIsn + 1,
           kClientIsn + 2),
      step(51000, kServer, kServerSide, TcpState::LastAck, TcpState::Close, kServerIsn + 2,
           kClientIsn + 2),
      destroyed(52000, kServer, kServerSide),
  };
}

TEST(PacketViewTest, ServerHandshakeIsTimedFromTheSynAndTheArithmeticHolds) {
  PacketObserver observer;
  ConnectionTable table(16, observer);
  auto events = server_life(kServerIsn + 1, kClientIsn + 1);
  for (const Event& e : events) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  const Connection& c = observer.closed[0];
  EXPECT_EQ(handshake_from_syn_ns(c), 3200u - 1000u);
  EXPECT_EQ(fin_to_close_wait_ns(c), 9100u - 9000u);
  EXPECT_EQ(close_wait_reaction_ns(c), 50000u - 9000u);
  EXPECT_EQ(c.packets().anomalies, 0u);
  EXPECT_TRUE(observer.anomalies.empty());
  EXPECT_TRUE(observer.unanswered.empty());
  EXPECT_EQ(table.pending_syns().size(), 0u);
}

TEST(PacketViewTest, EachBrokenNumberIsNamedOnce) {
  PacketObserver observer;
  ConnectionTable table(16, observer);
  // An ACK of something never sent; a FIN ending 6 bytes after the stream did.
  auto events = server_life(kServerIsn + 9, kClientIsn + 7);
  events[0].packet.seq = kClientIsn + 3;  // a SYN that is not this socket's
  for (const Event& e : events) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  const Connection& c = observer.closed[0];
  EXPECT_TRUE(c.packets().has(Anomaly::SynSeqMismatch));
  EXPECT_TRUE(c.packets().has(Anomaly::HandshakeAckMismatch));
  EXPECT_TRUE(c.packets().has(Anomaly::FinSeqMismatch));
  EXPECT_EQ(observer.anomalies.size(), 3u);
}

TEST(PacketViewTest, ChecksDoNotDependOnWhetherThePacketOrTheStepArrivesFirst) {
  // The client's SYN-ACK applied after its ESTABLISHED step, then before it.
  for (bool packet_first : {false, true}) {
    PacketObserver observer;
    PacketViewConfig with_xdp;
    with_xdp.enabled = true;
    ConnectionTable table(16, observer, with_xdp);
    Event synack = packet(2000, kClientSide, SYNFIN_TCP_SYN | SYNFIN_TCP_ACK, SYNFIN_XDP_SYNACK,
                          kServerIsn, kClientIsn + 2, kClient, TcpState::SynSent);
    table.apply(step(1000, kClient, kClientSide, TcpState::Close, TcpState::SynSent));
    if (packet_first) table.apply(synack);
    table.apply(step(2100, kClient, kClientSide, TcpState::SynSent, TcpState::Established,
                     kClientIsn + 1, kServerIsn + 1));
    if (!packet_first) table.apply(synack);
    ASSERT_EQ(observer.anomalies.size(), 1u) << packet_first;
    EXPECT_EQ(observer.anomalies[0], Anomaly::SynAckAckMismatch);
  }
}

Event reset_received(uint64_t ts, uint64_t cookie, const SocketTuple& tuple) {
  Event e;
  e.kind = EventKind::ResetReceived;
  e.ts_ns = ts;
  e.cookie = cookie;
  e.tuple = tuple;
  return e;
}

// The kernel judges an RST itself (tcp_receive_reset when it accepts one); an RST it never
// accepted is an anomaly once the socket is gone, named by where it sat against the window.
TEST(PacketViewTest, ResetsTheKernelDidNotAcceptAreNamedByTheirPlaceInTheWindow) {
  struct Case {
    uint32_t seq;
    bool kernel_accepted;
    std::vector<Anomaly> want;
  };
  const uint32_t rcv_nxt = 7000, window = 1000;
  for (const Case& k : {Case{rcv_nxt, true, {}}, Case{rcv_nxt, false, {}},
                        Case{rcv_nxt + 10, false, {Anomaly::RstInWindowInexact}},
                        Case{rcv_nxt + window, false, {Anomaly::RstOutOfWindow}},
                        Case{rcv_nxt - 1, false, {Anomaly::RstOutOfWindow}},
                        // Judged stale on arrival (the socket was busy), accepted in the end.
                        Case{rcv_nxt + window, true, {}}}) {
    PacketObserver observer;
    ConnectionTable table(16, observer);
    table.apply(step(1000, kClient, kClientSide, TcpState::Close, TcpState::SynSent));
    table.apply(step(2000, kClient, kClientSide, TcpState::SynSent, TcpState::Established));
    Event rst = packet(3000, kClientSide, SYNFIN_TCP_RST, SYNFIN_XDP_RST, k.seq, 0, kClient,
                       TcpState::Established);
    rst.packet.socket_sequence_valid = true;
    rst.packet.socket_rcv_nxt = rcv_nxt;
    rst.packet.socket_rcv_wnd = window;
    table.apply(rst);
    EXPECT_TRUE(observer.anomalies.empty()) << "judged only at the end";
    EXPECT_EQ(table.find(kClient)->packets().resets, 1u);
    if (k.kernel_accepted) table.apply(reset_received(3100, kClient, kClientSide));
    table.apply(step(4000, kClient, kClientSide, TcpState::Established, TcpState::Close));
    table.apply(destroyed(4100, kClient, kClientSide));
    EXPECT_EQ(observer.anomalies, k.want) << "seq " << k.seq << " accepted " << k.kernel_accepted;
  }
}

TEST(PacketViewTest, ARefusedConnectsResetMustAcknowledgeTheSyn) {
  for (uint32_t ack : {kClientIsn + 1, kClientIsn + 5}) {
    PacketObserver observer;
    ConnectionTable table(16, observer);
    table.apply(step(1000, kClient, kClientSide, TcpState::Close, TcpState::SynSent));
    Event rst = packet(2000, kClientSide, SYNFIN_TCP_RST | SYNFIN_TCP_ACK, SYNFIN_XDP_RST, 0, ack,
                       kClient, TcpState::SynSent);
    rst.packet.socket_sequence_valid = true;
    rst.packet.socket_write_seq = kClientIsn + 1;
    table.apply(rst);
    table.apply(step(2100, kClient, kClientSide, TcpState::SynSent, TcpState::Close));
    table.apply(destroyed(2200, kClient, kClientSide));
    bool acknowledges_syn = ack == kClientIsn + 1;
    EXPECT_EQ(observer.anomalies.empty(), acknowledges_syn) << ack;
  }
}

TEST(PacketViewTest, ImpossibleFlagsAndAcksBeyondWhatWasSentAreAnomalies) {
  PacketObserver observer;
  ConnectionTable table(16, observer);
  table.apply(step(1000, kClient, kClientSide, TcpState::Close, TcpState::SynSent));
  table.apply(step(2000, kClient, kClientSide, TcpState::SynSent, TcpState::Established));
  table.apply(packet(3000, kClientSide, SYNFIN_TCP_SYN | SYNFIN_TCP_FIN, SYNFIN_XDP_INVALID, 1, 0,
                     kClient, TcpState::Established));
  Event fin = packet(4000, kClientSide, SYNFIN_TCP_FIN | SYNFIN_TCP_ACK, SYNFIN_XDP_FIN, 9, 5000,
                     kClient, TcpState::Established);
  fin.packet.socket_sequence_valid = true;
  fin.packet.socket_write_seq = 4000;
  table.apply(fin);
  EXPECT_EQ(observer.anomalies,
            (std::vector<Anomaly>{Anomaly::InvalidFlags, Anomaly::FinAckBeyondSent}));
}

TEST(PacketViewTest, UnansweredSynsExpireWithTheKernelsReason) {
  PacketObserver observer;
  PacketViewConfig config;
  config.handshake_timeout_ns = 10'000;
  ConnectionTable table(16, observer, config);
  auto syn_from = [](uint16_t client_port, TcpState found, uint32_t queue, uint32_t limit) {
    Event e = packet(1000, loopback_tuple(kServerPort, client_port), SYNFIN_TCP_SYN, SYNFIN_XDP_SYN,
                     1, 0, found == TcpState::Unknown ? 0 : kListener, found);
    e.packet.accept_queue = queue;
    e.packet.accept_limit = limit;
    return e;
  };
  table.apply(syn_from(1, TcpState::Unknown, 0, 0));
  table.apply(syn_from(2, TcpState::Listen, 5, 4));  // more queued than the limit: full
  table.apply(syn_from(3, TcpState::Listen, 4, 4));  // at the limit: the kernel still takes it
  table.apply(syn_from(4, TcpState::TimeWait, 0, 0));
  Event retransmit = syn_from(1, TcpState::Unknown, 0, 0);
  retransmit.ts_ns = 5000;
  table.apply(retransmit);
  EXPECT_TRUE(observer.unanswered.empty());
  table.expire_pending_syns(10'999);
  EXPECT_TRUE(observer.unanswered.empty());
  table.expire_pending_syns(11'000);
  ASSERT_EQ(observer.unanswered.size(), 4u);
  EXPECT_EQ(observer.unanswered[0].fate_if_unanswered, SynFate::NoListener);
  EXPECT_EQ(observer.unanswered[0].retransmits, 1u);
  EXPECT_EQ(observer.unanswered[1].fate_if_unanswered, SynFate::AcceptQueueFull);
  EXPECT_EQ(observer.unanswered[2].fate_if_unanswered, SynFate::NotCompleted);
  EXPECT_EQ(observer.unanswered[3].fate_if_unanswered, SynFate::TimeWait);
  EXPECT_EQ(table.pending_syns().size(), 0u);
}

TEST(PacketViewTest, PendingSynsAreBoundedOldestFirst) {
  PacketObserver observer;
  PacketViewConfig config;
  config.max_pending_syns = 3;
  ConnectionTable table(16, observer, config);
  for (uint16_t port = 1; port <= 5; ++port)
    table.apply(packet(1000 + port, loopback_tuple(kServerPort, port), SYNFIN_TCP_SYN,
                       SYNFIN_XDP_SYN, 1, 0));
  EXPECT_EQ(table.pending_syns().size(), 3u);
  EXPECT_EQ(table.pending_syns().evicted(), 2u);
}

TEST(PacketViewTest, ADualStackSocketMatchesItsIpv4Syn) {
  PacketObserver observer;
  ConnectionTable table(16, observer);
  table.apply(packet(1000, kServerSide, SYNFIN_TCP_SYN, SYNFIN_XDP_SYN, kClientIsn, 0, kListener,
                     TcpState::Listen));
  SocketTuple mapped;
  mapped.family = AddressFamily::IPv6;
  mapped.local.address = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  mapped.remote.address = mapped.local.address;
  mapped.local.port = kServerPort;
  mapped.remote.port = kClientPort;
  table.apply(step(2000, kServer, mapped, TcpState::Listen, TcpState::SynRecv));
  table.apply(step(3000, kServer, mapped, TcpState::SynRecv, TcpState::Established, kServerIsn + 1,
                   kClientIsn + 1));
  EXPECT_EQ(handshake_from_syn_ns(*table.find(kServer)), 2000u);
}

TEST(PacketViewTest, PacketsWithoutATrackedSocketAreReportedUnmatched) {
  PacketObserver observer;
  ConnectionTable table(16, observer);
  table.apply(packet(1000, kServerSide, SYNFIN_TCP_RST, SYNFIN_XDP_RST, 1, 0));
  table.apply(
      packet(1000, kServerSide, SYNFIN_TCP_SYN, SYNFIN_XDP_SYN, 1, 0, kListener, TcpState::Listen));
  EXPECT_EQ(observer.matched, (std::vector<bool>{false, false}));
}

TEST(PacketViewTest, FlagTextFollowsBitOrder) {
  char buffer[48];
  EXPECT_EQ(tcp_flags_text(SYNFIN_TCP_SYN | SYNFIN_TCP_ACK, buffer), "SYN|ACK");
  EXPECT_EQ(tcp_flags_text(SYNFIN_TCP_FIN | SYNFIN_TCP_ACK, buffer), "FIN|ACK");
  EXPECT_EQ(tcp_flags_text(0xff, buffer), "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR");
  EXPECT_EQ(tcp_flags_text(0, buffer), "NONE");
}

}  // namespace
}  // namespace synfin::model
