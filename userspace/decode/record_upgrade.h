#pragma once
// Recordings made by older builds stay readable: their records are rewritten into the
// current layout as they are read, so the decoder only ever knows one layout per kind.
#include <cstddef>
#include <span>
#include <vector>

namespace synfin::decode {

// Format 1 (magic "SYNFINR1", synfin 0.1): a 112-byte synfin_event with a per-event cgroup
// id and byte counters in both directions, and no sequence numbers. Frames of any other
// size are returned unchanged (the decoder counts them as it would have then).
std::vector<std::byte> upgrade_format1_record(std::span<const std::byte> record);

}  // namespace synfin::decode
