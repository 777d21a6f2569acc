#include "outputs/daemon_api.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace synfin::outputs {

namespace {
using Json = nlohmann::ordered_json;
using model::TcpState;

struct Row {
  uint64_t cookie = 0;
  model::SocketTuple tuple;
  TcpState state = TcpState::Unknown;
  model::Role role = model::Role::Unknown;
  uint64_t age_ns = 0;
  bool age_is_lower_bound = false;
  bool joined_mid_life = false;
  std::optional<model::Task> owner;
  uint64_t bytes_sent_at_state_entry = 0;
  bool bytes_known_at_state_entry = false;
  uint64_t peer_fin_age_ns = 0;  // XDP saw the peer's FIN this long ago (0: not seen)
  model::DropCounts drops;
};

struct Query {
  std::optional<TcpState> state;
  std::optional<uint16_t> port;
  std::size_t limit = 10000;
};

HttpAnswer bad_request(const std::string& message) {
  return {400, Json{{"error", message}}.dump()};
}

template <typename Number>
std::optional<Number> number_param(const DaemonApi::Params& params, const char* name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  Number value{};
  auto [end, error] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (error != std::errc() || end != it->second.data() + it->second.size()) return Number{0};
  return value;
}

// Parses state, port and limit; nullopt + message when malformed.
std::optional<Query> parse_query(const DaemonApi::Params& params, std::string& error) {
  Query q;
  if (auto it = params.find("state"); it != params.end() && !it->second.empty()) {
    std::string name = it->second;
    std::transform(name.begin(), name.end(), name.begin(), [](char c) {
      return c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    });
    q.state = model::parse_state(name);
    if (!q.state) {
      error = "unknown state '" + it->second + "' (use the kernel's names, e.g. CLOSE_WAIT)";
      return std::nullopt;
    }
  }
  if (params.count("port")) {
    auto port = number_param<uint32_t>(params, "port");
    if (!port || *port == 0 || *port > 65535) {
      error = "port must be 1-65535";
      return std::nullopt;
    }
    q.port = static_cast<uint16_t>(*port);
  }
  if (params.count("limit")) {
    auto limit = number_param<std::size_t>(params, "limit");
    if (!limit || *limit == 0) {
      error = "limit must be a positive number";
      return std::nullopt;
    }
    q.limit = *limit;
  }
  return q;
}

bool port_matches(const Query& q, const model::SocketTuple& tuple) {
  return !q.port || tuple.local.port == *q.port || tuple.remote.port == *q.port;
}

Row row_of(const model::Connection& c, uint64_t now_ns) {
  model::StuckSocket age = model::age_of(c, now_ns);
  uint64_t fin_ns = (c.packets.known & model::PacketFacts::kPeerFin) ? c.packets.peer_fin_ns : 0;
  return {c.cookie,
          c.tuple,
          c.state,
          c.role,
          age.age_ns,
          age.age_is_lower_bound,
          c.joined_mid_life,
          c.owner,
          c.bytes_sent_at_state_entry,
          c.bytes_known_at_state_entry,
          fin_ns && now_ns > fin_ns ? now_ns - fin_ns : 0,
          c.drops};
}

std::string endpoint_text(const model::SocketTuple& tuple, bool local) {
  char buffer[64];
  std::string address(format_address(tuple, local, buffer));
  uint16_t port = local ? tuple.local.port : tuple.remote.port;
  if (tuple.family == model::AddressFamily::IPv6)
    return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

Json row_json(const Row& r) {
  char buffer[64];
  Json j;
  j["conn"] = fmt::format("{:x}", r.cookie);
  j["state"] = model::state_name(r.state);
  j["family"] = r.tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4";
  j["saddr"] = std::string(format_address(r.tuple, true, buffer));
  j["sport"] = r.tuple.local.port;
  j["daddr"] = std::string(format_address(r.tuple, false, buffer));
  j["dport"] = r.tuple.remote.port;
  j["local"] = endpoint_text(r.tuple, true);
  j["remote"] = endpoint_text(r.tuple, false);
  j["role"] = model::role_name(r.role);
  j["age_seconds"] = static_cast<double>(r.age_ns) / 1e9;
  j["age_is_lower_bound"] = r.age_is_lower_bound;
  j["joined_mid_life"] = r.joined_mid_life;
  // With XDP: how long the application has left the peer's FIN unanswered (it grows until
  // close()); the CLOSE_WAIT story with the packet that started it.
  if (r.state == TcpState::CloseWait && r.peer_fin_age_ns)
    j["close_wait_reaction_seconds"] = static_cast<double>(r.peer_fin_age_ns) / 1e9;
  fmt::memory_buffer drops;
  append_drops_json(drops, r.drops);
  j["drops"] = Json::parse(std::string_view(drops.data(), drops.size()));
  return j;
}

void set_owner(Json& j, const Row& r, const std::vector<model::ProcessInfo>* holders) {
  if (holders && !holders->empty()) {
    j["pid"] = holders->front().pid;
    j["comm"] = holders->front().comm;
    j["cgroup"] = holders->front().cgroup;
    Json pids = Json::array();
    for (const auto& holder : *holders) pids.push_back(holder.pid);
    j["pids"] = pids;
    j["owner_source"] = "proc";
  } else if (r.owner) {
    j["pid"] = r.owner->pid;
    j["comm"] = std::string(r.owner->comm_view());
    j["cgroup"] = nullptr;
    j["pids"] = Json::array({r.owner->pid});
    j["owner_source"] = "syscall";
  } else {
    j["pid"] = nullptr;
    j["comm"] = nullptr;
    j["cgroup"] = nullptr;
    j["pids"] = Json::array();
    j["owner_source"] = nullptr;
  }
}
}  // namespace

DaemonApi::DaemonApi(model::DaemonModel& model, std::mutex& model_mutex, DaemonApiHooks hooks,
                     Clock clock)
    : model_(model), mutex_(model_mutex), hooks_(std::move(hooks)), clock_(clock) {}

HttpAnswer DaemonApi::connections(const Params& params) {
  std::string error;
  auto query = parse_query(params, error);
  if (!query) return bad_request(error);
  std::vector<Row> rows;
  bool truncated = false;
  uint64_t now = hooks_.monotonic_now_ns();
  {
    std::lock_guard lock(mutex_);
    model_.table().for_each([&](const model::Connection& c) {
      if (c.state == TcpState::Close || c.state == TcpState::Unknown) return;
      if ((query->state && c.state != *query->state) || !port_matches(*query, c.tuple)) return;
      if (rows.size() >= query->limit) {
        truncated = true;
        return;
      }
      rows.push_back(row_of(c, now));
    });
    if (!query->state || *query->state == TcpState::TimeWait) {
      model_.time_wait().for_each([&](const model::TimeWaitEntry& e) {
        if (!port_matches(*query, e.tuple)) return;
        if (rows.size() >= query->limit) {
          truncated = true;
          return;
        }
        Row r;
        r.cookie = e.cookie;
        r.tuple = e.tuple;
        r.state = TcpState::TimeWait;
        r.age_is_lower_bound = e.entered_ns == 0;
        r.age_ns = e.entered_ns && now > e.entered_ns ? now - e.entered_ns : 0;
        rows.push_back(r);
      });
    }
  }
  // Sockets whose owner no syscall revealed (seeded ones) are resolved through /proc.
  std::unordered_map<uint64_t, uint64_t> inode_of;
  if (std::any_of(rows.begin(), rows.end(),
                  [](const Row& r) { return !r.owner && r.state != TcpState::TimeWait; })) {
    for (const auto& socket : hooks_.snapshot()) inode_of[socket.cookie] = socket.inode;
  }
  std::vector<uint64_t> inodes;
  for (const Row& r : rows)
    if (!r.owner && inode_of.count(r.cookie)) inodes.push_back(inode_of[r.cookie]);
  auto holders = hooks_.resolve_owners(inodes);
  Json list = Json::array();
  for (const Row& r : rows) {
    Json j = row_json(r);
    const std::vector<model::ProcessInfo>* found = nullptr;
    if (!r.owner && inode_of.count(r.cookie)) {
      auto it = holders.find(inode_of[r.cookie]);
      if (it != holders.end()) found = &it->second;
    }
    set_owner(j, r, found);
    list.push_back(std::move(j));
  }
  Json body;
  body["count"] = list.size();
  body["truncated"] = truncated;
  body["connections"] = std::move(list);
  return {200, body.dump()};
}

HttpAnswer DaemonApi::stuck(const Params& params) {
  std::string error;
  auto query = parse_query(params, error);
  if (!query) return bad_request(error);
  std::vector<Row> rows;
  Json thresholds;
  uint64_t now = hooks_.monotonic_now_ns();
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : model::find_stuck(model_.table(), model_.thresholds(), now)) {
      const model::Connection& c = *s.connection;
      if ((query->state && c.state != *query->state) || !port_matches(*query, c.tuple)) continue;
      if (rows.size() >= query->limit) break;
      rows.push_back(row_of(c, now));
    }
    for (TcpState state : model::kTrackedStates)
      if (uint64_t ns = model_.thresholds().for_state(state))
        thresholds[std::string(model::state_name(state))] = static_cast<double>(ns) / 1e9;
  }
  std::unordered_map<uint64_t, model::KernelSocket> kernel;
  if (!rows.empty())
    for (auto& socket : hooks_.snapshot()) kernel[socket.cookie] = socket;
  std::vector<uint64_t> inodes;
  for (const Row& r : rows)
    if (auto it = kernel.find(r.cookie); it != kernel.end()) inodes.push_back(it->second.inode);
  auto holders = hooks_.resolve_owners(inodes);
  Json list = Json::array();
  for (const Row& r : rows) {
    Json j = row_json(r);
    auto k = kernel.find(r.cookie);
    const std::vector<model::ProcessInfo>* found = nullptr;
    if (k != kernel.end())
      if (auto h = holders.find(k->second.inode); h != holders.end()) found = &h->second;
    set_owner(j, r, found);
    if (k != kernel.end()) {
      j["recv_queue_bytes"] = k->second.recv_queue_bytes;
      j["send_queue_bytes"] = k->second.send_queue_bytes;
      j["inode"] = k->second.inode;
      // A half-closed socket whose owner still writes is legitimate; an idle one is a leak.
      bool sending =
          r.bytes_known_at_state_entry ? k->second.bytes_sent > r.bytes_sent_at_state_entry : false;
      j["activity"] = sending ? "sending" : "idle";
    } else {
      j["recv_queue_bytes"] = nullptr;
      j["send_queue_bytes"] = nullptr;
      j["inode"] = nullptr;
      j["activity"] = "unknown";  // gone from the kernel's table since
    }
    list.push_back(std::move(j));
  }
  Json body;
  body["thresholds_seconds"] = std::move(thresholds);
  body["count"] = list.size();
  body["stuck"] = std::move(list);
  return {200, body.dump()};
}

