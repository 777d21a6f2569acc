#pragma once
#include <time.h>

#include <cstdint>

namespace synfin::cli {

// The clock bpf_ktime_get_ns() reads.
inline uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline int64_t realtime_minus_monotonic_ns() {
  timespec real{};
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t real_ns = static_cast<int64_t>(real.tv_sec) * 1'000'000'000ll + real.tv_nsec;
  return real_ns - static_cast<int64_t>(monotonic_now_ns());
}

}  // namespace synfin::cli
