// Which other network namespaces a walk visits: those a process is in (a fake /proc, where a
// namespace's identity is its ns/net file's inode), then those only a bind mount keeps (a real
// nsfs file: this process's own namespace, reached through a symlink in a fake /run/netns).
#include "capture/namespace_tables.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace synfin::capture {
namespace {

namespace fs = std::filesystem;

class FakeHost {
 public:
  FakeHost() {
    char pattern[] = "/tmp/synfin-netns-XXXXXX";
    root_ = ::mkdtemp(pattern);
    fs::create_directories(proc());
    fs::create_directories(named());
  }
  ~FakeHost() { fs::remove_all(root_); }

  fs::path proc() const { return root_ / "proc"; }
  fs::path named() const { return root_ / "netns"; }

  // A process whose ns/net is a new file (a namespace of its own), or a hard link to another
  // process's (the same namespace).
  uint32_t process(uint32_t pid, uint32_t same_namespace_as = 0) {
    fs::path ns = proc() / std::to_string(pid) / "ns";
    fs::create_directories(ns);
    if (same_namespace_as)
      fs::create_hard_link(proc() / std::to_string(same_namespace_as) / "ns" / "net", ns / "net");
    else
      std::ofstream(ns / "net") << "";
    return inode(ns / "net");
  }

  static uint32_t inode(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
  }

 private:
  fs::path root_;
};

TEST(NamespaceTablesTest, OneHolderPerNamespaceWithItsLowestPid) {
  FakeHost host;
  uint32_t own = host.process(1);
  uint32_t container = host.process(40);
  host.process(7, 40);
  host.process(90, 40);
  uint32_t pod = host.process(55);
  host.process(2, 1);                                   // the daemon's own
  fs::create_directories(host.proc() / "self" / "ns");  // not a pid
  std::vector<NamespaceHolder> holders = other_network_namespaces(own, host.proc().string(), {});
  ASSERT_EQ(holders.size(), 2u);
  std::map<uint32_t, uint32_t> pid_by_netns;
  for (const NamespaceHolder& h : holders) {
    pid_by_netns[h.netns] = h.pid;
    EXPECT_TRUE(h.bound_at.empty());
  }
  EXPECT_EQ(pid_by_netns[container], 7u);
  EXPECT_EQ(pid_by_netns[pod], 55u);
}

TEST(NamespaceTablesTest, ANamespaceOnlyABindMountKeepsIsListedByItsPath) {
  FakeHost host;
  uint32_t own = host.process(1);
  // `ip netns add` creates the file before it mounts the namespace on it: a plain file is none.
  std::ofstream(host.named() / "being-made") << "";
  fs::create_symlink("/proc/self/ns/net", host.named() / "kept");
  std::string directory = host.named().string();
  const char* directories[] = {directory.c_str(), directory.c_str()};  // found twice: once
  std::vector<NamespaceHolder> holders =
      other_network_namespaces(own, host.proc().string(), directories);
  uint32_t kept = FakeHost::inode("/proc/self/ns/net");
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].netns, kept);
  EXPECT_EQ(holders[0].pid, 0u);
  EXPECT_EQ(holders[0].bound_at, directory + "/kept");
  // No task, no /proc table: only entering can walk it.
  EXPECT_FALSE(read_namespace_table(holders[0], host.proc().string()));
  auto fd = open_network_namespace(holders[0]);
  ASSERT_TRUE(fd) << fd.error().message;
  EXPECT_EQ(FakeHost::inode("/proc/self/fd/" + std::to_string(*fd)), kept);
  ::close(*fd);
}

TEST(NamespaceTablesTest, ABoundNamespaceSomeProcessIsInIsListedByThatProcess) {
  FakeHost host;
  uint32_t kept = FakeHost::inode("/proc/self/ns/net");
  fs::create_directories(host.proc() / "12" / "ns");
  fs::create_symlink("/proc/self/ns/net", host.proc() / "12" / "ns" / "net");
  fs::create_symlink("/proc/self/ns/net", host.named() / "kept");
  std::string directory = host.named().string();
  const char* directories[] = {directory.c_str()};
  std::vector<NamespaceHolder> holders =
      other_network_namespaces(kept + 1, host.proc().string(), directories);
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].netns, kept);
  EXPECT_EQ(holders[0].pid, 12u);
  EXPECT_TRUE(holders[0].bound_at.empty());
  // The daemon's own namespace is never another's, however it is found.
  EXPECT_TRUE(other_network_namespaces(kept, host.proc().string(), directories).empty());
}

TEST(NamespaceTablesTest, AMountThatNoLongerHoldsTheNamespaceIsRefused) {
  NamespaceHolder gone{.netns = 4026531840u, .pid = 0, .bound_at = "/nonexistent/netns/x"};
  EXPECT_FALSE(open_network_namespace(gone));
  char pattern[] = "/tmp/synfin-netns-file-XXXXXX";
  int file = ::mkstemp(pattern);
  ASSERT_GE(file, 0);
  ::close(file);
  NamespaceHolder replaced{.netns = FakeHost::inode(pattern) + 1, .pid = 0, .bound_at = pattern};
  auto fd = open_network_namespace(replaced);
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().message.find("no longer holds"), std::string::npos) << fd.error().message;
  ::unlink(pattern);
}

}  // namespace
}  // namespace synfin::capture
