#include "model/owner_identity.h"

#include <algorithm>
#include <array>
#include <utility>

namespace synfin::model {

namespace {

bool is_hex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// Runtimes name containers by a 64-digit hex id; 12 digits is the short form some tools use.
bool is_container_id(std::string_view text) {
  return text.size() >= 12 && text.size() <= 64 && is_hex(text);
}

bool strip_suffix(std::string_view& text, std::string_view suffix) {
  if (!text.ends_with(suffix)) return false;
  text.remove_suffix(suffix.size());
  return true;
}

// systemd's unit name grammar (unit-name.c): ASCII letters, digits and ":-_.\@", at most 255
// bytes. Anything else is not a unit, whatever its suffix.
bool is_unit_name(std::string_view text) {
  if (text.size() > 255) return false;
  std::string_view stem = text;
  if (!strip_suffix(stem, ".service") && !strip_suffix(stem, ".scope")) return false;
  if (stem.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
  });
}

// A pod UID as the path spells it: a UUID (API-server pods) or a 32-digit hash (static pods);
// systemd slice names carry '_' for each '-'.
bool pod_uid_text(std::string_view text, std::string& uid) {
  if (text.empty() || text.size() > 64) return false;
  std::string out;
  for (char c : text) {
    if (c == '_' || c == '-')
      out.push_back('-');
    else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
      out.push_back(c);
    else
      return false;
  }
  uid = std::move(out);
  return true;
}

struct ScopePrefix {
  std::string_view prefix;
  ContainerRuntime runtime;
};
// Longest first: "crio-conmon-" before "crio-". The conmon scopes hold a runtime's monitor of
// the container named, not the container itself; they name the same container.
constexpr std::array<ScopePrefix, 7> kScopePrefixes = {{
    {"cri-containerd-", ContainerRuntime::Containerd},
    {"crio-conmon-", ContainerRuntime::CriO},
    {"crio-", ContainerRuntime::CriO},
    {"docker-", ContainerRuntime::Docker},
    {"libpod-conmon-", ContainerRuntime::Podman},
    {"libpod-", ContainerRuntime::Podman},
    {"nerdctl-", ContainerRuntime::Containerd},
}};

// "docker-<id>.scope" (systemd driver) or "crio-<id>" / "libpod-<id>" (cgroupfs driver).
bool container_component(std::string_view component, CgroupIdentity& out) {
  std::string_view body = component;
  strip_suffix(body, ".scope");
  for (const ScopePrefix& p : kScopePrefixes) {
    if (!body.starts_with(p.prefix)) continue;
    std::string_view id = body.substr(p.prefix.size());
    if (!is_container_id(id)) return false;
    out.container_id = std::string(id);
    out.runtime = p.runtime;
    return true;
  }
  return false;
}

PodQos qos_of(std::string_view word) {
  if (word == "burstable") return PodQos::Burstable;
  if (word == "besteffort") return PodQos::BestEffort;
  return PodQos::None;
}

}  // namespace

std::string_view runtime_name(ContainerRuntime runtime) {
  switch (runtime) {
    case ContainerRuntime::Docker:
      return "docker";
    case ContainerRuntime::Containerd:
      return "containerd";
    case ContainerRuntime::CriO:
      return "cri-o";
    case ContainerRuntime::Podman:
      return "podman";
    case ContainerRuntime::Cri:
      return "cri";
    case ContainerRuntime::None:
      break;
  }
  return "";
}

std::string_view qos_name(PodQos qos) {
  switch (qos) {
    case PodQos::Guaranteed:
      return "guaranteed";
    case PodQos::Burstable:
      return "burstable";
    case PodQos::BestEffort:
      return "besteffort";
    case PodQos::None:
      break;
  }
  return "";
}

CgroupIdentity parse_cgroup_path(std::string_view path) {
  CgroupIdentity id;
  if (path.size() > kMaxCgroupPath) return id;
  bool kubepods = false;  // below the kubelet's tree: pods and QoS classes mean something
  PodQos qos = PodQos::None;
  std::string_view previous;
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view component = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (component.empty() || component == "." || component == "..") continue;

    std::string_view slice = component;
    if (component == "kubepods" || component == "kubepods.slice") {
      kubepods = true;
    } else if (strip_suffix(slice, ".slice") && slice.starts_with("kubepods-")) {
      // systemd driver: kubepods-burstable.slice, kubepods-burstable-pod<uid>.slice,
      // kubepods-pod<uid>.slice (guaranteed); '-' separates the levels.
      kubepods = true;
      std::string_view rest = slice.substr(sizeof("kubepods-") - 1);
      std::size_t dash = rest.find('-');
      std::string_view first = rest.substr(0, dash);
      if (PodQos q = qos_of(first); q != PodQos::None) {
        qos = q;
        rest = dash == std::string_view::npos ? std::string_view() : rest.substr(dash + 1);
      }
      if (rest.starts_with("pod")) pod_uid_text(rest.substr(3), id.pod_uid);
    } else if (kubepods && id.pod_uid.empty() && qos_of(component) != PodQos::None) {
      qos = qos_of(component);  // cgroupfs driver: kubepods/burstable/pod<uid>/<id>
    } else if (kubepods && id.pod_uid.empty() && component.starts_with("pod")) {
      pod_uid_text(component.substr(3), id.pod_uid);
    } else if (container_component(component, id)) {
    } else if (is_container_id(component) && previous == "docker") {
      id.container_id = std::string(component);  // cgroupfs driver: /docker/<id>
      id.runtime = ContainerRuntime::Docker;
    } else if (is_container_id(component) && !id.pod_uid.empty() && id.container_id.empty()) {
      id.container_id = std::string(component);
      id.runtime = ContainerRuntime::Cri;
    }
    if (is_unit_name(component)) id.unit = std::string(component);
    previous = component;
  }
  if (!id.pod_uid.empty()) id.qos = qos == PodQos::None ? PodQos::Guaranteed : qos;
  return id;
}

std::string pick_cgroup_path(std::string_view text) {
  std::string_view unified, systemd, controller;
  bool has_unified = false;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    // hierarchy-ID:controllers:path; the path itself may hold ':'.
    std::size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    std::size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view hierarchy = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (hierarchy == "0" && controllers.empty()) {
      unified = path;
      has_unified = true;
    } else if (controllers == "name=systemd") {
      systemd = path;
    } else if (controller.empty() && !controllers.empty() && !controllers.starts_with("name=")) {
      controller = path;
    }
  }
  if (has_unified && unified != "/") return std::string(unified);
  if (!systemd.empty() && systemd != "/") return std::string(systemd);
  if (!controller.empty() && controller != "/") return std::string(controller);
  if (has_unified) return std::string(unified);
  if (!systemd.empty()) return std::string(systemd);
  return std::string(controller);
}

}  // namespace synfin::model
