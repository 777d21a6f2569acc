#include "model/time_wait.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "event_builders.h"
#include "synfin/abi.h"

namespace synfin::model {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

SocketTuple towards(uint16_t remote_port, uint16_t local_port) {
  return testing::loopback_tuple(local_port, remote_port);
}

KernelSocket kernel_time_wait(uint64_t cookie, SocketTuple tuple, uint64_t reaped_at_ns) {
  KernelSocket s;
  s.cookie = cookie;
  s.tuple = tuple;
  s.state = TcpState::TimeWait;
  s.time_wait_reaped_at_ns = reaped_at_ns;
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

TEST(TimeWaitTrackerTest, AnEarlierKernelTimerOvertakesEntriesInferredBeforeIt) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40001), 1 * kSecond);  // due at 61 s
  tracker.enter(2, towards(80, 40002), 2 * kSecond);  // due at 62 s, its walk says 30 s
  tracker.enter(3, towards(80, 40003), 3 * kSecond);  // due at 63 s
  std::vector<KernelSocket> kernel = {kernel_time_wait(2, towards(80, 40002), 30 * kSecond)};
  tracker.reconcile(kernel, 0, 4 * kSecond, [](const SocketTuple&) { return false; });
  std::vector<uint64_t> expired;
  auto note = [&](const TimeWaitEntry& entry) { expired.push_back(entry.cookie); };
  EXPECT_EQ(tracker.expire(31 * kSecond, note), 1u);
  EXPECT_EQ(tracker.expire(62 * kSecond, note), 1u);
  EXPECT_EQ(tracker.expire(63 * kSecond, note), 1u);
  EXPECT_EQ(expired, (std::vector<uint64_t>{2, 1, 3}));
  EXPECT_EQ(tracker.size(), 0u);
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
  std::vector<KernelSocket> kernel = {kernel_time_wait(1, towards(80, 40001), 16 * kSecond),
                                      kernel_time_wait(4, towards(80, 40004), 18 * kSecond)};
  ReconcileDrift drift = tracker.reconcile(kernel, 10 * kSecond, 11 * kSecond,
                                           [](const SocketTuple&) { return true; });
  EXPECT_EQ(drift.added, 1u);
  EXPECT_EQ(drift.removed, 1u);
  EXPECT_EQ(tracker.size(), 3u);
  EXPECT_EQ(tracker.expire(16 * kSecond), 1u);  // cookie 1: 11 s + 5 s left
  EXPECT_EQ(tracker.expire(18 * kSecond), 1u);  // cookie 4: 11 s + 7 s left
  EXPECT_EQ(tracker.size(), 1u);                // cookie 3 runs its own 60 s
}

// Closed in FIN_WAIT2 before the peer's FIN, a socket's mini-socket waits in FIN_WAIT2; the
// walk says which, and says again once the FIN has come.
TEST(TimeWaitTrackerTest, AWalkTellsWhichMiniSocketsStillAwaitThePeersFin) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40001), 1 * kSecond);
  tracker.enter(2, towards(80, 40002), 1 * kSecond);
  auto state_of = [&](uint64_t cookie) {
    TcpState state = TcpState::Unknown;
    tracker.for_each([&](const TimeWaitEntry& e) {
      if (e.cookie == cookie) state = TimeWaitTracker::state_of(e);
    });
    return state;
  };
  EXPECT_EQ(state_of(1), TcpState::TimeWait);  // no walk has listed it yet
  EXPECT_EQ(tracker.awaiting_peer_fin(), 0u);

  KernelSocket waiting = kernel_time_wait(1, towards(80, 40001), 62 * kSecond);
  waiting.awaiting_peer_fin = true;
  std::vector<KernelSocket> kernel = {waiting,
                                      kernel_time_wait(2, towards(80, 40002), 62 * kSecond)};
  tracker.reconcile(kernel, 5 * kSecond, 6 * kSecond, [](const SocketTuple&) { return true; });
  EXPECT_EQ(state_of(1), TcpState::FinWait2);
  EXPECT_EQ(state_of(2), TcpState::TimeWait);
  EXPECT_EQ(tracker.awaiting_peer_fin(), 1u);
  EXPECT_EQ(tracker.size(), 2u);  // both hold their port and count towards the kernel's limit

  kernel[0].awaiting_peer_fin = false;  // the peer's FIN came
  tracker.reconcile(kernel, 7 * kSecond, 8 * kSecond, [](const SocketTuple&) { return true; });
  EXPECT_EQ(state_of(1), TcpState::TimeWait);
  EXPECT_EQ(tracker.awaiting_peer_fin(), 0u);

  kernel[0].awaiting_peer_fin = true;
  tracker.reconcile(kernel, 9 * kSecond, 10 * kSecond, [](const SocketTuple&) { return true; });
  EXPECT_EQ(tracker.awaiting_peer_fin(), 1u);
  EXPECT_EQ(tracker.expire(63 * kSecond), 2u);  // ended with tcp_fin_timeout, still waiting
  EXPECT_EQ(tracker.awaiting_peer_fin(), 0u);
}

