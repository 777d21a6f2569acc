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

namespace synfin::model {

// Who a pid is beyond its comm, for lines written as connections close: `synfin trace` asks
// /proc, `synfin replay` what the recording noted the trace found.
class ProcessDirectory {
 public:
  virtual ~ProcessDirectory() = default;
  // nullptr when not known (exited before it was asked about, or never seen). Valid until the
  // next call.
  virtual const ProcessInfo* find(uint32_t pid) = 0;
  // The host's network namespace inode (0: not known), for "netns_is_host".
  virtual uint32_t host_netns() const = 0;
};

}  // namespace synfin::model
