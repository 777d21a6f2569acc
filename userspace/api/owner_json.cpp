#include "api/owner_json.h"

#include <algorithm>
#include <charconv>
#include <iterator>

#include "outputs/json_lines.h"

namespace synfin::api {

namespace {
void member(fmt::memory_buffer& out, bool& first, std::string_view name) {
  if (!first) out.push_back(',');
  first = false;
  outputs::append_json_string(out, name);
  out.push_back(':');
}

void string_or_null(fmt::memory_buffer& out, bool& first, std::string_view name,
                    std::string_view value) {
  member(out, first, name);
  if (value.empty())
    outputs::append_json_fragment(out, "null");
  else
    outputs::append_json_string(out, value);
}

std::string normal_pod_uid(std::string_view text) {
  std::string uid(text);
  std::replace(uid.begin(), uid.end(), '_', '-');
  std::transform(uid.begin(), uid.end(), uid.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return uid;
}
}  // namespace

void append_identity_members(fmt::memory_buffer& out, const model::ProcessInfo* owner,
                             uint32_t netns, uint32_t host_netns) {
  bool first = true;
  netns = row_netns(netns, owner);
  member(out, first, "netns");
  if (netns)
    fmt::format_to(std::back_inserter(out), "{}", netns);
  else
    outputs::append_json_fragment(out, "null");
  member(out, first, "netns_is_host");
  outputs::append_json_fragment(out, !netns || !host_netns ? "null"
                                     : netns == host_netns ? "true"
                                                           : "false");
  const model::CgroupIdentity none;
  const model::CgroupIdentity& id = owner ? owner->identity : none;
  member(out, first, "cgroup_path");
  if (owner)
    outputs::append_json_string(out, owner->cgroup_path);
  else
    outputs::append_json_fragment(out, "null");
  string_or_null(out, first, "unit", id.unit);
  string_or_null(out, first, "container_id", id.container_id);
  string_or_null(out, first, "container_runtime", model::runtime_name(id.runtime));
  string_or_null(out, first, "pod_uid", id.pod_uid);
  string_or_null(out, first, "pod_qos", model::qos_name(id.qos));
}

bool OwnerFilter::matches(const model::ProcessInfo* owner, uint32_t socket_netns) const {
  if (netns && row_netns(socket_netns, owner) != *netns) return false;
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
