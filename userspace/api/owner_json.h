#pragma once
// Who owns a row, beyond pid and comm: its network namespace and what its owner's cgroup
// path says (systemd unit, container, pod). One spelling for every listing of the API, and the
// filters that select on it (?unit=, ?pod=, ?netns=).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "model/process.h"

namespace synfin::api {

// Appends the members (no braces, no leading comma): "netns", "netns_is_host", "cgroup_path",
// "unit", "container_id", "container_runtime", "pod_uid", "pod_qos"; null where not known.
// netns is the socket's own namespace (0: not known, then the owner's is used).
void append_identity_members(fmt::memory_buffer& out, const model::ProcessInfo* owner,
                             uint32_t netns, uint32_t host_netns);

// The namespace a row is reported in: the socket's, else its owner's; 0 if neither is known.
inline uint32_t row_netns(uint32_t socket_netns, const model::ProcessInfo* owner) {
  return socket_netns ? socket_netns : owner ? owner->netns : 0;
}

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
