#pragma once
// /api/v1/listeners: every listening socket of the kernel's table with its owner, its accept
// and SYN queues, and what the kernel refused it since synfin started. The kernel-facing parts
// come in as callbacks, so the route is unit-testable without root.
#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

#include "api/daemon_api.h"
#include "model/event.h"
#include "model/process.h"
#include "synfin/abi.h"

namespace synfin::api {

struct ListenersApiHooks {
  // The kernel's socket table now (iter/tcp); listeners are those in LISTEN.
  std::function<std::vector<model::KernelSocket>()> snapshot;
  std::function<std::unordered_map<uint64_t, std::vector<model::ProcessInfo>>(
      std::span<const uint64_t>)>
      resolve_owners;
  // BPF's counters per listener cookie (a listener without an entry was refused nothing).
  std::function<std::unordered_map<uint64_t, synfin_listener_counters>()> counters;
  // The namespace the socket table is walked in (the daemon's) and the host's, as inodes.
  uint32_t own_netns = 0;
  uint32_t host_netns = 0;
};

class ListenersApi {
 public:
  explicit ListenersApi(ListenersApiHooks hooks) : hooks_(std::move(hooks)) {}

  // ?port=N keeps the listeners of one local port; ?unit= ?pod= ?netns= those of an owner
  // (api/owner_filter.h). Ordered by overflows, then port.
  HttpAnswer listeners(const DaemonApi::Params& params) const;

 private:
  ListenersApiHooks hooks_;
};

}  // namespace synfin::api
