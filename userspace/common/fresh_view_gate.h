#pragma once
// A view that is refreshed when someone reads it, not on a clock. The daemon's live view comes
// from walking every socket in the kernel's table, TIME_WAIT mini-sockets included (131 072 of
// them on a busy host): walked every second, that walk was most of the daemon's CPU. Readers
// (API routes, scrapes) wait here until the view is at most `max_age` old; the one thread that
// refreshes it asks `wanted()` and reports each refresh with `refreshed()`. Times are passed in.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace synfin {

class FreshViewGate {
 public:
  // Reader side, any thread. Returns at once when the last refresh began at most max_age_ns
  // before now_ns; else asks for one, calls `wake` (to end the refresher's wait early) and waits
  // until a refresh completes, or `timeout` passes, or the gate is closed. False: the view stays
  // as old as it was.
  bool await(uint64_t now_ns, uint64_t max_age_ns, std::chrono::milliseconds timeout,
             const std::function<void()>& wake) {
    std::unique_lock lock(mutex_);
    if (closed_) return false;
    if (generation_ > 0 && now_ns >= last_started_ns_ && now_ns - last_started_ns_ <= max_age_ns)
      return true;
    uint64_t seen = generation_;
    wanted_.store(true, std::memory_order_relaxed);
    lock.unlock();
    if (wake) wake();
    lock.lock();
    return refreshed_.wait_for(lock, timeout, [&] { return closed_ || generation_ > seen; }) &&
           !closed_;
  }

  // Refresher side: whether a reader waits for a refresh.
  bool wanted() const { return wanted_.load(std::memory_order_relaxed); }

  // Refresher side: a refresh that began at started_ns is complete and visible to readers.
  void refreshed(uint64_t started_ns) {
    {
      std::lock_guard lock(mutex_);
      last_started_ns_ = started_ns;
      ++generation_;
      wanted_.store(false, std::memory_order_relaxed);
    }
    refreshed_.notify_all();
  }

  // No more refreshes (the refresher stops): waiting readers return, later ones do not wait.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    refreshed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable refreshed_;
  std::atomic<bool> wanted_{false};
  uint64_t generation_ = 0;  // refreshes completed
  uint64_t last_started_ns_ = 0;
  bool closed_ = false;
};

}  // namespace synfin
