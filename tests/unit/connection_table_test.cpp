#include "model/connection_table.h"

#include <gtest/gtest.h>

#include "event_builders.h"
#include "recording_observer.h"

namespace synfin::model {
namespace {

using S = TcpState;
using testing::Sequence;
using testing::task;

// Takes the sequence by reference for the length of the call: a temporary lives that long.
void apply_all(ConnectionTable& table, const Sequence& sequence) {
  for (const Event& e : sequence.events()) table.apply(e);
}

TEST(ConnectionTableTest, OwnerComesFromConnectNotFromSoftirqBystanders) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  Sequence s(7, testing::loopback_tuple(40000, 80));
  s.step(S::Close, S::SynSent, task(100, "client"), true)
      .step(S::SynSent, S::Established, task(555, "bystander"))
      .step(S::Established, S::FinWait1, task(555, "bystander"))
      .step(S::FinWait1, S::FinWait2)
      .step(S::FinWait2, S::Close, task(555, "bystander"))
      .signal(EventKind::Destroyed, task(555, "bystander"));
  for (const Event& e : s.events()) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  ASSERT_TRUE(observer.closed[0].connection.has_owner());
  EXPECT_EQ(observer.closed[0].connection.owner_pid(), 100u);
  EXPECT_EQ(observer.closed[0].connection.owner_comm(), "client");
}

TEST(ConnectionTableTest, AcceptGivesAServerSocketItsOwner) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  Sequence s(8, testing::loopback_tuple(80, 40000));
  s.steps({S::Listen, S::SynRecv, S::Established})
      .signal(EventKind::Accepted, task(200, "server"), true)
      .steps({S::Established, S::CloseWait, S::LastAck, S::Close})
      .signal(EventKind::Destroyed);
  for (const Event& e : s.events()) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].connection.owner_pid(), 200u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Valid);
}

TEST(ConnectionTableTest, KeepsPortsTheKernelZeroesOnTheWayToClose) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  Event child;
  child.cookie = 9;
  child.tuple = testing::loopback_tuple(80, 0);  // remote end not yet copied into the clone
  child.from = S::Listen;
  child.to = S::SynRecv;
  table.apply(child);
  Event established = child;
  established.tuple = testing::loopback_tuple(80, 41000);
  established.from = S::SynRecv;
  established.to = S::Established;
  table.apply(established);
  Event closing = established;
  closing.tuple = testing::loopback_tuple(0, 41000);  // unhashed: local port gone
  closing.from = S::Established;
  closing.to = S::Close;
  table.apply(closing);
  const Connection* c = table.find(9);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tuple.local.port, 80);
  EXPECT_EQ(c->tuple.remote.port, 41000);
}

TEST(ConnectionTableTest, FullTableCountsWhatItCannotTrack) {
  testing::RecordingObserver observer;
  ConnectionTable table(2, observer);
  for (uint64_t cookie = 1; cookie <= 5; ++cookie)
    apply_all(table, Sequence(cookie, testing::loopback_tuple(1, 2)).steps({S::Close, S::SynSent}));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.counters().untracked_connections, 3u);
}

TEST(ConnectionTableTest, DestroyOfAnUnknownSocketIsIgnored) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  apply_all(table, Sequence(5, testing::loopback_tuple(1, 2))
                       .signal(EventKind::Destroyed)
                       .signal(EventKind::ResetSent));
  EXPECT_TRUE(observer.closed.empty());
  EXPECT_EQ(observer.untracked_signals, 1);
}

TEST(ConnectionTableTest, FinishesClosedSocketsWhoseDescriptorIsStillOpen) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  apply_all(table, Sequence(6, testing::loopback_tuple(1, 2))
                       .steps({S::Close, S::SynSent})
                       .signal(EventKind::ResetReceived)
                       .step(S::SynSent, S::Close));
  apply_all(
      table,
      Sequence(7, testing::loopback_tuple(3, 4)).steps({S::Close, S::SynSent, S::Established}));
  table.finish_closed_connections();
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.outcome, Outcome::Refused);
  EXPECT_EQ(table.size(), 1u);  // the established one stays
}

TEST(ConnectionTableTest, SeededSocketIsValidatedFromItsSnapshotState) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  ASSERT_NE(table.seed(11, testing::loopback_tuple(80, 5000), S::CloseWait, 10), nullptr);
  EXPECT_EQ(table.seed(11, testing::loopback_tuple(80, 5000), S::CloseWait, 10), nullptr);
  apply_all(table, Sequence(11, testing::loopback_tuple(80, 5000))
                       .steps({S::CloseWait, S::LastAck, S::Close})
                       .signal(EventKind::Destroyed));
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Incomplete);
  EXPECT_EQ(observer.closed[0].classification.reason, Reason::JoinedMidLife);
  EXPECT_EQ(observer.closed[0].classification.outcome, Outcome::PassiveClose);
}

TEST(ConnectionTableTest, SeededSocketThatJumpsIsInvalid) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  table.seed(12, testing::loopback_tuple(80, 5000), S::Established, 10);
  apply_all(table, Sequence(12, testing::loopback_tuple(80, 5000))
                       .step(S::Established, S::LastAck)
                       .step(S::LastAck, S::Close)
                       .signal(EventKind::Destroyed));
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Invalid);
}

