#include "model/proc_net_tcp.h"

#include <charconv>
#include <cstring>

#include "model/tcp_state.h"

namespace synfin::model {

namespace {
template <typename Number>
bool parse_hex(std::string_view text, Number& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

// "0100007F:1F90": the address as %08X words of the kernel's __be32s, then the port.
bool parse_endpoint(std::string_view text, AddressFamily family, Endpoint& out) {
  std::size_t colon = text.find(':');
  std::size_t words = family == AddressFamily::IPv6 ? 4 : 1;
  if (colon != words * 8) return false;
  for (std::size_t i = 0; i < words; ++i) {
    uint32_t word = 0;
    if (!parse_hex(text.substr(i * 8, 8), word)) return false;
    std::memcpy(out.address.data() + i * 4, &word, 4);
  }
  return parse_hex(text.substr(colon + 1), out.port);
}

std::string_view next_field(std::string_view& rest) {
  std::size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return rest = {}, std::string_view();
  rest.remove_prefix(start);
  std::size_t end = rest.find(' ');
  std::string_view field = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  return field;
}
}  // namespace

std::optional<KernelSocket> parse_proc_net_tcp_line(std::string_view line, AddressFamily family) {
  // sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
  std::string_view fields[10];
  for (auto& field : fields)
    if ((field = next_field(line)).empty()) return std::nullopt;
  if (!fields[0].ends_with(':')) return std::nullopt;  // the header line says "sl"
  KernelSocket socket;
  socket.tuple.family = family;
  if (!parse_endpoint(fields[1], family, socket.tuple.local) ||
      !parse_endpoint(fields[2], family, socket.tuple.remote))
    return std::nullopt;
  uint8_t state = 0;
  if (!parse_hex(fields[3], state)) return std::nullopt;
  auto known = state_from_kernel(state);
  if (!known) return std::nullopt;
  socket.state = *known;
  std::size_t colon = fields[4].find(':');
  if (colon == std::string_view::npos ||
      !parse_hex(fields[4].substr(0, colon), socket.send_queue_bytes) ||
      !parse_hex(fields[4].substr(colon + 1), socket.recv_queue_bytes))
    return std::nullopt;
  auto [end, error] =
      std::from_chars(fields[9].data(), fields[9].data() + fields[9].size(), socket.inode);
  if (error != std::errc() || end != fields[9].data() + fields[9].size()) return std::nullopt;
  return socket;
}

bool same_ends(const SocketTuple& a, const SocketTuple& b) {
  return a.family == b.family && a.local.port == b.local.port && a.remote.port == b.remote.port &&
         a.local.address == b.local.address && a.remote.address == b.remote.address;
}

}  // namespace synfin::model
