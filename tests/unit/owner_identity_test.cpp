// The cgroup-path parser against paths as each runtime and cgroup driver writes them (from
// their sources and from real hosts), /proc/PID/cgroup in each layout, and hostile input.
#include "model/owner_identity.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace synfin::model {
namespace {

const std::string kId = "3f4e2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
const std::string kUid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const std::string kUidSystemd = "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0";

struct Case {
  std::string name;
  std::string path;
  CgroupIdentity want;
};

std::vector<Case> real_paths() {
  using R = ContainerRuntime;
  using Q = PodQos;
  return {
      {"systemd service",
       "/system.slice/nginx.service",
       {"nginx.service", "", R::None, "", Q::None}},
      {"templated service",
       "/system.slice/system-getty.slice/getty@tty1.service",
       {"getty@tty1.service", "", R::None, "", Q::None}},
      {"login session",
       "/user.slice/user-1000.slice/session-3.scope",
       {"session-3.scope", "", R::None, "", Q::None}},
      {"user service (innermost unit)",
       "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope",
       {"app-gnome-firefox-4242.scope", "", R::None, "", Q::None}},
      {"init", "/init.scope", {"init.scope", "", R::None, "", Q::None}},
      {"root", "/", {}},
      {"docker, systemd driver",
       "/system.slice/docker-" + kId + ".scope",
       {"docker-" + kId + ".scope", kId, R::Docker, "", Q::None}},
      {"docker, cgroupfs driver", "/docker/" + kId, {"", kId, R::Docker, "", Q::None}},
      {"nerdctl (containerd), systemd driver",
       "/system.slice/nerdctl-" + kId + ".scope",
       {"nerdctl-" + kId + ".scope", kId, R::Containerd, "", Q::None}},
      {"podman as root",
       "/machine.slice/libpod-" + kId + ".scope",
       {"libpod-" + kId + ".scope", kId, R::Podman, "", Q::None}},
      {"podman with its container sub-cgroup",
       "/machine.slice/libpod-" + kId + ".scope/container",
       {"libpod-" + kId + ".scope", kId, R::Podman, "", Q::None}},
      {"podman rootless",
       "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope",
       {"libpod-" + kId + ".scope", kId, R::Podman, "", Q::None}},
      {"podman, cgroupfs driver",
       "/libpod_parent/libpod-" + kId,
       {"", kId, R::Podman, "", Q::None}},
      {"k8s containerd, systemd driver, burstable",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd +
           ".slice/cri-containerd-" + kId + ".scope",
       {"cri-containerd-" + kId + ".scope", kId, R::Containerd, kUid, Q::Burstable}},
      {"k8s containerd, systemd driver, guaranteed",
       "/kubepods.slice/kubepods-pod" + kUidSystemd + ".slice/cri-containerd-" + kId + ".scope",
       {"cri-containerd-" + kId + ".scope", kId, R::Containerd, kUid, Q::Guaranteed}},
      {"k8s CRI-O, systemd driver, besteffort",
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd +
           ".slice/crio-" + kId + ".scope",
       {"crio-" + kId + ".scope", kId, R::CriO, kUid, Q::BestEffort}},
      {"k8s CRI-O conmon",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd +
           ".slice/crio-conmon-" + kId + ".scope",
       {"crio-conmon-" + kId + ".scope", kId, R::CriO, kUid, Q::Burstable}},
      {"k8s docker (cri-dockerd), systemd driver",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd +
           ".slice/docker-" + kId + ".scope",
       {"docker-" + kId + ".scope", kId, R::Docker, kUid, Q::Burstable}},
      {"k8s cgroupfs driver, burstable",
       "/kubepods/burstable/pod" + kUid + "/" + kId,
       {"", kId, R::Cri, kUid, Q::Burstable}},
      {"k8s cgroupfs driver, besteffort",
       "/kubepods/besteffort/pod" + kUid + "/" + kId,
       {"", kId, R::Cri, kUid, Q::BestEffort}},
      {"k8s cgroupfs driver, guaranteed",
       "/kubepods/pod" + kUid + "/" + kId,
       {"", kId, R::Cri, kUid, Q::Guaranteed}},
      {"k8s CRI-O, cgroupfs driver",
       "/kubepods/burstable/pod" + kUid + "/crio-" + kId,
       {"", kId, R::CriO, kUid, Q::Burstable}},
      {"static pod (hash UID)",
       "/kubepods/burstable/pod6a0c1b2d3e4f5a6b7c8d9e0f1a2b3c4d/" + kId,
       {"", kId, R::Cri, "6a0c1b2d3e4f5a6b7c8d9e0f1a2b3c4d", Q::Burstable}},
      {"pod's sandbox cgroup (no container yet)",
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice",
       {"", "", R::None, kUid, Q::BestEffort}},
      {"seen from inside a cgroup namespace",
       "/../../kubepods-burstable-pod" + kUidSystemd + ".slice/cri-containerd-" + kId + ".scope",
       {"cri-containerd-" + kId + ".scope", kId, R::Containerd, kUid, Q::Burstable}},
      {"k8s under a kubelet cgroup root",
       "/kubelet.slice/kubelet-kubepods.slice/"
       "kubelet-kubepods-besteffort.slice",
       {}},
  };
}

TEST(OwnerIdentityTest, RealPathsOfEachRuntimeAndDriver) {
  for (const Case& c : real_paths()) {
    SCOPED_TRACE(c.name + ": " + c.path);
    CgroupIdentity got = parse_cgroup_path(c.path);
    EXPECT_EQ(got.unit, c.want.unit);
    EXPECT_EQ(got.container_id, c.want.container_id);
    EXPECT_EQ(runtime_name(got.runtime), runtime_name(c.want.runtime));
    EXPECT_EQ(got.pod_uid, c.want.pod_uid);
    EXPECT_EQ(qos_name(got.qos), qos_name(c.want.qos));
  }
}

TEST(OwnerIdentityTest, NamesAreTheDocumentedSpellings) {
  EXPECT_EQ(runtime_name(ContainerRuntime::Docker), "docker");
  EXPECT_EQ(runtime_name(ContainerRuntime::Containerd), "containerd");
  EXPECT_EQ(runtime_name(ContainerRuntime::CriO), "cri-o");
  EXPECT_EQ(runtime_name(ContainerRuntime::Podman), "podman");
  EXPECT_EQ(runtime_name(ContainerRuntime::Cri), "cri");
  EXPECT_EQ(runtime_name(ContainerRuntime::None), "");
  EXPECT_EQ(qos_name(PodQos::Guaranteed), "guaranteed");
  EXPECT_EQ(qos_name(PodQos::Burstable), "burstable");
  EXPECT_EQ(qos_name(PodQos::BestEffort), "besteffort");
  EXPECT_EQ(qos_name(PodQos::None), "");
}

TEST(OwnerIdentityTest, HostilePathsNameNothingFalse) {
  // Longer than the kernel allows: not parsed at all.
  std::string huge = "/system.slice/" + std::string(5000, 'a') + ".service";
  EXPECT_EQ(parse_cgroup_path(huge), CgroupIdentity{});
  // Within the limit but a unit name systemd would refuse (over 255 bytes).
  std::string long_unit = "/system.slice/" + std::string(300, 'a') + ".service";
  EXPECT_EQ(parse_cgroup_path(long_unit).unit, "");
  // Bytes that are not UTF-8, or not in systemd's grammar, are no unit, pod or container.
  EXPECT_EQ(parse_cgroup_path("/system.slice/ng\xffinx.service"), CgroupIdentity{});
  EXPECT_EQ(parse_cgroup_path("/system.slice/a b.service"), CgroupIdentity{});
  EXPECT_EQ(parse_cgroup_path("/kubepods/burstable/pod\xff\xfe/" + kId), CgroupIdentity{});
  EXPECT_EQ(parse_cgroup_path("/kubepods/burstable/pod" + kUid + "x/" + kId), CgroupIdentity{});
  // Ids that are not hex or not of a container id's length.
  EXPECT_EQ(parse_cgroup_path("/docker/" + kId + "0").container_id, "");
  EXPECT_EQ(parse_cgroup_path("/docker/XYZ" + kId.substr(3)).container_id, "");
  EXPECT_EQ(parse_cgroup_path("/system.slice/docker-notanid.scope").container_id, "");
  EXPECT_EQ(parse_cgroup_path("/system.slice/docker-notanid.scope").unit, "docker-notanid.scope");
  // "pod..." means a pod only below the kubelet's tree; a bare id only there or below docker.
  EXPECT_EQ(parse_cgroup_path("/system.slice/pod" + kUid + "/" + kId), CgroupIdentity{});
  EXPECT_EQ(parse_cgroup_path("/.service"), CgroupIdentity{});
  EXPECT_EQ(parse_cgroup_path(std::string(4000, '/')), CgroupIdentity{});
  // A NUL inside is one more byte of a component, not an end.
  const char with_nul[] = "/a\0b/c.service";
  EXPECT_EQ(parse_cgroup_path(std::string_view(with_nul, sizeof(with_nul) - 1)).unit, "c.service");
  EXPECT_EQ(parse_cgroup_path(""), CgroupIdentity{});
}

TEST(OwnerIdentityTest, PicksThePathThatSaysMostInEachLayout) {
  // cgroup v2 only.
  EXPECT_EQ(pick_cgroup_path("0::/system.slice/nginx.service\n"), "/system.slice/nginx.service");
  // Hybrid, cgroup2 not mounted (this project's test VMs): 0::/ and systemd's v1 tree.
  EXPECT_EQ(pick_cgroup_path("12:pids:/system.slice/nginx.service\n"
                             "3:cpu,cpuacct:/system.slice/nginx.service\n"
                             "1:name=systemd:/system.slice/nginx.service\n"
                             "0::/\n"),
            "/system.slice/nginx.service");
  // Hybrid with the unified tree in use: it wins.
  EXPECT_EQ(pick_cgroup_path("1:name=systemd:/system.slice/a.service\n0::/sfown/b.service\n"),
            "/sfown/b.service");
  // v1 without systemd: the first controller's path.
  EXPECT_EQ(pick_cgroup_path("4:memory:/docker/" + kId + "\n2:cpu:/docker/" + kId + "\n"),
            "/docker/" + kId);
  // A path may hold ':'; a line without the three fields is skipped.
  EXPECT_EQ(pick_cgroup_path("garbage\n0::/a:b.service\n"), "/a:b.service");
  EXPECT_EQ(pick_cgroup_path("0::/\n"), "/");
  EXPECT_EQ(pick_cgroup_path(""), "");
  EXPECT_EQ(pick_cgroup_path("\xff\xfe:\n"), "");
}

}  // namespace
}  // namespace synfin::model
