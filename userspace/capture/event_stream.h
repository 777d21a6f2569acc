#pragma once
// The ring-buffer consumer: one epoll set holding the ring buffer and a signalfd for
// SIGINT/SIGTERM. The BPF side wakes it only when the ring fills past a threshold, so the
// caller's wait timeout is the drain interval that bounds latency.
#include <cstddef>
#include <memory>
#include <span>

#include "common/result.h"

struct ring_buffer;

namespace synfin::capture {

class EventStream {
 public:
  using RecordHandler = void (*)(void* context, std::span<const std::byte> record);

  // Blocks SIGINT and SIGTERM for the process (call before starting threads) and routes
  // them to the stream so a stop always follows a final drain.
  static Result<std::unique_ptr<EventStream>> open(int ring_buffer_fd, RecordHandler handler,
                                                   void* context);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // A second ring whose records are consumed before the first one's in every drain (the
  // XDP packets, which precede the state changes they cause).
  Status add_ring_drained_first(int ring_buffer_fd, RecordHandler handler, void* context);

  // Waits up to timeout_ms for a wakeup. Returns false once a stop signal has arrived.
  Result<bool> wait(int timeout_ms);
  // Consumes every record available now.
  void drain();

  struct Binding {
    RecordHandler handler = nullptr;
    void* context = nullptr;
  };

 private:
  EventStream() = default;
  Binding binding_;
  Binding first_binding_;
  ring_buffer* ring_ = nullptr;
  ring_buffer* first_ring_ = nullptr;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
};

}  // namespace synfin::capture
