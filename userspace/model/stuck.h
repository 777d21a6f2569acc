#pragma once
// The stuck detector: sockets that stayed in one state longer than that state's threshold.
// A CLOSE_WAIT socket is the classic application bug (the peer closed, we never did).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/connection_table.h"

namespace synfin::model {

struct StuckThresholds {
  // 0 = never stuck. Defaults documented in README ("Stuck thresholds").
  std::array<uint64_t, kTcpStateCount> ns{};

  static StuckThresholds defaults();
  uint64_t for_state(TcpState state) const { return ns[index_of(state)]; }
  // "CLOSE_WAIT=30" → sets one threshold; error text when malformed.
  Status set_from_text(const std::string& text);
};

struct StuckSocket {
  const Connection* connection = nullptr;
  uint64_t age_ns = 0;
  bool age_is_lower_bound = false;  // seeded from a snapshot: entered before synfin started
};

std::vector<StuckSocket> find_stuck(const ConnectionTable& table, const StuckThresholds& thresholds,
                                    uint64_t now_ns);

// Time in the current state; for a seeded socket, the time since it was seen (a lower bound).
StuckSocket age_of(const Connection& connection, uint64_t now_ns);

}  // namespace synfin::model
