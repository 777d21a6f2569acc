#include "model/ladder.h"

#include <algorithm>

#include <fmt/format.h>

namespace synfin::model {

namespace {
bool mirrored(const SocketTuple& a, const SocketTuple& b) {
  return a.family == b.family && a.local == b.remote && a.remote == b.local && a.local.port != 0;
}

bool opposite_roles(Role a, Role b) {
  return (a == Role::Client && b == Role::Server) || (a == Role::Server && b == Role::Client);
}

uint64_t entered(const Connection& c, TcpState from, TcpState to) {
  for (uint8_t i = 1; i < c.history_length(); ++i)
    if (c.visit_state(i - 1) == from && c.visit_state(i) == to) return c.visit(i).entered_ns;
  return 0;
}

bool has(const PacketFacts& f, uint8_t fact) {
  return (f.known & fact) != 0;
}

// An end's own ISN and its peer's, from the socket's numbers after ESTABLISHED (when known).
std::optional<uint32_t> own_isn(const Connection& c) {
  if (!has(c.packets(), PacketFacts::kEstablishedSeq)) return std::nullopt;
  return c.packets().established_snd_una - 1;
}
std::optional<uint32_t> peer_isn(const Connection& c) {
  if (!has(c.packets(), PacketFacts::kEstablishedSeq)) return std::nullopt;
  return c.packets().established_rcv_nxt - 1;
}

std::string relative(const char* name, uint32_t value, std::optional<uint32_t> isn) {
  return isn ? fmt::format(" {}={}", name, static_cast<uint32_t>(value - *isn)) : std::string{};
}

class ArrowMaker {
 public:
  explicit ArrowMaker(Ladder& ladder) : ladder_(ladder) {}

  void seen(uint64_t ts, int from, std::string label) {
    if (ts) ladder_.arrows.push_back({ts, from, std::move(label), false});
  }
  void inferred(uint64_t ts, int from, std::string label) {
    if (ts) ladder_.arrows.push_back({ts, from, std::move(label), true});
  }

