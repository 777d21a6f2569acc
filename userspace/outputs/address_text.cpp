#include "outputs/address_text.h"

#include <array>
#include <cstring>

namespace synfin::outputs {

namespace {
// Each octet's digits followed by a dot, stored in 4 bytes so that one fixed-size copy writes
// any of them; the length says how much of it to keep.
struct Octet {
  char text[4];
  uint8_t length;
};

constexpr std::array<Octet, 256> make_octets() {
  std::array<Octet, 256> table{};
  for (int value = 0; value < 256; ++value) {
    Octet& octet = table[value];
    int n = 0;
    if (value >= 100) octet.text[n++] = static_cast<char>('0' + value / 100);
    if (value >= 10) octet.text[n++] = static_cast<char>('0' + value / 10 % 10);
    octet.text[n++] = static_cast<char>('0' + value % 10);
    octet.text[n++] = '.';
    octet.length = static_cast<uint8_t>(n);
  }
  return table;
}
constexpr std::array<Octet, 256> kOctets = make_octets();

constexpr char kHex[] = "0123456789abcdef";

char* write_group(char* out, unsigned group) {
  if (group >= 0x1000) *out++ = kHex[group >> 12];
  if (group >= 0x100) *out++ = kHex[(group >> 8) & 0xf];
  if (group >= 0x10) *out++ = kHex[(group >> 4) & 0xf];
  *out++ = kHex[group & 0xf];
  return out;
}
}  // namespace

char* write_ipv4_text(char* out, const uint8_t* address) {
  for (int i = 0; i < 4; ++i) {
    const Octet& octet = kOctets[address[i]];
    std::memcpy(out, octet.text, sizeof(octet.text));
    out += octet.length;
  }
  return out - 1;  // the last octet's dot
}

// glibc's inet_ntop6, step for step: which run is compressed and when the dotted tail is
// used must match it exactly, ties and single zero groups included.
char* write_ipv6_text(char* out, const uint8_t* address) {
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = (unsigned{address[2 * i]} << 8) | address[2 * i + 1];

  int best_base = -1, best_length = 0, base = -1, length = 0;
  for (int i = 0; i < 8; ++i) {
    if (groups[i] == 0) {
      if (base == -1) base = i, length = 0;
      ++length;
    } else if (base != -1) {
      if (best_base == -1 || length > best_length) best_base = base, best_length = length;
      base = -1;
    }
  }
  if (base != -1 && (best_base == -1 || length > best_length))
    best_base = base, best_length = length;
  if (best_base != -1 && best_length < 2) best_base = -1;

  for (int i = 0; i < 8; ++i) {
    if (best_base != -1 && i >= best_base && i < best_base + best_length) {
      if (i == best_base) *out++ = ':';
      continue;
    }
    if (i != 0) *out++ = ':';
    if (i == 6 && best_base == 0 && (best_length == 6 || (best_length == 5 && groups[5] == 0xffff)))
      return write_ipv4_text(out, address + 12);
    out = write_group(out, groups[i]);
  }
  if (best_base != -1 && best_base + best_length == 8) *out++ = ':';
  return out;
}

}  // namespace synfin::outputs
