#include "capture/event_stream.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace synfin::capture {

Result<std::unique_ptr<EventStream>> EventStream::open() {
  std::unique_ptr<EventStream> stream(new EventStream());
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &stop_signals, nullptr) != 0)
    return Error{fmt::format("cannot block SIGINT/SIGTERM: {}", std::strerror(errno))};
  stream->signal_fd_ = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
  stream->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stream->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (stream->signal_fd_ < 0 || stream->wake_fd_ < 0 || stream->epoll_fd_ < 0)
    return Error{fmt::format("cannot set up the event loop: {}", std::strerror(errno))};
  for (int fd : {stream->signal_fd_, stream->wake_fd_}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(stream->epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0)
      return Error{fmt::format("cannot set up the event loop: {}", std::strerror(errno))};
  }
  return stream;
}

Result<RingReader*> EventStream::add_ring(int ring_fd, const char* what) {
  auto reader = RingReader::map(ring_fd);
  if (!reader) return Error{fmt::format("{}: {}", what, reader.error().message)};
  // A ring buffer's own fd is pollable. Edge-triggered: records the merge holds back stay in
  // the ring, and a level-triggered fd would keep the loop spinning until they are released.
  epoll_event ring_event{};
  ring_event.events = EPOLLIN | EPOLLET;
  ring_event.data.fd = ring_fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ring_fd, &ring_event) != 0)
    return Error{fmt::format("{}: cannot watch it: {}", what, std::strerror(errno))};
  rings_.push_back(std::move(*reader));
  return rings_.back().get();
}

EventStream::~EventStream() {
  rings_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EventStream::wake() {
  uint64_t one = 1;
  // Nonblocking: a counter already at its limit has a wakeup pending anyway.
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof(one));
}

Result<bool> EventStream::wait(int timeout_ms) {
  epoll_event ready[8];
  int n = epoll_wait(epoll_fd_, ready, 8, timeout_ms);
  if (n < 0 && errno != EINTR)
    return Error{fmt::format("event loop wait failed: {}", std::strerror(errno))};
  bool keep_running = true;
  for (int i = 0; i < n; ++i) {
    if (ready[i].data.fd == wake_fd_) {
      uint64_t wakeups;
      [[maybe_unused]] auto taken = ::read(wake_fd_, &wakeups, sizeof(wakeups));
      continue;
    }
    if (ready[i].data.fd != signal_fd_) continue;
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) keep_running = false;
  }
  return keep_running;
}

}  // namespace synfin::capture
