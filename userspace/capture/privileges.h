#pragma once
// Least privilege after start: once the programs are loaded and attached (and the port is
// bound), the daemon gives up every capability it no longer uses. Capabilities are per thread,
// so this runs before the daemon starts any thread of its own.
#include <initializer_list>

#include "common/result.h"

namespace synfin::capture {

// What the daemon still uses after attach, found by running it without each one
// (tests/privileged/test_deploy.py): reading the ring buffer and maps through the descriptors
// it holds, and starting a socket-table walk on the iterator link it holds, need none (since
// Linux 5.19; before it they need CAP_BPF, which is then kept).
//   CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH  naming the owners of other users' sockets through
//                                        their mode-0500 /proc/PID/fd (as `ss -p` does)
//   CAP_NET_ADMIN                        detaching XDP programs from interfaces at exit
//   CAP_SYS_ADMIN (xdp_dispatcher only)  detaching from libxdp's dispatcher, which reads the
//                                        programs sharing it by id
//   CAP_SYS_ADMIN (enter_namespaces)     setns() into each network namespace to walk its
//                                        table with the iterator (--enter-namespaces)
Status keep_only_runtime_capabilities(bool xdp_dispatcher = false, bool enter_namespaces = false);

// Whether this thread holds CAP_SYS_ADMIN now (setns() into another network namespace).
bool holds_sys_admin();

// The same for any set (capability numbers from <linux/capability.h>): every other one leaves
// the effective, permitted, inheritable and ambient sets, and the bounding set when the
// process may change it (CAP_SETPCAP); those it does not hold are not gained.
Status keep_only_capabilities(std::initializer_list<int> kept);

}  // namespace synfin::capture
