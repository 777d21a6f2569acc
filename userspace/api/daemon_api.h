#pragma once
// The daemon's query API as plain functions of the model: each route returns a status and a
// JSON body. The kernel-facing parts (socket-table snapshot, /proc owners) come in as
// callbacks, so the API is unit-testable without root.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/http_answer.h"
#include "api/owner_filter.h"
#include "api/query_parameters.h"
#include "api/routes.h"
#include "api/web_ui.h"
#include "model/daemon_model.h"
#include "model/process.h"
#include "outputs/json_lines.h"

namespace synfin::api {

struct PortRange {
  uint16_t low = 32768;
  uint16_t high = 60999;
  uint32_t size() const { return high >= low ? high - low + 1u : 0u; }
};

struct ProgramHealth {
  std::string name;
  bool attached = false;
};

struct InterfaceHealth {
  std::string name;
  std::string mode;  // native or generic
  bool attached = false;
  bool dispatcher = false;  // shared through libxdp's dispatcher, or attached directly
};

// How the last walk of the kernel's tables covered the host's other network namespaces.
struct NamespaceWalkHealth {
  bool enter = false;        // --enter-namespaces asked, and CAP_SYS_ADMIN held
  uint64_t entered = 0;      // walked with the iterator, entered with setns()
  uint64_t proc_tables = 0;  // walked from a process's /proc/PID/net/tcp{,6}
  uint64_t not_walked = 0;   // its process left before its table was read, or none is in
                             // it (a bind mount keeps it) and it could not be entered
  std::string enter_error;   // why entering failed where it did (then read from /proc)
  double walk_seconds = 0;   // the whole walk, the daemon's own namespace included
};

struct HealthInputs {
  std::vector<ProgramHealth> programs;
  std::vector<InterfaceHealth> xdp;  // --xdp interfaces
  uint64_t events_lost_total = 0;
  double events_lost_per_second = 0;  // over the last health window
  double last_snapshot_age_seconds = -1;
  std::vector<std::string> cannot_report;  // what this kernel does not let synfin report
  NamespaceWalkHealth namespaces;
};

struct DaemonApiHooks {
  std::function<uint64_t()> monotonic_now_ns;
  // The kernel's socket table right now (iter/tcp); empty on failure.
  std::function<std::vector<model::KernelSocket>()> snapshot;
  std::function<std::unordered_map<uint64_t, std::vector<model::ProcessInfo>>(
      std::span<const uint64_t>)>
      resolve_owners;
  // One process by pid, for an owner a syscall named (its cgroup, its namespace); null: such rows
  // carry no identity.
  std::function<std::optional<model::ProcessInfo>(uint32_t)> describe_process;
  // The host's network namespace (init's) and the daemon's own, which its socket-table walk covers
  // (inodes; 0: not known).
  uint32_t host_netns = 0;
  uint32_t own_netns = 0;
  // The socket table of another namespace, read through a process in it (/proc/PID/net/tcp):
  // ends, state, queues and inode, no cookie and no byte counts. Null: not read.
  std::function<std::vector<model::KernelSocket>(uint32_t pid, model::AddressFamily)>
      namespace_sockets;
  std::function<PortRange()> port_range;
  std::function<HealthInputs()> health;
  std::function<std::string()> metrics;  // the Prometheus exposition
  // Called before a route reads the model (it may refresh the live view); null: nothing.
  std::function<void()> before_reading;
  // /api/v1/listeners (api/listeners_api), parameters already checked; null: not served.
  std::function<HttpAnswer(const std::multimap<std::string, std::string>&)> listeners;
};

class DaemonApi {
 public:
  DaemonApi(model::DaemonModel& model, std::mutex& model_mutex, DaemonApiHooks hooks, Clock clock);

  // Query parameters as the client sent them, repeats included.
  using Params = api::Params;
  static constexpr std::size_t kMaxLimit = api::kMaxLimit;

  // Every request: a path not in the route table (api/routes.h) is 404, a known one asked with
  // a method other than GET or HEAD 405 (Allow: GET, HEAD), and a parameter the one rule
  // (api/query_parameters.h) refuses 400.
  HttpAnswer handle(std::string_view method, std::string_view path, const Params& params);

  HttpAnswer connections(const Params& params);
  HttpAnswer stuck(const Params& params);
  HttpAnswer time_wait(const Params& params);
  HttpAnswer closed(const Params& params);
  HttpAnswer listeners(const Params& params);
  HttpAnswer healthz();

 private:
  // The kernel's side of a listing: each row's socket in the kernel's table and the processes
  // holding it.
  struct KernelView {
    std::unordered_map<uint64_t, model::KernelSocket> sockets;              // by cookie
    std::unordered_map<uint64_t, std::vector<model::ProcessInfo>> holders;  // by inode
    std::unordered_map<uint32_t, model::ProcessInfo> processes;  // syscall-named owners, by pid
    uint32_t own_netns = 0;
    // Found in another namespace's table by their ends: no byte count, so no activity.
    std::unordered_set<uint64_t> without_bytes;
    const model::KernelSocket* socket(uint64_t cookie) const;
    const std::vector<model::ProcessInfo>* holders_of(uint64_t cookie) const;
    // Whose identity a row reports: the first holder, else the process a syscall named.
    template <typename Row>
    const model::ProcessInfo* identity_of(const Row& row) const;
    // The row's namespace: its record's, else the walk's (the daemon's own), else its owner's.
    template <typename Row>
    uint32_t netns_of(const Row& row) const;
  };
  // Rows not in TIME_WAIT (and, with only_unowned, without an owner from a syscall).
  template <typename Rows>
  KernelView kernel_view(const Rows& rows, bool only_unowned) const;
  // Drops the rows the owner filter rejects, then cuts to limit (truncated if it cut).
  template <typename Rows>
  void filter_by_owner(Rows& rows, const KernelView& kernel, const OwnerFilter& filter,
                       std::size_t limit, bool& truncated) const;

  HttpAnswer serve(RouteId route, const Params& params);
  HttpAnswer metrics(const Params& params);
  HttpAnswer healthz_route(const Params& params);

  model::DaemonModel& model_;
  std::mutex& mutex_;
  DaemonApiHooks hooks_;
  Clock clock_;
  WebUi web_;  // the page at /, /conn/<cookie>, /api/v1/ladder/<cookie>
};

}  // namespace synfin::api
