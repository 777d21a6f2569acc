#pragma once
// One line of /proc/PID/net/tcp or tcp6: the socket table of that process's network namespace
// as the kernel prints it. It carries no cookie and no byte counts; what it has (ends, state,
// queues, inode) is what the socket-table iterator cannot give for a namespace it does not walk.
#include <optional>
#include <string_view>

#include "model/event.h"

namespace synfin::model {

// nullopt for the header line and anything malformed. Addresses are printed as the kernel's
// 32-bit words in this host's byte order (reading them needs the same host's order); ports and
// queues in hex, the inode in decimal. `cookie` stays 0.
std::optional<KernelSocket> parse_proc_net_tcp_line(std::string_view line, AddressFamily family);

// Whether two tuples name the same connection's end: family, both addresses and both ports.
bool same_ends(const SocketTuple& a, const SocketTuple& b);

}  // namespace synfin::model
