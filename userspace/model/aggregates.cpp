#include "model/aggregates.h"

#include "synfin/tcp_life.h"

namespace synfin::model {

// The bounds the kernel's histograms use too (synfin/tcp_life.h), in seconds.
#define SYNFIN_BOUND_SECONDS(ns) static_cast<double>(ns##ULL) / 1e9,

HandshakeHistogram make_handshake_histogram() {
  return {{SYNFIN_HANDSHAKE_BOUNDS_NS(SYNFIN_BOUND_SECONDS)}};
}

LifetimeHistogram make_lifetime_histogram() {
  return {{SYNFIN_LIFETIME_BOUNDS_NS(SYNFIN_BOUND_SECONDS)}};
}

StateDurationHistogram make_state_duration_histogram() {
  return {{SYNFIN_STATE_DURATION_BOUNDS_NS(SYNFIN_BOUND_SECONDS)}};
}

#undef SYNFIN_BOUND_SECONDS

}  // namespace synfin::model
