#pragma once
// A recording fed through the decoder into a connection table, exactly as the live trace
// applied it: `synfin replay` and the unit tier's fixture tests share this one loop.
#include <cstddef>
#include <cstdint>

#include "decode/decoder.h"
#include "decode/recorded_processes.h"
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
// processes, when given, learns each process note before the record during whose application
// the trace wrote it (the one before the note), so the same lookups find the same owners.
template <ReplayTable Table>
ReplayStats replay(const Recording& recording, Table& table,
                   RecordedProcesses* processes = nullptr) {
  Decoder decoder;
  std::size_t next_note = 0;
  auto learn_notes_before = [&](std::size_t records) {
    for (; next_note < recording.processes.size() &&
           recording.processes[next_note].records_before <= records;
         ++next_note)
      if (processes) processes->learn(recording.processes[next_note]);
  };
  for (std::size_t i = 0; i < recording.records.size(); ++i) {
    learn_notes_before(i + 1);
    apply_record(decoder, table, recording.records[i]);
  }
  learn_notes_before(SIZE_MAX);  // noted while finishing what was left at the end
  table.finish_closed_connections();
  return {recording.records.size(), decoder.counters()};
}

}  // namespace synfin::decode
