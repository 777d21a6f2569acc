// Owners through a fake /proc tree: the socket's inode among a process's fd links, and the
// name exactly as the process set it (a newline inside it included).
#include "capture/proc_owners.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace synfin::capture {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    char pattern[] = "/tmp/synfin-proc-XXXXXX";
    root_ = ::mkdtemp(pattern);
  }
  ~FakeProc() { fs::remove_all(root_); }

  void process(uint32_t pid, const std::string& comm_file, std::initializer_list<uint64_t> inodes) {
    fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir / "fd");
    std::ofstream(dir / "comm", std::ios::binary) << comm_file;
    std::ofstream(dir / "cgroup") << "0::/system.slice/x.service\n";
    int fd = 3;
    for (uint64_t inode : inodes)
      fs::create_symlink("socket:[" + std::to_string(inode) + "]",
                         dir / "fd" / std::to_string(fd++));
    fs::create_symlink("/dev/null", dir / "fd" / std::to_string(fd));
  }
  std::string root() const { return root_.string(); }
  void cgroup(uint32_t pid, const std::string& text) {
    std::ofstream(root_ / std::to_string(pid) / "cgroup") << text;
  }
  void netns(uint32_t pid, const std::string& link) {
    fs::create_directories(root_ / std::to_string(pid) / "ns");
    fs::create_symlink(link, root_ / std::to_string(pid) / "ns" / "net");
  }

 private:
  fs::path root_;
};

TEST(ProcOwnersTest, FindsEveryHolderOfAnInode) {
  FakeProc proc;
  proc.process(100, "server\n", {555, 556});
  proc.process(200, "worker\n", {555});
  ProcOwners owners(proc.root());
  uint64_t asked[] = {555, 556, 999, 0};
  auto found = owners.resolve(asked);
  ASSERT_EQ(found.count(555), 1u);
  ASSERT_EQ(found[555].size(), 2u);
  EXPECT_EQ(found[555][0].pid, 100u);
  EXPECT_EQ(found[555][1].pid, 200u);
  EXPECT_EQ(found[556][0].comm, "server");
  EXPECT_EQ(found[556][0].cgroup, "/system.slice/x.service");
  EXPECT_EQ(found.count(999), 0u);
  EXPECT_EQ(found.count(0), 0u);
}

TEST(ProcOwnersTest, NameIsKeptWholeNewlinesAndBytesIncluded) {
  FakeProc proc;
  proc.process(300, std::string("ev\nil\xff\"\x1b", 8) + "\n", {777});
  ProcOwners owners(proc.root());
  uint64_t asked[] = {777};
  auto found = owners.resolve(asked);
  ASSERT_EQ(found.count(777), 1u);
  EXPECT_EQ(found[777][0].comm, std::string("ev\nil\xff\"\x1b", 8));
}

TEST(ProcOwnersTest, ANewInodeIsFoundAfterTheFirstScan) {
  FakeProc proc;
  proc.process(100, "server\n", {555});
  ProcOwners owners(proc.root());
  uint64_t first[] = {555};
  EXPECT_EQ(owners.resolve(first).count(555), 1u);
  proc.process(400, "late\n", {888});  // accepted after the first scan
  uint64_t second[] = {555, 888};
  auto found = owners.resolve(second);
  ASSERT_EQ(found.count(888), 1u);
  EXPECT_EQ(found[888][0].comm, "late");
}

// A hybrid host (cgroup2 unused, systemd's tree in v1 name=systemd): the v2 path stays what
// `cgroup` always said, the identity comes from the path that names the unit.
TEST(ProcOwnersTest, IdentityFromTheCgroupThatNamesItAndTheNetworkNamespace) {
  FakeProc proc;
  proc.process(100, "server\n", {555});
  proc.cgroup(100,
              "4:memory:/system.slice/api.service\n1:name=systemd:/"
              "system.slice/api.service\n0::/\n");
  proc.netns(100, "net:[4026532999]");
  ProcOwners owners(proc.root());
  uint64_t asked[] = {555};
  auto found = owners.resolve(asked);
  ASSERT_EQ(found[555].size(), 1u);
  const ProcessInfo& info = found[555][0];
  EXPECT_EQ(info.cgroup, "/");
  EXPECT_EQ(info.cgroup_path, "/system.slice/api.service");
  EXPECT_EQ(info.identity.unit, "api.service");
  EXPECT_EQ(info.netns, 4026532999u);
  // By pid, as for an owner a syscall named; a pid with no /proc entry has none.
  auto by_pid = owners.process(100);
  ASSERT_TRUE(by_pid.has_value());
  EXPECT_EQ(by_pid->identity.unit, "api.service");
  EXPECT_FALSE(owners.process(999).has_value());
  EXPECT_FALSE(owners.process(0).has_value());
}

