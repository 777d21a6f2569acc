#include "outputs/json_lines.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <iterator>

#include "outputs/utf8.h"

namespace synfin::outputs {

using model::TcpState;

namespace {
constexpr char kHex[] = "0123456789abcdef";

void append(fmt::memory_buffer& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

bool port_in(uint16_t port, const std::vector<uint16_t>& ports) {
  return ports.empty() || std::find(ports.begin(), ports.end(), port) != ports.end();
}

void append_tuple(fmt::memory_buffer& out, const model::Connection& c) {
  char buffer[64];
  append(out, c.tuple.family == model::AddressFamily::IPv6 ? R"("family":"ipv6","saddr":)"
                                                           : R"("family":"ipv4","saddr":)");
  append_json_string(out, format_address(c.tuple, true, buffer));
  fmt::format_to(std::back_inserter(out), R"(,"sport":{},"daddr":)", c.tuple.local.port);
  append_json_string(out, format_address(c.tuple, false, buffer));
  fmt::format_to(std::back_inserter(out), R"(,"dport":{})", c.tuple.remote.port);
}

void append_owner(fmt::memory_buffer& out, const model::Connection& c) {
  if (!c.owner) {
    append(out, R"("pid":null,"comm":null)");
    return;
  }
  fmt::format_to(std::back_inserter(out), R"("pid":{},"comm":)", c.owner->pid);
  append_json_string(out, c.owner->comm_view());
}
}  // namespace

bool OutputFilter::matches(const model::Connection& c) const {
  if (family == 4 && c.tuple.family != model::AddressFamily::IPv4) return false;
  if (family == 6 && c.tuple.family != model::AddressFamily::IPv6) return false;
  if (!port_in(c.tuple.local.port, local_ports)) return false;
  if (!port_in(c.tuple.remote.port, remote_ports)) return false;
  if (pid && (!c.owner || c.owner->pid != *pid)) return false;
  return true;
}

std::string_view format_address(const model::SocketTuple& tuple, bool local, char (&buffer)[64]) {
  const auto& address = local ? tuple.local.address : tuple.remote.address;
  int family = tuple.family == model::AddressFamily::IPv6 ? AF_INET6 : AF_INET;
  if (!inet_ntop(family, address.data(), buffer, sizeof(buffer))) return "?";
  return buffer;
}

void append_json_string(fmt::memory_buffer& out, std::string_view text) {
  out.push_back('"');
  while (!text.empty()) {
    Utf8Piece piece = next_utf8(text);
    if (!piece.well_formed) {
      append(out, "\xef\xbf\xbd");  // U+FFFD for bytes that are not UTF-8
    } else if (piece.code_point == '"' || piece.code_point == '\\') {
      out.push_back('\\');
      out.push_back(text[0]);
    } else if (piece.code_point < 0x20) {
      // The short escapes where JSON has one, \u00XX otherwise: what nlohmann::json writes.
      static constexpr std::string_view kShort[] = {"\\b", "\\t", "\\n", "", "\\f", "\\r"};
      std::size_t index = piece.code_point - 0x08;
      if (piece.code_point >= 0x08 && piece.code_point <= 0x0d && !kShort[index].empty()) {
        append(out, kShort[index]);
      } else {
        append(out, "\\u00");
        out.push_back(kHex[piece.code_point >> 4]);
        out.push_back(kHex[piece.code_point & 0xf]);
      }
    } else {
      append(out, text.substr(0, piece.length));
    }
    text.remove_prefix(piece.length);
  }
  out.push_back('"');
}

void append_transition_json(fmt::memory_buffer& out, const model::Connection& c, TcpState from,
                            TcpState to, uint64_t epoch_ns) {
  fmt::format_to(std::back_inserter(out), R"({{"event":"transition","ts_ns":{},"conn":"{:x}",)",
                 epoch_ns, c.cookie);
  append_tuple(out, c);
  fmt::format_to(std::back_inserter(out), R"(,"from":"{}","to":"{}",)", model::state_name(from),
                 model::state_name(to));
  append_owner(out, c);
  out.push_back('}');
}

void append_close_json(fmt::memory_buffer& out, const model::Connection& c,
                       const model::Classification& k, uint64_t epoch_ns) {
  fmt::format_to(std::back_inserter(out), R"({{"event":"close","ts_ns":{},"conn":"{:x}",)",
                 epoch_ns, c.cookie);
  append_tuple(out, c);
  fmt::format_to(std::back_inserter(out), R"(,"role":"{}","states":[)", model::role_name(c.role));
  for (uint8_t i = 0; i < c.history_length; ++i) {
    TcpState state = c.history[i].state;
    bool last = i + 1 == c.history_length;
    if (last && k.enters_time_wait) state = TcpState::TimeWait;
    if (i) out.push_back(',');
    fmt::format_to(std::back_inserter(out), R"("{}")", model::state_name(state));
  }
  fmt::format_to(std::back_inserter(out), R"(],"outcome":"{}","verdict":"{}","reason":)",
                 model::outcome_name(k.outcome), model::verdict_name(k.verdict));
  if (k.reason == model::Reason::None) {
    append(out, "null");
  } else {
    fmt::format_to(std::back_inserter(out), R"("{}")", model::reason_name(k.reason));
  }
  if (k.verdict == model::Verdict::Invalid)
    fmt::format_to(std::back_inserter(out), R"(,"illegal_step":"{}->{}")",
                   model::state_name(c.violation_from), model::state_name(c.violation_to));

  // Time spent in each state the socket left while traced; a state visited twice adds up.
  std::array<uint64_t, model::kTcpStateCount> spent{};
  std::array<bool, model::kTcpStateCount> seen{};
  std::array<TcpState, model::Connection::kMaxHistory> order{};
  std::size_t distinct = 0;
  for (uint8_t i = 1; i + 1 < c.history_length; ++i) {
    const auto& visit = c.history[i];
    const auto& next = c.history[i + 1];
    if (!visit.entered_ns || next.entered_ns < visit.entered_ns) continue;
    std::size_t index = model::index_of(visit.state);
    spent[index] += next.entered_ns - visit.entered_ns;
    if (!seen[index]) order[distinct++] = visit.state;
    seen[index] = true;
  }
  append(out, R"(,"durations_ns":{)");
  for (std::size_t i = 0; i < distinct; ++i) {
    if (i) out.push_back(',');
    fmt::format_to(std::back_inserter(out), R"("{}":{})", model::state_name(order[i]),
                   spent[model::index_of(order[i])]);
  }
  fmt::format_to(std::back_inserter(out), R"(}},"retransmits":{},)", c.retransmits);
  append_owner(out, c);
  out.push_back('}');
}

JsonLinesWriter::JsonLinesWriter(std::FILE* out, OutputFilter filter, Clock clock)
    : out_(out), filter_(std::move(filter)), clock_(clock) {}

void JsonLinesWriter::emit() {
  line_.push_back('\n');
  std::fwrite(line_.data(), 1, line_.size(), out_);
  line_.clear();
  ++lines_written_;
}

void JsonLinesWriter::on_transition(const model::Connection& c, TcpState from, TcpState to,
                                    uint64_t ts_ns) {
  if (!filter_.matches(c)) return;
  append_transition_json(line_, c, from, to, clock_.to_epoch_ns(ts_ns));
  emit();
}

void JsonLinesWriter::on_closed(const model::Connection& c, const model::Classification& k,
                                uint64_t ts_ns) {
  if (!filter_.matches(c)) return;
  append_close_json(line_, c, k, clock_.to_epoch_ns(ts_ns));
  emit();
}

void JsonLinesWriter::flush() {
  std::fflush(out_);
}

}  // namespace synfin::outputs
