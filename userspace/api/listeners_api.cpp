#include "api/listeners_api.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "api/owner_filter.h"
#include "outputs/json_lines.h"
#include "outputs/json_writer.h"
#include "outputs/owner_fields.h"

namespace synfin::api {

namespace {
using outputs::JsonWriter;

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

void write_listener(JsonWriter& j, const model::KernelSocket& socket,
                    const std::vector<model::ProcessInfo>* holders, uint32_t netns,
                    uint32_t host_netns, const synfin_listener_counters& c) {
  char buffer[64];
  j.begin_object();
  j.key("conn");
  j.hex_string(socket.cookie);
  j.key("family");
  j.string(socket.tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4");
  j.key("saddr");
  j.string(outputs::format_address(socket.tuple, true, buffer));
  j.key("sport");
  j.number(socket.tuple.local.port);
  j.key("local");
  j.string(local_text(socket.tuple));
  const model::ProcessInfo* identity = holders ? &holders->front() : nullptr;
  j.key("pid");
  j.field_or_null(identity, &model::ProcessInfo::pid);
  j.key("comm");
  j.field_or_null(identity, &model::ProcessInfo::comm);
  j.key("cgroup");
  j.field_or_null(identity, &model::ProcessInfo::cgroup);
  j.key("pids");
  j.begin_array();
  if (holders)
    for (const model::ProcessInfo& holder : *holders) j.number(holder.pid);
  j.end_array();
  // For a listener the iterator reads sk_ack_backlog / sk_max_ack_backlog.
  j.key("accept_queue");
  j.number(socket.recv_queue_bytes);
  j.key("accept_queue_limit");
  j.number(socket.send_queue_bytes);
  j.key("syn_queue");
  j.number(socket.syn_queue);
  j.key("overflows");
  j.number(c.overflows);
  j.key("syn_queue_drops");
  j.number(c.syn_queue_drops);
  j.key("other_drops");
  j.number(c.other_drops);
  j.key("resets_sent");
  j.number(c.resets_sent);
  j.key("inode");
  j.number(socket.inode);
  outputs::write_identity_members(j, identity, netns, host_netns);
  j.end_object();
}
}  // namespace

HttpAnswer ListenersApi::listeners(const DaemonApi::Params& params) const {
  bool malformed = false;
  std::optional<uint16_t> port = port_param(params, malformed);
  if (malformed) return {400, error_body("port must be 1-65535")};
  OwnerFilter filter;
  for (const auto& [name, value] : params) {
    std::string error;
    if (!filter.set(name, value, error)) return {400, error_body(error)};
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

  struct Listed {
    const model::KernelSocket* socket;
    const std::vector<model::ProcessInfo>* holders;  // null or empty: no owner known
    uint32_t netns;
    synfin_listener_counters counters;
  };
  std::vector<Listed> listed;
  synfin_listener_counters total{};
  for (const model::KernelSocket& socket : listening) {
    auto owner = holders.find(socket.inode);
    bool owned = socket.inode && owner != holders.end() && !owner->second.empty();
    const model::ProcessInfo* identity = owned ? &owner->second.front() : nullptr;
    // The walk stamps the rows of namespaces it entered (--enter-namespaces); the rest are ours.
    uint32_t netns = socket.tuple.netns ? socket.tuple.netns : hooks_.own_netns;
    if (!filter.matches(identity, netns)) continue;
    synfin_listener_counters c = counters_of(socket.cookie);
    listed.push_back({&socket, owned ? &owner->second : nullptr, netns, c});
    total.overflows += c.overflows;
    total.syn_queue_drops += c.syn_queue_drops;
    total.other_drops += c.other_drops;
    total.resets_sent += c.resets_sent;
  }
  return {200, outputs::json_text([&](JsonWriter& body) {
            body.begin_object();
            body.key("count");
            body.number(listed.size());
            body.key("totals");
            body.begin_object();
            body.key("overflows");
            body.number(total.overflows);
            body.key("syn_queue_drops");
            body.number(total.syn_queue_drops);
            body.key("other_drops");
            body.number(total.other_drops);
            body.key("resets_sent");
            body.number(total.resets_sent);
            body.end_object();
            body.key("listeners");
            body.begin_array();
            for (const Listed& l : listed)
              write_listener(body, *l.socket, l.holders, l.netns, hooks_.host_netns, l.counters);
            body.end_array();
            body.end_object();
          })};
}

}  // namespace synfin::api
