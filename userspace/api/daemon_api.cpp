#include "api/daemon_api.h"

#include <algorithm>
#include <array>
#include <iterator>

#include "model/proc_net_tcp.h"
#include "outputs/json_writer.h"
#include "outputs/owner_fields.h"

namespace synfin::api {

using model::TcpState;
using outputs::JsonWriter;

namespace {

struct Row {
  uint64_t cookie = 0;
  model::SocketTuple tuple;
  TcpState state = TcpState::Unknown;
  model::Role role = model::Role::Unknown;
  uint64_t age_ns = 0;
  bool age_is_lower_bound = false;
  bool joined_mid_life = false;
  std::optional<model::Task> owner;
  uint32_t bytes_sent_at_state_entry = 0;  // its low 32 bits
  bool bytes_known_at_state_entry = false;
  uint64_t peer_fin_age_ns = 0;  // XDP saw the peer's FIN this long ago (0: not seen)
  model::DropCounts drops;       // kernel drops on this connection, by reason
  bool mini_socket = false;      // the kernel's TIME_WAIT mini-socket: no inode, no owner
  uint32_t netns = 0;            // from its records; 0: not known (a socket found by a walk)
  // The owner is its listener's (no step of its own named one): /proc says who holds it now.
  bool owner_inherited = false;
};

HttpAnswer error_answer(int status, std::string_view message) {
  return {status, error_body(message)};
}

HttpAnswer bad_request(std::string_view message) {
  return error_answer(400, message);
}

Row row_of(const model::Connection& c, uint64_t now_ns) {
  model::StuckSocket age = model::age_of(c, now_ns);
  uint64_t fin_ns =
      (c.packets().known & model::PacketFacts::kPeerFin) ? c.packets().peer_fin_ns : 0;
  return {c.cookie,
          c.tuple,
          c.state,
          c.role,
          age.age_ns,
          age.age_is_lower_bound,
          c.joined_mid_life,
          c.owner(),
          c.bytes_sent_at_state_entry(),
          c.bytes_known_at_state_entry,
          fin_ns && now_ns > fin_ns ? now_ns - fin_ns : 0,
          c.drops(),
          false,
          c.tuple.netns,
          c.owner_inherited()};
}

std::string endpoint_text(const model::SocketTuple& tuple, bool local) {
  char buffer[64];
  std::string address(outputs::format_address(tuple, local, buffer));
  uint16_t port = local ? tuple.local.port : tuple.remote.port;
  if (tuple.family == model::AddressFamily::IPv6)
    return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

// Rows are written straight into the answer (outputs/json_writer.h): a listing of 10 000
// sockets costs a few ms, not the tens of ms a tree of nlohmann::json nodes per field took.
void write_row(JsonWriter& j, const Row& r) {
  char buffer[64];
  j.key("conn");
  j.hex_string(r.cookie);
  j.key("state");
  j.string(model::state_name(r.state));
  j.key("family");
  j.string(r.tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4");
  j.key("saddr");
  j.string(outputs::format_address(r.tuple, true, buffer));
  j.key("sport");
  j.number(r.tuple.local.port);
  j.key("daddr");
  j.string(outputs::format_address(r.tuple, false, buffer));
  j.key("dport");
  j.number(r.tuple.remote.port);
  j.key("local");
  j.string(endpoint_text(r.tuple, true));
  j.key("remote");
  j.string(endpoint_text(r.tuple, false));
  j.key("role");
  j.string(model::role_name(r.role));
  j.key("age_seconds");
  j.number(static_cast<double>(r.age_ns) / 1e9);
  j.key("age_is_lower_bound");
  j.boolean(r.age_is_lower_bound);
  j.key("joined_mid_life");
  j.boolean(r.joined_mid_life);
  // With XDP: how long the application has left the peer's FIN unanswered (it grows until
  // close()); the CLOSE_WAIT story with the packet that started it.
  if (r.state == TcpState::CloseWait && r.peer_fin_age_ns) {
    j.key("close_wait_reaction_seconds");
    j.number(static_cast<double>(r.peer_fin_age_ns) / 1e9);
  }
  j.key("drops");
  outputs::write_drops(j, r.drops);
}

void write_owner(JsonWriter& j, const Row& r, const std::vector<model::ProcessInfo>* holders,
                 const model::ProcessInfo* identity) {
  if (holders && !holders->empty()) {
    j.key("pid");
    j.number(holders->front().pid);
    j.key("comm");
    j.string(holders->front().comm);
    j.key("cgroup");
    j.string(holders->front().cgroup);
    j.key("pids");
    j.begin_array();
    for (const model::ProcessInfo& holder : *holders) j.number(holder.pid);
    j.end_array();
    j.key("owner_source");
    j.string("proc");
  } else if (r.owner) {
    j.key("pid");
    j.number(r.owner->pid);
    j.key("comm");
    j.string(r.owner->comm_view());
    j.key("cgroup");
    j.field_or_null(identity, &model::ProcessInfo::cgroup);
    j.key("pids");
    j.begin_array();
    j.number(r.owner->pid);
    j.end_array();
    j.key("owner_source");
    j.string("syscall");
  } else {
    j.key("pid");
    j.null();
    j.key("comm");
    j.null();
    j.key("cgroup");
    j.null();
    j.key("pids");
    j.begin_array();
    j.end_array();
    j.key("owner_source");
    j.null();
  }
}
}  // namespace

DaemonApi::DaemonApi(model::DaemonModel& model, std::mutex& model_mutex, DaemonApiHooks hooks,
                     Clock clock)
    : model_(model),
      mutex_(model_mutex),
      hooks_(std::move(hooks)),
      clock_(clock),
      web_(model, model_mutex, clock) {}

const model::KernelSocket* DaemonApi::KernelView::socket(uint64_t cookie) const {
  auto it = sockets.find(cookie);
  return it == sockets.end() ? nullptr : &it->second;
}

const std::vector<model::ProcessInfo>* DaemonApi::KernelView::holders_of(uint64_t cookie) const {
  const model::KernelSocket* s = socket(cookie);
  if (!s) return nullptr;
  auto it = holders.find(s->inode);
  return it == holders.end() ? nullptr : &it->second;
}

template <typename Row>
const model::ProcessInfo* DaemonApi::KernelView::identity_of(const Row& row) const {
  if (const auto* found = holders_of(row.cookie); found && !found->empty()) return &found->front();
  if (!row.owner) return nullptr;
  auto it = processes.find(row.owner->pid);
  return it == processes.end() ? nullptr : &it->second;
}

template <typename Row>
uint32_t DaemonApi::KernelView::netns_of(const Row& row) const {
  if (row.netns) return row.netns;
  if (socket(row.cookie)) return own_netns;
  return 0;
}

template <typename Rows>
void DaemonApi::filter_by_owner(Rows& rows, const KernelView& kernel, const OwnerFilter& filter,
                                std::size_t limit, bool& truncated) const {
  if (filter.any())
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [&](const Row& r) {
                                return !filter.matches(kernel.identity_of(r), kernel.netns_of(r));
                              }),
               rows.end());
  if (rows.size() > limit) {
    rows.resize(limit);
    truncated = true;
  }
}

// The one join of the model's rows with the kernel: their sockets in the kernel's table (one walk)
// and the processes holding them (/proc, by inode). Outside the model's lock.
template <typename Rows>
DaemonApi::KernelView DaemonApi::kernel_view(const Rows& rows, bool only_unowned) const {
  KernelView view;
  view.own_netns = hooks_.own_netns;
  // Owners a syscall named: their cgroup and namespace come from /proc by pid.
  if (hooks_.describe_process)
    for (const auto& r : rows)
      if (r.owner && !view.processes.count(r.owner->pid))
        if (auto info = hooks_.describe_process(r.owner->pid))
          view.processes.emplace(r.owner->pid, std::move(*info));
  auto wanted = [&](const auto& r) {
    return !r.mini_socket && !(only_unowned && r.owner && !r.owner_inherited);
  };
  if (std::none_of(rows.begin(), rows.end(), wanted)) return view;
  std::unordered_map<uint64_t, bool> asked;
  for (const auto& r : rows)
    if (wanted(r)) asked[r.cookie] = true;
  std::vector<uint64_t> inodes;
  for (auto& socket : hooks_.snapshot()) {
    if (!asked.count(socket.cookie)) continue;
    inodes.push_back(socket.inode);
    view.sockets[socket.cookie] = socket;
  }
  // Rows of other namespaces the walk could not list: their namespace's table through a
  // process in it (the row's owner, or another row's owner there), matched by their ends.
  if (hooks_.namespace_sockets) {
    std::unordered_map<uint32_t, uint32_t> reader;  // netns -> a pid in it
    for (const auto& [pid, info] : view.processes)
      if (info.netns && info.netns != view.own_netns) reader.emplace(info.netns, pid);
    std::map<std::pair<uint32_t, model::AddressFamily>, std::vector<model::KernelSocket>> tables;
    for (const auto& r : rows) {
      if (!wanted(r) || view.sockets.count(r.cookie) || !r.netns || r.netns == view.own_netns)
        continue;
      auto pid = reader.find(r.netns);
      if (pid == reader.end()) continue;
      auto key = std::pair{r.netns, r.tuple.family};
      auto table = tables.find(key);
      if (table == tables.end())
        table = tables.emplace(key, hooks_.namespace_sockets(pid->second, r.tuple.family)).first;
      for (const model::KernelSocket& socket : table->second) {
        if (socket.state != r.state || !model::same_ends(socket.tuple, r.tuple)) continue;
        model::KernelSocket found = socket;
        found.cookie = r.cookie;
        found.tuple.netns = r.netns;
        inodes.push_back(found.inode);
        view.sockets[r.cookie] = found;
        view.without_bytes.insert(r.cookie);
        break;
      }
    }
  }
  view.holders = hooks_.resolve_owners(inodes);
  return view;
}

// One JSON array of rows with their owners; with_kernel_state adds what the kernel's table says
// of each now (queues, inode, whether the owner still sends).
namespace {
template <typename KernelView>
void write_kernel_state(JsonWriter& j, const Row& r, const KernelView& kernel) {
  const model::KernelSocket* k = kernel.socket(r.cookie);
  j.key("recv_queue_bytes");
  j.field_or_null(k, &model::KernelSocket::recv_queue_bytes);
  j.key("send_queue_bytes");
  j.field_or_null(k, &model::KernelSocket::send_queue_bytes);
  j.key("inode");
  j.field_or_null(k, &model::KernelSocket::inode);
  j.key("activity");
  // A half-closed socket whose owner still writes is legitimate; an idle one is a leak.
  // Unknown for a socket found at start (what it sent before is not known), for one read from
  // another namespace's /proc table (which counts no bytes) and for one gone from the kernel's
  // table since.
  if (!k || !r.bytes_known_at_state_entry || kernel.without_bytes.count(r.cookie))
    j.string("unknown");
  else
    j.string(static_cast<uint32_t>(k->bytes_sent) != r.bytes_sent_at_state_entry ? "sending"
                                                                                 : "idle");
}

template <typename KernelView>
void write_rows(JsonWriter& j, const std::vector<Row>& rows, const KernelView& kernel,
                uint32_t host_netns, bool with_kernel_state) {
  j.begin_array();
  for (const Row& r : rows) {
    j.begin_object();
    write_row(j, r);
    const model::ProcessInfo* identity = kernel.identity_of(r);
    write_owner(j, r, kernel.holders_of(r.cookie), identity);
    outputs::write_identity_members(j, identity, kernel.netns_of(r), host_netns);
    if (with_kernel_state) write_kernel_state(j, r, kernel);
    j.end_object();
  }
  j.end_array();
}
}  // namespace

HttpAnswer DaemonApi::connections(const Params& params) {
  std::string error;
  auto query = parse_query(params, route(RouteId::Connections), error);
  if (!query) return bad_request(error);
  std::vector<Row> rows;
  bool truncated = false;
  uint64_t now = hooks_.monotonic_now_ns();
  // Owners are known only after /proc is read, outside the lock: with an owner filter every row of
  // the state and port is taken, and the limit applies after the filter.
  std::size_t take = query->owners.any() ? SIZE_MAX : query->limit;
  {
    std::lock_guard lock(mutex_);
    model_.table().for_each([&](const model::Connection& c) {
      if (c.state == TcpState::Close || c.state == TcpState::Unknown) return;
      if ((query->state && c.state != *query->state) || !query->port_matches(c.tuple)) return;
      if (rows.size() >= take) {
        truncated = true;
        return;
      }
      rows.push_back(row_of(c, now));
    });
    if (!query->state || *query->state == TcpState::TimeWait ||
        *query->state == TcpState::FinWait2) {
      model_.time_wait().for_each([&](const model::TimeWaitEntry& e) {
        TcpState state = model::TimeWaitTracker::state_of(e);
        if ((query->state && state != *query->state) || !query->port_matches(e.tuple)) return;
        if (query->owners.unit || query->owners.pod) return;  // a mini-socket has no owner
        if (rows.size() >= take) {
          truncated = true;
          return;
        }
        Row r;
        r.cookie = e.cookie;
        r.tuple = e.tuple;
        r.state = state;
        r.mini_socket = true;
        r.netns = e.tuple.netns;
        r.age_is_lower_bound = e.entered_ns == 0;
        r.age_ns = e.entered_ns && now > e.entered_ns ? now - e.entered_ns : 0;
        rows.push_back(r);
      });
    }
  }
  // Sockets whose owner no syscall revealed (seeded ones) are resolved through /proc. With an owner
  // filter every row's holders are needed to judge it.
  KernelView kernel = kernel_view(rows, /*only_unowned=*/!query->owners.any());
  filter_by_owner(rows, kernel, query->owners, query->limit, truncated);
  return {200, outputs::json_text([&](JsonWriter& body) {
            body.begin_object();
            body.key("count");
            body.number(rows.size());
            body.key("truncated");
            body.boolean(truncated);
            body.key("connections");
            write_rows(body, rows, kernel, hooks_.host_netns, /*with_kernel_state=*/false);
            body.end_object();
          })};
}

HttpAnswer DaemonApi::stuck(const Params& params) {
  std::string error;
  auto query = parse_query(params, route(RouteId::Stuck), error);
  if (!query) return bad_request(error);
  std::vector<Row> rows;
  bool truncated = false;
  std::vector<std::pair<TcpState, double>> thresholds;  // seconds
  uint64_t now = hooks_.monotonic_now_ns();
  std::size_t take = query->owners.any() ? SIZE_MAX : query->limit;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : model::find_stuck(model_.table(), model_.thresholds(), now)) {
      const model::Connection& c = *s.connection;
      if ((query->state && c.state != *query->state) || !query->port_matches(c.tuple)) continue;
      if (rows.size() >= take) {
        truncated = true;
        break;
      }
      rows.push_back(row_of(c, now));
    }
    for (TcpState state : model::kTrackedStates)
      if (uint64_t ns = model_.thresholds().for_state(state))
        thresholds.emplace_back(state, static_cast<double>(ns) / 1e9);
  }
  KernelView kernel = kernel_view(rows, /*only_unowned=*/false);
  filter_by_owner(rows, kernel, query->owners, query->limit, truncated);
  return {200, outputs::json_text([&](JsonWriter& body) {
            body.begin_object();
            body.key("thresholds_seconds");
            body.begin_object();
            for (const auto& [state, seconds] : thresholds) {
              body.name_key(model::state_name(state));
              body.fraction(seconds);
            }
            body.end_object();
            body.key("count");
            body.number(rows.size());
            body.key("truncated");
            body.boolean(truncated);
            body.key("stuck");
            write_rows(body, rows, kernel, hooks_.host_netns, /*with_kernel_state=*/true);
            body.end_object();
          })};
}

