#pragma once
// `synfin trace` output: one JSON object per line for every transition and every finished
// connection, per the interface contract in DESIGN.md. Formatting reuses one buffer.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "model/connection_table.h"

namespace synfin::outputs {

struct OutputFilter {
  int family = 0;  // 0 both, 4, 6
  std::vector<uint16_t> local_ports;
  std::vector<uint16_t> remote_ports;
  std::optional<uint32_t> pid;  // the owning process

  bool matches(const model::Connection& connection) const;
};

// Address text as `ss` prints it (dotted quad or RFC 5952 IPv6).
std::string_view format_address(const model::SocketTuple& tuple, bool local, char (&buffer)[64]);

// Monotonic event time → Unix epoch nanoseconds.
struct Clock {
  int64_t realtime_minus_monotonic_ns = 0;
  uint64_t to_epoch_ns(uint64_t monotonic_ns) const {
    return static_cast<uint64_t>(static_cast<int64_t>(monotonic_ns) + realtime_minus_monotonic_ns);
  }
};

void append_transition_json(fmt::memory_buffer& out, const model::Connection& connection,
                            model::TcpState from, model::TcpState to, uint64_t epoch_ns);
void append_close_json(fmt::memory_buffer& out, const model::Connection& connection,
                       const model::Classification& classification, uint64_t epoch_ns);
// JSON string literal with every byte that could break a line escaped.
void append_json_string(fmt::memory_buffer& out, std::string_view text);
// Raw JSON text (already well-formed) appended as is.
inline void append_json_fragment(fmt::memory_buffer& out, std::string_view json) {
  out.append(json.data(), json.data() + json.size());
}

class JsonLinesWriter final : public model::ConnectionObserver {
 public:
  JsonLinesWriter(std::FILE* out, OutputFilter filter, Clock clock);
  void on_transition(const model::Connection& connection, model::TcpState from, model::TcpState to,
                     uint64_t ts_ns) override;
  void on_closed(const model::Connection& connection, const model::Classification& classification,
                 uint64_t ts_ns) override;
  void flush();
  uint64_t lines_written() const { return lines_written_; }

 private:
  void emit();
  std::FILE* out_;
  OutputFilter filter_;
  Clock clock_;
  fmt::memory_buffer line_;
  uint64_t lines_written_ = 0;
};

}  // namespace synfin::outputs
