#include "capture/event_stream.h"

#include <gtest/gtest.h>

#include <thread>

namespace synfin::capture {
namespace {

// An unbounded wait (-1) returns only when woken: were wake() lost, the test would hang and
// ctest's timeout fail it.
TEST(EventStreamTest, AWakeFromAnotherThreadEndsAnUnboundedWait) {
  auto stream = EventStream::open();
  ASSERT_TRUE(stream) << stream.error().message;
  std::thread waker([&] { (*stream)->wake(); });
  auto running = (*stream)->wait(-1);
  waker.join();
  ASSERT_TRUE(running);
  EXPECT_TRUE(*running);  // a wakeup is no stop signal
}

TEST(EventStreamTest, AWakeBeforeTheWaitIsNotLost) {
  auto stream = EventStream::open();
  ASSERT_TRUE(stream) << stream.error().message;
  (*stream)->wake();
  (*stream)->wake();  // wakeups add up in the eventfd: still one pending
  auto running = (*stream)->wait(-1);
  ASSERT_TRUE(running);
  EXPECT_TRUE(*running);
}

}  // namespace
}  // namespace synfin::capture
