#include "outputs/json_lines.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "model/packet_checks.h"
#include "outputs/address_text.h"
#include "outputs/owner_fields.h"

namespace synfin::outputs {

using model::TcpState;

namespace {
// Room a line usually needs, so that growing is rare.
constexpr std::size_t kLineRoom = 1024;

bool port_in(uint16_t port, const std::vector<uint16_t>& ports) {
  return ports.empty() || std::find(ports.begin(), ports.end(), port) != ports.end();
}

void address(JsonWriter& out, const model::SocketTuple& tuple, bool local) {
  const auto& address = local ? tuple.local.address : tuple.remote.address;
  out.quoted(kAddressTextRoom, [&](char* p) {
    return tuple.family == model::AddressFamily::IPv6 ? write_ipv6_text(p, address.data())
                                                      : write_ipv4_text(p, address.data());
  });
}

void family(JsonWriter& out, const model::SocketTuple& tuple) {
  out.key("family");
  out.name(tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4");
}

void append_tuple(JsonWriter& out, const model::Connection& c) {
  family(out, c.tuple);
  out.key("saddr");
  address(out, c.tuple, true);
  out.key("sport");
  out.number(c.tuple.local.port);
  out.key("daddr");
  address(out, c.tuple, false);
  out.key("dport");
  out.number(c.tuple.remote.port);
}

// A packet's addresses as on the wire: the source is the peer, the destination this host.
void append_wire_tuple(JsonWriter& out, const model::SocketTuple& tuple) {
  family(out, tuple);
  out.key("saddr");
  address(out, tuple, false);
  out.key("sport");
  out.number(tuple.remote.port);
  out.key("daddr");
  address(out, tuple, true);
  out.key("dport");
  out.number(tuple.local.port);
}

// What XDP added: anomalies by name, and timings only packets can give (present when known).
void append_packet_view(JsonWriter& out, const model::Connection& c) {
  out.key("anomalies");
  out.begin_array();
  for (std::size_t a = 0; a < model::kAnomalyCount; ++a)
    if (c.packets().has(static_cast<model::Anomaly>(a)))
      out.name(model::anomaly_name(static_cast<model::Anomaly>(a)));
  out.end_array();
  out.key("packets");
  out.begin_object();
  out.key("seen");
  out.number(c.packets().packets);
  out.key("rst");
  out.number(c.packets().resets);
  if (uint64_t ns = model::handshake_from_syn_ns(c)) {
    out.key("syn_to_established_ns");
    out.number(ns);
  }
  if (uint64_t ns = model::fin_to_close_wait_ns(c)) {
    out.key("peer_fin_to_close_wait_ns");
    out.number(ns);
  }
  if (uint64_t ns = model::close_wait_reaction_ns(c)) {
    out.key("close_wait_reaction_ns");
    out.number(ns);
  }
  out.end_object();
}

void append_owner(JsonWriter& out, const model::Connection& c) {
  out.key("pid");
  if (!c.has_owner()) {
    out.null();
    out.key("comm");
    out.null();
    return;
  }
  out.number(c.owner_pid());
  out.key("comm");
  out.string(c.owner_comm());
}

template <std::size_t N>
void append_event_start(JsonWriter& out, const char (&event)[N], uint64_t epoch_ns) {
  out.begin_object();
  out.key("event");
  out.name(event);
  out.key("ts_ns");
  out.number(epoch_ns);
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

void write_drops(JsonWriter& out, const model::DropCounts& drops) {
  out.begin_object();
  for (std::size_t i = 0; i < drops.reasons.size(); ++i) {
    if (!drops.counts[i]) continue;
    out.name_key(model::drop_reason_name(drops.reasons[i]));
    out.number(drops.counts[i]);
  }
  // Reasons past the per-connection slots: under a name no kernel reason has.
  if (drops.other) {
    out.key("more_reasons");
    out.number(drops.other);
  }
  out.end_object();
}

void append_transition_json(fmt::memory_buffer& out, const model::Connection& c, TcpState from,
                            TcpState to, uint64_t epoch_ns) {
  JsonWriter line(out, kLineRoom);
  append_event_start(line, "transition", epoch_ns);
  line.key("conn");
  line.hex_string(c.cookie);
  append_tuple(line, c);
  line.key("from");
  line.name(model::state_name(from));
  line.key("to");
  line.name(model::state_name(to));
  append_owner(line, c);
  line.end_object();
}

void write_close_members(JsonWriter& line, const model::Connection& c,
                         const model::Classification& k, uint64_t epoch_ns, bool with_packet_view) {
  line.key("event");
  line.name("close");
  line.key("ts_ns");
  line.number(epoch_ns);
  line.key("conn");
  line.hex_string(c.cookie);
  append_tuple(line, c);
  line.key("role");
  line.name(model::role_name(c.role));
  line.key("states");
  line.begin_array();
  for (uint8_t i = 0; i < c.history_length(); ++i) {
    TcpState state = c.visit_state(i);
    bool last = i + 1 == c.history_length();
    if (last && k.enters_time_wait) state = TcpState::TimeWait;
    line.name(model::state_name(state));
  }
  line.end_array();
  line.key("outcome");
  line.name(model::outcome_name(k.outcome));
  line.key("verdict");
  line.name(model::verdict_name(k.verdict));
  line.key("reason");
  if (k.reason == model::Reason::None)
    line.null();
  else
    line.name(model::reason_name(k.reason));
  if (k.verdict == model::Verdict::Invalid) {
    std::string_view from = model::state_name(c.violation_from);
    std::string_view to = model::state_name(c.violation_to);
    line.key("illegal_step");
    line.quoted(from.size() + 2 + to.size(), [&](char* p) {
      if (!from.empty()) p = std::copy(from.begin(), from.end(), p);
      *p++ = '-';
      *p++ = '>';
      return std::copy(to.begin(), to.end(), p);
    });
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
  line.key("durations_ns");
  line.begin_object();
  for (std::size_t i = 0; i < distinct; ++i) {
    line.name_key(model::state_name(order[i]));
    line.number(spent[model::index_of(order[i])]);
  }
  line.end_object();
  line.key("retransmits");
  line.number(c.retransmits);
  line.key("reset_reason");
  if (c.reset_reason)
    line.name(model::reset_reason_name(c.reset_reason));
  else
    line.null();
  line.key("drops");
  write_drops(line, c.drops());
  append_owner(line, c);
  if (with_packet_view) append_packet_view(line, c);
}

void append_close_json(fmt::memory_buffer& out, const model::Connection& c,
                       const model::Classification& k, uint64_t epoch_ns, bool with_packet_view,
                       OwnerIdentity owner) {
  JsonWriter line(out, kLineRoom);
  line.begin_object();
  write_close_members(line, c, k, epoch_ns, with_packet_view);
  // As /api/v1/closed writes them: the socket's namespace, else its owner's.
  write_identity_members(line, owner.process, c.tuple.netns, owner.host_netns);
  line.end_object();
}

void append_packet_json(fmt::memory_buffer& out, const model::Event& e, const model::Connection* c,
                        std::string_view interface, uint64_t epoch_ns) {
  char flags[48];
  JsonWriter line(out, kLineRoom);
  append_event_start(line, "packet", epoch_ns);
  line.key("iface");
  line.string(interface);
  append_wire_tuple(line, e.tuple);
  line.key("flags");
  line.name(model::tcp_flags_text(e.packet.tcp_flags, flags));
  line.key("class");
  line.name(model::flag_class_name(e.packet.flag_class));
  line.key("seq");
  line.number(e.packet.seq);
  line.key("ack");
  line.number(e.packet.ack);
  line.key("len");
  line.number(e.packet.payload_length());
  line.key("conn");
  if (c)
    line.hex_string(c->cookie);
  else
    line.null();
  line.key("socket");
  if (e.packet.socket_state == model::TcpState::Unknown) {
    line.null();
  } else {
    line.begin_object();
    line.key("cookie");
    line.hex_string(e.cookie);
    line.key("state");
    line.name(model::state_name(e.packet.socket_state));
    line.end_object();
  }
  if (e.packet.completes_handshake) {
    line.key("completes_handshake");
    line.boolean(true);
  }
  line.end_object();
}

void append_syn_without_socket_json(fmt::memory_buffer& out, const model::PendingSyn& syn,
                                    std::string_view interface, uint64_t epoch_ns) {
  JsonWriter line(out, kLineRoom);
  append_event_start(line, "syn_without_socket", epoch_ns);
  line.key("iface");
  line.string(interface);
  append_wire_tuple(line, syn.tuple);
  line.key("reason");
  line.name(model::syn_fate_name(syn.fate_if_unanswered));
  line.key("retransmits");
  line.number(syn.retransmits);
  line.end_object();
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
  // Asked while the owner surely runs (it is stepping its socket), not only at the close,
  // after which a short-lived process may be gone before its line is written.
  if (processes_ && c.has_owner()) processes_->find(c.owner_pid());
  append_transition_json(lines_, c, from, to, clock_.to_epoch_ns(ts_ns));
  emit();
}

void JsonLinesWriter::on_closed(const model::Connection& c, const model::Classification& k,
                                uint64_t ts_ns) {
  ++closes_by_verdict_[static_cast<std::size_t>(k.verdict)];
  if (!filter_.matches(c)) return;
  OwnerIdentity owner;
  if (processes_) {
    owner.host_netns = processes_->host_netns();
    if (c.has_owner()) owner.process = processes_->find(c.owner_pid());
  }
  append_close_json(lines_, c, k, clock_.to_epoch_ns(ts_ns), packet_view_, owner);
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
