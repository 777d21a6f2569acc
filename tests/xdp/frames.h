#pragma once
// Builds Ethernet frames byte by byte for the XDP parser tests: optional VLAN tags, IPv4 with
// options or IPv6 with extension headers, and TCP with any flags, data offset and payload.
// Each frame knows which counter synfin's XDP program must bump for it, worked out here from
// how the frame was built, independently of the parser under test.
#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "synfin/abi.h"

namespace synfin::testing {

struct TcpSpec {
  uint16_t src_port = 40000;
  uint16_t dst_port = 8080;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t flags = SYNFIN_TCP_SYN;
  uint8_t data_offset_words = 5;  // doff as written; the header really is max(doff, 5) * 4
  std::vector<uint8_t> payload;
};

struct FrameSpec {
  int family = 4;
  std::vector<uint16_t> vlan_tpids;   // outermost first: 0x88a8 then 0x8100 for QinQ
  uint8_t ipv4_ihl = 5;               // as written; options fill (ihl - 5) * 4 bytes when > 5
  uint16_t ipv4_fragment_offset = 0;  // in 8-byte units
  uint8_t ip_protocol = 6;
  // IPv6 extension headers in order (0 hop-by-hop, 60 destination, 43 routing, 44 fragment,
  // 51 AH); the last one's next header is ip_protocol.
  std::vector<uint8_t> ipv6_extensions;
  uint16_t ipv6_fragment_offset = 0;
  TcpSpec tcp;
};

inline void put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
inline void put32(std::vector<uint8_t>& f, uint32_t v) {
  put16(f, static_cast<uint16_t>(v >> 16));
  put16(f, static_cast<uint16_t>(v));
}

inline std::vector<uint8_t> tcp_bytes(const TcpSpec& t) {
  std::vector<uint8_t> h;
  put16(h, t.src_port);
  put16(h, t.dst_port);
  put32(h, t.seq);
  put32(h, t.ack);
  h.push_back(static_cast<uint8_t>(t.data_offset_words << 4));
  h.push_back(t.flags);
  put16(h, 65535);  // window
  put16(h, 0);      // checksum: XDP does not verify it, the stack would
  put16(h, 0);      // urgent pointer
  std::size_t header = (t.data_offset_words > 5 ? t.data_offset_words : 5) * 4u;
  while (h.size() < header) h.push_back(1);  // NOP options
  h.insert(h.end(), t.payload.begin(), t.payload.end());
  return h;
}

inline std::vector<uint8_t> build_frame(const FrameSpec& s) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  uint16_t ethertype = s.family == 4 ? 0x0800 : 0x86dd;
  for (uint16_t tpid : s.vlan_tpids) {
    put16(f, tpid);
    put16(f, 100);  // TCI: VLAN 100
  }
  put16(f, ethertype);
  std::vector<uint8_t> l4 = s.ip_protocol == 6 ? tcp_bytes(s.tcp) : std::vector<uint8_t>(8, 0);
  if (s.family == 4) {
    std::size_t ihl_bytes = (s.ipv4_ihl > 5 ? s.ipv4_ihl : 5) * 4u;
    uint16_t total = static_cast<uint16_t>(ihl_bytes + l4.size());
    f.push_back(static_cast<uint8_t>(0x40 | (s.ipv4_ihl & 0xf)));
    f.push_back(0);
    put16(f, total);
    put16(f, 1);  // id
    put16(f, s.ipv4_fragment_offset & 0x1fff);
    f.push_back(64);
    f.push_back(s.ip_protocol);
    put16(f, 0);
    put32(f, 0x0a000002);                                         // 10.0.0.2
    put32(f, 0x0a000001);                                         // 10.0.0.1
    for (std::size_t i = 20; i < ihl_bytes; ++i) f.push_back(1);  // NOP options
  } else {
    std::vector<uint8_t> extensions;
    for (std::size_t i = 0; i < s.ipv6_extensions.size(); ++i) {
      uint8_t next = i + 1 < s.ipv6_extensions.size() ? s.ipv6_extensions[i + 1] : s.ip_protocol;
      uint8_t kind = s.ipv6_extensions[i];
      if (kind == 44) {  // fragment header: fixed 8 bytes
        extensions.push_back(next);
        extensions.push_back(0);
        uint16_t offset = static_cast<uint16_t>(s.ipv6_fragment_offset << 3);
        extensions.push_back(static_cast<uint8_t>(offset >> 8));
        extensions.push_back(static_cast<uint8_t>(offset));
        for (int b = 0; b < 4; ++b) extensions.push_back(0x11);
      } else if (kind == 51) {  // AH: (len + 2) * 4 bytes; 16 bytes here
        extensions.push_back(next);
        extensions.push_back(2);
        for (int b = 0; b < 14; ++b) extensions.push_back(0);
      } else {  // hop-by-hop, routing, destination: (len + 1) * 8 bytes; 16 bytes here
        extensions.push_back(next);
        extensions.push_back(1);
        for (int b = 0; b < 14; ++b) extensions.push_back(kind == 43 ? 0 : 1);
      }
    }
    f.push_back(0x60);
    f.push_back(0);
    put16(f, 0);
    put16(f, static_cast<uint16_t>(extensions.size() + l4.size()));
    f.push_back(s.ipv6_extensions.empty() ? s.ip_protocol : s.ipv6_extensions[0]);
    f.push_back(64);
    for (int i = 0; i < 15; ++i) f.push_back(i == 0 ? 0xfd : 0);
    f.push_back(2);  // fd00::2
    for (int i = 0; i < 15; ++i) f.push_back(i == 0 ? 0xfd : 0);
    f.push_back(1);  // fd00::1
    f.insert(f.end(), extensions.begin(), extensions.end());
  }
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

// The flag class of a well-formed TCP frame, worked out from the flag byte.
// Two of SYN/FIN/RST at once, or none of the six classic flags, is impossible in valid TCP.
inline int expected_flag_class(uint8_t flags) {
  int control_bits = __builtin_popcount(flags & (SYNFIN_TCP_SYN | SYNFIN_TCP_FIN | SYNFIN_TCP_RST));
  if (control_bits > 1 || (flags & 0x3f) == 0) return SYNFIN_XDP_INVALID;
  switch (flags & (SYNFIN_TCP_SYN | SYNFIN_TCP_FIN | SYNFIN_TCP_RST)) {
    case SYNFIN_TCP_SYN:
      return (flags & SYNFIN_TCP_ACK) ? SYNFIN_XDP_SYNACK : SYNFIN_XDP_SYN;
    case SYNFIN_TCP_RST:
      return SYNFIN_XDP_RST;
    case SYNFIN_TCP_FIN:
      return SYNFIN_XDP_FIN;
    default:
      return SYNFIN_XDP_OTHER;
  }
}

}  // namespace synfin::testing
