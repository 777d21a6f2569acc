#pragma once
// The clocks synfin works in: CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads and every
// record is stamped with, and Unix time for what people read.
#include <time.h>

#include <cstdint>

namespace synfin {

// The clock bpf_ktime_get_ns() reads.
inline uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Monotonic event time → Unix epoch nanoseconds; the offset is taken once at start (and kept
// in recordings). Unsigned arithmetic: a crafted offset wraps instead of overflowing.
struct Clock {
  int64_t realtime_minus_monotonic_ns = 0;
  uint64_t to_epoch_ns(uint64_t monotonic_ns) const {
    return monotonic_ns + static_cast<uint64_t>(realtime_minus_monotonic_ns);
  }
};

inline int64_t realtime_minus_monotonic_ns() {
  timespec real{};
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t real_ns = static_cast<int64_t>(real.tv_sec) * 1'000'000'000ll + real.tv_nsec;
  return real_ns - static_cast<int64_t>(monotonic_now_ns());
}

}  // namespace synfin
