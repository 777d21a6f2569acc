// Outcome and verdict for each scenario, from kernel-shaped event sequences.
#include <gtest/gtest.h>

#include "event_builders.h"
#include "model/connection_table.h"
#include "recording_observer.h"

namespace synfin::model {
namespace {

using S = TcpState;
using testing::Sequence;

struct Scenario {
  const char* name;
  Sequence sequence;
  Role role;
  Outcome outcome;
  Verdict verdict;
  bool enters_time_wait;
};

testing::ClosedRecord replay(const Sequence& sequence) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  for (const Event& e : sequence.events()) table.apply(e);
  EXPECT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(table.size(), 0u);
  return observer.closed.empty() ? testing::ClosedRecord{} : observer.closed.front();
}

Sequence client() {
  return Sequence(1, testing::loopback_tuple(40000, 80));
}
Sequence server() {
  return Sequence(2, testing::loopback_tuple(80, 40000));
}

std::vector<Scenario> scenarios() {
  return {
      {"client closes first: client side",
       client()
           .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::ActiveClose, Verdict::Valid, true},
      {"client closes first: server side",
       server()
           .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait, S::LastAck, S::Close})
           .signal(EventKind::Destroyed),
       Role::Server, Outcome::PassiveClose, Verdict::Valid, false},
      {"server closes first: server side",
       server()
           .steps({S::Listen, S::SynRecv, S::Established, S::FinWait1, S::FinWait2, S::Close})
           .signal(EventKind::Destroyed),
       Role::Server, Outcome::ActiveClose, Verdict::Valid, true},
      {"server closes first: client side",
       client()
           .steps({S::Close, S::SynSent, S::Established, S::CloseWait, S::LastAck, S::Close})
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::PassiveClose, Verdict::Valid, false},
      {"simultaneous close",
       client()
           .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::Closing, S::Close})
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::SimultaneousClose, Verdict::Valid, true},
      {"SO_LINGER 0: the aborting side sends the reset",
       client()
           .steps({S::Close, S::SynSent, S::Established, S::Close})
           .signal(EventKind::ResetSent)
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::ResetSent, Verdict::Valid, false},
      {"SO_LINGER 0: the peer receives it",
       server()
           .steps({S::Listen, S::SynRecv, S::Established})
           .signal(EventKind::ResetReceived)
           .step(S::Established, S::Close)
           .signal(EventKind::Destroyed),
       Role::Server, Outcome::ResetReceived, Verdict::Valid, false},
      {"connect to a closed port",
       client()
           .steps({S::Close, S::SynSent})
           .signal(EventKind::ResetReceived)
           .step(S::SynSent, S::Close)
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::Refused, Verdict::Valid, false},
      {"close() with unread data",
       server()
           .steps({S::Listen, S::SynRecv, S::Established, S::Close})
           .signal(EventKind::ResetSent)
           .signal(EventKind::Destroyed),
       Role::Server, Outcome::ResetSent, Verdict::Valid, false},
      {"connect timeout after SYN retransmits",
       client()
           .steps({S::Close, S::SynSent})
           .signal(EventKind::Retransmit)
           .signal(EventKind::Retransmit)
           .step(S::SynSent, S::Close)
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::HandshakeTimeout, Verdict::Valid, false},
      {"non-blocking connect abandoned before any answer",
       client().steps({S::Close, S::SynSent, S::Close}).signal(EventKind::Destroyed), Role::Client,
       Outcome::Aborted, Verdict::Valid, false},
      {"retransmission timeout kills an established connection",
       client()
           .steps({S::Close, S::SynSent, S::Established, S::Close})
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::Aborted, Verdict::Valid, false},
      {"peer resets during our LAST_ACK",
       server()
           .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait, S::LastAck})
           .signal(EventKind::ResetReceived)
           .step(S::LastAck, S::Close)
           .signal(EventKind::Destroyed),
       Role::Server, Outcome::ResetReceived, Verdict::Valid, false},
      {"listener open and close",
       Sequence(3, testing::loopback_tuple(80, 0))
           .steps({S::Close, S::Listen, S::Close})
           .signal(EventKind::Destroyed),
       Role::Listener, Outcome::ListenerClosed, Verdict::Valid, false},
      {"joined mid-life is incomplete, never invalid",
       client()
           .steps({S::Established, S::FinWait1, S::FinWait2, S::Close})
           .signal(EventKind::Destroyed),
       Role::Unknown, Outcome::ActiveClose, Verdict::Incomplete, true},
      {"an illegal step is invalid",
       client()
           .steps({S::Close, S::SynSent, S::Established, S::FinWait2, S::Close})
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::ActiveClose, Verdict::Invalid, true},
      {"a step that does not start where the last ended was missed: incomplete, never invalid",
       client()
           .steps({S::Close, S::SynSent, S::Established})
           .step(S::FinWait1, S::FinWait2)
           .step(S::FinWait2, S::Close)
           .signal(EventKind::Destroyed),
       Role::Client, Outcome::ActiveClose, Verdict::Incomplete, true},
      {"seeded in CLOSE_WAIT, then closed by the application",
       server().steps({S::CloseWait, S::LastAck, S::Close}).signal(EventKind::Destroyed),
       Role::Unknown, Outcome::PassiveClose, Verdict::Incomplete, false},
  };
}

