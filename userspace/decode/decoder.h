#pragma once
// Ring-buffer bytes → typed model events. Size-checked: a short, oversized or unknown record
// is counted and skipped, never trusted.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "model/connection_table.h"
#include "model/event.h"

struct synfin_socket_record;

namespace synfin::decode {

struct DecodeCounters {
  uint64_t decoded = 0;
  uint64_t truncated = 0;     // shorter than the record layout
  uint64_t oversized = 0;     // longer than the record layout
  uint64_t unknown_type = 0;  // a type this build does not know
  uint64_t bad_field = 0;     // a state or family outside the kernel's range
  std::array<uint64_t, model::kEventKindSlots> decoded_by_type{};  // by enum synfin_event_type

  uint64_t undecodable() const { return truncated + oversized + unknown_type + bad_field; }
};

// The metric label of each record type ("state_change", "packet", ...); empty for index 0
// and for values outside the ABI.
std::string_view record_source_name(std::size_t type);

// One row of the iter/tcp snapshot; nullopt for a family or state outside the kernel's range.
std::optional<model::KernelSocket> decode_socket_record(const synfin_socket_record& raw);

// Whether a record is a compact-mode path (decoded by decode_path, not decode).
bool is_path_record(std::span<const std::byte> record);

class Decoder {
 public:
  std::optional<model::Event> decode(std::span<const std::byte> record);
  // A SYNFIN_EV_PATH record, or a row of the live path walk; counted like decode().
  std::optional<model::SocketPath> decode_path(std::span<const std::byte> record);
  const DecodeCounters& counters() const { return counters_; }
  uint64_t undecodable() const { return counters_.undecodable(); }

 private:
  std::optional<model::Event> decode_socket_event(std::span<const std::byte> record);
  std::optional<model::Event> decode_packet(std::span<const std::byte> record);
  std::optional<model::Event> decode_interface(std::span<const std::byte> record);
  std::optional<model::Event> decode_clock(std::span<const std::byte> record);

  DecodeCounters counters_;
};

// Decodes one ring record and applies it to the table: the one loop shared by the live
// capture and replay, whichever kind of record it is.
void apply_record(Decoder& decoder, model::ConnectionTable& table,
                  std::span<const std::byte> record);

}  // namespace synfin::decode
