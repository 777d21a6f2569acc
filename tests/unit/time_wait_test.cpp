#include "model/time_wait.h"

#include <gtest/gtest.h>

#include <vector>

#include "event_builders.h"

namespace synfin::model {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

SocketTuple towards(uint16_t remote_port, uint16_t local_port) {
  return testing::loopback_tuple(local_port, remote_port);
}

KernelSocket kernel_time_wait(uint64_t cookie, SocketTuple tuple, uint64_t remaining_ns) {
  KernelSocket s;
  s.cookie = cookie;
  s.tuple = tuple;
  s.state = TcpState::TimeWait;
  s.time_wait_remaining_ns = remaining_ns;
  return s;
}

TEST(TimeWaitTrackerTest, CountsPerPeerAndExpiresAfterTheKernelsSixtySeconds) {
  TimeWaitTracker tracker;
  for (uint16_t i = 0; i < 5; ++i) tracker.enter(100 + i, towards(80, 40000 + i), 10 * kSecond);
  tracker.enter(200, towards(443, 41000), 20 * kSecond);
  EXPECT_EQ(tracker.size(), 6u);
  EXPECT_EQ(tracker.per_peer().size(), 2u);
  EXPECT_EQ(tracker.largest_peer_count(), 5u);
  EXPECT_EQ(tracker.expire(69 * kSecond), 0u);
  EXPECT_EQ(tracker.expire(70 * kSecond), 5u);
  EXPECT_EQ(tracker.per_peer().size(), 1u);
  EXPECT_EQ(tracker.expire(80 * kSecond), 1u);
  EXPECT_TRUE(tracker.per_peer().empty());
}

TEST(TimeWaitTrackerTest, EnteringTwiceCountsOnce) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40000), kSecond);
  tracker.enter(1, towards(80, 40000), 2 * kSecond);
  EXPECT_EQ(tracker.size(), 1u);
  EXPECT_EQ(tracker.largest_peer_count(), 1u);
}

TEST(TimeWaitTrackerTest, ReconciliationAddsRemovesAndTakesTheKernelsTimer) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40001), 1 * kSecond);   // the kernel has it
  tracker.enter(2, towards(80, 40002), 2 * kSecond);   // the kernel no longer has it
  tracker.enter(3, towards(80, 40003), 12 * kSecond);  // inferred after the snapshot began
  std::vector<KernelSocket> kernel = {kernel_time_wait(1, towards(80, 40001), 5 * kSecond),
                                      kernel_time_wait(4, towards(80, 40004), 7 * kSecond)};
  ReconcileDrift drift = tracker.reconcile(kernel, 10 * kSecond, 11 * kSecond,
                                           [](const SocketTuple&) { return true; });
  EXPECT_EQ(drift.added, 1u);
  EXPECT_EQ(drift.removed, 1u);
  EXPECT_EQ(tracker.size(), 3u);
  EXPECT_EQ(tracker.expire(16 * kSecond), 1u);  // cookie 1: 11 s + 5 s left
  EXPECT_EQ(tracker.expire(18 * kSecond), 1u);  // cookie 4: 11 s + 7 s left
  EXPECT_EQ(tracker.size(), 1u);                // cookie 3 runs its own 60 s
}

}  // namespace
}  // namespace synfin::model
