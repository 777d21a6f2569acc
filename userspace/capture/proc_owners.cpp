#include "capture/proc_owners.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>

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
}  // namespace

ProcessInfo ProcOwners::describe(uint32_t pid) const {
  ProcessInfo info;
  info.pid = pid;
  std::string base = proc_root_ + "/" + std::to_string(pid);
  info.comm = process_name(base + "/comm");
  std::ifstream cgroups(base + "/cgroup");
  std::string line;
  while (std::getline(cgroups, line))
    if (line.rfind("0::", 0) == 0) info.cgroup = line.substr(3);
  return info;
}

void ProcOwners::rescan() {
  holders_by_inode_.clear();
  processes_.clear();
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
      if (known == processes_.end()) known = processes_.emplace(pid, describe(pid)).first;
      out.push_back(known->second);
    }
    std::sort(out.begin(), out.end(),
              [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; });
  }
  return result;
}

}  // namespace synfin::capture