HttpAnswer DaemonApi::time_wait(const Params& params) {
  std::string error;
  auto query = parse_query(params, route(RouteId::TimeWait), error);
  if (!query) return bad_request(error);
  PortRange range = hooks_.port_range();
  struct PeerRow {
    model::PeerKey key;
    uint64_t count;
  };
  std::vector<PeerRow> peers;
  std::unique_lock lock(mutex_);
  auto total = model_.time_wait().size();
  auto awaiting_peer_fin = model_.time_wait().awaiting_peer_fin();
  for (const auto& [key, count] : model_.time_wait().per_peer())
    if (!query->port || key.remote.port == *query->port) peers.push_back({key, count});
  auto drift = model_.time_wait_drift();
  auto reconciliations = model_.reconciliations();
  auto refused_by_kernel_limit = model_.time_wait().refused_by_kernel_limit();
  lock.unlock();
  std::sort(peers.begin(), peers.end(),
            [](const PeerRow& a, const PeerRow& b) { return a.count > b.count; });
  bool truncated = peers.size() > query->limit;
  if (truncated) peers.resize(query->limit);
  return {200, outputs::json_text([&](JsonWriter& body) {
            body.begin_object();
            body.key("total");
            body.number(total);
            body.key("awaiting_peer_fin");
            body.number(awaiting_peer_fin);
            body.key("drift");
            body.begin_object();
            body.key("added");
            body.number(drift.added);
            body.key("removed");
            body.number(drift.removed);
            body.key("reconciliations");
            body.number(reconciliations);
            body.end_object();
            body.key("refused_by_kernel_limit");
            body.number(refused_by_kernel_limit);
            body.key("ephemeral_port_range");
            body.begin_object();
            body.key("low");
            body.number(range.low);
            body.key("high");
            body.number(range.high);
            body.key("size");
            body.number(range.size());
            body.end_object();
            body.key("truncated");
            body.boolean(truncated);
            body.key("by_peer");
            body.begin_array();
            for (const PeerRow& p : peers) {
              model::SocketTuple tuple;
              tuple.family = p.key.family;
              tuple.local.address = p.key.local_address;
              tuple.remote = p.key.remote;
              char buffer[64];
              body.begin_object();
              body.key("family");
              body.string(tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4");
              body.key("saddr");
              body.string(outputs::format_address(tuple, true, buffer));
              body.key("daddr");
              body.string(outputs::format_address(tuple, false, buffer));
              body.key("dport");
              body.number(tuple.remote.port);
              body.key("remote");
              body.string(endpoint_text(tuple, false));
              body.key("count");
              body.number(p.count);
              body.key("port_range_usage");
              body.fraction(range.size() ? static_cast<double>(p.count) / range.size() : 0.0);
              body.end_object();
            }
            body.end_array();
            body.end_object();
          })};
}

HttpAnswer DaemonApi::closed(const Params& params) {
  std::string error;
  auto query = parse_query(params, route(RouteId::Closed), error);
  if (!query) return bad_request(error);
  std::vector<model::ClosedConnection> rows;
  bool truncated = false;
  std::size_t take = query->owners.any() ? SIZE_MAX : query->limit;
  {
    std::lock_guard lock(mutex_);  // copied under the lock, rendered after it
    model_.for_each_recent_close([&](const model::ClosedConnection& closed) {
      const auto& k = closed.classification;
      if (!query->port_matches(closed.connection.tuple)) return;
      if ((query->outcome && k.outcome != *query->outcome) ||
          (query->verdict && k.verdict != *query->verdict))
        return;
      if (rows.size() >= take) {
        truncated = true;
        return;
      }
      rows.push_back(closed);
    });
  }
  // The owner's identity as /proc tells it now: null once the process has exited.
  std::unordered_map<uint32_t, model::ProcessInfo> processes;
  if (hooks_.describe_process)
    for (const auto& closed : rows)
      if (uint32_t pid = closed.connection.owner_pid();
          closed.connection.has_owner() && !processes.count(pid))
        if (auto info = hooks_.describe_process(pid)) processes.emplace(pid, std::move(*info));
  auto identity_of = [&](const model::ClosedConnection& closed) -> const model::ProcessInfo* {
    if (!closed.connection.has_owner()) return nullptr;
    auto it = processes.find(closed.connection.owner_pid());
    return it == processes.end() ? nullptr : &it->second;
  };
  if (query->owners.any())
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [&](const model::ClosedConnection& closed) {
                                return !query->owners.matches(identity_of(closed),
                                                              closed.connection.tuple.netns);
                              }),
               rows.end());
  if (rows.size() > query->limit) {
    rows.resize(query->limit);
    truncated = true;
  }
  return {200, outputs::json_text([&](JsonWriter& body) {
            body.begin_object();
            body.key("closed");
            body.begin_array();
            for (const model::ClosedConnection& closed : rows) {
              body.begin_object();
              outputs::write_close_members(body, closed.connection, closed.classification,
                                           clock_.to_epoch_ns(closed.closed_ns), model_.xdp());
              outputs::write_identity_members(body, identity_of(closed),
                                              closed.connection.tuple.netns, hooks_.host_netns);
              body.end_object();
            }
            body.end_array();
            body.key("count");
            body.number(rows.size());
            body.key("truncated");
            body.boolean(truncated);
            body.end_object();
          })};
}