// In parts, with a socket entering TIME_WAIT between them: the same drift as in one go, and
// the newcomer (entered after the snapshot began) is kept.
TEST(TimeWaitTrackerTest, ReconcilingInPartsAgreesWithReconcilingAtOnce) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40001), 1 * kSecond);  // listed
  tracker.enter(2, towards(80, 40002), 2 * kSecond);  // gone from the kernel
  std::vector<KernelSocket> kernel = {kernel_time_wait(1, towards(80, 40001), 16 * kSecond),
                                      kernel_time_wait(4, towards(80, 40004), 18 * kSecond),
                                      kernel_time_wait(5, towards(80, 40005), 20 * kSecond)};
  tracker.begin_reconcile();
  tracker.reconcile_part(std::span(kernel).first(1), 11 * kSecond);
  tracker.enter(3, towards(80, 40003), 12 * kSecond);
  tracker.reconcile_part(std::span(kernel).subspan(1), 12 * kSecond);
  ReconcileDrift drift =
      tracker.finish_reconcile(10 * kSecond, [](const SocketTuple&) { return true; });
  EXPECT_EQ(drift.added, 2u);
  EXPECT_EQ(drift.removed, 1u);
  std::vector<uint64_t> tracked;
  tracker.for_each([&](const TimeWaitEntry& e) { tracked.push_back(e.cookie); });
  std::sort(tracked.begin(), tracked.end());
  EXPECT_EQ(tracked, (std::vector<uint64_t>{1, 3, 4, 5}));
}

// Past tcp_max_tw_buckets the kernel makes no TIME_WAIT socket: inference in that namespace
// stops there too, other namespaces are not limited, and a walk's entries are always kept.
TEST(TimeWaitTrackerTest, InferenceStopsAtTheKernelsBucketLimit) {
  TimeWaitTracker tracker;
  tracker.limit_namespace(77, 2);
  auto in = [](uint32_t netns, uint16_t port) {
    SocketTuple tuple = towards(80, port);
    tuple.netns = netns;
    return tuple;
  };
  tracker.enter(1, in(77, 40001), kSecond);
  tracker.enter(2, in(77, 40002), kSecond);
  tracker.enter(3, in(77, 40003), kSecond);      // refused: the kernel closed it at once
  tracker.enter(2, in(77, 40002), 2 * kSecond);  // already tracked: not a refusal
  tracker.enter(4, in(88, 40004), kSecond);      // another namespace
  EXPECT_EQ(tracker.size(), 3u);
  EXPECT_EQ(tracker.refused_by_kernel_limit(), 1u);
  std::vector<KernelSocket> kernel = {kernel_time_wait(1, in(77, 40001), 4 * kSecond),
                                      kernel_time_wait(2, in(77, 40002), 4 * kSecond),
                                      kernel_time_wait(5, in(77, 40005), 4 * kSecond)};
  tracker.reconcile(kernel, 0, 3 * kSecond, [](const SocketTuple&) { return true; });
  EXPECT_EQ(tracker.size(), 4u);  // 1, 2, 5 listed; 4 entered after the walk began (at 0)
  EXPECT_EQ(tracker.expire(4 * kSecond), 3u);
  tracker.enter(6, in(77, 40006), 5 * kSecond);  // room again
  EXPECT_EQ(tracker.size(), 2u);
  EXPECT_EQ(tracker.refused_by_kernel_limit(), 1u);
}

