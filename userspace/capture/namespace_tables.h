#pragma once
// The other network namespaces of the host and their socket tables. A namespace is found
// through a process in it (/proc/*/ns/net), and its table is read either with the iterator,
// opened inside it (TracerProgram::snapshot_sockets_in, which needs CAP_SYS_ADMIN for setns),
// or from that process's /proc/PID/net/tcp{,6}: the whole table of its namespace, without
// cookies or byte counts.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/event.h"

namespace synfin::capture {

struct NamespaceHolder {
  uint32_t netns = 0;  // inode of the namespace
  uint32_t pid = 0;    // a process in it when /proc was read
};

// Every network namespace some process is in, but `own_netns`, with the lowest pid in each.
std::vector<NamespaceHolder> other_network_namespaces(uint32_t own_netns,
                                                      const std::string& proc_root = "/proc");

// One family's table from a /proc/PID/net/tcp or tcp6 file; nullopt when it cannot be read.
std::optional<std::vector<model::KernelSocket>> read_proc_net_tcp(const std::string& path,
                                                                  model::AddressFamily family);

// Both families of the holder's namespace, stamped with it; nullopt when the process has left
// it (exited, or its pid now names a process elsewhere): a table read then would be another's.
std::optional<std::vector<model::KernelSocket>> read_namespace_table(
    const NamespaceHolder& holder, const std::string& proc_root = "/proc");

// A descriptor of the holder's namespace (/proc/PID/ns/net), checked to be that namespace.
Result<int> open_network_namespace(const NamespaceHolder& holder,
                                   const std::string& proc_root = "/proc");

}  // namespace synfin::capture
