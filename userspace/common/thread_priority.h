#pragma once
// Linux sets a nice value per thread: setpriority(PRIO_PROCESS, tid) changes only that thread,
// and threads it creates afterwards inherit it.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace synfin {

// The calling thread's nice value; false where the kernel refuses (raising priority needs
// CAP_SYS_NICE).
inline bool set_this_thread_nice(int nice) {
  return ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0;
}

// Lowers the calling thread's priority to at least `nice`; never raises it, so a daemon started
// nicer than that stays as nice as it was started.
inline void lower_this_thread_to_nice(int nice) {
  errno = 0;
  int current = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  if (errno != 0) return;
  set_this_thread_nice(std::max(current, nice));
}

}  // namespace synfin
