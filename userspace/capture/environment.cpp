#include "capture/environment.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

namespace synfin::capture {

namespace {
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool path_exists(const char* path) {
  struct stat st;
  return ::stat(path, &st) == 0;
}

uint64_t effective_capabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  return 0;
}

bool has(uint64_t caps, int cap) {
  return (caps >> cap) & 1u;
}

Status ensure_tracefs() {
  if (path_exists("/sys/kernel/tracing/events") || path_exists("/sys/kernel/debug/tracing/events"))
    return Ok{};
  if (::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    return Error{
        fmt::format("tracefs is not mounted at /sys/kernel/tracing and mounting it failed "
                    "({}); mount it with: mount -t tracefs tracefs /sys/kernel/tracing",
                    std::strerror(errno))};
  return Ok{};
}
}  // namespace

Status ensure_bpffs() {
  struct statfs fs {};
  constexpr long kBpfFsMagic = 0xcafe4a11;
  if (::statfs("/sys/fs/bpf", &fs) == 0 && static_cast<long>(fs.f_type) == kBpfFsMagic) return Ok{};
  if (::mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) != 0)
    return Error{
        fmt::format("bpffs is not mounted at /sys/fs/bpf and mounting it failed ({}); libxdp "
                    "keeps its multi-program dispatcher there: mount it with: "
                    "mount -t bpf bpf /sys/fs/bpf",
                    std::strerror(errno))};
  return Ok{};
}

Status prepare_environment() {
  uint64_t caps = effective_capabilities();
  bool can_bpf = has(caps, kCapSysAdmin) || (has(caps, kCapBpf) && has(caps, kCapPerfmon));
  if (!can_bpf)
    return Error{fmt::format(
        "loading BPF programs needs root or CAP_BPF+CAP_PERFMON (euid {}, effective capabilities "
        "{:#x}): run with sudo or grant the capabilities",
        ::geteuid(), caps)};
  if (!path_exists("/sys/kernel/btf/vmlinux"))
    return Error{
        "the kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): synfin needs a "
        "kernel built with CONFIG_DEBUG_INFO_BTF=y"};
  return ensure_tracefs();
}

}  // namespace synfin::capture

namespace synfin::capture {

uint32_t own_network_namespace() {
  struct stat st {};
  return ::stat("/proc/self/ns/net", &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

uint32_t host_network_namespace() {
  struct stat st {};
  return ::stat("/proc/1/ns/net", &st) == 0 ? static_cast<uint32_t>(st.st_ino)
                                            : own_network_namespace();
}

}  // namespace synfin::capture
