#pragma once
// The live connection table: applies events in arrival order, validates each step, and hands
// every transition and every finished connection to an observer. Pure: no clock, no syscalls.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/connection.h"
#include "model/connection_map.h"
#include "model/event.h"
#include "model/packet_view.h"
#include "model/reasons.h"

namespace synfin::model {

class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  virtual void on_transition(const Connection& connection, TcpState from, TcpState to,
                             uint64_t ts_ns) = 0;
  // The full socket is gone. `connection.state` is CLOSE; classification says whether a
  // TIME_WAIT mini-socket lives on.
  virtual void on_closed(const Connection& connection, const Classification& classification,
                         uint64_t ts_ns) = 0;
  // Retransmits, resets, SYN+ACK retransmits, kernel drops: `connection` is null when not
  // tracked (or, for a reset sent with no socket, when there is none).
  virtual void on_signal(const Connection* connection, const Event& event) {
    (void)connection;
    (void)event;
  }
  // A packet XDP saw: `connection` is the tracked socket the kernel's lookup found, or null
  // (no socket, a listener, or one not tracked).
  virtual void on_packet(const Connection* connection, const Event& packet) {
    (void)connection;
    (void)packet;
  }
  // A packet check failed on this connection (reported once per anomaly and connection).
  virtual void on_anomaly(const Connection& connection, Anomaly anomaly, uint64_t ts_ns) {
    (void)connection;
    (void)anomaly;
    (void)ts_ns;
  }
  // The name of an interface XDP watches (EventKind::Interface).
  virtual void on_interface(uint32_t ifindex, std::string_view name) {
    (void)ifindex;
    (void)name;
  }
  // The daemon's kernel side reported a clean active close only by the TIME_WAIT socket it left
  // (EventKind::TimeWaitEntered): the connection was counted in the kernel, not sent whole.
  // `connection`: the table's, about to be forgotten (null when it was not followed).
  virtual void on_time_wait_entered(const Event& event, const Connection* connection) {
    (void)event;
    (void)connection;
  }
  // A SYN XDP saw never became a socket within the handshake timeout.
  virtual void on_syn_without_socket(const PendingSyn& syn, uint64_t ts_ns) {
    (void)syn;
    (void)ts_ns;
  }
};

struct PacketViewConfig {
  uint64_t handshake_timeout_ns = 10'000'000'000ull;  // a SYN unanswered this long is counted
  std::size_t max_pending_syns = 65536;
  // XDP runs: keep packet facts from the first step on. Without it they are kept from the
  // first packet or interface record (a replay), and not at all when none comes.
  bool enabled = false;
  // The daemon's --port scope: packets with neither end on one of these are not followed
  // (their sockets are not traced, so their SYNs would look unanswered). Empty: every packet.
  std::vector<uint16_t> scope_ports;
};

struct TableCounters {
  uint64_t untracked_connections = 0;  // sockets not tracked because the table was full
};

class ConnectionTable {
 public:
  ConnectionTable(std::size_t max_connections, ConnectionObserver& observer,
                  PacketViewConfig packet_view = {});
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  void apply(const Event& event);
  // Compact mode: a socket's path, from its end record or a walk of the live ones. Steps
  // not applied yet are validated as their own events would have been; an ended path
  // finishes the connection.
  void apply_path(const SocketPath& path);
  // The daemon: sockets are followed through their kernel-kept paths (apply_path), so a reset,
  // drop or retransmit of a socket not in the table yet starts its entry.
  void follow_paths(bool on) { follow_paths_ = on; }

  // Reports SYNs that waited longer than the handshake timeout for their socket.
  void expire_pending_syns(uint64_t now_ns);
  const PendingSyns& pending_syns() const { return pending_syns_; }

  // Seeds a socket found in the kernel's table before tracing saw it be born. Its later
  // steps are validated from `state`; its verdict can be incomplete but never invalid for
  // the history it lacks. Returns null when the table is full or the cookie is known.
  Connection* seed(uint64_t cookie, const SocketTuple& tuple, TcpState state, uint64_t seen_ns);

  // Drops a connection the kernel no longer has although its end was never seen (its
  // records were lost): it is finished as incomplete.
  void finish_lost(uint64_t cookie, uint64_t now_ns);
  // Drops a path-followed connection the kernel no longer has: it ended, was judged and counted
  // in the kernel, and its close did not need to cross (a clean close outside the sample).
  void forget(uint64_t cookie) { connections_.erase(cookie); }

  // Ring-buffer records were lost: any open connection may have missed a step.
  void mark_open_connections_incomplete();
  // The same, noticed at noticed_ns: a connection first seen through a record stamped before
  // then may have lost its first records too (they waited in the ring behind the lost ones).
  void note_loss(uint64_t noticed_ns);
  // When a loss was last noticed (0: never).
  uint64_t loss_noticed_ns() const { return loss_noticed_ns_; }

  // Finishes connections already in CLOSE whose socket has not been destroyed yet (the
  // application still holds the descriptor) — used when a trace ends. Each is stamped with
  // the time it reached CLOSE, so a replay of the same records prints the same lines.
  void finish_closed_connections();

  const Connection* find(uint64_t cookie) const;
  Connection* find(uint64_t cookie);
  std::size_t size() const { return connections_.size(); }
  std::size_t capacity() const { return max_connections_; }
  const TableCounters& counters() const { return counters_; }

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    connections_.for_each(visit);
  }

 private:
  Connection* find_or_start(const Event& event);
  Connection* start(uint64_t cookie, const SocketTuple& tuple, uint64_t first_seen_ns);
  void apply_state_change(Connection& connection, const Event& event);
  void apply_packet(const Event& event);
  void report_anomalies(const Connection& connection, uint16_t anomalies, uint64_t ts_ns);
  void count_untracked(uint64_t cookie);
  void finish(Connection& connection, uint64_t ts_ns);

  std::size_t max_connections_;
  ConnectionObserver& observer_;
  ConnectionMap connections_;
  TableCounters counters_;
  uint64_t loss_noticed_ns_ = 0;
  static constexpr unsigned kRefusedBits = 12;
  std::array<uint64_t, 1u << kRefusedBits> refused_{};  // recently refused cookies
  PacketViewConfig packet_view_;
  PendingSyns pending_syns_;
  RecentResets recent_resets_;
  bool follow_paths_ = false;
  bool packet_view_active_ = false;  // XDP records arrive
};

}  // namespace synfin::model
