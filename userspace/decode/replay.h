#pragma once
// A recording fed through the decoder into a connection table, exactly as the live trace
// applied it: `synfin replay` and the unit tier's fixture tests share this one loop.
#include <cstddef>
#include <cstdint>

#include "decode/decoder.h"
#include "decode/recording.h"

namespace synfin::decode {

struct ReplayStats {
  std::size_t records = 0;
  DecodeCounters decoded;
};

// A table a recording can be replayed into: it also finishes what the recording left open.
template <typename Table>
concept ReplayTable = RecordTable<Table> && requires(Table& table) {
  table.finish_closed_connections();
};

// Applies every record, then finishes connections already closed whose descriptor the
// application still held when the recording ended (as `synfin trace` does at its end).
template <ReplayTable Table>
ReplayStats replay(const Recording& recording, Table& table) {
  Decoder decoder;
  for (const auto& record : recording.records) apply_record(decoder, table, record);
  table.finish_closed_connections();
  return {recording.records.size(), decoder.counters()};
}

}  // namespace synfin::decode
