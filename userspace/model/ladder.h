#pragma once
// One connection as the ladder diagram TCP is taught with: one column per end (both, when
// both ends are local and synfin saw both), each end's states with the time it entered them,
// and the packets between them — seen by XDP where it was on, inferred from the state steps
// otherwise (and marked so). Built from finished or live connections; pure.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/connection.h"

namespace synfin::model {

struct LadderEnd {
  Connection connection;
  std::optional<Classification> classification;  // nullopt while the socket is open
};

struct LadderArrow {
  uint64_t ts_ns = 0;  // arrival (seen) or the step that implies it (inferred)
  int from = 0;        // index of the sending end; 1 is "peer" when only one end is local
  std::string label;   // "SYN seq=0", "FIN|ACK seq=18 ack=1", ... relative to each ISN
  bool inferred = false;
};

struct LadderRow {
  uint64_t ts_ns = 0;
  int end = 0;  // the end whose state changed, or the receiving end of an arrow
  TcpState state = TcpState::Unknown;  // a state entered (Unknown for an arrow row)
  const LadderArrow* arrow = nullptr;
  // The socket went on as a mini-socket before the peer's FIN came: the kernel keeps it in
  // FIN_WAIT2, as ss and the API list it, not TIME_WAIT.
  bool awaiting_peer_fin = false;
};

// A state row's label: "FIN_WAIT2 (awaiting the peer's FIN)" for such a mini-socket.
std::string state_label(const LadderRow& row);

struct Ladder {
  std::vector<LadderEnd> ends;  // 1 or 2; ends[0] is the connection asked for
  std::vector<LadderArrow> arrows;
  bool peer_is_local() const { return ends.size() == 2; }
  // Everything in time order: state entries and arrows (for the renderers).
  std::vector<LadderRow> rows() const;
  // "active close", "passive close", "simultaneous close through CLOSING", "three-way close
  // (the peer's FIN and our FIN+ACK merged)", "reset", ... in the words TCP is taught with.
  std::string story() const;
  uint64_t first_ns() const;
  // Whether end `sender` (1 is "peer" when only one end is local) sent a FIN by then.
  bool peer_fin_by(int sender, uint64_t ts_ns) const;
};

// The connection `cookie` and, when synfin saw its other end too (the mirrored 4-tuple, the
// opposite role), that end: candidates are every connection known (closed or live).
std::optional<Ladder> build_ladder(uint64_t cookie, const std::vector<LadderEnd>& candidates);

}  // namespace synfin::model
