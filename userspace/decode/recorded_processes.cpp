#include "decode/recorded_processes.h"

namespace synfin::decode {

void RecordedProcesses::learn(const ProcessNote& note) {
  if (!note.found) {
    processes_.erase(note.pid);
    return;
  }
  model::ProcessInfo& info = processes_[note.pid];
  info.pid = note.pid;
  info.netns = note.netns;
  info.cgroup_path = note.cgroup_path;
  // The same parser the trace ran on the same path: the same unit, container and pod.
  info.identity = model::parse_cgroup_path(note.cgroup_path);
}

const model::ProcessInfo* RecordedProcesses::find(uint32_t pid) {
  auto known = processes_.find(pid);
  return known == processes_.end() ? nullptr : &known->second;
}

}  // namespace synfin::decode
