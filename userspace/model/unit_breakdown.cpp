#include "model/unit_breakdown.h"

#include <algorithm>

namespace synfin::model {

namespace {
// No systemd unit is called so (a unit name has a type suffix): such a name is not trusted.
bool is_reserved(std::string_view unit) {
  return unit == kUnitUnknown || unit == kUnitNone || unit == kUnitOther;
}

// The ranked units first (most sockets, then name), past `limit` summed into "other"; the
// reserved buckets always follow, so a dashboard's series exist at zero.
UnitSeries rank(std::unordered_map<std::string, UnitSockets>& by_unit, std::size_t limit) {
  UnitSeries series;
  UnitSockets unknown{std::string(kUnitUnknown)}, none{std::string(kUnitNone)},
      other{std::string(kUnitOther)};
  std::vector<UnitSockets> ranked;
  for (auto& [unit, sockets] : by_unit) {
    if (sockets.count == 0) continue;
    if (unit == kUnitUnknown)
      unknown = std::move(sockets);
    else if (unit.empty())
      none = {std::string(kUnitNone), sockets.count, sockets.stuck_by_state};
    else
      ranked.push_back(std::move(sockets));
  }
  std::sort(ranked.begin(), ranked.end(), [](const UnitSockets& a, const UnitSockets& b) {
    return a.count != b.count ? a.count > b.count : a.unit < b.unit;
  });
  for (std::size_t i = limit; i < ranked.size(); ++i) {
    other.count += ranked[i].count;
    for (std::size_t s = 0; s < kTcpStateCount; ++s)
      other.stuck_by_state[s] += ranked[i].stuck_by_state[s];
    ++series.folded_units;
  }
  if (ranked.size() > limit) ranked.resize(limit);
  series.units = std::move(ranked);
  series.units.push_back(std::move(unknown));
  series.units.push_back(std::move(none));
  series.units.push_back(std::move(other));
  return series;
}
}  // namespace

UnitBreakdown break_down_by_unit(const SocketsByOwner& owners, const UnitOfPid& unit_of,
                                 std::size_t limit) {
  std::unordered_map<std::string, UnitSockets> stuck, time_wait;
  for (const auto& [pid, sockets] : owners) {
    std::string name(kUnitUnknown);
    if (pid != 0 && unit_of)
      if (std::optional<std::string> unit = unit_of(pid))
        name = is_reserved(*unit) ? std::string() : std::move(*unit);
    uint64_t stuck_count = 0;
    for (uint64_t n : sockets.stuck_by_state) stuck_count += n;
    if (stuck_count) {
      UnitSockets& s = stuck[name];
      s.unit = name;
      s.count += stuck_count;
      for (std::size_t i = 0; i < kTcpStateCount; ++i)
        s.stuck_by_state[i] += sockets.stuck_by_state[i];
    }
    if (sockets.time_wait) {
      UnitSockets& t = time_wait[name];
      t.unit = name;
      t.count += sockets.time_wait;
    }
  }
  UnitBreakdown breakdown;
  breakdown.limit = limit;
  breakdown.stuck = rank(stuck, limit);
  breakdown.time_wait = rank(time_wait, limit);
  return breakdown;
}

}  // namespace synfin::model
