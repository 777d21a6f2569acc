#include "decode/replay.h"

namespace synfin::decode {

ReplayStats replay(const Recording& recording, model::ConnectionTable& table) {
  Decoder decoder;
  for (const auto& record : recording.records) apply_record(decoder, table, record);
  table.finish_closed_connections();
  return {recording.records.size(), decoder.counters()};
}

}  // namespace synfin::decode