// A part applied after some of the walk's TIME_WAIT sockets ran out (and were expired here in
// the meantime) does not bring them back, nor count them as drift.
TEST(TimeWaitTrackerTest, APartAppliedLateDoesNotResurrectExpiredSockets) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40001), 0);  // runs out at 60 s
  std::vector<KernelSocket> kernel = {kernel_time_wait(1, towards(80, 40001), 60'500'000'000),
                                      kernel_time_wait(2, towards(80, 40002), 60'500'000'000),
                                      kernel_time_wait(3, towards(80, 40003), 89'500'000'000)};
  tracker.begin_reconcile();  // the walk ended at 59.5 s
  tracker.reconcile_part(std::span(kernel).first(1), 59'600'000'000);
  EXPECT_EQ(tracker.expire(61 * kSecond), 1u);  // the tick between parts: cookie 1 is gone
  tracker.reconcile_part(std::span(kernel).subspan(1), 61 * kSecond);
  ReconcileDrift drift = tracker.finish_reconcile(0, [](const SocketTuple&) { return true; });
  EXPECT_EQ(drift.added, 1u);  // only cookie 3: cookie 2's timer ran out at 60.5 s
  EXPECT_EQ(tracker.size(), 1u);
}

TEST(TimeWaitTrackerTest, AKernelTimerLaterThanTheEstimateKeepsTheEntry) {
  TimeWaitTracker tracker;
  tracker.enter(1, towards(80, 40001), 0);  // estimated to run out at 60 s
  std::vector<KernelSocket> kernel = {kernel_time_wait(1, towards(80, 40001), 65 * kSecond)};
  tracker.reconcile(kernel, 9 * kSecond, 10 * kSecond, [](const SocketTuple&) { return true; });
  EXPECT_EQ(tracker.expire(60 * kSecond), 0u);  // the kernel says 65 s
  EXPECT_EQ(tracker.size(), 1u);
  std::vector<uint64_t> expired;
  EXPECT_EQ(
      tracker.expire(65 * kSecond, [&](const TimeWaitEntry& e) { expired.push_back(e.cookie); }),
      1u);
  EXPECT_EQ(expired, std::vector<uint64_t>{1});
}

// Enters, reconciliations that move timers both ways or drop entries, and expiry, in random
// order, against a plain reference: what is tracked, and what expires when, must agree.
TEST(TimeWaitTrackerTest, AgreesWithAReferenceThroughRandomEntersReconcilesAndExpiry) {
  struct Expected {
    uint64_t entered_ns, expires_ns;
  };
  TimeWaitTracker tracker;
  std::map<uint64_t, Expected> reference;
  std::mt19937_64 random(11);
  uint64_t now = 0;
  for (int round = 0; round < 400; ++round) {
    now += random() % (3 * kSecond);
    for (int i = 0; i < 50; ++i) {
      uint64_t cookie = 1 + random() % 3'000;
      tracker.enter(cookie, towards(80, static_cast<uint16_t>(cookie)), now);
      auto [it, fresh] = reference.try_emplace(cookie, Expected{now, 0});
      it->second.expires_ns = now + kTimeWaitLengthNs;
    }
    if (round % 7 == 0) {  // the kernel lists about half, with its own timers
      std::vector<KernelSocket> kernel;
      std::map<uint64_t, Expected> listed;
      uint64_t start = now;
      now += kSecond;
      for (const auto& [cookie, expected] : reference) {
        if (random() % 2) continue;
        uint64_t remaining = random() % (70 * kSecond);
        kernel.push_back(
            kernel_time_wait(cookie, towards(80, static_cast<uint16_t>(cookie)), now + remaining));
        listed[cookie] = {expected.entered_ns, now + remaining};
      }
      tracker.reconcile(kernel, start, now, [](const SocketTuple&) { return true; });
      for (auto it = reference.begin(); it != reference.end();) {
        if (auto l = listed.find(it->first); l != listed.end()) {
          it->second.expires_ns = l->second.expires_ns;
          ++it;
        } else if (it->second.entered_ns < start) {
          it = reference.erase(it);
        } else {
          ++it;
        }
      }
    }
    std::map<uint64_t, uint64_t> expired;
    tracker.expire(now, [&](const TimeWaitEntry& e) { expired[e.cookie] = e.expires_ns; });
    std::map<uint64_t, uint64_t> expected_expired;
    for (auto it = reference.begin(); it != reference.end();) {
      if (it->second.expires_ns <= now) {
        expected_expired[it->first] = it->second.expires_ns;
        it = reference.erase(it);
      } else {
        ++it;
      }
    }
    ASSERT_EQ(expired, expected_expired) << "round " << round;
    ASSERT_EQ(tracker.size(), reference.size()) << "round " << round;
  }
  std::size_t visited = 0;
  tracker.for_each([&](const TimeWaitEntry& e) {
    ++visited;
    EXPECT_EQ(reference.count(e.cookie), 1u);
  });
  EXPECT_EQ(visited, reference.size());
}

// The kernel's timer wheel runs a timer armed 60 s ahead at the end of its bucket: 8^level
// jiffies, the level set by how far ahead it was armed (kernel/time/timer.c).
TEST(TimeWaitTrackerTest, TimerWheelBucketOfASixtySecondTimer) {
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(62), 1u);
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(63), 8u);
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(503), 8u);
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(504), 64u);
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(60 * 100), 512u);    // HZ=100: 5.12 s
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(60 * 250), 512u);    // HZ=250: 2.048 s
  EXPECT_EQ(synfin_timer_wheel_bucket_jiffies(60 * 1000), 4096u);  // HZ=1000: 4.096 s
}

