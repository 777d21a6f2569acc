#include "common/fresh_view_gate.h"

#include <gtest/gtest.h>

#include <thread>

namespace synfin {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t kSecond = 1'000'000'000;

TEST(FreshViewGate, AFreshEnoughViewIsReadWithoutAWalk) {
  FreshViewGate gate;
  gate.refreshed(10 * kSecond);
  int wakes = 0;
  EXPECT_TRUE(gate.await(10 * kSecond + kSecond / 2, kSecond, 1s, [&] { ++wakes; }));
  EXPECT_EQ(wakes, 0);
  EXPECT_FALSE(gate.wanted());
}

TEST(FreshViewGate, AStaleViewIsWalkedBeforeTheReaderGoesOn) {
  FreshViewGate gate;
  gate.refreshed(10 * kSecond);
  int wakes = 0;
  std::thread refresher([&] {
    while (!gate.wanted()) std::this_thread::yield();
    gate.refreshed(12 * kSecond);
  });
  // Generous timeout: the refresher answers as soon as it sees the wish.
  EXPECT_TRUE(gate.await(12 * kSecond, kSecond, 60s, [&] { ++wakes; }));
  refresher.join();
  EXPECT_EQ(wakes, 1);
  EXPECT_FALSE(gate.wanted());
  // That walk now serves the next reader.
  EXPECT_TRUE(gate.await(12 * kSecond + 1, kSecond, 1s, {}));
}

TEST(FreshViewGate, NoViewYetMeansAWalk) {
  FreshViewGate gate;
  EXPECT_FALSE(gate.await(0, kSecond, 1ms, {}));  // nobody refreshes: the wait gives up
  EXPECT_TRUE(gate.wanted());
}

TEST(FreshViewGate, ClosingReleasesWaitingReaders) {
  FreshViewGate gate;
  std::thread closer([&] {
    while (!gate.wanted()) std::this_thread::yield();
    gate.close();
  });
  EXPECT_FALSE(gate.await(5 * kSecond, kSecond, 60s, {}));
  closer.join();
  EXPECT_FALSE(gate.await(5 * kSecond, kSecond, 60s, {}));  // closed: no wait at all
}

}  // namespace
}  // namespace synfin