HttpAnswer DaemonApi::healthz() {
  HealthInputs health = hooks_.health();
  bool attached = !health.programs.empty() &&
                  std::all_of(health.programs.begin(), health.programs.end(),
                              [](const ProgramHealth& p) { return p.attached; }) &&
                  std::all_of(health.xdp.begin(), health.xdp.end(),
                              [](const InterfaceHealth& i) { return i.attached; });
  std::unique_lock lock(mutex_);
  std::size_t connections_tracked = model_.table().size();
  std::size_t connections_capacity = model_.table().capacity();
  std::size_t time_wait_tracked = model_.time_wait().size();
  lock.unlock();
  const NamespaceWalkHealth& ns = health.namespaces;
  return {attached ? 200 : 503, outputs::json_text([&](JsonWriter& body) {
            body.begin_object();
            body.key("status");
            body.string(!attached ? "down" : health.events_lost_per_second > 0 ? "degraded" : "ok");
            body.key("programs");
            body.begin_array();
            for (const auto& p : health.programs) {
              body.begin_object();
              body.key("name");
              body.string(p.name);
              body.key("attached");
              body.boolean(p.attached);
              body.end_object();
            }
            body.end_array();
            body.key("xdp");
            body.begin_array();
            for (const auto& i : health.xdp) {
              body.begin_object();
              body.key("iface");
              body.string(i.name);
              body.key("mode");
              body.string(i.mode);
              body.key("attached");
              body.boolean(i.attached);
              body.key("dispatcher");
              body.boolean(i.dispatcher);
              body.end_object();
            }
            body.end_array();
            body.key("events_lost_total");
            body.number(health.events_lost_total);
            body.key("events_lost_per_second");
            body.fraction(health.events_lost_per_second);
            body.key("last_snapshot_age_seconds");
            body.fraction(health.last_snapshot_age_seconds);
            body.key("cannot_report");
            body.begin_array();
            for (const std::string& what : health.cannot_report) body.string(what);
            body.end_array();
            body.key("namespaces");
            body.begin_object();
            body.key("walk");
            body.string(ns.enter ? "iterator, entering each namespace"
                                 : "each namespace's /proc table");
            body.key("entered");
            body.number(ns.entered);
            body.key("proc_tables");
            body.number(ns.proc_tables);
            body.key("not_walked");
            body.number(ns.not_walked);
            body.key("walk_seconds");
            body.fraction(ns.walk_seconds);
            body.key("enter_error");
            if (ns.enter_error.empty())
              body.null();
            else
              body.string(ns.enter_error);
            body.end_object();
            body.key("connections_tracked");
            body.number(connections_tracked);
            body.key("connections_capacity");
            body.number(connections_capacity);
            body.key("time_wait_tracked");
            body.number(time_wait_tracked);
            body.end_object();
          })};
}

