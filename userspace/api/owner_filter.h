#pragma once
// The filters of the API's listings by owner (?unit=, ?pod=, ?netns=), on the identity that
// outputs/owner_fields.h writes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/process.h"
#include "outputs/owner_fields.h"

namespace synfin::api {

struct OwnerFilter {
  std::optional<std::string> unit;  // a unit name; "nginx" stands for "nginx.service"
  std::optional<std::string> pod;   // a pod UID (dashes or systemd's underscores)
  std::optional<uint32_t> netns;

  bool any() const { return unit || pod || netns; }
  bool matches(const model::ProcessInfo* owner, uint32_t netns) const;

  // Reads one of "unit", "pod", "netns" (the caller has checked for repeats and empties);
  // false with `error` set when the value is not one.
  bool set(std::string_view name, std::string_view value, std::string& error);
};

}  // namespace synfin::api
