#pragma once
// Address text as inet_ntop writes it, without its sprintf: every trace line carries two
// addresses, and glibc formats each through vfprintf. The text is byte for byte glibc's, which
// the lines always carried (`ss` prints the same): RFC 5952 compression of the longest run of
// two or more zero groups (the first of equal runs), lowercase hex, and the dotted-quad tail
// glibc keeps for IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses.
#include <cstddef>
#include <cstdint>

namespace synfin::outputs {

// Room either writer may need: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is 45 bytes;
// the IPv4 writer stores up to 3 bytes past its text before trimming.
inline constexpr std::size_t kAddressTextRoom = 48;

// Four network-order bytes as a dotted quad; returns the end of the text (not terminated).
char* write_ipv4_text(char* out, const uint8_t* address);
// Sixteen network-order bytes; returns the end of the text (not terminated).
char* write_ipv6_text(char* out, const uint8_t* address);

}  // namespace synfin::outputs
