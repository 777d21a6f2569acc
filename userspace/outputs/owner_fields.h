#pragma once
// Who owns a socket, beyond pid and comm: its network namespace and what its owner's cgroup
// path says (systemd unit, container, pod). One spelling for every listing of the API and for
// the trace's lines.
#include <cstdint>

#include "model/process.h"
#include "outputs/json_writer.h"

namespace synfin::outputs {

// The namespace a row is reported in: the socket's, else its owner's; 0 if neither is known.
inline uint32_t row_netns(uint32_t socket_netns, const model::ProcessInfo* owner) {
  return socket_netns ? socket_netns : owner ? owner->netns : 0;
}

// Members of the object `out` is in: "netns", "netns_is_host", "cgroup_path", "unit",
// "container_id", "container_runtime", "pod_uid", "pod_qos"; null where not known. netns is
// the socket's own namespace (0: not known, then the owner's is used).
void write_identity_members(JsonWriter& out, const model::ProcessInfo* owner, uint32_t netns,
                            uint32_t host_netns);

}  // namespace synfin::outputs
