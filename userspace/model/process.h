#pragma once
#include <cstdint>
#include <string>

#include "model/owner_identity.h"

namespace synfin::model {

// A process holding a socket, as /proc tells it.
struct ProcessInfo {
  uint32_t pid = 0;
  std::string comm;
  std::string cgroup;  // cgroup v2 path, e.g. /system.slice/nginx.service
  // The path that names it best, v1 name=systemd included (pick_cgroup_path), and what it says.
  std::string cgroup_path;
  CgroupIdentity identity;
  uint32_t netns = 0;  // inode of its network namespace (/proc/PID/ns/net); 0 if unreadable
};

}  // namespace synfin::model
