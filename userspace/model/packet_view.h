#pragma once
// The packet view joined to the socket view: what XDP saw arrive (SYNs, SYN-ACKs, the ACK
// completing a handshake, FINs, RSTs) matched to the sockets the tracepoints follow, and the
// handshake and teardown arithmetic checked against the socket's own sequence numbers.
// Pure: time comes in with the events.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/event.h"

namespace synfin::model {

// Something a packet showed that a correct TCP peer and path never produce. Bounded: each
// is a metric label.
enum class Anomaly : uint8_t {
  InvalidFlags,          // SYN+FIN, SYN+RST, RST+FIN or no flags, on this connection's flow
  SynAckAckMismatch,     // client: the first SYN-ACK did not acknowledge our ISN + 1
  SynSeqMismatch,        // server: the SYN's ISN + 1 is not what the socket expects next
  HandshakeAckMismatch,  // server: the completing ACK did not acknowledge our ISN + 1
  FinSeqMismatch,        // the peer's FIN does not end where the socket's stream ended
  FinAckBeyondSent,      // the peer's FIN acknowledges data this socket never sent
  RstOutOfWindow,        // an RST the kernel did not accept, outside the receive window
  RstInWindowInexact,    // an RST the kernel did not accept, in the window but not at
                         // rcv_nxt (RFC 5961: answered with a challenge ACK)
};
inline constexpr std::size_t kAnomalyCount = 8;
std::string_view anomaly_name(Anomaly anomaly);

// Why a SYN never became a socket, as far as the kernel's lookup at arrival tells.
enum class SynFate : uint8_t {
  NoListener,       // nothing listens on the port: the kernel answers RST
  AcceptQueueFull,  // the listener's accept queue was full: the kernel drops it
  NotCompleted,     // a listener had room, but the handshake never completed
  TimeWait,         // it hit a TIME_WAIT socket of an earlier connection
  OtherSocket,      // a connected socket owns the 4-tuple (duplicate SYN)
};
inline constexpr std::size_t kSynFateCount = 5;
std::string_view syn_fate_name(SynFate fate);

// Flag class of a packet as XDP counted it; the label of synfin_xdp_packets_total.
std::string_view flag_class_name(uint8_t flag_class);
// "SYN|ACK" style text of a TCP flag byte.
std::string_view tcp_flags_text(uint8_t flags, char (&buffer)[48]);

// Packet facts kept on a connection. Checks run once both of their inputs are known,
// whichever arrived first.
struct PacketFacts {
  uint64_t syn_ns = 0;            // server: the client's first SYN arrived
  uint64_t handshake_ack_ns = 0;  // server: the ACK that completed the handshake arrived
  uint64_t synack_ns = 0;         // client: the first SYN-ACK arrived
  uint64_t peer_fin_ns = 0;       // the peer's first FIN arrived
  uint32_t syn_seq = 0;
  uint32_t handshake_ack = 0;
  uint32_t synack_ack = 0;
  uint32_t peer_fin_end_seq = 0;
  uint32_t established_snd_una = 0;  // the socket's numbers right after ESTABLISHED
  uint32_t established_rcv_nxt = 0;
  uint32_t fin_step_rcv_nxt = 0;  // right after the step the peer's FIN caused
  uint16_t packets = 0;
  uint16_t resets = 0;
  // Where the first RST sat against the receive window when it arrived. Only a hint: the
  // kernel may process it later (the socket busy), so it judges the RST itself
  // (tcp_receive_reset); the hint names the anomaly when the kernel did not accept it.
  enum class ResetHint : uint8_t { None, Exact, InWindow, OutOfWindow };
  ResetHint first_reset = ResetHint::None;
  uint16_t anomalies = 0;  // bit per Anomaly
  uint8_t known = 0;       // bit per Fact
  uint8_t checked = 0;     // bit per check already made

  enum Fact : uint8_t {
    kSyn = 1,
    kHandshakeAck = 2,
    kSynAck = 4,
    kPeerFin = 8,
    kEstablishedSeq = 16,
    kFinStepSeq = 32,
  };
  bool has(Anomaly a) const { return anomalies & (1u << static_cast<unsigned>(a)); }
  bool any() const { return known != 0 || packets != 0; }
};

// A SYN that arrived for a socket not born yet.
struct PendingSyn {
  SocketTuple tuple;  // the receiving side's view: local = the SYN's destination
  uint64_t first_ns = 0;
  uint32_t seq = 0;
  uint32_t ifindex = 0;
  uint16_t retransmits = 0;
  SynFate fate_if_unanswered = SynFate::NotCompleted;
  bool has_handshake_ack = false;
  uint32_t handshake_ack = 0;
  uint64_t handshake_ack_ns = 0;
};

// Bounded table of SYNs waiting for their socket, expired in arrival order.
class PendingSyns {
 public:
  explicit PendingSyns(std::size_t capacity);

  // A SYN arrived (or was retransmitted: the first arrival is kept).
  void add(const Event& syn);
  // The ACK completing the handshake arrived for this flow.
  void note_handshake_ack(const Event& ack);
  // The socket was born: its SYN, if seen, is handed over.
  std::optional<PendingSyn> take(const SocketTuple& tuple);
  // Calls on_unanswered(syn) for every SYN that arrived at or before deadline_ns.
  template <typename Callback>
  void expire(uint64_t deadline_ns, Callback&& on_unanswered);
  std::size_t size() const { return by_flow_.size(); }
  uint64_t evicted() const { return evicted_; }

  struct FlowKey {
    std::array<uint8_t, 16> local{};
    std::array<uint8_t, 16> remote{};
    uint16_t local_port = 0;
    uint16_t remote_port = 0;
    bool operator==(const FlowKey&) const = default;
  };
  struct FlowKeyHash {
    std::size_t operator()(const FlowKey& key) const;
  };
  static FlowKey key_of(const SocketTuple& tuple);

 private:
  struct Arrival {
    FlowKey key;
    uint64_t ns = 0;
  };
  void drop_oldest();

  std::size_t capacity_;
  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::unordered_map<FlowKey, PendingSyn, FlowKeyHash> by_flow_;
  std::vector<Arrival> arrivals_;  // ring in arrival order, allocated once at the first SYN
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  uint64_t evicted_ = 0;
};

template <typename Callback>
void PendingSyns::expire(uint64_t deadline_ns, Callback&& on_unanswered) {
  while (count_ > 0 && arrivals_[head_].ns <= deadline_ns) {
    const Arrival& oldest = arrivals_[head_];
    auto it = by_flow_.find(oldest.key);
    // Taken by its socket, or the ring entry of a flow that was replaced since.
    if (it != by_flow_.end() && it->second.first_ns == oldest.ns) {
      on_unanswered(it->second);
      by_flow_.erase(it);
    }
    head_ = (head_ + 1) % arrivals_.size();
    --count_;
  }
}

}  // namespace synfin::model