HttpAnswer DaemonApi::time_wait(const Params& params) {
  std::string error;
  auto query = parse_query(params, error);
  if (!query) return bad_request(error);
  PortRange range = hooks_.port_range();
  struct PeerRow {
    model::PeerKey key;
    uint64_t count;
  };
  std::vector<PeerRow> peers;
  Json body;
  {
    std::lock_guard lock(mutex_);
    body["total"] = model_.time_wait().size();
    for (const auto& [key, count] : model_.time_wait().per_peer())
      if (!query->port || key.remote.port == *query->port) peers.push_back({key, count});
    body["drift"] = {{"added", model_.time_wait_drift().added},
                     {"removed", model_.time_wait_drift().removed},
                     {"reconciliations", model_.reconciliations()}};
  }
  std::sort(peers.begin(), peers.end(),
            [](const PeerRow& a, const PeerRow& b) { return a.count > b.count; });
  body["ephemeral_port_range"] = {{"low", range.low}, {"high", range.high}, {"size", range.size()}};
  Json list = Json::array();
  for (const PeerRow& p : peers) {
    if (list.size() >= query->limit) break;
    model::SocketTuple tuple;
    tuple.family = p.key.family;
    tuple.local.address = p.key.local_address;
    tuple.remote = p.key.remote;
    char buffer[64];
    Json j;
    j["family"] = tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4";
    j["local_address"] = std::string(format_address(tuple, true, buffer));
    j["daddr"] = std::string(format_address(tuple, false, buffer));
    j["dport"] = tuple.remote.port;
    j["remote"] = endpoint_text(tuple, false);
    j["count"] = p.count;
    j["port_range_usage"] = range.size() ? static_cast<double>(p.count) / range.size() : 0.0;
    list.push_back(std::move(j));
  }
  body["by_peer"] = std::move(list);
  return {200, body.dump()};
}