TEST(ProcOwnersTest, AnUnreadableNamespaceLinkIsZeroNotAGuess) {
  FakeProc proc;
  proc.process(100, "server\n", {555});
  proc.netns(100, "mnt:[notanumber]");
  ProcOwners owners(proc.root());
  auto info = owners.process(100);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->netns, 0u);
  EXPECT_EQ(info->identity.unit, "x.service");
}

// trace's close lines: a pid is read once, handed to the recording, then answered from memory
// until expire() finds it older than kMaxAge; a pid that has exited is remembered as such.
TEST(TraceProcessesTest, ReadsAPidOnceUntilItExpiresAndNotesEveryRead) {
  FakeProc proc;
  proc.process(100, "server\n", {555});
  proc.cgroup(100,
              "0::/kubepods.slice/kubepods-burstable.slice/"
              "kubepods-burstable-pod1f2e3d4c_5b6a_7980_1a2b_3c4d5e6f7a8b.slice/"
              "cri-containerd-0123456789abcdef.scope\n");
  proc.netns(100, "net:[4026532001]");
  ProcOwners owners(proc.root());
  std::vector<std::pair<uint32_t, bool>> noted;
  TraceProcesses processes(owners, 4026531840u, [&](uint32_t pid, const ProcessInfo* info) {
    noted.emplace_back(pid, info != nullptr);
  });
  EXPECT_EQ(processes.host_netns(), 4026531840u);
  const ProcessInfo* info = processes.find(100);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->identity.pod_uid, "1f2e3d4c-5b6a-7980-1a2b-3c4d5e6f7a8b");
  EXPECT_EQ(info->netns, 4026532001u);
  EXPECT_EQ(processes.find(999), nullptr);  // no such process
  EXPECT_EQ(processes.find(0), nullptr);    // no owner: nothing to read, nothing noted
  EXPECT_EQ(noted, (std::vector<std::pair<uint32_t, bool>>{{100, true}, {999, false}}));

  proc.cgroup(100, "0::/system.slice/moved.service\n");
  ASSERT_NE(processes.find(100), nullptr);
  EXPECT_EQ(processes.find(100)->identity.container_id, "0123456789abcdef");  // the one read before
  EXPECT_EQ(processes.find(999), nullptr);
  EXPECT_EQ(noted.size(), 2u);
  processes.expire(std::chrono::steady_clock::now());  // nothing is old yet
  EXPECT_EQ(processes.find(100)->identity.container_id, "0123456789abcdef");
  processes.expire(std::chrono::steady_clock::now() + TraceProcesses::kMaxAge +
                   std::chrono::seconds(1));
  ASSERT_NE(processes.find(100), nullptr);
  EXPECT_EQ(processes.find(100)->identity.unit, "moved.service");
  EXPECT_EQ(noted.size(), 3u);
}

// Past kCapacity pids nothing more is kept, yet every ask is answered (and noted).
TEST(TraceProcessesTest, BoundedAndStillAnswersPastItsCapacity) {
  FakeProc proc;
  proc.process(100, "server\n", {555});
  ProcOwners owners(proc.root());
  std::size_t notes = 0;
  TraceProcesses processes(owners, 0, [&](uint32_t, const ProcessInfo*) { ++notes; });
  for (uint32_t pid = 1000; pid < 1000 + TraceProcesses::kCapacity; ++pid)
    EXPECT_EQ(processes.find(pid), nullptr);
  EXPECT_EQ(notes, TraceProcesses::kCapacity);
  for (int ask = 0; ask < 2; ++ask) {
    const ProcessInfo* info = processes.find(100);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->identity.unit, "x.service");
  }
  EXPECT_EQ(notes, TraceProcesses::kCapacity + 2);
}

}  // namespace
}  // namespace synfin::capture
