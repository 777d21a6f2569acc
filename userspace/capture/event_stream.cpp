#include "capture/event_stream.h"

#include <bpf/libbpf.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace synfin::capture {

namespace {
int on_record(void* binding_ptr, void* data, size_t size) {
  auto* binding = static_cast<EventStream::Binding*>(binding_ptr);
  binding->handler(binding->context, {static_cast<const std::byte*>(data), size});
  return 0;
}
}  // namespace

Result<std::unique_ptr<EventStream>> EventStream::open(int ring_buffer_fd, RecordHandler handler,
                                                       void* context) {
  std::unique_ptr<EventStream> stream(new EventStream());
  stream->binding_ = {handler, context};
  stream->ring_ = ring_buffer__new(ring_buffer_fd, on_record, &stream->binding_, nullptr);
  if (!stream->ring_)
    return Error{fmt::format("cannot map the BPF ring buffer: {}", std::strerror(errno))};

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &stop_signals, nullptr) != 0)
    return Error{fmt::format("cannot block SIGINT/SIGTERM: {}", std::strerror(errno))};
  stream->signal_fd_ = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
  stream->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (stream->signal_fd_ < 0 || stream->epoll_fd_ < 0)
    return Error{fmt::format("cannot set up the event loop: {}", std::strerror(errno))};
  epoll_event ring_event{};
  ring_event.events = EPOLLIN;
  ring_event.data.fd = ring_buffer__epoll_fd(stream->ring_);
  epoll_event signal_event{};
  signal_event.events = EPOLLIN;
  signal_event.data.fd = stream->signal_fd_;
  if (epoll_ctl(stream->epoll_fd_, EPOLL_CTL_ADD, ring_event.data.fd, &ring_event) != 0 ||
      epoll_ctl(stream->epoll_fd_, EPOLL_CTL_ADD, stream->signal_fd_, &signal_event) != 0)
    return Error{fmt::format("cannot set up the event loop: {}", std::strerror(errno))};
  return stream;
}

Status EventStream::add_ring_drained_first(int ring_buffer_fd, RecordHandler handler,
                                           void* context) {
  first_binding_ = {handler, context};
  first_ring_ = ring_buffer__new(ring_buffer_fd, on_record, &first_binding_, nullptr);
  if (!first_ring_)
    return Error{fmt::format("cannot map the XDP ring buffer: {}", std::strerror(errno))};
  epoll_event ring_event{};
  ring_event.events = EPOLLIN;
  ring_event.data.fd = ring_buffer__epoll_fd(first_ring_);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ring_event.data.fd, &ring_event) != 0)
    return Error{fmt::format("cannot set up the event loop: {}", std::strerror(errno))};
  return Ok{};
}

EventStream::~EventStream() {
  if (first_ring_) ring_buffer__free(first_ring_);
  if (ring_) ring_buffer__free(ring_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

void EventStream::drain() {
  if (first_ring_) ring_buffer__consume(first_ring_);
  ring_buffer__consume(ring_);
}

Result<bool> EventStream::wait(int timeout_ms) {
  epoll_event ready[3];
  int n = epoll_wait(epoll_fd_, ready, 3, timeout_ms);
  if (n < 0 && errno != EINTR)
    return Error{fmt::format("event loop wait failed: {}", std::strerror(errno))};
  bool keep_running = true;
  for (int i = 0; i < n; ++i) {
    if (ready[i].data.fd != signal_fd_) continue;
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) keep_running = false;
  }
  return keep_running;
}

}  // namespace synfin::capture
