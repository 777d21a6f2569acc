#pragma once
#include <vector>

#include "model/connection_table.h"

namespace synfin::testing {

struct ClosedRecord {
  model::Connection connection;
  model::Classification classification;
};

class RecordingObserver : public model::ConnectionObserver {
 public:
  void on_transition(const model::Connection&, model::TcpState, model::TcpState,
                     uint64_t) override {
    ++transitions;
  }
  void on_closed(const model::Connection& c, const model::Classification& k, uint64_t) override {
    closed.push_back({c, k});
  }
  void on_signal(const model::Connection* c, const model::Event&) override {
    ++signals;
    if (!c) ++untracked_signals;
  }
  int transitions = 0;
  int signals = 0;
  int untracked_signals = 0;
  std::vector<ClosedRecord> closed;
};

}  // namespace synfin::testing