TEST(ClassifierTest, EachScenarioGetsItsOutcomeAndVerdict) {
  for (const Scenario& scenario : scenarios()) {
    SCOPED_TRACE(scenario.name);
    auto record = replay(scenario.sequence);
    EXPECT_EQ(record.connection.role, scenario.role);
    EXPECT_EQ(outcome_name(record.classification.outcome), outcome_name(scenario.outcome));
    EXPECT_EQ(verdict_name(record.classification.verdict), verdict_name(scenario.verdict));
    EXPECT_EQ(record.classification.enters_time_wait, scenario.enters_time_wait);
    EXPECT_EQ(record.classification.reason == Reason::None, scenario.verdict == Verdict::Valid);
  }
}

TEST(ClassifierTest, IllegalStepIsNamed) {
  auto record = replay(client()
                           .steps({S::Close, S::SynSent, S::Established, S::FinWait2, S::Close})
                           .signal(EventKind::Destroyed));
  EXPECT_EQ(record.classification.reason, Reason::IllegalTransition);
  EXPECT_EQ(record.connection.violation_from, S::Established);
  EXPECT_EQ(record.connection.violation_to, S::FinWait2);
}

TEST(ClassifierTest, LostEventsTurnAGapIntoIncomplete) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  auto sequence = client().steps({S::Close, S::SynSent, S::Established});
  for (const Event& e : sequence.events()) table.apply(e);
  table.mark_open_connections_incomplete();  // the ring overflowed: FIN_WAIT1 was lost
  auto rest = client().step(S::FinWait2, S::Close).signal(EventKind::Destroyed);
  for (const Event& e : rest.events()) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Incomplete);
  EXPECT_EQ(observer.closed[0].classification.reason, Reason::EventsLost);
}

// A connection whose first records waited in the ring behind lost ones is added after the loss
// was noticed: it is incomplete too, though the table never held it when the loss was counted.
TEST(ClassifierTest, AConnectionFirstSeenBehindALossIsIncomplete) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  auto late = client().steps({S::Close, S::SynSent, S::Established});
  table.note_loss(late.events().back().ts_ns + 1);  // noticed before its records were read
  for (const Event& e : late.events()) table.apply(e);
  auto rest = client().step(S::FinWait2, S::Close).signal(EventKind::Destroyed);
  for (const Event& e : rest.events()) table.apply(e);
  ASSERT_EQ(observer.closed.size(), 1u);
  EXPECT_EQ(observer.closed[0].classification.verdict, Verdict::Incomplete);
  EXPECT_EQ(observer.closed[0].classification.reason, Reason::EventsLost);
}

TEST(ClassifierTest, LostEventsDoNotExcuseAnIllegalStep) {
  Connection c;
  c.role = Role::Client;
  c.events_lost = true;
  c.first_violation = Reason::IllegalTransition;
  EXPECT_EQ(classify(c).verdict, Verdict::Invalid);
}

}  // namespace
}  // namespace synfin::model
