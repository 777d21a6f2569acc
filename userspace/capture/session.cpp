#include "capture/session.h"

#include "common/clock.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace synfin::capture {

namespace {
// Records wait for the other rings at most this far behind the drain's clock: a record is
// stamped just before it is committed, so one stamped this long ago is already readable.
constexpr uint64_t kCommitMarginNs = 1'000'000;
}  // namespace

Result<std::unique_ptr<CaptureSession>> CaptureSession::start(const CaptureOptions& options,
                                                              const XdpOptions* xdp,
                                                              model::ConnectionTable& table) {
  std::unique_ptr<CaptureSession> session(new CaptureSession(table));
  auto program = TracerProgram::load(options);
  if (!program) return program.error();
  session->program_ = std::move(*program);
  auto stream = EventStream::open();
  if (!stream) return stream.error();
  session->stream_ = std::move(*stream);
  session->merge_ = std::make_unique<decode::RecordMerge>(
      [raw = session.get()](std::span<const std::byte> record) { raw->apply(record); });
  // The rings exist before attach, so the first record already has a consumer. XDP's ring is
  // merged first: on equal stamps a packet goes before the step it caused.
  std::vector<RingReader*> socket_rings;
  for (int ring_fd : session->program_->ring_fds()) {
    auto ring = session->stream_->add_ring(ring_fd, "a CPU's socket ring buffer");
    if (!ring) return ring.error();
    socket_rings.push_back(*ring);
  }
  if (auto attached = session->program_->attach(); !attached) return attached.error();
  if (xdp) {
    auto attached = XdpProgram::attach(*xdp);
    if (!attached) return attached.error();
    session->xdp_ = std::move(*attached);
    auto ring = session->stream_->add_ring(session->xdp_->ring_buffer_fd(), "the XDP ring buffer");
    if (!ring) return ring.error();
    session->merge_->add_source(**ring);
  }
  for (RingReader* ring : socket_rings) session->merge_->add_source(*ring);
  session->merge_->add_source(session->written_);
  return session;
}

void CaptureSession::apply(std::span<const std::byte> record) {
  if (recording_) recording_->write(record);
  decode::apply_record(decoder_, table_, record);
}

void CaptureSession::account_losses() {
  LostCounts now = program_->lost_counts();
  uint64_t before_total = std::accumulate(lost_.begin(), lost_.end(), uint64_t{0});
  uint64_t now_total = std::accumulate(now.begin(), now.end(), uint64_t{0});
  uint64_t undecodable = decoder_.undecodable();
  if (now_total > before_total || undecodable > undecodable_seen_)
    table_.note_loss(monotonic_now_ns());
  lost_ = now;
  undecodable_seen_ = undecodable;
}

void CaptureSession::mark_time(uint64_t now_ns) {
  synfin_clock_record record{};
  record.ts_ns = now_ns;
  record.type = SYNFIN_EV_CLOCK;
  std::span<const std::byte> bytes{reinterpret_cast<const std::byte*>(&record), sizeof(record)};
  std::unique_lock<std::mutex> lock;
  if (model_mutex_) lock = std::unique_lock(*model_mutex_);
  // In time order with the records still waiting in the rings.
  if (written_.full()) merge_->release_until(written_.front_ts_ns());
  written_.push(bytes);
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

void CaptureSession::drain(bool final) {
  std::unique_lock<std::mutex> lock;
  if (model_mutex_) lock = std::unique_lock(*model_mutex_);
  // Through the same path as kernel records, so recordings carry the names too.
  if (!interfaces_announced_) announce_interfaces();
  // Losses are read before the drain: a reserve failure precedes the records after it.
  account_losses();
  // Taken before any ring is read: every record stamped before it is readable now.
  uint64_t now = monotonic_now_ns();
  merge_->release_until(final ? UINT64_MAX : now - kCommitMarginNs);
}

Status CaptureSession::run(int drain_interval_ms, const std::function<bool()>& on_tick) {
  for (;;) {
    auto keep_running = stream_->wait(drain_interval_ms);
    if (!keep_running) return keep_running.error();
    drain();
    if (!*keep_running || !on_tick()) break;
  }
  drain(true);
  return Ok{};
}

}  // namespace synfin::capture
