#include "api/owner_filter.h"

#include <algorithm>
#include <charconv>

namespace synfin::api {

namespace {
std::string normal_pod_uid(std::string_view text) {
  std::string uid(text);
  std::replace(uid.begin(), uid.end(), '_', '-');
  std::transform(uid.begin(), uid.end(), uid.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return uid;
}
}  // namespace

bool OwnerFilter::matches(const model::ProcessInfo* owner, uint32_t socket_netns) const {
  if (netns && outputs::row_netns(socket_netns, owner) != *netns) return false;
  if (unit &&
      (!owner || (owner->identity.unit != *unit && owner->identity.unit != *unit + ".service")))
    return false;
  if (pod && (!owner || owner->identity.pod_uid.empty() || owner->identity.pod_uid != *pod))
    return false;
  return true;
}

bool OwnerFilter::set(std::string_view name, std::string_view value, std::string& error) {
  if (name == "unit") {
    unit = std::string(value);
  } else if (name == "pod") {
    pod = normal_pod_uid(value);
  } else if (name == "netns") {
    uint32_t inode = 0;
    bool digits =
        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), inode);
    if (!digits || ec != std::errc() || end != value.data() + value.size() || inode == 0) {
      error = "netns must be a namespace's inode number (as in /proc/PID/ns/net), not '" +
              std::string(value) + "'";
      return false;
    }
    netns = inode;
  }
  return true;
}

}  // namespace synfin::api
