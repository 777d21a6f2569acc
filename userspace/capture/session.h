#pragma once
// A running capture: the loaded and attached programs, the ring-buffer stream and the decoder,
// feeding every decoded event into the model's connection table.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "capture/event_stream.h"
#include "capture/tracer_program.h"
#include "capture/xdp_program.h"
#include "common/result.h"
#include "decode/decoder.h"
#include "decode/record_merge.h"
#include "decode/recording.h"
#include "model/connection_table.h"

namespace synfin::capture {

class CaptureSession {
 public:
  // With xdp non-null, synfin's XDP program is attached to its interfaces too. Every CPU's
  // socket ring, the XDP ring and the records written here are merged in time order.
  static Result<std::unique_ptr<CaptureSession>> start(const CaptureOptions& options,
                                                       const XdpOptions* xdp,
                                                       model::ConnectionTable& table);
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // Drains the ring every drain_interval_ms and calls on_tick after each drain; returns when a
  // stop signal arrives (after a final drain) or on_tick returns false.
  Status run(int drain_interval_ms, const std::function<bool()>& on_tick);

  // Consumes every record available now (losses accounted first). Records stamped in the last
  // moment wait for the next drain, so that every ring applies in time order; `final` releases
  // everything.
  void drain(bool final = false);

  // Time has passed with no record saying so: what waits on time (unanswered SYNs) expires,
  // through a record of its own so that a replay expires it at the same moment.
  void mark_time(uint64_t now_ns);

  // When set, each drain holds this mutex: other threads may read the model between drains.
  void set_model_mutex(std::mutex* mutex) { model_mutex_ = mutex; }
  // When set, every raw record is also written here, as the ring gave it.
  void set_recording(decode::RecordingWriter* recording) { recording_ = recording; }

  const decode::DecodeCounters& decode_counters() const { return decoder_.counters(); }
  const LostCounts& lost_counts() const { return lost_; }
  TracerProgram& program() { return *program_; }
  // Null unless XDP was asked for.
  XdpProgram* xdp() { return xdp_.get(); }
  EventStream& stream() { return *stream_; }

 private:
  explicit CaptureSession(model::ConnectionTable& table) : table_(table) {}
  void apply(std::span<const std::byte> record);
  void announce_interfaces();

  // Checks the BPF loss counters and the decoder; marks open connections incomplete when
  // anything was lost since the last check.
  void account_losses();

  model::ConnectionTable& table_;
  decode::Decoder decoder_;
  std::unique_ptr<TracerProgram> program_;
  std::unique_ptr<XdpProgram> xdp_;
  std::unique_ptr<EventStream> stream_;
  std::unique_ptr<decode::RecordMerge> merge_;  // every ring back in time order
  decode::QueuedRecords written_;               // time marks, in time order with the rings
  bool interfaces_announced_ = false;
  LostCounts lost_{};
  uint64_t undecodable_seen_ = 0;
  std::mutex* model_mutex_ = nullptr;
  decode::RecordingWriter* recording_ = nullptr;
};

}  // namespace synfin::capture
