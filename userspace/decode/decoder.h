#pragma once
// Ring-buffer bytes → typed model events. Size-checked: a short, oversized or unknown record
// is counted and skipped, never trusted. Every kind's size and reader follow from its row of
// SYNFIN_RECORD_KINDS (include/synfin/abi.h).
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

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

// Who writes a kind of record (the origin column of SYNFIN_RECORD_KINDS).
enum class RecordOrigin : uint8_t { None, Kernel, Userspace };

// The metric label of each record type ("state_change", "packet", ...); empty for index 0
// and for values outside the ABI.
std::string_view record_source_name(std::size_t type);
// Kernel records can be lost to a full ring (and have a loss figure); userspace ones cannot.
RecordOrigin record_origin(std::size_t type);

// One row of the iter/tcp snapshot; nullopt for a family or state outside the kernel's range.
std::optional<model::KernelSocket> decode_socket_record(const synfin_socket_record& raw);

// Whether a record is a compact-mode path (a model::SocketPath once decoded).
bool is_path_record(std::span<const std::byte> record);

// What a record decodes to: a step-sized event, or a socket's whole path.
using Record = std::variant<model::Event, model::SocketPath>;

class Decoder {
 public:
  // Any kind of record.
  std::optional<Record> decode_record(std::span<const std::byte> record);
  // A record's event; nullopt for a path record (which decode_path or decode_record read).
  std::optional<model::Event> decode(std::span<const std::byte> record);
  // A SYNFIN_EV_PATH record, or a row of the live path walk; nullopt for any other kind.
  std::optional<model::SocketPath> decode_path(std::span<const std::byte> record);
  const DecodeCounters& counters() const { return counters_; }
  uint64_t undecodable() const { return counters_.undecodable(); }

 private:
  DecodeCounters counters_;
};

// What a decoded record is applied to (model::ConnectionTable is one).
template <typename Table>
concept RecordTable = requires(Table& table, const model::Event& event,
                               const model::SocketPath& path) {
  table.apply(event);
  table.apply_path(path);
};

// Decodes one ring record and applies it to the table: the one loop shared by the live
// capture and replay, whichever kind of record it is.
template <RecordTable Table>
void apply_record(Decoder& decoder, Table& table, std::span<const std::byte> record) {
  auto decoded = decoder.decode_record(record);
  if (!decoded) return;
  if (auto* event = std::get_if<model::Event>(&*decoded))
    table.apply(*event);
  else
    table.apply_path(std::get<model::SocketPath>(*decoded));
}

}  // namespace synfin::decode
