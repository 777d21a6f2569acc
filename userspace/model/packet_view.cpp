#include <array>
#include <cstring>

#include "model/packet_checks.h"
#include "model/packet_view.h"
#include "synfin/abi.h"

namespace synfin::model {

namespace {
constexpr std::array<std::string_view, kAnomalyCount> kAnomalyNames = {
    "invalid_flags",    "synack_ack_mismatch", "syn_seq_mismatch",  "handshake_ack_mismatch",
    "fin_seq_mismatch", "fin_ack_beyond_sent", "rst_out_of_window", "rst_in_window_inexact"};
constexpr std::array<std::string_view, kSynFateCount> kSynFateNames = {
    "no_listener", "accept_queue_full", "not_completed", "time_wait", "other_socket"};

constexpr std::array<std::string_view, SYNFIN_XDP_COUNTER_COUNT> kCounterLabels = [] {
  std::array<std::string_view, SYNFIN_XDP_COUNTER_COUNT> labels{};
#define SYNFIN_COUNTER_LABEL(abi, label, group) labels[SYNFIN_XDP_##abi] = label;
  SYNFIN_XDP_COUNTERS(SYNFIN_COUNTER_LABEL)
#undef SYNFIN_COUNTER_LABEL
  return labels;
}();

const std::array<uint8_t, 16> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// A dual-stack socket sees an IPv4 peer as ::ffff:a.b.c.d; the packet says a.b.c.d.
std::array<uint8_t, 16> canonical_address(AddressFamily family,
                                          const std::array<uint8_t, 16>& address) {
  std::array<uint8_t, 16> out{};
  if (family == AddressFamily::IPv6 && std::memcmp(address.data(), kV4MappedPrefix.data(), 12) != 0)
    return address;
  const uint8_t* v4 = family == AddressFamily::IPv6 ? address.data() + 12 : address.data();
  std::memcpy(out.data(), v4, 4);
  return out;
}

void mark(Connection& c, Anomaly a, uint16_t& found) {
  uint16_t bit = static_cast<uint16_t>(1u << static_cast<unsigned>(a));
  PacketFacts& f = c.packets_for_update();
  if (f.anomalies & bit) return;
  f.anomalies |= bit;
  found |= bit;
}

bool once(PacketFacts& f, uint8_t check) {
  if (f.checked & check) return false;
  f.checked |= check;
  return true;
}

// Runs each check whose inputs are both known, once.
uint16_t evaluate(Connection& c) {
  PacketFacts& f = c.packets_for_update();
  uint16_t found = 0;
  auto known = [&](uint8_t facts) { return (f.known & facts) == facts; };
  if (c.role == Role::Client && known(PacketFacts::kSynAck | PacketFacts::kEstablishedSeq) &&
      once(f, 1) && f.synack_ack != f.established_snd_una)
    mark(c, Anomaly::SynAckAckMismatch, found);
  if (c.role == Role::Server && known(PacketFacts::kSyn | PacketFacts::kEstablishedSeq) &&
      once(f, 2) && f.syn_seq + 1 != f.established_rcv_nxt)
    mark(c, Anomaly::SynSeqMismatch, found);
  if (c.role == Role::Server && known(PacketFacts::kHandshakeAck | PacketFacts::kEstablishedSeq) &&
      once(f, 4) && f.handshake_ack != f.established_snd_una)
    mark(c, Anomaly::HandshakeAckMismatch, found);
  if (known(PacketFacts::kPeerFin | PacketFacts::kFinStepSeq) && once(f, 8) &&
      f.peer_fin_end_seq != f.fin_step_rcv_nxt)
    mark(c, Anomaly::FinSeqMismatch, found);
  return found;
}

// The steps a peer's FIN causes; rcv_nxt right after them is where its stream ended.
bool step_caused_by_peer_fin(const Connection& c, const Event& e) {
  if (e.from == TcpState::Established && e.to == TcpState::CloseWait) return true;
  if (e.from == TcpState::FinWait1 && e.to == TcpState::Closing) return true;
  return e.from == TcpState::FinWait2 && e.to == TcpState::Close &&
         (c.packets().known & PacketFacts::kPeerFin);
}

uint64_t entered(const Connection& c, TcpState state, bool want_exit) {
  for (uint8_t i = 0; i < c.history_length(); ++i) {
    if (c.visit_state(i) != state) continue;
    if (!want_exit) return c.visit(i).entered_ns;
    return i + 1 < c.history_length() ? c.visit(i + 1).entered_ns : 0;
  }
  return 0;
}
}  // namespace

std::string_view anomaly_name(Anomaly anomaly) {
  return kAnomalyNames[static_cast<std::size_t>(anomaly)];
}
std::string_view syn_fate_name(SynFate fate) {
  return kSynFateNames[static_cast<std::size_t>(fate)];
}
std::string_view flag_class_name(uint8_t flag_class) {
  return flag_class <= SYNFIN_XDP_OTHER ? kCounterLabels[flag_class] : "other";
}

std::string_view tcp_flags_text(uint8_t flags, char (&buffer)[48]) {
  static constexpr std::array<std::pair<uint8_t, std::string_view>, 8> kNames = {{
      {0x01, "FIN"},
      {0x02, "SYN"},
      {0x04, "RST"},
      {0x08, "PSH"},
      {0x10, "ACK"},
      {0x20, "URG"},
      {0x40, "ECE"},
      {0x80, "CWR"},
  }};
  std::size_t length = 0;
  for (const auto& [bit, name] : kNames) {
    if (!(flags & bit)) continue;
    if (length) buffer[length++] = '|';
    std::memcpy(buffer + length, name.data(), name.size());
    length += name.size();
  }
  if (!length) return "NONE";
  return {buffer, length};
}

uint16_t note_packet(Connection& c, const Event& e) {
  PacketFacts& f = c.packets_for_update();
  const Packet& p = e.packet;
  uint16_t found = 0;
  if (f.packets < UINT16_MAX) ++f.packets;
  switch (p.flag_class) {
    case SYNFIN_XDP_INVALID:
      mark(c, Anomaly::InvalidFlags, found);
      break;
    case SYNFIN_XDP_SYNACK:
      if (!(f.known & PacketFacts::kSynAck)) {
        f.synack_ns = e.ts_ns;
        f.synack_ack = p.ack;
        f.known |= PacketFacts::kSynAck;
      }
      break;
    case SYNFIN_XDP_FIN:
      if (!(f.known & PacketFacts::kPeerFin)) {
        f.peer_fin_ns = e.ts_ns;
        f.peer_fin_end_seq = p.end_seq;
        f.known |= PacketFacts::kPeerFin;
      }
      if (p.socket_sequence_valid && (p.tcp_flags & SYNFIN_TCP_ACK) &&
          static_cast<int32_t>(p.ack - p.socket_write_seq) > 0)
        mark(c, Anomaly::FinAckBeyondSent, found);
      break;
    case SYNFIN_XDP_RST:
      if (f.resets < UINT16_MAX) ++f.resets;
      if (f.first_reset != PacketFacts::ResetHint::None || !p.socket_sequence_valid) break;
      if (p.socket_state == TcpState::SynSent) {
        // Before the handshake only an RST acknowledging our SYN is acceptable.
        bool acks_syn = (p.tcp_flags & SYNFIN_TCP_ACK) && p.ack == p.socket_write_seq;
        f.first_reset =
            acks_syn ? PacketFacts::ResetHint::Exact : PacketFacts::ResetHint::OutOfWindow;
      } else {
        uint32_t offset = p.seq - p.socket_rcv_nxt;
        uint32_t window = p.socket_rcv_wnd ? p.socket_rcv_wnd : 1;
        f.first_reset = offset == 0       ? PacketFacts::ResetHint::Exact
                        : offset < window ? PacketFacts::ResetHint::InWindow
                                          : PacketFacts::ResetHint::OutOfWindow;
      }
      break;
    default:
      break;
  }
  return found | evaluate(c);
}

uint16_t note_step(Connection& c, const Event& e, const PendingSyn* syn) {
  PacketFacts& f = c.packets_for_update();
  if (syn) {
    f.syn_ns = syn->first_ns;
    f.syn_seq = syn->seq;
    f.known |= PacketFacts::kSyn;
    if (syn->has_handshake_ack) {
      f.handshake_ack = syn->handshake_ack;
      f.handshake_ack_ns = syn->handshake_ack_ns;
      f.known |= PacketFacts::kHandshakeAck;
    }
  }
  if (e.sequence.valid) {
    if (e.to == TcpState::Established && !(f.known & PacketFacts::kEstablishedSeq)) {
      f.established_snd_una = e.sequence.snd_una;
      f.established_rcv_nxt = e.sequence.rcv_nxt;
      f.known |= PacketFacts::kEstablishedSeq;
    }
    if (step_caused_by_peer_fin(c, e) && !(f.known & PacketFacts::kFinStepSeq)) {
      f.fin_step_rcv_nxt = e.sequence.rcv_nxt;
      f.known |= PacketFacts::kFinStepSeq;
    }
  }
  return evaluate(c);
}

uint16_t note_finish(Connection& c) {
  uint16_t found = 0;
  if (c.packets().resets == 0 || c.reset_received) return found;
  // The kernel never accepted an RST this socket was sent: it was out of window, or
  // challenged. An RST whose arrival found it exactly at rcv_nxt was simply overtaken.
  if (c.packets().first_reset == PacketFacts::ResetHint::OutOfWindow)
    mark(c, Anomaly::RstOutOfWindow, found);
  else if (c.packets().first_reset == PacketFacts::ResetHint::InWindow)
    mark(c, Anomaly::RstInWindowInexact, found);
  return found;
}

uint64_t handshake_from_syn_ns(const Connection& c) {
  uint64_t established = entered(c, TcpState::Established, false);
  if (!(c.packets().known & PacketFacts::kSyn) || !established || established < c.packets().syn_ns)
    return 0;
  return established - c.packets().syn_ns;
}

uint64_t close_wait_reaction_ns(const Connection& c) {
  uint64_t left = entered(c, TcpState::CloseWait, true);
  if (!(c.packets().known & PacketFacts::kPeerFin) || !left || left < c.packets().peer_fin_ns)
    return 0;
  return left - c.packets().peer_fin_ns;
}

uint64_t fin_to_close_wait_ns(const Connection& c) {
  uint64_t close_wait = entered(c, TcpState::CloseWait, false);
  if (!(c.packets().known & PacketFacts::kPeerFin) || !close_wait ||
      close_wait < c.packets().peer_fin_ns)
    return 0;
  return close_wait - c.packets().peer_fin_ns;
}

PendingSyns::PendingSyns(std::size_t capacity)
    : capacity_(capacity ? capacity : 1), by_flow_(&pool_) {}

PendingSyns::FlowKey PendingSyns::key_of(const SocketTuple& tuple) {
  FlowKey key;
  key.local = canonical_address(tuple.family, tuple.local.address);
  key.remote = canonical_address(tuple.family, tuple.remote.address);
  key.local_port = tuple.local.port;
  key.remote_port = tuple.remote.port;
  return key;
}

std::size_t PendingSyns::FlowKeyHash::operator()(const FlowKey& key) const {
  uint64_t h = (uint64_t{key.local_port} << 16 | key.remote_port) * 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < 16; i += 8) {
    uint64_t local = 0, remote = 0;
    std::memcpy(&local, key.local.data() + i, 8);
    std::memcpy(&remote, key.remote.data() + i, 8);
    h = (h ^ local) * 0xff51afd7ed558ccdull;
    h = (h ^ remote) * 0xc4ceb9fe1a85ec53ull;
  }
  return static_cast<std::size_t>(h ^ (h >> 29));
}