 private:
  Ladder& ladder_;
};

// The packets an end received (XDP), then those its steps imply that nobody saw.
void add_arrows(Ladder& ladder, int me) {
  const Connection& c = ladder.ends[me].connection;
  const PacketFacts& f = c.packets();
  int other = 1 - me;
  const PacketFacts* peer =
      ladder.peer_is_local() ? &ladder.ends[other].connection.packets() : nullptr;
  ArrowMaker arrows(ladder);
  // Seen arriving at this end.
  if (has(f, PacketFacts::kSyn)) arrows.seen(f.syn_ns, other, "SYN seq=0");
  if (has(f, PacketFacts::kSynAck))
    arrows.seen(f.synack_ns, other, "SYN|ACK" + relative("ack", f.synack_ack, own_isn(c)));
  if (has(f, PacketFacts::kHandshakeAck))
    arrows.seen(f.handshake_ack_ns, other, "ACK" + relative("ack", f.handshake_ack, own_isn(c)));
  if (has(f, PacketFacts::kPeerFin))
    arrows.seen(f.peer_fin_ns, other, "FIN" + relative("seq", f.peer_fin_end_seq - 1, peer_isn(c)));
  // Implied by this end's steps; drawn only where no packet was seen for them.
  bool peer_saw_syn = peer && has(*peer, PacketFacts::kSyn);
  bool peer_saw_fin = peer && has(*peer, PacketFacts::kPeerFin);
  if (!peer_saw_syn) arrows.inferred(entered(c, TcpState::Close, TcpState::SynSent), me, "SYN");
  if (!has(f, PacketFacts::kSynAck))
    arrows.inferred(entered(c, TcpState::SynSent, TcpState::Established), other, "SYN|ACK");
  // A server's first step is reported when the handshake's last ACK arrives.
  if (!has(f, PacketFacts::kHandshakeAck))
    arrows.inferred(entered(c, TcpState::Listen, TcpState::SynRecv), other, "ACK");
  for (TcpState closing : {TcpState::Established, TcpState::CloseWait})
    if (!peer_saw_fin)
      arrows.inferred(
          entered(c, closing,
                  closing == TcpState::Established ? TcpState::FinWait1 : TcpState::LastAck),
          me, "FIN");
  // A FIN received is drawn from this end's steps only when the peer is not local: otherwise
  // the peer's own step that sent it already drew it.
  if (!has(f, PacketFacts::kPeerFin) && !peer) {
    arrows.inferred(entered(c, TcpState::Established, TcpState::CloseWait), other, "FIN");
    arrows.inferred(entered(c, TcpState::FinWait1, TcpState::Closing), other, "FIN");
    arrows.inferred(entered(c, TcpState::FinWait2, TcpState::Close), other, "FIN");
  }
  arrows.inferred(entered(c, TcpState::FinWait1, TcpState::FinWait2), other, "ACK of FIN");
  arrows.inferred(entered(c, TcpState::LastAck, TcpState::Close), other, "ACK of FIN");
  arrows.inferred(entered(c, TcpState::Closing, TcpState::Close), other, "ACK of FIN");
  if (c.reset_received) {
    uint64_t at = c.history_length() ? c.visit(c.history_length() - 1).entered_ns : 0;
    if (c.state == TcpState::Close) arrows.inferred(at, other, "RST");
  }
  if (c.reset_sent && !(peer && peer->resets)) {
    uint64_t at = c.history_length() ? c.visit(c.history_length() - 1).entered_ns : 0;
    if (c.state == TcpState::Close) arrows.inferred(at, me, "RST");
  }
}

std::string end_story(const Ladder& ladder, int index) {
  const LadderEnd& end = ladder.ends[index];
  const Connection& c = end.connection;
  if (!end.classification) return "still open, in " + std::string(state_name(c.state));
  switch (end.classification->outcome) {
    case Outcome::ActiveClose:
      return "active close (FIN first), then TIME_WAIT";
    case Outcome::PassiveClose: {
      // Three-way when the closer's FIN was acknowledged only by our own FIN: the closer left
      // FIN_WAIT1 after we entered LAST_ACK. Only a local peer shows it.
      if (ladder.peer_is_local()) {
        const Connection& closer = ladder.ends[1 - index].connection;
        uint64_t acked = entered(closer, TcpState::FinWait1, TcpState::FinWait2);
        uint64_t our_fin = entered(c, TcpState::CloseWait, TcpState::LastAck);
        if (acked && our_fin && acked >= our_fin)
          return "passive close, three-way: our FIN carried the ACK of the peer's FIN";
      }
      return "passive close (the peer's FIN first; CLOSE_WAIT until close())";
    }
    case Outcome::SimultaneousClose:
      return "simultaneous close: both FINs crossed, through CLOSING";
    case Outcome::ResetReceived:
      return "reset by the peer";
    case Outcome::ResetSent:
      return "reset by this end (abortive close)";
    case Outcome::Refused:
      return "refused: the peer answered the SYN with RST";
    case Outcome::HandshakeTimeout:
      return "handshake timed out: the SYN was never answered";
    case Outcome::ListenerClosed:
      return "a listening socket";
    default:
      return std::string(outcome_name(end.classification->outcome));
  }
}
}  // namespace

std::optional<Ladder> build_ladder(uint64_t cookie, const std::vector<LadderEnd>& candidates) {
  auto me = std::find_if(candidates.begin(), candidates.end(),
                         [&](const LadderEnd& e) { return e.connection.cookie == cookie; });
  if (me == candidates.end()) return std::nullopt;
  Ladder ladder;
  ladder.ends.push_back(*me);
  for (const LadderEnd& other : candidates) {
    if (other.connection.cookie == cookie) continue;
    if (mirrored(other.connection.tuple, me->connection.tuple) &&
        opposite_roles(other.connection.role, me->connection.role)) {
      ladder.ends.push_back(other);
      break;
    }
  }
  add_arrows(ladder, 0);
  if (ladder.peer_is_local()) add_arrows(ladder, 1);
  std::stable_sort(ladder.arrows.begin(), ladder.arrows.end(),
                   [](const LadderArrow& a, const LadderArrow& b) { return a.ts_ns < b.ts_ns; });
  return ladder;
}

std::vector<LadderRow> Ladder::rows() const {
  std::vector<LadderRow> out;
  for (int e = 0; e < static_cast<int>(ends.size()); ++e) {
    const Connection& c = ends[e].connection;
    for (uint8_t i = 0; i < c.history_length(); ++i) {
      TcpState state = c.visit_state(i);
      uint64_t at = c.visit(i).entered_ns;
      bool last = i + 1 == c.history_length();
      bool awaiting = false;
      if (last && ends[e].classification && ends[e].classification->enters_time_wait) {
        // The kernel's FIN_WAIT2 → CLOSE hands the socket to a mini-socket: TIME_WAIT if the
        // peer's FIN was there (the RFC's drawing), FIN_WAIT2 if it was not yet (close() after
        // shutdown(), or an orphan's FIN acknowledged alone), as ss and the API list it.
        TcpState handed_from = state == TcpState::Close && i > 0 ? c.visit_state(i - 1) : state;
        awaiting = handed_from == TcpState::FinWait2 && !peer_fin_by(1 - e, at);
        state = awaiting ? TcpState::FinWait2 : TcpState::TimeWait;
      }
      out.push_back({at, e, state, nullptr, awaiting});
    }
  }
  for (const LadderArrow& a : arrows) out.push_back({a.ts_ns, 1 - a.from, TcpState::Unknown, &a});
  // A state known since before tracking began (time 0) heads its column.
  std::stable_sort(out.begin(), out.end(), [](const LadderRow& a, const LadderRow& b) {
    if (a.ts_ns != b.ts_ns) return a.ts_ns < b.ts_ns;
    return a.arrow != nullptr && b.arrow == nullptr;  // a packet before the step it causes
  });
  return out;
}

bool Ladder::peer_fin_by(int sender, uint64_t ts_ns) const {
  return std::any_of(arrows.begin(), arrows.end(), [&](const LadderArrow& a) {
    return a.from == sender && a.ts_ns <= ts_ns && a.label.starts_with("FIN");
  });
}

std::string state_label(const LadderRow& row) {
  std::string label(state_name(row.state));
  if (row.awaiting_peer_fin) label += " (awaiting the peer's FIN)";
  return label;
}

uint64_t Ladder::first_ns() const {
  uint64_t first = UINT64_MAX;
  for (const LadderRow& row : rows())
    if (row.ts_ns) first = std::min(first, row.ts_ns);
  return first == UINT64_MAX ? 0 : first;
}

std::string Ladder::story() const {
  std::string text = std::string(role_name(ends[0].connection.role)) + ": " + end_story(*this, 0);
  if (peer_is_local())
    text += "; " + std::string(role_name(ends[1].connection.role)) + ": " + end_story(*this, 1);
  return text;
}

}  // namespace synfin::model
