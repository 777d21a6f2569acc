#include "model/stuck.h"

#include <gtest/gtest.h>

#include "event_builders.h"
#include "recording_observer.h"

namespace synfin::model {
namespace {

using S = TcpState;
constexpr uint64_t kSecond = 1'000'000'000ull;

TEST(StuckThresholdsTest, DefaultsAsDocumented) {
  auto t = StuckThresholds::defaults();
  EXPECT_EQ(t.for_state(S::CloseWait), 60 * kSecond);
  EXPECT_EQ(t.for_state(S::FinWait2), 60 * kSecond);
  EXPECT_EQ(t.for_state(S::LastAck), 30 * kSecond);
  EXPECT_EQ(t.for_state(S::SynSent), 10 * kSecond);
  EXPECT_EQ(t.for_state(S::Established), 0u);
  EXPECT_EQ(t.for_state(S::TimeWait), 0u);
}

TEST(StuckThresholdsTest, ParsesAndRejects) {
  auto t = StuckThresholds::defaults();
  EXPECT_TRUE(t.set_from_text("CLOSE_WAIT=2.5").ok());
  EXPECT_EQ(t.for_state(S::CloseWait), 2'500'000'000ull);
  EXPECT_TRUE(t.set_from_text("LAST_ACK=0").ok());
  EXPECT_EQ(t.for_state(S::LastAck), 0u);
  EXPECT_FALSE(t.set_from_text("CLOSE_WAIT").ok());
  EXPECT_FALSE(t.set_from_text("CLOSEWAIT=3").ok());
  EXPECT_FALSE(t.set_from_text("TIME_WAIT=3").ok());
  EXPECT_FALSE(t.set_from_text("CLOSE_WAIT=abc").ok());
  EXPECT_FALSE(t.set_from_text("CLOSE_WAIT=-1").ok());
}

TEST(StuckDetectorTest, FindsOnlyThosePastTheirStatesThresholdOldestFirst) {
  testing::RecordingObserver observer;
  ConnectionTable table(16, observer);
  auto close_wait_at = [&](uint64_t cookie, uint64_t ts) {
    Event e;
    e.cookie = cookie;
    e.tuple = testing::loopback_tuple(80, static_cast<uint16_t>(40000 + cookie));
    e.from = S::Listen;
    e.to = S::SynRecv;
    e.ts_ns = ts - 2;
    table.apply(e);
    e.from = S::SynRecv;
    e.to = S::Established;
    e.ts_ns = ts - 1;
    table.apply(e);
    e.from = S::Established;
    e.to = S::CloseWait;
    e.ts_ns = ts;
    table.apply(e);
  };
  close_wait_at(1, 10 * kSecond);
  close_wait_at(2, 5 * kSecond);
  close_wait_at(3, 95 * kSecond);                                             // too young
  table.seed(4, testing::loopback_tuple(80, 1), S::CloseWait, 20 * kSecond);  // seeded
  auto stuck = find_stuck(table, StuckThresholds::defaults(), 100 * kSecond);
  ASSERT_EQ(stuck.size(), 3u);
  EXPECT_EQ(stuck[0].connection->cookie, 2u);
  EXPECT_EQ(stuck[0].age_ns, 95 * kSecond);
  EXPECT_FALSE(stuck[0].age_is_lower_bound);
  EXPECT_EQ(stuck[1].connection->cookie, 1u);
  EXPECT_EQ(stuck[2].connection->cookie, 4u);
  EXPECT_TRUE(stuck[2].age_is_lower_bound);
  EXPECT_EQ(stuck[2].age_ns, 80 * kSecond);
}

}  // namespace
}  // namespace synfin::model
