#pragma once
// Linux sets a nice value per thread: setpriority(PRIO_PROCESS, tid) changes only that thread,
// and threads it creates afterwards inherit it.
#include <sys/resource.h>
#include <unistd.h>

namespace synfin {

// The calling thread's nice value; false where the kernel refuses (raising priority needs
// CAP_SYS_NICE).
inline bool set_this_thread_nice(int nice) {
  return ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0;
}

}  // namespace synfin
