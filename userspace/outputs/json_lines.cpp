#include "outputs/json_lines.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>

#include "model/packet_checks.h"
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

// What XDP added: anomalies by name, and timings only packets can give (present when known).
void append_packet_view(fmt::memory_buffer& out, const model::Connection& c) {
  append(out, R"(,"anomalies":[)");
  bool first = true;
  for (std::size_t a = 0; a < model::kAnomalyCount; ++a) {
    if (!c.packets().has(static_cast<model::Anomaly>(a))) continue;
    if (!first) out.push_back(',');
    first = false;
    fmt::format_to(std::back_inserter(out), R"("{}")",
                   model::anomaly_name(static_cast<model::Anomaly>(a)));
  }
  fmt::format_to(std::back_inserter(out), R"(],"packets":{{"seen":{},"rst":{})", c.packets().packets,
                 c.packets().resets);
  if (uint64_t ns = model::handshake_from_syn_ns(c))
    fmt::format_to(std::back_inserter(out), R"(,"syn_to_established_ns":{})", ns);
  if (uint64_t ns = model::fin_to_close_wait_ns(c))
    fmt::format_to(std::back_inserter(out), R"(,"peer_fin_to_close_wait_ns":{})", ns);
  if (uint64_t ns = model::close_wait_reaction_ns(c))
    fmt::format_to(std::back_inserter(out), R"(,"close_wait_reaction_ns":{})", ns);
  out.push_back('}');
}

void append_owner(fmt::memory_buffer& out, const model::Connection& c) {
  if (!c.has_owner()) {
    append(out, R"("pid":null,"comm":null)");
    return;
  }
  fmt::format_to(std::back_inserter(out), R"("pid":{},"comm":)", c.owner_pid());
  append_json_string(out, c.owner_comm());
}
}  // namespace

bool OutputFilter::matches(const model::Connection& c) const {
  if (family == 4 && c.tuple.family != model::AddressFamily::IPv4) return false;
  if (family == 6 && c.tuple.family != model::AddressFamily::IPv6) return false;
  if (!port_in(c.tuple.local.port, local_ports)) return false;
  if (!port_in(c.tuple.remote.port, remote_ports)) return false;
  if (pid && (!c.has_owner() || c.owner_pid() != *pid)) return false;
  return true;
}

bool OutputFilter::matches_packet(const model::SocketTuple& tuple,
                                  const model::Connection* c) const {
  if (family == 4 && tuple.family != model::AddressFamily::IPv4) return false;
  if (family == 6 && tuple.family != model::AddressFamily::IPv6) return false;
  if (!port_in(tuple.local.port, local_ports)) return false;
  if (!port_in(tuple.remote.port, remote_ports)) return false;
  if (pid && (!c || !c->has_owner() || c->owner_pid() != *pid)) return false;
  return true;
}

void InterfaceNames::set(uint32_t ifindex, std::string_view name) {
  Entry* entry = nullptr;
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].ifindex == ifindex) entry = &entries_[i];
  if (!entry) {
    if (count_ == entries_.size()) return;
    entry = &entries_[count_++];
  }
  entry->ifindex = ifindex;
  entry->name = {};
  std::memcpy(entry->name.data(), name.data(), std::min(name.size(), entry->name.size() - 1));
}

std::string_view InterfaceNames::name_of(uint32_t ifindex, char (&buffer)[16]) const {
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].ifindex == ifindex) return entries_[i].name.data();
  auto end = fmt::format_to_n(buffer, sizeof(buffer) - 1, "{}", ifindex).out;
  return {buffer, static_cast<std::size_t>(end - buffer)};
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

