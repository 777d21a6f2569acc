#pragma once
// Who a socket's owner is on a server, read from its cgroup path alone (no API server, no
// runtime socket): the systemd unit, the container and its runtime, the Kubernetes pod and its
// QoS class. Paths are only text here: reading /proc is the capture layer's job.
#include <cstdint>
#include <string>
#include <string_view>

namespace synfin::model {

enum class ContainerRuntime : uint8_t {
  None,
  Docker,
  Containerd,
  CriO,
  Podman,
  // A kubelet's cgroupfs driver names the container by its bare id: some CRI runtime, the
  // path does not say which.
  Cri,
};

enum class PodQos : uint8_t { None, Guaranteed, Burstable, BestEffort };

std::string_view runtime_name(ContainerRuntime runtime);  // "" for None
std::string_view qos_name(PodQos qos);                    // "" for None

struct CgroupIdentity {
  std::string unit;  // innermost systemd unit (nginx.service, session-3.scope), "" if none
  std::string container_id;
  ContainerRuntime runtime = ContainerRuntime::None;
  std::string pod_uid;  // as the API server spells it (dashes, not systemd's underscores)
  PodQos qos = PodQos::None;

  bool operator==(const CgroupIdentity&) const = default;
};

// Longer paths are not parsed: the kernel's own limit on a cgroup path is PATH_MAX.
inline constexpr std::size_t kMaxCgroupPath = 4096;

// Any cgroup path: a v2 one, a v1 name=systemd one, one seen from inside a cgroup namespace
// (leading "/.." components), with the systemd or the cgroupfs layout.
CgroupIdentity parse_cgroup_path(std::string_view path);

// The path that says most in /proc/PID/cgroup: the unified (v2) line, unless it is the root
// while a v1 line is not (a hybrid layout whose cgroup2 is not where systemd keeps its tree),
// then the name=systemd line, then the first v1 controller's. "" when the text has none.
std::string pick_cgroup_path(std::string_view proc_pid_cgroup);

}  // namespace synfin::model
