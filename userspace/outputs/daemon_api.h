#pragma once
// The daemon's query API as plain functions of the model: each route returns a status and a
// JSON body. The kernel-facing parts (socket-table snapshot, /proc owners) come in as
// callbacks, so the API is unit-testable without root.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/daemon_model.h"
#include "model/process.h"
#include "outputs/json_lines.h"

namespace synfin::outputs {

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

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

struct HealthInputs {
  std::vector<ProgramHealth> programs;
  std::vector<InterfaceHealth> xdp;  // --xdp interfaces
  uint64_t events_lost_total = 0;
  double events_lost_per_second = 0;  // over the last health window
  double last_snapshot_age_seconds = -1;
  std::vector<std::string> cannot_report;  // what this kernel does not let synfin report
};

struct DaemonApiHooks {
  std::function<uint64_t()> monotonic_now_ns;
  // The kernel's socket table right now (iter/tcp); empty on failure.
  std::function<std::vector<model::KernelSocket>()> snapshot;
  std::function<std::unordered_map<uint64_t, std::vector<model::ProcessInfo>>(
      std::span<const uint64_t>)>
      resolve_owners;
  std::function<PortRange()> port_range;
  std::function<HealthInputs()> health;
};

class DaemonApi {
 public:
  DaemonApi(model::DaemonModel& model, std::mutex& model_mutex, DaemonApiHooks hooks, Clock clock);

  // Query parameters by name; unknown ones are ignored, malformed ones answered with 400.
  using Params = std::unordered_map<std::string, std::string>;
  HttpAnswer connections(const Params& params);
  HttpAnswer stuck(const Params& params);
  HttpAnswer time_wait(const Params& params);
  HttpAnswer closed(const Params& params);
  HttpAnswer healthz();

 private:
  model::DaemonModel& model_;
  std::mutex& mutex_;
  DaemonApiHooks hooks_;
  Clock clock_;
};

}  // namespace synfin::outputs
