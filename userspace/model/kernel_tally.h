#pragma once
// What the daemon's kernel side counted (bpf/lib/paths.h), summed over CPUs: every step, every
// close by outcome and verdict, the time histograms, and what crossed to userspace. /metrics
// reads these instead of the model's aggregates, which see only the closes that crossed.
#include <array>
#include <cstdint>

#include "synfin/abi.h"

namespace synfin::model {

struct KernelTally {
  std::array<uint64_t, SYNFIN_TALLY_TRANSITION_SLOTS> transitions{};  // [from * 16 + to]
  std::array<uint64_t, SYNFIN_TALLY_CLOSE_SLOTS> closes{};  // [outcome * verdicts + verdict]
  std::array<uint64_t, SYNFIN_VERDICT_REASON_COUNT> invalid{};
  std::array<synfin_histogram, SYNFIN_HISTOGRAM_COUNT> histograms{};
  std::array<uint64_t, SYNFIN_CLOSE_COUNTER_COUNT> close_counters{};
  std::array<uint64_t, SYNFIN_DROP_REASON_COUNT> time_wait_drops{};

  uint64_t transition(std::size_t from, std::size_t to) const {
    return transitions[from * SYNFIN_TCP_STATE_SLOTS + to];
  }
  uint64_t closed(std::size_t outcome, std::size_t verdict) const {
    return closes[outcome * SYNFIN_VERDICT_COUNT + verdict];
  }
};

}  // namespace synfin::model
