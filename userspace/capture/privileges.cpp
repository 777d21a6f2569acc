#include "capture/privileges.h"

#include <cap-ng.h>
#include <linux/capability.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace synfin::capture {

Status keep_only_capabilities(std::initializer_list<int> kept) {
  if (capng_get_caps_process() != 0)
    return Error{fmt::format("cannot read the process's capabilities: {}", std::strerror(errno))};
  bool may_shrink_bounding_set = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
  std::vector<int> held;
  for (int cap : kept)
    if (capng_have_capability(CAPNG_PERMITTED, static_cast<unsigned>(cap))) held.push_back(cap);
  capng_clear(CAPNG_SELECT_ALL);
  for (int cap : held)
    capng_update(CAPNG_ADD,
                 static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
                 static_cast<unsigned>(cap));
  // Ambient capabilities go with the inheritable ones cleared here.
  if (capng_apply(may_shrink_bounding_set ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) != 0)
    return Error{fmt::format("cannot drop capabilities: {}", std::strerror(errno))};
  return Ok{};
}

namespace {
// Before Linux 5.19, kernel.unprivileged_bpf_disabled (Debian: 2) refused every bpf() command
// without CAP_BPF, map lookups and iterator reads on held descriptors included; since then
// only map creation and program loading are refused.
bool held_descriptors_need_cap_bpf() {
  utsname name{};
  unsigned major = 0, minor = 0;
  if (::uname(&name) != 0 || std::sscanf(name.release, "%u.%u", &major, &minor) != 2) return true;
  return major < 5 || (major == 5 && minor < 19);
}
}  // namespace

bool holds_sys_admin() {
  return capng_get_caps_process() == 0 && capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_ADMIN);
}

Status keep_only_runtime_capabilities(bool xdp_dispatcher, bool enter_namespaces) {
  // CAP_SYS_ADMIN stands in for CAP_BPF where it is kept (it implies it for bpf()).
  if (xdp_dispatcher || enter_namespaces)
    return keep_only_capabilities(
        {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_ADMIN});
  if (held_descriptors_need_cap_bpf())
    return keep_only_capabilities({CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_BPF});
  return keep_only_capabilities({CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN});
}

}  // namespace synfin::capture