HttpAnswer DaemonApi::serve(RouteId id, const Params& params) {
  switch (id) {
    case RouteId::Metrics:
      return metrics(params);
    case RouteId::Healthz:
      return healthz_route(params);
    case RouteId::Connections:
      return connections(params);
    case RouteId::Stuck:
      return stuck(params);
    case RouteId::TimeWait:
      return time_wait(params);
    case RouteId::Closed:
      return closed(params);
    case RouteId::Listeners:
      return listeners(params);
  }
  return error_answer(404, "no such endpoint");  // not reached: every route has its case
}

HttpAnswer DaemonApi::handle(std::string_view method, std::string_view path, const Params& params) {
  if (WebUi::serves(path)) {
    if (method != "GET" && method != "HEAD") {
      HttpAnswer answer = error_answer(
          405, fmt::format("{} takes GET or HEAD, not {}", std::string(path), std::string(method)));
      answer.allow = "GET, HEAD";
      return answer;
    }
    std::string error;
    auto query = parse_query(params, kWebPageParameters, "the web page", error);
    if (!query) return bad_request(error);
    auto format = params.find("format");
    auto answer = web_.route(path, format == params.end() ? "" : format->second);
    return answer ? *answer : error_answer(404, "no such page: " + std::string(path));
  }
  const Route* route = find_route(path);
  if (!route) {
    return {404, outputs::json_text([&](JsonWriter& body) {
              body.begin_object();
              body.key("error");
              body.string("no such endpoint: " + std::string(path));
              body.key("endpoints");
              body.begin_array();
              for (std::string_view endpoint : kWebPageEndpoints) body.string(endpoint);
              for (const Route& r : kRoutes) body.string(r.path);
              body.end_array();
              body.end_object();
            })};
  }
  if (method != "GET" && method != "HEAD") {
    HttpAnswer answer = error_answer(
        405, fmt::format("{} takes GET or HEAD, not {}", route->path, std::string(method)));
    answer.allow = "GET, HEAD";
    return answer;
  }
  // A health probe answers at once; every other route reads the live view.
  if (hooks_.before_reading && route->id != RouteId::Healthz) hooks_.before_reading();
  return serve(route->id, params);
}

HttpAnswer DaemonApi::metrics(const Params& params) {
  std::string error;
  if (!parse_query(params, route(RouteId::Metrics), error)) return bad_request(error);
  return {200, hooks_.metrics ? hooks_.metrics() : std::string(),
          "text/plain; version=0.0.4; charset=utf-8"};
}

HttpAnswer DaemonApi::listeners(const Params& params) {
  std::string error;
  if (!parse_query(params, route(RouteId::Listeners), error)) return bad_request(error);
  if (!hooks_.listeners) return error_answer(404, "listeners are not served here");
  return hooks_.listeners(params);
}

HttpAnswer DaemonApi::healthz_route(const Params& params) {
  std::string error;
  if (!parse_query(params, route(RouteId::Healthz), error)) return bad_request(error);
  return healthz();
}

}  // namespace synfin::api
