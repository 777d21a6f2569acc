#pragma once
#include <cstdint>
#include <string>

namespace synfin::model {

// A process holding a socket, as /proc tells it.
struct ProcessInfo {
  uint32_t pid = 0;
  std::string comm;
  std::string cgroup;  // cgroup v2 path, e.g. /system.slice/nginx.service
};

}  // namespace synfin::model
