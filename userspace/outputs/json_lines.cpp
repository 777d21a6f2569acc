#include "outputs/json_lines.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <type_traits>

#include "model/packet_checks.h"
#include "outputs/address_text.h"
#include "outputs/utf8.h"

namespace synfin::outputs {

using model::TcpState;

namespace {
constexpr char kHex[] = "0123456789abcdef";

// An unknown reason's name is an empty view whose data() may be null: memcpy must not see it.
char* copy(char* out, std::string_view text) {
  if (!text.empty()) std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

// Writes through a raw pointer into room reserved in the buffer: per-call format-string
// parsing and capacity checks in fmt were most of a line's cost. Every write states the room
// it needs; the buffer is cut back to what was written when the cursor goes away.
class Cursor {
 public:
  Cursor(fmt::memory_buffer& out, std::size_t expected) : out_(out) {
    std::size_t used = out_.size();
    out_.resize(used + expected);
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  ~Cursor() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  char* room(std::size_t bytes) {
    if (static_cast<std::size_t>(end_ - p_) < bytes) [[unlikely]]
      grow(bytes);
    return p_;
  }

  void put(char c) { *room(1) = c, ++p_; }
  // Literals by their array type: a copy of known size the compiler turns into a few stores.
  template <std::size_t N>
  [[gnu::always_inline]] void put(const char (&literal)[N]) {
    std::memcpy(room(N - 1), literal, N - 1);
    p_ += N - 1;
  }
  void put(std::string_view text) { p_ = copy(room(text.size()), text); }
  // A name from one of the model's tables, quoted: none needs escaping.
  void quoted(std::string_view name) {
    char* p = room(name.size() + 2);
    *p++ = '"';
    p = copy(p, name);
    *p++ = '"';
    p_ = p;
  }
  // room() first: it may move the buffer, and with it end_.
  template <typename Unsigned>
  void decimal(Unsigned value) {
    static_assert(std::is_unsigned_v<Unsigned> && !std::is_same_v<Unsigned, bool>);
    char* p = room(20);
    p_ = std::to_chars(p, end_, value).ptr;
  }
  void hex(uint64_t value) {
    char* p = room(16);
    p_ = std::to_chars(p, end_, value, 16).ptr;
  }
  void quoted_hex(uint64_t value) {
    put('"');
    hex(value);
    put('"');
  }
  void address(const model::SocketTuple& tuple, bool local) {
    const auto& address = local ? tuple.local.address : tuple.remote.address;
    char* p = room(kAddressTextRoom + 2);
    *p++ = '"';
    p = tuple.family == model::AddressFamily::IPv6 ? write_ipv6_text(p, address.data())
                                                   : write_ipv4_text(p, address.data());
    *p++ = '"';
    p_ = p;
  }
  void json_string(std::string_view text);

 private:
  [[gnu::noinline]] void grow(std::size_t bytes) {
    std::size_t used = static_cast<std::size_t>(p_ - out_.data());
    out_.resize(used + std::max(bytes, out_.size() - used + 256));
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  fmt::memory_buffer& out_;
  char* p_ = nullptr;
  char* end_ = nullptr;
};

// Room a line usually needs, so that growing is rare.
constexpr std::size_t kLineRoom = 1024;

void Cursor::json_string(std::string_view text) {
  // Names are almost always printable ASCII: copied in one go. Escaping writes at most six
  // bytes for one.
  char* p = room(6 * text.size() + 2);
  *p++ = '"';
  bool plain = true;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    plain &= byte >= 0x20 && byte < 0x80 && c != '"' && c != '\\';
  }
  if (plain) {
    p = copy(p, text);
  } else {
    while (!text.empty()) {
      Utf8Piece piece = next_utf8(text);
      if (!piece.well_formed) {
        std::memcpy(p, "\xef\xbf\xbd", 3);  // U+FFFD for bytes that are not UTF-8
        p += 3;
      } else if (piece.code_point == '"' || piece.code_point == '\\') {
        *p++ = '\\';
        *p++ = text[0];
      } else if (piece.code_point < 0x20) {
        // The short escapes where JSON has one, \u00XX otherwise: what nlohmann::json writes.
        static constexpr std::string_view kShort[] = {"\\b", "\\t", "\\n", "", "\\f", "\\r"};
        std::size_t index = piece.code_point - 0x08;
        if (piece.code_point >= 0x08 && piece.code_point <= 0x0d && !kShort[index].empty()) {
          std::memcpy(p, kShort[index].data(), 2);
          p += 2;
        } else {
          std::memcpy(p, "\\u00", 4);
          p[4] = kHex[piece.code_point >> 4];
          p[5] = kHex[piece.code_point & 0xf];
          p += 6;
        }
      } else {
        std::memcpy(p, text.data(), piece.length);
        p += piece.length;
      }
      text.remove_prefix(piece.length);
    }
  }
  *p++ = '"';
  p_ = p;
}

bool port_in(uint16_t port, const std::vector<uint16_t>& ports) {
  return ports.empty() || std::find(ports.begin(), ports.end(), port) != ports.end();
}

void family_and_source(Cursor& out, const model::SocketTuple& tuple) {
  if (tuple.family == model::AddressFamily::IPv6)
    out.put(R"("family":"ipv6","saddr":)");
  else
    out.put(R"("family":"ipv4","saddr":)");
}

void append_tuple(Cursor& out, const model::Connection& c) {
  family_and_source(out, c.tuple);
  out.address(c.tuple, true);
  out.put(R"(,"sport":)");
  out.decimal(c.tuple.local.port);
  out.put(R"(,"daddr":)");
  out.address(c.tuple, false);
  out.put(R"(,"dport":)");
  out.decimal(c.tuple.remote.port);
}

// A packet's addresses as on the wire: the source is the peer, the destination this host.
void append_wire_tuple(Cursor& out, const model::SocketTuple& tuple) {
  out.put(',');
  family_and_source(out, tuple);
  out.address(tuple, false);
  out.put(R"(,"sport":)");
  out.decimal(tuple.remote.port);
  out.put(R"(,"daddr":)");
  out.address(tuple, true);
  out.put(R"(,"dport":)");
  out.decimal(tuple.local.port);
}

// What XDP added: anomalies by name, and timings only packets can give (present when known).
void append_packet_view(Cursor& out, const model::Connection& c) {
  out.put(R"(,"anomalies":[)");
  bool first = true;
  for (std::size_t a = 0; a < model::kAnomalyCount; ++a) {
    if (!c.packets().has(static_cast<model::Anomaly>(a))) continue;
    if (!first) out.put(',');
    first = false;
    out.quoted(model::anomaly_name(static_cast<model::Anomaly>(a)));
  }
  out.put(R"(],"packets":{"seen":)");
  out.decimal(c.packets().packets);
  out.put(R"(,"rst":)");
  out.decimal(c.packets().resets);
  if (uint64_t ns = model::handshake_from_syn_ns(c)) {
    out.put(R"(,"syn_to_established_ns":)");
    out.decimal(ns);
  }
  if (uint64_t ns = model::fin_to_close_wait_ns(c)) {
    out.put(R"(,"peer_fin_to_close_wait_ns":)");
    out.decimal(ns);
  }
  if (uint64_t ns = model::close_wait_reaction_ns(c)) {
    out.put(R"(,"close_wait_reaction_ns":)");
    out.decimal(ns);
  }
  out.put('}');
}

void append_owner(Cursor& out, const model::Connection& c) {
  if (!c.has_owner()) {
    out.put(R"("pid":null,"comm":null)");
    return;
  }
  out.put(R"("pid":)");
  out.decimal(c.owner_pid());
  out.put(R"(,"comm":)");
  out.json_string(c.owner_comm());
}

void append_drops(Cursor& out, const model::DropCounts& drops) {
  out.put('{');
  bool first = true;
  for (std::size_t i = 0; i < drops.reasons.size(); ++i) {
    if (!drops.counts[i]) continue;
    if (!first) out.put(',');
    first = false;
    out.quoted(model::drop_reason_name(drops.reasons[i]));
    out.put(':');
    out.decimal(drops.counts[i]);
  }
  // Reasons past the per-connection slots: under a name no kernel reason has.
  if (drops.other) {
    if (!first) out.put(',');
    out.put(R"("more_reasons":)");
    out.decimal(drops.other);
  }
  out.put('}');
}

template <std::size_t N>
void append_event_start(Cursor& out, const char (&start)[N], uint64_t epoch_ns) {
  out.put(start);
  out.decimal(epoch_ns);
}
}  // namespace

bool OutputFilter::matches(const model::Connection& c) const {
  if (family == 4 && c.tuple.family != model::AddressFamily::IPv4) return false;
  if (family == 6 && c.tuple.family != model::AddressFamily::IPv6) return false;
  if (!port_in(c.tuple.local.port, local_ports)) return false;
  if (!port_in(c.tuple.remote.port, remote_ports)) return false;
  if (!any_ports.empty() && !port_in(c.tuple.local.port, any_ports) &&
      !port_in(c.tuple.remote.port, any_ports))
    return false;
  if (pid && (!c.has_owner() || c.owner_pid() != *pid)) return false;
  return true;
}

bool OutputFilter::matches_packet(const model::SocketTuple& tuple,
                                  const model::Connection* c) const {
  if (family == 4 && tuple.family != model::AddressFamily::IPv4) return false;
  if (family == 6 && tuple.family != model::AddressFamily::IPv6) return false;
  if (!port_in(tuple.local.port, local_ports)) return false;
  if (!port_in(tuple.remote.port, remote_ports)) return false;
  if (!any_ports.empty() && !port_in(tuple.local.port, any_ports) &&
      !port_in(tuple.remote.port, any_ports))
    return false;
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
  static_assert(sizeof(buffer) >= kAddressTextRoom);
  const auto& address = local ? tuple.local.address : tuple.remote.address;
  char* end = tuple.family == model::AddressFamily::IPv6 ? write_ipv6_text(buffer, address.data())
                                                         : write_ipv4_text(buffer, address.data());
  *end = '\0';
  return {buffer, static_cast<std::size_t>(end - buffer)};
}

void append_json_string(fmt::memory_buffer& out, std::string_view text) {
  Cursor cursor(out, 6 * text.size() + 2);
  cursor.json_string(text);
}

void append_drops_json(fmt::memory_buffer& out, const model::DropCounts& drops) {
  Cursor cursor(out, 256);
  append_drops(cursor, drops);
}

void append_transition_json(fmt::memory_buffer& out, const model::Connection& c, TcpState from,
                            TcpState to, uint64_t epoch_ns) {
  Cursor line(out, kLineRoom);
  append_event_start(line, R"({"event":"transition","ts_ns":)", epoch_ns);
  line.put(R"(,"conn":)");
  line.quoted_hex(c.cookie);
  line.put(',');
  append_tuple(line, c);
  line.put(R"(,"from":)");
  line.quoted(model::state_name(from));
  line.put(R"(,"to":)");
  line.quoted(model::state_name(to));
  line.put(',');
  append_owner(line, c);
  line.put('}');
}

void append_close_json(fmt::memory_buffer& out, const model::Connection& c,
                       const model::Classification& k, uint64_t epoch_ns, bool with_packet_view) {
  Cursor line(out, kLineRoom);
  append_event_start(line, R"({"event":"close","ts_ns":)", epoch_ns);
  line.put(R"(,"conn":)");
  line.quoted_hex(c.cookie);
  line.put(',');
  append_tuple(line, c);
  line.put(R"(,"role":)");
  line.quoted(model::role_name(c.role));
  line.put(R"(,"states":[)");
  for (uint8_t i = 0; i < c.history_length(); ++i) {
    TcpState state = c.visit_state(i);
    bool last = i + 1 == c.history_length();
    if (last && k.enters_time_wait) state = TcpState::TimeWait;
    if (i) line.put(',');
    line.quoted(model::state_name(state));
  }
  line.put(R"(],"outcome":)");
  line.quoted(model::outcome_name(k.outcome));
  line.put(R"(,"verdict":)");
  line.quoted(model::verdict_name(k.verdict));
  line.put(R"(,"reason":)");
  if (k.reason == model::Reason::None)
    line.put("null");
  else
    line.quoted(model::reason_name(k.reason));
  if (k.verdict == model::Verdict::Invalid) {
    line.put(R"(,"illegal_step":")");
    line.put(model::state_name(c.violation_from));
    line.put("->");
    line.put(model::state_name(c.violation_to));
    line.put('"');
  }

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
  line.put(R"(,"durations_ns":{)");
  for (std::size_t i = 0; i < distinct; ++i) {
    if (i) line.put(',');
    line.quoted(model::state_name(order[i]));
    line.put(':');
    line.decimal(spent[model::index_of(order[i])]);
  }
  line.put(R"(},"retransmits":)");
  line.decimal(c.retransmits);
  line.put(R"(,"reset_reason":)");
  if (c.reset_reason)
    line.quoted(model::reset_reason_name(c.reset_reason));
  else
    line.put("null");
  line.put(R"(,"drops":)");
  append_drops(line, c.drops());
  line.put(',');
  append_owner(line, c);
  if (with_packet_view) append_packet_view(line, c);
  line.put('}');
}

void append_packet_json(fmt::memory_buffer& out, const model::Event& e, const model::Connection* c,
                        std::string_view interface, uint64_t epoch_ns) {
  char flags[48];
  Cursor line(out, kLineRoom);
  append_event_start(line, R"({"event":"packet","ts_ns":)", epoch_ns);
  line.put(R"(,"iface":)");
  line.json_string(interface);
  append_wire_tuple(line, e.tuple);
  line.put(R"(,"flags":)");
  line.quoted(model::tcp_flags_text(e.packet.tcp_flags, flags));
  line.put(R"(,"class":)");
  line.quoted(model::flag_class_name(e.packet.flag_class));
  line.put(R"(,"seq":)");
  line.decimal(e.packet.seq);
  line.put(R"(,"ack":)");
  line.decimal(e.packet.ack);
  line.put(R"(,"len":)");
  line.decimal(e.packet.payload_length());
  line.put(R"(,"conn":)");
  if (c)
    line.quoted_hex(c->cookie);
  else
    line.put("null");
  line.put(R"(,"socket":)");
  if (e.packet.socket_state == model::TcpState::Unknown) {
    line.put("null");
  } else {
    line.put(R"({"cookie":)");
    line.quoted_hex(e.cookie);
    line.put(R"(,"state":)");
    line.quoted(model::state_name(e.packet.socket_state));
    line.put('}');
  }
  if (e.packet.completes_handshake) line.put(R"(,"completes_handshake":true)");
  line.put('}');
}

void append_syn_without_socket_json(fmt::memory_buffer& out, const model::PendingSyn& syn,
                                    std::string_view interface, uint64_t epoch_ns) {
  Cursor line(out, kLineRoom);
  append_event_start(line, R"({"event":"syn_without_socket","ts_ns":)", epoch_ns);
  line.put(R"(,"iface":)");
  line.json_string(interface);
  append_wire_tuple(line, syn.tuple);
  line.put(R"(,"reason":)");
  line.quoted(model::syn_fate_name(syn.fate_if_unanswered));
  line.put(R"(,"retransmits":)");
  line.decimal(syn.retransmits);
  line.put('}');
}

JsonLinesWriter::JsonLinesWriter(std::FILE* out, OutputFilter filter, Clock clock)
    : out_(out), filter_(std::move(filter)), clock_(clock) {
  lines_.reserve(kBatchBytes + 2 * kLineRoom);
}

JsonLinesWriter::~JsonLinesWriter() {
  write_batch();
}

void JsonLinesWriter::emit() {
  lines_.push_back('\n');
  ++lines_written_;
  if (lines_.size() >= kBatchBytes) write_batch();
}

void JsonLinesWriter::write_batch() {
  if (lines_.size()) std::fwrite(lines_.data(), 1, lines_.size(), out_);
  lines_.clear();
}

void JsonLinesWriter::on_transition(const model::Connection& c, TcpState from, TcpState to,
                                    uint64_t ts_ns) {
  if (!filter_.matches(c)) return;
  append_transition_json(lines_, c, from, to, clock_.to_epoch_ns(ts_ns));
  emit();
}

void JsonLinesWriter::on_closed(const model::Connection& c, const model::Classification& k,
                                uint64_t ts_ns) {
  ++closes_by_verdict_[static_cast<std::size_t>(k.verdict)];
  if (!filter_.matches(c)) return;
  append_close_json(lines_, c, k, clock_.to_epoch_ns(ts_ns), packet_view_);
  emit();
}

void JsonLinesWriter::on_packet(const model::Connection* c, const model::Event& packet) {
  if (!filter_.matches_packet(packet.tuple, c)) return;
  char buffer[16];
  append_packet_json(lines_, packet, c, interfaces_.name_of(packet.packet.ifindex, buffer),
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
  append_syn_without_socket_json(lines_, syn, interfaces_.name_of(syn.ifindex, buffer),
                                 clock_.to_epoch_ns(ts_ns));
  emit();
}

void JsonLinesWriter::flush() {
  write_batch();
  std::fflush(out_);
}

}  // namespace synfin::outputs
