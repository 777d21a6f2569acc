#pragma once
// The ring-buffer consumer's event loop: one epoll set holding every ring buffer (each CPU's
// socket ring, the XDP ring), a signalfd for SIGINT/SIGTERM and an eventfd other threads
// wake it with. The BPF side wakes it only when
// a ring fills past a threshold, so the caller's wait timeout is the drain interval that bounds
// latency. The rings are read in place (RingReader) by whoever merges them.
#include <memory>
#include <span>
#include <vector>

#include "capture/ring_reader.h"
#include "common/result.h"

namespace synfin::capture {

class EventStream {
 public:
  // Blocks SIGINT and SIGTERM for the process (call before starting threads) and routes
  // them to the stream so a stop always follows a final drain.
  static Result<std::unique_ptr<EventStream>> open();
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Maps a ring and wakes the loop when it is written; `what` names it in errors.
  Result<RingReader*> add_ring(int ring_fd, const char* what);

  // Waits up to timeout_ms for a wakeup. Returns false once a stop signal has arrived.
  Result<bool> wait(int timeout_ms);

  // Ends the current (or next) wait early; any thread may call it.
  void wake();

 private:
  EventStream() = default;
  std::vector<std::unique_ptr<RingReader>> rings_;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
};

}  // namespace synfin::capture
