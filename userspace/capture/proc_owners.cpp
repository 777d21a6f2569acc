#include "capture/proc_owners.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>

#include "capture/namespace_tables.h"
#include "model/proc_net_tcp.h"

namespace synfin::capture {

namespace {
std::optional<uint64_t> parse_number(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// /proc/PID/comm is the name as the process set it plus '\n'; the name itself may hold a
// newline (prctl(PR_SET_NAME) takes any bytes), so only the last one is dropped.
std::string process_name(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string name((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

// "net:[4026531840]" -> 4026531840.
uint32_t namespace_inode(const std::string& link) {
  char target[64];
  ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  std::string_view text(target, n > 0 ? static_cast<std::size_t>(n) : 0);
  std::size_t open = text.find('[');
  if (open == std::string_view::npos || !text.ends_with(']')) return 0;
  auto inode = parse_number(text.substr(open + 1, text.size() - open - 2));
  return inode && *inode <= UINT32_MAX ? static_cast<uint32_t>(*inode) : 0;
}

std::optional<std::string> whole_file(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  text.resize(limit);
  in.read(text.data(), static_cast<std::streamsize>(limit));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}
}  // namespace

std::optional<ProcessInfo> ProcOwners::describe(uint32_t pid) const {
  ProcessInfo info;
  info.pid = pid;
  std::string base = proc_root_ + "/" + std::to_string(pid);
  // One line per v1 hierarchy and one for v2, each path at most PATH_MAX. A process without the
  // file has exited (or never was): no stale identity for it.
  std::optional<std::string> cgroups = whole_file(base + "/cgroup", 64 * 1024);
  if (!cgroups) return std::nullopt;
  info.comm = process_name(base + "/comm");
  std::string_view rest = *cgroups;
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    if (line.starts_with("0::")) info.cgroup = std::string(line.substr(3));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  info.cgroup_path = model::pick_cgroup_path(*cgroups);
  info.identity = model::parse_cgroup_path(info.cgroup_path);
  info.netns = namespace_inode(base + "/ns/net");
  return info;
}

std::optional<ProcessInfo> ProcOwners::process(uint32_t pid) {
  if (!pid) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - processes_since_ > std::chrono::seconds(10)) {
    processes_.clear();
    processes_since_ = now;
  }
  auto known = processes_.find(pid);
  if (known != processes_.end()) return known->second;
  auto info = describe(pid);
  if (info) processes_.emplace(pid, *info);
  return info;
}

std::vector<model::KernelSocket> ProcOwners::namespace_sockets(uint32_t pid,
                                                               model::AddressFamily family) const {
  // Each read walks the kernel's whole established hash, which all namespaces share: one
  // family's file only, the one asked for.
  return read_proc_net_tcp(proc_root_ + "/" + std::to_string(pid) +
                               (family == model::AddressFamily::IPv6 ? "/net/tcp6" : "/net/tcp"),
                           family)
      .value_or(std::vector<model::KernelSocket>{});
}

void ProcOwners::rescan() {
  holders_by_inode_.clear();
  processes_.clear();
  processes_since_ = std::chrono::steady_clock::now();
  DIR* proc = ::opendir(proc_root_.c_str());
  if (!proc) return;
  while (dirent* entry = ::readdir(proc)) {
    auto pid = parse_number(entry->d_name);
    if (!pid) continue;
    std::string fd_dir = proc_root_ + "/" + entry->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (!fds) continue;  // gone, or a kernel thread
    while (dirent* fd = ::readdir(fds)) {
      if (fd->d_name[0] == '.') continue;
      char target[64];
      std::string link = fd_dir + "/" + fd->d_name;
      ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 9 || std::strncmp(target, "socket:[", 8) != 0) continue;
      auto inode = parse_number(std::string_view(target + 8, static_cast<std::size_t>(n) - 9));
      if (!inode) continue;
      auto& holders = holders_by_inode_[*inode];
      if (std::find(holders.begin(), holders.end(), *pid) == holders.end())
        holders.push_back(static_cast<uint32_t>(*pid));
    }
    ::closedir(fds);
  }
  ::closedir(proc);
}

std::unordered_map<uint64_t, std::vector<ProcessInfo>> ProcOwners::resolve(
    std::span<const uint64_t> inodes) {
  std::lock_guard lock(mutex_);
  // An inode no scan has looked for yet triggers one; an inode a scan could not place (held
  // in another PID namespace, or only by the kernel) does not again until the periodic one,
  // else every API call listing it would walk all of /proc.
  bool missing = std::any_of(inodes.begin(), inodes.end(), [&](uint64_t inode) {
    return inode && !holders_by_inode_.count(inode) && !not_found_.count(inode);
  });
  // Descriptors move between processes (fork, SCM_RIGHTS, exit): a cache older than this
  // is rebuilt even when every inode is known.
  auto now = std::chrono::steady_clock::now();
  bool stale = now - last_scan_ > std::chrono::seconds(10);
  if (missing || stale) {
    if (stale) not_found_.clear();
    rescan();
    last_scan_ = now;
    for (uint64_t inode : inodes)
      if (inode && !holders_by_inode_.count(inode)) not_found_.insert(inode);
  }
  std::unordered_map<uint64_t, std::vector<ProcessInfo>> result;
  for (uint64_t inode : inodes) {
    auto it = holders_by_inode_.find(inode);
    if (!inode || it == holders_by_inode_.end()) continue;
    auto& out = result[inode];
    for (uint32_t pid : it->second) {
      auto known = processes_.find(pid);
      if (known == processes_.end()) {
        auto info = describe(pid);
        if (!info) continue;  // exited since the scan
        known = processes_.emplace(pid, std::move(*info)).first;
      }
      out.push_back(known->second);
    }
    std::sort(out.begin(), out.end(),
              [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; });
  }
  return result;
}

const ProcessInfo* TraceProcesses::find(uint32_t pid) {
  if (!pid) return nullptr;
  if (pid != last_pid_ || !last_) {
    auto known = entries_.find(pid);
    if (known != entries_.end()) {
      last_pid_ = pid;
      last_ = &known->second;
    }
  }
  if (pid == last_pid_ && last_) return last_->info ? &*last_->info : nullptr;
  std::optional<ProcessInfo> info = proc_.describe(pid);
  if (read_) read_(pid, info ? &*info : nullptr);
  if (entries_.size() >= kCapacity) {
    uncached_ = std::move(info);
    return uncached_ ? &*uncached_ : nullptr;
  }
  Entry& entry = entries_[pid];
  entry.info = std::move(info);
  entry.read_at = std::chrono::steady_clock::now();
  last_pid_ = pid;
  last_ = &entry;
  return entry.info ? &*entry.info : nullptr;
}

void TraceProcesses::expire(std::chrono::steady_clock::time_point now) {
  last_ = nullptr;
  std::erase_if(entries_, [&](const auto& entry) { return now - entry.second.read_at > kMaxAge; });
}

}  // namespace synfin::capture
