#pragma once
// The opt-in breakdown of the stuck and TIME_WAIT gauges by systemd unit (--metrics-by unit),
// bounded: the `limit` units with most sockets get their own series, the rest are summed into
// one "other" bucket and counted, so the series count never depends on how many units a host
// runs. Pure: who owns a socket (a pid) comes in from the caller, which reads /proc.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tcp_state.h"

namespace synfin::model {

// Reserved bucket names; no systemd unit can be called so (a unit name has a type suffix).
inline constexpr std::string_view kUnitUnknown = "unknown";  // no owner known, or it exited
inline constexpr std::string_view kUnitNone = "none";        // its cgroup is in no unit
inline constexpr std::string_view kUnitOther = "other";      // past the limit, summed

inline constexpr std::size_t kDefaultUnitLimit = 50;
inline constexpr std::size_t kMaxUnitLimit = 500;

// What one owner (a pid; 0: none known) holds: stuck sockets by state, as the
// synfin_tcp_stuck_sockets gauge counts them, and TIME_WAIT sockets, as
// synfin_tcp_sockets{state="TIME_WAIT"} does (a mini-socket's owner is the connection's last
// owner when its close reached the daemon). Counted by DaemonModel::tick.
struct OwnerSockets {
  std::array<uint64_t, kTcpStateCount> stuck_by_state{};
  uint64_t time_wait = 0;
};
using SocketsByOwner = std::unordered_map<uint32_t, OwnerSockets>;

struct UnitSockets {
  std::string unit;
  uint64_t count = 0;  // what it was ranked by: all its stuck sockets, or its TIME_WAIT ones
  std::array<uint64_t, kTcpStateCount> stuck_by_state{};
};

// One family's series: the ranked units (most first, ties by name), then unknown, none and
// other, always present.
struct UnitSeries {
  std::vector<UnitSockets> units;
  uint64_t folded_units = 0;  // units summed into "other"
};

struct UnitBreakdown {
  std::size_t limit = kDefaultUnitLimit;
  UnitSeries stuck;
  UnitSeries time_wait;
};

// The unit of a pid: nullopt when the process is not known (exited), "" when its cgroup names
// no systemd unit.
using UnitOfPid = std::function<std::optional<std::string>(uint32_t pid)>;

UnitBreakdown break_down_by_unit(const SocketsByOwner& owners, const UnitOfPid& unit_of,
                                 std::size_t limit);

}  // namespace synfin::model
