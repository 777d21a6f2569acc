#include "model/aggregates.h"

namespace synfin::model {

HandshakeHistogram make_handshake_histogram() {
  return {{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3}};
}

LifetimeHistogram make_lifetime_histogram() {
  return {{0.001, 0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 21600, 86400}};
}

StateDurationHistogram make_state_duration_histogram() {
  return {{0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 3600}};
}

}  // namespace synfin::model
