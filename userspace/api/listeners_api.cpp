#include "api/listeners_api.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "api/owner_json.h"
#include "outputs/json_lines.h"

namespace synfin::api {

namespace {
using Json = nlohmann::ordered_json;

std::string local_text(const model::SocketTuple& tuple) {
  char buffer[64];
  std::string address(outputs::format_address(tuple, true, buffer));
  if (tuple.family == model::AddressFamily::IPv6)
    return "[" + address + "]:" + std::to_string(tuple.local.port);
  return address + ":" + std::to_string(tuple.local.port);
}

std::optional<uint16_t> port_param(const DaemonApi::Params& params, bool& malformed) {
  auto it = params.find("port");
  if (it == params.end()) return std::nullopt;
  unsigned port = 0;
  auto [end, error] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), port);
  malformed = error != std::errc() || end != it->second.data() + it->second.size() || port == 0 ||
              port > 65535;
  return static_cast<uint16_t>(port);
}
}  // namespace

HttpAnswer ListenersApi::listeners(const DaemonApi::Params& params) const {
  bool malformed = false;
  std::optional<uint16_t> port = port_param(params, malformed);
  if (malformed) return {400, Json{{"error", "port must be 1-65535"}}.dump()};
  OwnerFilter filter;
  for (const auto& [name, value] : params) {
    std::string error;
    if (!filter.set(name, value, error)) return {400, Json{{"error", error}}.dump()};
  }

  std::vector<model::KernelSocket> listening;
  for (const model::KernelSocket& socket : hooks_.snapshot())
    if (socket.state == model::TcpState::Listen && (!port || socket.tuple.local.port == *port))
      listening.push_back(socket);
  std::vector<uint64_t> inodes;
  for (const auto& socket : listening)
    if (socket.inode) inodes.push_back(socket.inode);
  auto holders = hooks_.resolve_owners(inodes);
  auto counters = hooks_.counters();
  auto counters_of = [&counters](uint64_t cookie) {
    auto it = counters.find(cookie);
    return it == counters.end() ? synfin_listener_counters{} : it->second;
  };
  std::stable_sort(listening.begin(), listening.end(), [&](const auto& a, const auto& b) {
    uint64_t overflows_a = counters_of(a.cookie).overflows;
    uint64_t overflows_b = counters_of(b.cookie).overflows;
    if (overflows_a != overflows_b) return overflows_a > overflows_b;
    return a.tuple.local.port < b.tuple.local.port;
  });

  Json list = Json::array();
  synfin_listener_counters total{};
  for (const model::KernelSocket& socket : listening) {
    synfin_listener_counters c = counters_of(socket.cookie);
    char buffer[64];
    Json j;
    j["conn"] = fmt::format("{:x}", socket.cookie);
    j["family"] = socket.tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4";
    j["saddr"] = std::string(outputs::format_address(socket.tuple, true, buffer));
    j["sport"] = socket.tuple.local.port;
    j["local"] = local_text(socket.tuple);
    auto owner = holders.find(socket.inode);
    bool owned = socket.inode && owner != holders.end() && !owner->second.empty();
    const model::ProcessInfo* identity = owned ? &owner->second.front() : nullptr;
    // The walk stamps the rows of namespaces it entered (--enter-namespaces); the rest are ours.
    uint32_t netns = socket.tuple.netns ? socket.tuple.netns : hooks_.own_netns;
    if (!filter.matches(identity, netns)) continue;
    if (owned) {
      j["pid"] = owner->second.front().pid;
      j["comm"] = owner->second.front().comm;
      j["cgroup"] = owner->second.front().cgroup;
      Json pids = Json::array();
      for (const auto& holder : owner->second) pids.push_back(holder.pid);
      j["pids"] = std::move(pids);
    } else {
      j["pid"] = nullptr;
      j["comm"] = nullptr;
      j["cgroup"] = nullptr;
      j["pids"] = Json::array();
    }
    // For a listener the iterator reads sk_ack_backlog / sk_max_ack_backlog.
    j["accept_queue"] = socket.recv_queue_bytes;
    j["accept_queue_limit"] = socket.send_queue_bytes;
    j["syn_queue"] = socket.syn_queue;
    j["overflows"] = c.overflows;
    j["syn_queue_drops"] = c.syn_queue_drops;
    j["other_drops"] = c.other_drops;
    j["resets_sent"] = c.resets_sent;
    j["inode"] = socket.inode;
    fmt::memory_buffer members;
    outputs::append_json_fragment(members, "{");
    append_identity_members(members, identity, netns, hooks_.host_netns);
    outputs::append_json_fragment(members, "}");
    j.update(Json::parse(std::string_view(members.data(), members.size())));
    total.overflows += c.overflows;
    total.syn_queue_drops += c.syn_queue_drops;
    total.other_drops += c.other_drops;
    total.resets_sent += c.resets_sent;
    list.push_back(std::move(j));
  }
  Json body;
  body["count"] = list.size();
  body["totals"] = {{"overflows", total.overflows},
                    {"syn_queue_drops", total.syn_queue_drops},
                    {"other_drops", total.other_drops},
                    {"resets_sent", total.resets_sent}};
  body["listeners"] = std::move(list);
  // Names and cgroup paths are any bytes their owners chose: invalid UTF-8 becomes U+FFFD.
  return {200, body.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

}  // namespace synfin::api
