#pragma once
// The arithmetic TCP is built on, checked per connection from what XDP saw and what the
// socket reported: SYN seq=x → SYN-ACK ack=x+1 → ACK ack=y+1; a FIN ends the stream and
// consumes one sequence number; an RST is only acceptable at rcv_nxt.
#include <cstdint>

#include "model/connection.h"
#include "model/packet_view.h"

namespace synfin::model {

// A packet matched to this connection's socket. Returns the bits of anomalies found now.
uint16_t note_packet(Connection& connection, const Event& packet);
// A state change of this connection (already applied); `syn` is its SYN when the server
// side has just been born. Returns the bits of anomalies found now.
uint16_t note_step(Connection& connection, const Event& step, const PendingSyn* syn);

// The socket is gone: RSTs it received but the kernel never accepted are anomalies now.
// Returns the bits of anomalies found now.
uint16_t note_finish(Connection& connection);

// Time from the SYN's arrival to ESTABLISHED (server, XDP on); 0 when unknown.
uint64_t handshake_from_syn_ns(const Connection& connection);
// Peer's FIN → the application's close() (CLOSE_WAIT left); 0 when unknown or still open.
uint64_t close_wait_reaction_ns(const Connection& connection);
// Peer's FIN → CLOSE_WAIT entered (the kernel's own latency); 0 when unknown.
uint64_t fin_to_close_wait_ns(const Connection& connection);

}  // namespace synfin::model
