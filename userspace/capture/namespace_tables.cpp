#include "capture/namespace_tables.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "model/proc_net_tcp.h"

namespace synfin::capture {

namespace {
std::optional<uint32_t> parse_pid(std::string_view text) {
  uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

uint32_t namespace_of(const std::string& proc_root, uint32_t pid) {
  struct stat st {};
  std::string path = fmt::format("{}/{}/ns/net", proc_root, pid);
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

// The namespace a bind mount keeps; 0 for anything else (`ip netns add` creates the file
// before it mounts the namespace on it).
uint32_t namespace_bound_at(const std::string& path) {
  struct statfs fs {};
  struct stat st {};
  if (::statfs(path.c_str(), &fs) != 0 || fs.f_type != NSFS_MAGIC) return 0;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}
}  // namespace

std::vector<NamespaceHolder> other_network_namespaces(
    uint32_t own_netns, const std::string& proc_root,
    std::span<const char* const> named_directories) {
  std::map<uint32_t, uint32_t> lowest_pid;  // by namespace
  DIR* proc = ::opendir(proc_root.c_str());
  if (!proc) return {};
  while (dirent* entry = ::readdir(proc)) {
    auto pid = parse_pid(entry->d_name);
    if (!pid) continue;
    uint32_t netns = namespace_of(proc_root, *pid);
    if (!netns || netns == own_netns) continue;
    auto [it, added] = lowest_pid.emplace(netns, *pid);
    if (!added && *pid < it->second) it->second = *pid;
  }
  ::closedir(proc);
  std::vector<NamespaceHolder> holders;
  holders.reserve(lowest_pid.size());
  for (auto [netns, pid] : lowest_pid) holders.push_back({netns, pid, {}});
  std::map<uint32_t, std::string> bound_only;  // by namespace
  for (const char* directory : named_directories) {
    DIR* named = ::opendir(directory);
    if (!named) continue;  // no `ip netns` namespace was ever made here
    while (dirent* entry = ::readdir(named)) {
      if (entry->d_name[0] == '.') continue;
      std::string path = fmt::format("{}/{}", directory, entry->d_name);
      uint32_t netns = namespace_bound_at(path);
      if (netns && netns != own_netns && !lowest_pid.count(netns))
        bound_only.emplace(netns, std::move(path));
    }
    ::closedir(named);
  }
  for (auto& [netns, path] : bound_only) holders.push_back({netns, 0, std::move(path)});
  return holders;
}

std::optional<std::vector<model::KernelSocket>> read_proc_net_tcp(const std::string& path,
                                                                  model::AddressFamily family) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<model::KernelSocket> sockets;
  std::string line;
  while (std::getline(in, line))
    if (auto socket = model::parse_proc_net_tcp_line(line, family)) sockets.push_back(*socket);
  return sockets;
}

std::optional<std::vector<model::KernelSocket>> read_namespace_table(const NamespaceHolder& holder,
                                                                     const std::string& proc_root) {
  if (!holder.pid) return std::nullopt;  // /proc has a namespace's table only through a task
  std::string base = fmt::format("{}/{}/net/", proc_root, holder.pid);
  auto sockets = read_proc_net_tcp(base + "tcp", model::AddressFamily::IPv4);
  if (!sockets) return std::nullopt;
  // A kernel without IPv6 has no tcp6: its table is the IPv4 one alone.
  if (auto v6 = read_proc_net_tcp(base + "tcp6", model::AddressFamily::IPv6))
    sockets->insert(sockets->end(), v6->begin(), v6->end());
  // Read after the table: a pid that left the namespace before the read ends here too.
  if (namespace_of(proc_root, holder.pid) != holder.netns) return std::nullopt;
  for (model::KernelSocket& socket : *sockets) socket.tuple.netns = holder.netns;
  return sockets;
}

Result<int> open_network_namespace(const NamespaceHolder& holder, const std::string& proc_root) {
  std::string path =
      holder.pid ? fmt::format("{}/{}/ns/net", proc_root, holder.pid) : holder.bound_at;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("cannot open {}: {}", path, std::strerror(errno))};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint32_t>(st.st_ino) != holder.netns) {
    ::close(fd);
    if (!holder.pid)
      return Error{fmt::format("{} no longer holds network namespace {}", path, holder.netns)};
    return Error{fmt::format("process {} left network namespace {}", holder.pid, holder.netns)};
  }
  return fd;
}

}  // namespace synfin::capture
