// Fuzz target: ring-buffer records as the kernel could hand them (any length, any bytes) through
// the decoder, the connection table and the JSON-lines writer — what `synfin trace` and
// `synfin replay` do with them. Every line written must be strict JSON (valid UTF-8 included).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "decode/decoder.h"
#include "fuzz_input.h"
#include "model/connection_table.h"
#include "outputs/json_lines.h"
#include "synfin/abi.h"

namespace {
using namespace synfin;

class CheckedLines final : public model::ConnectionObserver {
 public:
  void on_transition(const model::Connection& c, model::TcpState from, model::TcpState to,
                     uint64_t ts_ns) override {
    outputs::append_transition_json(line_, c, from, to, ts_ns);
    check();
  }
  void on_closed(const model::Connection& c, const model::Classification& k,
                 uint64_t ts_ns) override {
    outputs::append_close_json(line_, c, k, ts_ns);
    check();
  }

 private:
  void check() {
    // Throws (a crash for the fuzzer) on anything that is not one strict JSON object.
    auto parsed = nlohmann::json::parse(line_.data(), line_.data() + line_.size());
    if (!parsed.is_object() ||
        std::string_view(line_.data(), line_.size()).find('\n') != std::string_view::npos)
      __builtin_trap();
    line_.clear();
  }
  fmt::memory_buffer line_;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input(data, size);
  CheckedLines lines;
  model::ConnectionTable table(1 + input.integer<uint8_t>() % 64, lines);
  decode::Decoder decoder;
  // Whole records, then whatever is left as one short (truncated) record.
  while (input.remaining() > 0) {
    std::size_t length =
        input.remaining() >= sizeof(synfin_event) ? sizeof(synfin_event) : input.remaining();
    auto record = input.rest().first(length);
    if (auto event = decoder.decode(record)) table.apply(*event);
    input.bytes(length);
  }
  table.finish_closed_connections();
  return 0;
}
