#include "capture/session.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace synfin::capture {

namespace {
// A drain's worth of packet records at the XDP program's default rate bound.
constexpr std::size_t kStagedPackets = 16384;
}  // namespace

Result<std::unique_ptr<CaptureSession>> CaptureSession::start(const CaptureOptions& options,
                                                              const XdpOptions* xdp,
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
  if (xdp) {
    auto attached = XdpProgram::attach(*xdp);
    if (!attached) return attached.error();
    session->xdp_ = std::move(*attached);
    session->staged_.resize(kStagedPackets);
    auto added = session->stream_->add_ring_drained_first(
        session->xdp_->ring_buffer_fd(), &CaptureSession::on_packet_record, session.get());
    if (!added) return added.error();
  }
  return session;
}

void CaptureSession::apply(std::span<const std::byte> record) {
  if (recording_) recording_->write(record);
  if (auto event = decoder_.decode(record)) table_.apply(*event);
}

void CaptureSession::apply_staged_packets_until(uint64_t ts_ns) {
  while (staged_count_ > 0 && staged_[staged_head_].ts_ns <= ts_ns) {
    const synfin_packet& packet = staged_[staged_head_];
    apply({reinterpret_cast<const std::byte*>(&packet), sizeof(packet)});
    staged_head_ = (staged_head_ + 1) % staged_.size();
    --staged_count_;
  }
}

void CaptureSession::on_record(void* self, std::span<const std::byte> record) {
  auto* session = static_cast<CaptureSession*>(self);
  if (session->staged_count_ > 0) {
    uint64_t ts_ns = UINT64_MAX;  // a record too short to carry a time goes after them
    if (record.size() >= sizeof(ts_ns)) std::memcpy(&ts_ns, record.data(), sizeof(ts_ns));
    session->apply_staged_packets_until(ts_ns);
  }
  session->apply(record);
}

void CaptureSession::on_packet_record(void* self, std::span<const std::byte> record) {
  auto* session = static_cast<CaptureSession*>(self);
  if (record.size() != sizeof(synfin_packet)) {
    session->apply(record);  // malformed: the decoder counts it
    return;
  }
  if (session->staged_count_ == session->staged_.size())  // full: the oldest goes first
    session->apply_staged_packets_until(session->staged_[session->staged_head_].ts_ns);
  std::size_t tail = (session->staged_head_ + session->staged_count_) % session->staged_.size();
  std::memcpy(&session->staged_[tail], record.data(), sizeof(synfin_packet));
  ++session->staged_count_;
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

void CaptureSession::announce_interfaces() {
  interfaces_announced_ = true;
  if (!xdp_) return;
  for (const XdpInterface& interface : xdp_->interfaces()) {
    synfin_interface_record record{};
    record.type = SYNFIN_EV_INTERFACE;
    record.ifindex = static_cast<uint32_t>(interface.ifindex);
    std::memcpy(record.name, interface.name.data(),
                std::min(interface.name.size(), sizeof(record.name) - 1));
    apply({reinterpret_cast<const std::byte*>(&record), sizeof(record)});
  }
}

void CaptureSession::drain() {
  std::unique_lock<std::mutex> lock;
  if (model_mutex_) lock = std::unique_lock(*model_mutex_);
  // Through the same path as kernel records, so recordings carry the names too.
  if (!interfaces_announced_) announce_interfaces();
  // Losses are read before the drain: a reserve failure precedes the records after it.
  account_losses();
  stream_->drain();
  apply_staged_packets_until(UINT64_MAX);
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
