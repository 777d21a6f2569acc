#include "capture/session.h"

#include <numeric>

namespace synfin::capture {

Result<std::unique_ptr<CaptureSession>> CaptureSession::start(const CaptureOptions& options,
                                                              model::ConnectionTable& table) {
  std::unique_ptr<CaptureSession> session(new CaptureSession(table));
  auto program = TracerProgram::load(options);
  if (!program) return program.error();
  session->program_ = std::move(*program);
  // The stream exists before attach so the first record already has a consumer.
  auto stream = EventStream::open(session->program_->ring_buffer_fd(), &CaptureSession::on_record,
                                  session.get());
  if (!stream) return stream.error();
  session->stream_ = std::move(*stream);
  if (auto attached = session->program_->attach(); !attached) return attached.error();
  return session;
}

void CaptureSession::on_record(void* self, std::span<const std::byte> record) {
  auto* session = static_cast<CaptureSession*>(self);
  if (session->recording_) session->recording_->write(record);
  if (auto event = session->decoder_.decode(record)) session->table_.apply(*event);
}

void CaptureSession::account_losses() {
  LostCounts now = program_->lost_counts();
  uint64_t before_total = std::accumulate(lost_.begin(), lost_.end(), uint64_t{0});
  uint64_t now_total = std::accumulate(now.begin(), now.end(), uint64_t{0});
  uint64_t undecodable = decoder_.undecodable();
  if (now_total > before_total || undecodable > undecodable_seen_)
    table_.mark_open_connections_incomplete();
  lost_ = now;
  undecodable_seen_ = undecodable;
}

void CaptureSession::drain() {
  std::unique_lock<std::mutex> lock;
  if (model_mutex_) lock = std::unique_lock(*model_mutex_);
  // Losses are read before the drain: a reserve failure precedes the records after it.
  account_losses();
  stream_->drain();
}

Status CaptureSession::run(int drain_interval_ms, const std::function<bool()>& on_tick) {
  for (;;) {
    auto keep_running = stream_->wait(drain_interval_ms);
    if (!keep_running) return keep_running.error();
    drain();
    if (!*keep_running || !on_tick()) break;
  }
  drain();
  return Ok{};
}

}  // namespace synfin::capture
