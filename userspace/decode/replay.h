#pragma once
// A recording fed through the decoder into a connection table, exactly as the live trace
// applied it: `synfin replay` and the unit tier's fixture tests share this one loop.
#include <cstddef>
#include <cstdint>

#include "decode/decoder.h"
#include "decode/recording.h"
#include "model/connection_table.h"

namespace synfin::decode {

struct ReplayStats {
  std::size_t records = 0;
  DecodeCounters decoded;
};

// Applies every record, then finishes connections already closed whose descriptor the
// application still held when the recording ended (as `synfin trace` does at its end).
ReplayStats replay(const Recording& recording, model::ConnectionTable& table);

}  // namespace synfin::decode
