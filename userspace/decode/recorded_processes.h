#pragma once
// The owners a replay's close lines name: what the live trace found in /proc, read back from
// its recording's process notes, each learnt where the trace noted it.
#include <cstdint>
#include <unordered_map>

#include "decode/recording.h"
#include "model/process.h"

namespace synfin::decode {

class RecordedProcesses final : public model::ProcessDirectory {
 public:
  explicit RecordedProcesses(uint32_t host_netns) : host_netns_(host_netns) {}

  void learn(const ProcessNote& note);
  const model::ProcessInfo* find(uint32_t pid) override;
  uint32_t host_netns() const override { return host_netns_; }

 private:
  uint32_t host_netns_;
  std::unordered_map<uint32_t, model::ProcessInfo> processes_;
};

}  // namespace synfin::decode
