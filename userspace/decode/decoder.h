#pragma once
// Ring-buffer bytes → typed model events. Size-checked: a short, oversized or unknown record
// is counted and skipped, never trusted.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "model/event.h"

struct synfin_socket_record;

namespace synfin::decode {

struct DecodeCounters {
  uint64_t decoded = 0;
  uint64_t truncated = 0;                     // shorter than the record layout
  uint64_t oversized = 0;                     // longer than the record layout
  uint64_t unknown_type = 0;                  // a type this build does not know
  uint64_t bad_field = 0;                     // a state or family outside the kernel's range
  std::array<uint64_t, 9> decoded_by_type{};  // indexed by enum synfin_event_type
};

// One row of the iter/tcp snapshot; nullopt for a family or state outside the kernel's range.
std::optional<model::KernelSocket> decode_socket_record(const synfin_socket_record& raw);

class Decoder {
 public:
  std::optional<model::Event> decode(std::span<const std::byte> record);
  const DecodeCounters& counters() const { return counters_; }
  uint64_t undecodable() const {
    return counters_.truncated + counters_.oversized + counters_.unknown_type + counters_.bad_field;
  }

 private:
  DecodeCounters counters_;
};

}  // namespace synfin::decode
