#pragma once
// What the kernel side needs from the machine before anything is loaded, checked up front so a
// missing piece becomes one clear line instead of a libbpf error deep inside load.
#include <cstdint>

#include "common/result.h"

namespace synfin::capture {

// Checks privileges and BTF, and mounts tracefs when it is missing (syscall tracepoints are
// attached through it). Returns an error naming exactly what is missing.
Status prepare_environment();

// Mounts bpffs at /sys/fs/bpf when it is missing: libxdp pins its dispatcher state there.
Status ensure_bpffs();

// The network namespace inode the socket-table iterator walks: our own (0 if unreadable).
uint32_t own_network_namespace();
// The host's: init's, where /proc is the host's (a DaemonSet with hostPID); else our own.
uint32_t host_network_namespace();

}  // namespace synfin::capture
