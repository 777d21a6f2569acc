#pragma once
// The owner-identity columns of `synfin stuck` and `synfin listeners`, from an API row.
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "outputs/utf8.h"

namespace synfin::cli {

inline std::string field_text(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_string() ? outputs::printable(it->get<std::string>())
                                            : std::string();
}

// NETNS: "host" for the host's namespace, else its inode (what `ip netns identify`, `lsns -t
// net` and /proc/PID/ns/net show).
inline std::string netns_text(const nlohmann::json& row) {
  auto host = row.find("netns_is_host");
  if (host != row.end() && host->is_boolean() && host->get<bool>()) return "host";
  auto netns = row.find("netns");
  return netns != row.end() && netns->is_number() ? netns->dump() : "-";
}

// OWNER: the most telling of the identity: a pod, else a container, else a systemd unit.
inline std::string owner_text(const nlohmann::json& row) {
  std::string pod = field_text(row, "pod_uid");
  std::string container = field_text(row, "container_id");
  std::string runtime = field_text(row, "container_runtime");
  if (!pod.empty())
    return fmt::format("pod {}{}", pod,
                       container.empty() ? "" : fmt::format(" {}", container.substr(0, 12)));
  if (!container.empty()) return fmt::format("{} {}", runtime, container.substr(0, 12));
  std::string unit = field_text(row, "unit");
  return unit.empty() ? "-" : unit;
}

}  // namespace synfin::cli
