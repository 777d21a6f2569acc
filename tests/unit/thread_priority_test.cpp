#include "common/thread_priority.h"

#include <gtest/gtest.h>

#include <thread>

namespace synfin {
namespace {

int this_thread_nice() {
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

// A fresh thread starts at `start` (raising the nice value needs no privilege), asks for at
// least `lowest`, and reports where it ended.
int nice_after_lowering(int start, int lowest) {
  int ended = -100;
  std::thread([&] {
    if (!set_this_thread_nice(start)) return;
    lower_this_thread_to_nice(lowest);
    ended = this_thread_nice();
  }).join();
  return ended;
}

TEST(ThreadPriorityTest, LowersAThreadToTheGivenNice) {
  int start = std::max(this_thread_nice(), 2);
  if (start >= 10) GTEST_SKIP() << "the test runs at nice " << start;
  EXPECT_EQ(nice_after_lowering(start, 10), 10);
}

TEST(ThreadPriorityTest, NeverRaisesAThreadStartedNicer) {
  if (this_thread_nice() > 15) GTEST_SKIP() << "the test runs above nice 15";
  EXPECT_EQ(nice_after_lowering(15, 10), 15);
}

}  // namespace
}  // namespace synfin