void append_drops_json(fmt::memory_buffer& out, const model::DropCounts& drops) {
  out.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < drops.reasons.size(); ++i) {
    if (!drops.counts[i]) continue;
    if (!first) out.push_back(',');
    first = false;
    fmt::format_to(std::back_inserter(out), R"("{}":{})", model::drop_reason_name(drops.reasons[i]),
                   drops.counts[i]);
  }
  // Reasons past the per-connection slots: under a name no kernel reason has.
  if (drops.other)
    fmt::format_to(std::back_inserter(out), R"({}"more_reasons":{})", first ? "" : ",",
                   drops.other);
  out.push_back('}');
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
                       const model::Classification& k, uint64_t epoch_ns, bool with_packet_view) {
  fmt::format_to(std::back_inserter(out), R"({{"event":"close","ts_ns":{},"conn":"{:x}",)",
                 epoch_ns, c.cookie);
  append_tuple(out, c);
  fmt::format_to(std::back_inserter(out), R"(,"role":"{}","states":[)", model::role_name(c.role));
  for (uint8_t i = 0; i < c.history_length(); ++i) {
    TcpState state = c.visit_state(i);
    bool last = i + 1 == c.history_length();
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
  for (uint8_t i = 1; i + 1 < c.history_length(); ++i) {
    const auto& visit = c.visit(i);
    const auto& next = c.visit(i + 1);
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
  fmt::format_to(std::back_inserter(out), R"(}},"retransmits":{},"reset_reason":)", c.retransmits);
  if (c.reset_reason)
    fmt::format_to(std::back_inserter(out), R"("{}")", model::reset_reason_name(c.reset_reason));
  else
    append(out, "null");
  append(out, R"(,"drops":)");
  append_drops_json(out, c.drops());
  out.push_back(',');
  append_owner(out, c);
  if (with_packet_view) append_packet_view(out, c);
  out.push_back('}');
}

void append_packet_json(fmt::memory_buffer& out, const model::Event& e, const model::Connection* c,
                        std::string_view interface, uint64_t epoch_ns) {
  char buffer[64];
  char flags[48];
  // Addresses as on the wire: the source is the peer, the destination this host.
  fmt::format_to(std::back_inserter(out), R"({{"event":"packet","ts_ns":{},"iface":)", epoch_ns);
  append_json_string(out, interface);
  append(out, e.tuple.family == model::AddressFamily::IPv6 ? R"(,"family":"ipv6","saddr":)"
                                                           : R"(,"family":"ipv4","saddr":)");
  append_json_string(out, format_address(e.tuple, false, buffer));
  fmt::format_to(std::back_inserter(out), R"(,"sport":{},"daddr":)", e.tuple.remote.port);
  append_json_string(out, format_address(e.tuple, true, buffer));
  fmt::format_to(std::back_inserter(out),
                 R"(,"dport":{},"flags":"{}","class":"{}","seq":{},"ack":{},"len":{},"conn":)",
                 e.tuple.local.port, model::tcp_flags_text(e.packet.tcp_flags, flags),
                 model::flag_class_name(e.packet.flag_class), e.packet.seq, e.packet.ack,
                 e.packet.payload_length());
  if (c)
    fmt::format_to(std::back_inserter(out), R"("{:x}")", c->cookie);
  else
    append(out, "null");
  append(out, R"(,"socket":)");
  if (e.packet.socket_state == model::TcpState::Unknown)
    append(out, "null");
  else
    fmt::format_to(std::back_inserter(out), R"({{"cookie":"{:x}","state":"{}"}})", e.cookie,
                   model::state_name(e.packet.socket_state));
  if (e.packet.completes_handshake) append(out, R"(,"completes_handshake":true)");
  out.push_back('}');
}

void append_syn_without_socket_json(fmt::memory_buffer& out, const model::PendingSyn& syn,
                                    std::string_view interface, uint64_t epoch_ns) {
  char buffer[64];
  fmt::format_to(std::back_inserter(out), R"({{"event":"syn_without_socket","ts_ns":{},"iface":)",
                 epoch_ns);
  append_json_string(out, interface);
  append(out, syn.tuple.family == model::AddressFamily::IPv6 ? R"(,"family":"ipv6","saddr":)"
                                                             : R"(,"family":"ipv4","saddr":)");
  append_json_string(out, format_address(syn.tuple, false, buffer));
  fmt::format_to(std::back_inserter(out), R"(,"sport":{},"daddr":)", syn.tuple.remote.port);
  append_json_string(out, format_address(syn.tuple, true, buffer));
  fmt::format_to(std::back_inserter(out), R"(,"dport":{},"reason":"{}","retransmits":{}}})",
                 syn.tuple.local.port, model::syn_fate_name(syn.fate_if_unanswered),
                 syn.retransmits);
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
  append_close_json(line_, c, k, clock_.to_epoch_ns(ts_ns), packet_view_);
  emit();
}

void JsonLinesWriter::on_packet(const model::Connection* c, const model::Event& packet) {
  if (!filter_.matches_packet(packet.tuple, c)) return;
  char buffer[16];
  append_packet_json(line_, packet, c, interfaces_.name_of(packet.packet.ifindex, buffer),
                     clock_.to_epoch_ns(packet.ts_ns));
  emit();
}

void JsonLinesWriter::on_interface(uint32_t ifindex, std::string_view name) {
  interfaces_.set(ifindex, name);
  packet_view_ = true;
}

void JsonLinesWriter::on_syn_without_socket(const model::PendingSyn& syn, uint64_t ts_ns) {
  if (!filter_.matches_packet(syn.tuple, nullptr)) return;
  char buffer[16];
  append_syn_without_socket_json(line_, syn, interfaces_.name_of(syn.ifindex, buffer),
                                 clock_.to_epoch_ns(ts_ns));
  emit();
}

void JsonLinesWriter::flush() {
  std::fflush(out_);
}

}  // namespace synfin::outputs