TEST(ConnectionTableTest, LongLivesAreTruncatedNotOverflowed) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  Sequence s(13, testing::loopback_tuple(1, 2));
  for (int i = 0; i < 20; ++i) s.steps({S::Close, S::SynSent, S::Close});
  s.signal(EventKind::Destroyed);
  for (const Event& e : s.events()) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].connection.history_length(), Connection::kMaxHistory);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Incomplete);
}

}  // namespace
}  // namespace synfin::model

namespace synfin::model {
namespace {

using testing::Sequence;
using S = TcpState;

// A socket the snapshot saw in LAST_ACK, whose CLOSE_WAIT → LAST_ACK record was still in the
// ring: the step is already reflected, not a violation.
TEST(ConnectionTableSnapshotWindowTest, StepAlreadyReflectedInTheSeedIsSkipped) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  Sequence s(21, testing::loopback_tuple(80, 5000));
  s.steps({S::CloseWait, S::LastAck, S::Close}).signal(EventKind::Destroyed);
  const auto& events = s.events();
  table.seed(21, testing::loopback_tuple(80, 5000), S::LastAck, events[0].ts_ns);  // after step 1
  for (const Event& e : events) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Incomplete);
  EXPECT_EQ(observer.closed[0].classification.reason, Reason::JoinedMidLife);
}

// The snapshot saw ESTABLISHED; a FIN_WAIT1 → FIN_WAIT2 step from before its end means the
// seeded state was already old: advanced, not flagged.
TEST(ConnectionTableSnapshotWindowTest, OlderSeedIsAdvancedWithoutViolation) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  Sequence s(22, testing::loopback_tuple(80, 5000));
  s.step(S::FinWait1, S::FinWait2).step(S::FinWait2, S::Close).signal(EventKind::Destroyed);
  table.seed(22, testing::loopback_tuple(80, 5000), S::Established, s.events()[0].ts_ns);
  for (const Event& e : s.events()) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_NE(observer.closed[0].classification.verdict, Verdict::Invalid);
}

// Born while the snapshot was walked: the ring holds its whole life, so it is complete.
TEST(ConnectionTableSnapshotWindowTest, SocketBornDuringTheSnapshotIsComplete) {
  testing::RecordingObserver observer;
  ConnectionTable table(4, observer);
  Sequence s(23, testing::loopback_tuple(40000, 80));
  s.steps({S::Close, S::SynSent, S::Established});
  table.seed(23, testing::loopback_tuple(40000, 80), S::Established, s.events()[1].ts_ns);
  for (const Event& e : s.events()) table.apply(e);
  Event fin = s.events().back();
  for (TcpState to : {S::FinWait1, S::FinWait2, S::Close}) {
    fin.from = fin.to;
    fin.to = to;
    fin.ts_ns += 1000;
    table.apply(fin);
  }
  fin.kind = EventKind::Destroyed;
  fin.ts_ns += 1000;
  table.apply(fin);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].connection.role, Role::Client);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Valid);
  EXPECT_EQ(observer.closed[0].classification.outcome, Outcome::ActiveClose);
}

// close() after shutdown(SHUT_WR) while the FIN is still unacknowledged: the kernel reports
// FIN_WAIT1 -> FIN_WAIT1. A normal close, valid; the history does not repeat the state.
TEST(ConnectionTableTest, CloseAfterShutdownStepsToTheSameStateAndStaysValid) {
  for (S held : {S::FinWait1, S::FinWait2, S::LastAck, S::Closing}) {
    testing::RecordingObserver observer;
    ConnectionTable table(16, observer);
    auto s = testing::Sequence(1, testing::loopback_tuple(8080, 40000));
    std::vector<S> path = {S::Listen, S::SynRecv, S::Established};
    if (held == S::LastAck) path.insert(path.end(), {S::CloseWait, S::LastAck});
    if (held == S::FinWait1 || held == S::FinWait2 || held == S::Closing)
      path.push_back(S::FinWait1);
    if (held == S::FinWait2) path.push_back(S::FinWait2);
    if (held == S::Closing) path.push_back(S::Closing);
    for (std::size_t i = 1; i < path.size(); ++i) s.step(path[i - 1], path[i]);
    s.step(held, held);
    s.step(held == S::FinWait1 ? S::FinWait1 : held, held == S::FinWait1 ? S::FinWait2 : S::Close);
    if (held == S::FinWait1) s.step(S::FinWait2, S::Close);
    s.signal(EventKind::Destroyed);
    for (const auto& e : s.events()) table.apply(e);
    ASSERT_EQ(observer.closed.size(), 1u) << state_name(held);
    const auto& closed = observer.closed[0];
    EXPECT_EQ(closed.classification.verdict, Verdict::Valid) << state_name(held);
    int times_in_held = 0;
    for (uint8_t i = 0; i < closed.connection.history_length(); ++i)
      times_in_held += closed.connection.visit_state(i) == held;
    EXPECT_EQ(times_in_held, 1) << state_name(held);
  }
}

}  // namespace
}  // namespace synfin::model