// An inferred entry is reaped at the end of the bucket its 60 s fall in, as the kernel's
// socket is: half a bucket late on average until a walk tells where buckets end, then exactly.
TEST(TimeWaitTrackerTest, InferredEntriesExpireAtTheEndOfTheirTimerWheelBucket) {
  constexpr uint64_t kBucket = 2'048'000'000;  // HZ=250
  TimeWaitTracker tracker;
  tracker.follow_timer_wheel(kBucket);
  EXPECT_EQ(tracker.reap_time(10 * kSecond), 70 * kSecond + kBucket / 2);
  // A walk lists a socket the kernel reaps at 100.3 s: buckets end at 0.3 s + k * 2.048 s.
  uint64_t bucket_end = 100'300'000'000;
  std::vector<KernelSocket> kernel = {kernel_time_wait(9, towards(80, 40009), bucket_end)};
  tracker.reconcile(kernel, 50 * kSecond, 51 * kSecond, [](const SocketTuple&) { return true; });
  // Entered at 41 s: due at 101 s, reaped at the next bucket end, 100.3 + 2.048 s.
  EXPECT_EQ(tracker.reap_time(41 * kSecond), bucket_end + kBucket);
  // Due exactly at a bucket's end: the kernel waits for the next one.
  EXPECT_EQ(tracker.reap_time(bucket_end - 60 * kSecond), bucket_end + kBucket);
  tracker.enter(1, towards(80, 40001), 41 * kSecond);
  EXPECT_EQ(tracker.expire(bucket_end + kBucket - 1), 1u);  // only cookie 9, at 100.3 s
  EXPECT_EQ(tracker.size(), 1u);
  EXPECT_EQ(tracker.expire(bucket_end + kBucket), 1u);
  EXPECT_EQ(tracker.size(), 0u);
}

}  // namespace
}  // namespace synfin::model