void PendingSyns::drop_oldest() {
  const Arrival& oldest = arrivals_[head_];
  auto it = by_flow_.find(oldest.key);
  if (it != by_flow_.end() && it->second.first_ns == oldest.ns) {
    by_flow_.erase(it);
    ++evicted_;
  }
  head_ = (head_ + 1) % arrivals_.size();
  --count_;
}

void PendingSyns::add(const Event& e) {
  FlowKey key = key_of(e.tuple);
  SynFate fate = SynFate::NoListener;
  switch (e.packet.socket_state) {
    case TcpState::Unknown:
      fate = SynFate::NoListener;
      break;
    case TcpState::Listen:
      // The kernel's own test (sk_acceptq_is_full): more queued than the limit.
      fate = e.packet.accept_queue > e.packet.accept_limit ? SynFate::AcceptQueueFull
                                                           : SynFate::NotCompleted;
      break;
    case TcpState::TimeWait:
      fate = SynFate::TimeWait;
      break;
    default:
      fate = SynFate::OtherSocket;
      break;
  }
  auto it = by_flow_.find(key);
  if (it != by_flow_.end()) {  // retransmitted: keep the first arrival, learn the latest fate
    if (it->second.retransmits < UINT16_MAX) ++it->second.retransmits;
    it->second.fate_if_unanswered = fate;
    return;
  }
  if (arrivals_.empty()) arrivals_.resize(capacity_);  // only once XDP delivers a SYN
  if (count_ == arrivals_.size()) drop_oldest();
  PendingSyn syn;
  syn.tuple = e.tuple;
  syn.first_ns = e.ts_ns;
  syn.seq = e.packet.seq;
  syn.ifindex = e.packet.ifindex;
  syn.fate_if_unanswered = fate;
  by_flow_.emplace(key, syn);
  arrivals_[(head_ + count_) % arrivals_.size()] = {key, e.ts_ns};
  ++count_;
}

void PendingSyns::note_handshake_ack(const Event& e) {
  auto it = by_flow_.find(key_of(e.tuple));
  if (it == by_flow_.end() || it->second.has_handshake_ack) return;
  it->second.has_handshake_ack = true;
  it->second.handshake_ack = e.packet.ack;
  it->second.handshake_ack_ns = e.ts_ns;
}

std::optional<PendingSyn> PendingSyns::take(const SocketTuple& tuple) {
  if (by_flow_.empty()) return std::nullopt;
  auto it = by_flow_.find(key_of(tuple));
  if (it == by_flow_.end()) return std::nullopt;
  PendingSyn syn = it->second;
  by_flow_.erase(it);  // its arrival entry is skipped when it comes up for expiry
  return syn;
}

}  // namespace synfin::model
