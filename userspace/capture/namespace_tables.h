#pragma once
// The other network namespaces of the host and their socket tables. A namespace is found
// through a process in it (/proc/*/ns/net), or, when no process is in it, through the bind
// mount that keeps it (`ip netns add`, CNI plugins: /run/netns/NAME), whose TIME_WAIT and
// orphaned sockets still count. Its table is read either with the iterator, opened inside it
// (TracerProgram::snapshot_sockets_in, which needs CAP_SYS_ADMIN for setns), or from that
// process's /proc/PID/net/tcp{,6}: the whole table of its namespace, without cookies or byte
// counts (a namespace only a bind mount holds has no such file).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/event.h"

namespace synfin::capture {

struct NamespaceHolder {
  uint32_t netns = 0;    // inode of the namespace
  uint32_t pid = 0;      // a process in it when /proc was read; 0: none was
  std::string bound_at;  // with pid 0: the bind mount that keeps it
};

// Where `ip netns` and CNI plugins bind-mount the namespaces they name (/var/run is usually
// /run: a namespace found twice is listed once).
inline constexpr const char* kNamedNamespaceDirectories[] = {"/run/netns", "/var/run/netns"};

// Every network namespace but `own_netns` that some process is in (with the lowest pid in
// each), then those only a bind mount in `named_directories` keeps.
std::vector<NamespaceHolder> other_network_namespaces(
    uint32_t own_netns, const std::string& proc_root = "/proc",
    std::span<const char* const> named_directories = kNamedNamespaceDirectories);

// One family's table from a /proc/PID/net/tcp or tcp6 file; nullopt when it cannot be read.
std::optional<std::vector<model::KernelSocket>> read_proc_net_tcp(const std::string& path,
                                                                  model::AddressFamily family);

// Both families of the holder's namespace, stamped with it; nullopt when the process has left
// it (exited, or its pid now names a process elsewhere): a table read then would be another's;
// nullopt too for a namespace no process is in.
std::optional<std::vector<model::KernelSocket>> read_namespace_table(
    const NamespaceHolder& holder, const std::string& proc_root = "/proc");

// A descriptor of the holder's namespace (/proc/PID/ns/net, or its bind mount), checked to be
// that namespace.
Result<int> open_network_namespace(const NamespaceHolder& holder,
                                   const std::string& proc_root = "/proc");

}  // namespace synfin::capture