HttpAnswer DaemonApi::closed(const Params& params) {
  std::string error;
  auto query = parse_query(params, error);
  if (!query) return bad_request(error);
  std::optional<std::string> outcome, verdict;
  if (auto it = params.find("outcome"); it != params.end()) outcome = it->second;
  if (auto it = params.find("verdict"); it != params.end()) verdict = it->second;
  fmt::memory_buffer out;
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    append_json_fragment(out, R"({"closed":[)");
    model_.for_each_recent_close([&](const model::ClosedConnection& closed) {
      const auto& c = closed.connection;
      const auto& k = closed.classification;
      if (!port_matches(*query, c.tuple) || count >= query->limit) return;
      if (outcome && model::outcome_name(k.outcome) != *outcome) return;
      if (verdict && model::verdict_name(k.verdict) != *verdict) return;
      if (count++) out.push_back(',');
      append_close_json(out, c, k, clock_.to_epoch_ns(closed.closed_ns), model_.xdp());
    });
  }
  append_json_fragment(out, fmt::format(R"(],"count":{}}})", count));
  return {200, fmt::to_string(out)};
}

HttpAnswer DaemonApi::healthz() {
  HealthInputs health = hooks_.health();
  bool attached = !health.programs.empty() &&
                  std::all_of(health.programs.begin(), health.programs.end(),
                              [](const ProgramHealth& p) { return p.attached; }) &&
                  std::all_of(health.xdp.begin(), health.xdp.end(),
                              [](const InterfaceHealth& i) { return i.attached; });
  Json programs = Json::array();
  for (const auto& p : health.programs)
    programs.push_back({{"name", p.name}, {"attached", p.attached}});
  Json interfaces = Json::array();
  for (const auto& i : health.xdp)
    interfaces.push_back({{"iface", i.name},
                          {"mode", i.mode},
                          {"attached", i.attached},
                          {"dispatcher", i.dispatcher}});
  Json body;
  body["status"] = !attached ? "down" : health.events_lost_per_second > 0 ? "degraded" : "ok";
  body["programs"] = std::move(programs);
  body["xdp"] = std::move(interfaces);
  body["events_lost_total"] = health.events_lost_total;
  body["events_lost_per_second"] = health.events_lost_per_second;
  body["last_snapshot_age_seconds"] = health.last_snapshot_age_seconds;
  body["cannot_report"] = health.cannot_report;
  {
    std::lock_guard lock(mutex_);
    body["connections_tracked"] = model_.table().size();
    body["connections_capacity"] = model_.table().capacity();
    body["time_wait_tracked"] = model_.time_wait().size();
  }
  return {attached ? 200 : 503, body.dump()};
}

}  // namespace synfin::outputs
