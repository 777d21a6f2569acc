#pragma once
// Process names (comm, at most 15 bytes) kept once each: a connection holds a 16-bit number
// instead of the 16 bytes, and a host has few distinct names. Interning is thread-safe;
// reading a name never locks (names are never moved nor removed).
#include <array>
#include <cstdint>
#include <string_view>

namespace synfin::model {

// Number 0 is the empty name; past 65 535 distinct names, new ones read as "?".
uint16_t intern_comm(const std::array<char, 16>& comm);
std::string_view comm_name(uint16_t id);

}  // namespace synfin::model
