#pragma once
// `synfin trace` output: one JSON object per line for every transition and every finished
// connection, as the README documents them (a contract: users parse it). Lines are written
// straight into one reused buffer, without format strings, and handed to stdio in batches: at
// millions of events a second, per-line formatting and fwrite calls were the trace's cost
// (outputs/json_writer.h).
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "model/connection_table.h"
#include "model/process.h"
#include "outputs/json_writer.h"

namespace synfin::outputs {

struct OutputFilter {
  int family = 0;  // 0 both, 4, 6
  std::vector<uint16_t> local_ports;
  std::vector<uint16_t> remote_ports;
  std::optional<uint32_t> pid;      // the owning process
  std::vector<uint16_t> any_ports;  // either end on one of these (--port)

  bool matches(const model::Connection& connection) const;
  // A packet, by the receiving socket's view of its tuple (and its owner, when known).
  bool matches_packet(const model::SocketTuple& tuple, const model::Connection* connection) const;
};

// ifindex → name of the interfaces XDP watches (at most a handful).
class InterfaceNames {
 public:
  void set(uint32_t ifindex, std::string_view name);
  // The name, or the ifindex as text when unknown.
  std::string_view name_of(uint32_t ifindex, char (&buffer)[16]) const;

 private:
  struct Entry {
    uint32_t ifindex = 0;
    std::array<char, 16> name{};
  };
  std::array<Entry, 16> entries_{};
  std::size_t count_ = 0;
};

// Address text as `ss` prints it (dotted quad or RFC 5952 IPv6).
std::string_view format_address(const model::SocketTuple& tuple, bool local, char (&buffer)[64]);

void append_transition_json(fmt::memory_buffer& out, const model::Connection& connection,
                            model::TcpState from, model::TcpState to, uint64_t epoch_ns);
// Who the close line's owner is, beyond pid and comm (outputs/owner_fields.h): null members
// when `process` is not known.
struct OwnerIdentity {
  const model::ProcessInfo* process = nullptr;
  uint32_t host_netns = 0;
};
// with_packet_view: XDP was on, so the line carries anomalies and packet-derived timings.
void append_close_json(fmt::memory_buffer& out, const model::Connection& connection,
                       const model::Classification& classification, uint64_t epoch_ns,
                       bool with_packet_view = false, OwnerIdentity owner = {});
void append_packet_json(fmt::memory_buffer& out, const model::Event& packet,
                        const model::Connection* connection, std::string_view interface,
                        uint64_t epoch_ns);
void append_syn_without_socket_json(fmt::memory_buffer& out, const model::PendingSyn& syn,
                                    std::string_view interface, uint64_t epoch_ns);
// {"TCP_RFC7323_PAWS":2,...}: a connection's kernel drops by reason.
void write_drops(JsonWriter& out, const model::DropCounts& drops);
// A close line's members, for an object the caller opened (the API's /closed adds its own).
void write_close_members(JsonWriter& out, const model::Connection& connection,
                         const model::Classification& classification, uint64_t epoch_ns,
                         bool with_packet_view);

class JsonLinesWriter final : public model::ConnectionObserver {
 public:
  JsonLinesWriter(std::FILE* out, OutputFilter filter, Clock clock);
  // Writes the lines still held back (without flushing the stream: call flush() for that).
  ~JsonLinesWriter() override;
  JsonLinesWriter(const JsonLinesWriter&) = delete;
  JsonLinesWriter& operator=(const JsonLinesWriter&) = delete;
  // Where close lines learn their owner's unit, container, pod and namespace (asked at each
  // line of a connection with an owner); without one those members are null.
  void set_processes(model::ProcessDirectory* processes) { processes_ = processes; }
  void on_transition(const model::Connection& connection, model::TcpState from, model::TcpState to,
                     uint64_t ts_ns) override;
  void on_closed(const model::Connection& connection, const model::Classification& classification,
                 uint64_t ts_ns) override;
  void on_packet(const model::Connection* connection, const model::Event& packet) override;
  void on_interface(uint32_t ifindex, std::string_view name) override;
  void on_syn_without_socket(const model::PendingSyn& syn, uint64_t ts_ns) override;
  // Lines are held back until a batch is full; flush() writes them and flushes the stream.
  // `trace` calls it at every drain tick, so a line reaches its reader within one tick.
  void flush();
  uint64_t lines_written() const { return lines_written_; }
  // Closes judged, by verdict (Valid, Invalid, Incomplete), whether or not a filter wrote them.
  const std::array<uint64_t, 3>& closes_by_verdict() const { return closes_by_verdict_; }

 private:
  // One fwrite per batch this size: /dev/null, a pipe or a file all take it whole.
  static constexpr std::size_t kBatchBytes = 64 * 1024;
  void emit();
  void write_batch();
  std::FILE* out_;
  OutputFilter filter_;
  Clock clock_;
  fmt::memory_buffer lines_;  // whole lines not yet handed to out_
  uint64_t lines_written_ = 0;
  std::array<uint64_t, 3> closes_by_verdict_{};
  InterfaceNames interfaces_;
  model::ProcessDirectory* processes_ = nullptr;
  bool packet_view_ = false;  // set once an XDP interface is announced
};

}  // namespace synfin::outputs
