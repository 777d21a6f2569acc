#include "api/daemon_api.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <iterator>

#include <nlohmann/json.hpp>

#include "model/proc_net_tcp.h"

namespace synfin::api {

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
  uint32_t bytes_sent_at_state_entry = 0;  // its low 32 bits
  bool bytes_known_at_state_entry = false;
  uint64_t peer_fin_age_ns = 0;  // XDP saw the peer's FIN this long ago (0: not seen)
  model::DropCounts drops;       // kernel drops on this connection, by reason
  bool mini_socket = false;      // the kernel's TIME_WAIT mini-socket: no inode, no owner
  uint32_t netns = 0;            // from its records; 0: not known (a socket found by a walk)
  // The owner is its listener's (no step of its own named one): /proc says who holds it now.
  bool owner_inherited = false;
};

struct Query {
  std::optional<TcpState> state;
  std::optional<uint16_t> port;
  std::optional<model::Verdict> verdict;
  std::optional<model::Outcome> outcome;
  std::size_t limit = DaemonApi::kMaxLimit;
  OwnerFilter owners;  // ?unit= ?pod= ?netns=
};

// Invalid UTF-8 in a name (any process can set its own) or in an echoed parameter becomes
// U+FFFD: an answer is never refused because of what it reports.
std::string dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpAnswer error_answer(int status, const std::string& message) {
  return {status, dump(Json{{"error", message}})};
}

HttpAnswer bad_request(const std::string& message) {
  return error_answer(400, message);
}

// Enumerations are matched case-insensitively, '-' standing for '_' (close-wait, CLOSE_WAIT).
std::string enum_key(std::string_view text) {
  std::string key(text);
  std::transform(key.begin(), key.end(), key.begin(), [](char c) {
    return c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  return key;
}

template <typename Enum, std::size_t N, typename NameOf>
std::optional<Enum> parse_enum(std::string_view text, const std::array<Enum, N>& values,
                               NameOf name_of) {
  std::string key = enum_key(text);
  for (Enum value : values)
    if (enum_key(name_of(value)) == key) return value;
  return std::nullopt;
}

template <typename Enum, std::size_t N, typename NameOf>
std::string names_of(const std::array<Enum, N>& values, NameOf name_of) {
  std::string names;
  for (Enum value : values) names += (names.empty() ? "" : ", ") + std::string(name_of(value));
  return names;
}

constexpr std::array<model::Verdict, 3> kVerdicts = {model::Verdict::Valid, model::Verdict::Invalid,
                                                     model::Verdict::Incomplete};

std::array<model::Outcome, model::kOutcomeCount> all_outcomes() {
  std::array<model::Outcome, model::kOutcomeCount> outcomes{};
  for (std::size_t i = 0; i < outcomes.size(); ++i) outcomes[i] = static_cast<model::Outcome>(i);
  return outcomes;
}

// Digits only: no sign, no space, no hex; out of [low, high] or overflowing is an error too.
std::optional<uint64_t> bounded_number(std::string_view text, uint64_t low, uint64_t high) {
  uint64_t value = 0;
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
    return std::nullopt;
  return value;
}

std::string in_quotes(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// The one rule for every parameter of every route (see DaemonApi::handle).
std::optional<Query> parse_query(const DaemonApi::Params& params,
                                 std::initializer_list<std::string_view> accepted,
                                 std::string_view route, std::string& error) {
  Query q;
  for (const auto& [name, value] : params) {
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
      std::string list;
      for (std::string_view a : accepted) list += (list.empty() ? "" : ", ") + std::string(a);
      error = fmt::format("unknown parameter {} ({} takes {})", in_quotes(name), route,
                          list.empty() ? "none" : list);
      return std::nullopt;
    }
    if (params.count(name) > 1) {
      error = fmt::format("parameter {} given {} times", in_quotes(name), params.count(name));
      return std::nullopt;
    }
    if (value.empty()) {
      error = fmt::format("parameter {} is empty", in_quotes(name));
      return std::nullopt;
    }
    if (name == "state") {
      q.state = model::parse_state(enum_key(value));
      if (!q.state) {
        error = "unknown state " + in_quotes(value) + " (use the kernel's names, e.g. CLOSE_WAIT)";
        return std::nullopt;
      }
    } else if (name == "port") {
      auto port = bounded_number(value, 1, 65535);
      if (!port) {
        error = "port must be a number 1-65535, not " + in_quotes(value);
        return std::nullopt;
      }
      q.port = static_cast<uint16_t>(*port);
    } else if (name == "limit") {
      auto limit = bounded_number(value, 1, DaemonApi::kMaxLimit);
      if (!limit) {
        error = fmt::format("limit must be a number 1-{}, not {}", DaemonApi::kMaxLimit,
                            in_quotes(value));
        return std::nullopt;
      }
      q.limit = static_cast<std::size_t>(*limit);
    } else if (name == "verdict") {
      q.verdict = parse_enum(value, kVerdicts, model::verdict_name);
      if (!q.verdict) {
        error = "unknown verdict " + in_quotes(value) + " (" +
                names_of(kVerdicts, model::verdict_name) + ")";
        return std::nullopt;
      }
    } else if (name == "unit" || name == "pod" || name == "netns") {
      if (!q.owners.set(name, value, error)) return std::nullopt;
    } else if (name == "outcome") {
      q.outcome = parse_enum(value, all_outcomes(), model::outcome_name);
      if (!q.outcome) {
        error = "unknown outcome " + in_quotes(value) + " (" +
                names_of(all_outcomes(), model::outcome_name) + ")";
        return std::nullopt;
      }
    }
  }
  return q;
}

bool port_matches(const Query& q, const model::SocketTuple& tuple) {
  return !q.port || tuple.local.port == *q.port || tuple.remote.port == *q.port;
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

// Rows are written straight into the answer with fmt (names escaped by append_json_string,
// the same escaping as the trace lines): a listing of 10 000 sockets costs a few ms, not the
// tens of ms a tree of nlohmann::json nodes per field takes.
class JsonObject {
 public:
  explicit JsonObject(fmt::memory_buffer& out) : out_(out) { out_.push_back('{'); }
  ~JsonObject() { out_.push_back('}'); }
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;

  void string(std::string_view name, std::string_view value) {
    key(name);
    outputs::append_json_string(out_, value);
  }
  template <typename Number>
  void number(std::string_view name, Number value) {
    key(name);
    fmt::format_to(std::back_inserter(out_), "{}", value);
  }
  void boolean(std::string_view name, bool value) {
    key(name);
    outputs::append_json_fragment(out_, value ? "true" : "false");
  }
  void null(std::string_view name) {
    key(name);
    outputs::append_json_fragment(out_, "null");
  }
  fmt::memory_buffer& raw(std::string_view name) {  // the caller appends one JSON value
    key(name);
    return out_;
  }
  fmt::memory_buffer& members() {  // the caller appends members ("a":1,"b":2), at least one
    if (!first_) out_.push_back(',');
    first_ = false;
    return out_;
  }

 private:
  void key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    outputs::append_json_string(out_, name);
    out_.push_back(':');
  }
  fmt::memory_buffer& out_;
  bool first_ = true;
};

void write_row(JsonObject& j, const Row& r) {
  char buffer[64];
  j.string("conn", fmt::format("{:x}", r.cookie));
  j.string("state", model::state_name(r.state));
  j.string("family", r.tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4");
  j.string("saddr", outputs::format_address(r.tuple, true, buffer));
  j.number("sport", r.tuple.local.port);
  j.string("daddr", outputs::format_address(r.tuple, false, buffer));
  j.number("dport", r.tuple.remote.port);
  j.string("local", endpoint_text(r.tuple, true));
  j.string("remote", endpoint_text(r.tuple, false));
  j.string("role", model::role_name(r.role));
  j.number("age_seconds", static_cast<double>(r.age_ns) / 1e9);
  j.boolean("age_is_lower_bound", r.age_is_lower_bound);
  j.boolean("joined_mid_life", r.joined_mid_life);
  // With XDP: how long the application has left the peer's FIN unanswered (it grows until
  // close()); the CLOSE_WAIT story with the packet that started it.
  if (r.state == TcpState::CloseWait && r.peer_fin_age_ns)
    j.number("close_wait_reaction_seconds", static_cast<double>(r.peer_fin_age_ns) / 1e9);
  outputs::append_drops_json(j.raw("drops"), r.drops);
}

void write_owner(JsonObject& j, const Row& r, const std::vector<model::ProcessInfo>* holders,
                 const model::ProcessInfo* identity) {
  if (holders && !holders->empty()) {
    j.number("pid", holders->front().pid);
    j.string("comm", holders->front().comm);
    j.string("cgroup", holders->front().cgroup);
    auto& pids = j.raw("pids");
    pids.push_back('[');
    for (std::size_t i = 0; i < holders->size(); ++i) {
      if (i) pids.push_back(',');
      fmt::format_to(std::back_inserter(pids), "{}", (*holders)[i].pid);
    }
    pids.push_back(']');
    j.string("owner_source", "proc");
  } else if (r.owner) {
    j.number("pid", r.owner->pid);
    j.string("comm", r.owner->comm_view());
    if (identity)
      j.string("cgroup", identity->cgroup);
    else
      j.null("cgroup");
    fmt::format_to(std::back_inserter(j.raw("pids")), "[{}]", r.owner->pid);
    j.string("owner_source", "syscall");
  } else {
    j.null("pid");
    j.null("comm");
    j.null("cgroup");
    outputs::append_json_fragment(j.raw("pids"), "[]");
    j.null("owner_source");
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
void write_rows(fmt::memory_buffer& list, const std::vector<Row>& rows, const KernelView& kernel,
                uint32_t host_netns, bool with_kernel_state) {
  list.push_back('[');
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (i) list.push_back(',');
    JsonObject j(list);
    write_row(j, r);
    const model::ProcessInfo* identity = kernel.identity_of(r);
    write_owner(j, r, kernel.holders_of(r.cookie), identity);
    append_identity_members(j.members(), identity, kernel.netns_of(r), host_netns);
    if (!with_kernel_state) continue;
    if (const model::KernelSocket* k = kernel.socket(r.cookie)) {
      j.number("recv_queue_bytes", k->recv_queue_bytes);
      j.number("send_queue_bytes", k->send_queue_bytes);
      j.number("inode", k->inode);
      // A half-closed socket whose owner still writes is legitimate; an idle one is a leak.
      // Unknown for a socket found at start (what it sent before is not known) and for one
      // read from another namespace's /proc table (which counts no bytes).
      if (!r.bytes_known_at_state_entry || kernel.without_bytes.count(r.cookie))
        j.string("activity", "unknown");
      else
        j.string("activity", static_cast<uint32_t>(k->bytes_sent) != r.bytes_sent_at_state_entry
                                 ? "sending"
                                 : "idle");
    } else {
      j.null("recv_queue_bytes");
      j.null("send_queue_bytes");
      j.null("inode");
      j.string("activity", "unknown");  // gone from the kernel's table since
    }
  }
  list.push_back(']');
}
}  // namespace

HttpAnswer DaemonApi::connections(const Params& params) {
  std::string error;
  auto query = parse_query(params, {"state", "port", "limit", "unit", "pod", "netns"},
                           "/api/v1/connections", error);
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
      if ((query->state && c.state != *query->state) || !port_matches(*query, c.tuple)) return;
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
        if ((query->state && state != *query->state) || !port_matches(*query, e.tuple)) return;
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
  fmt::memory_buffer out;
  {
    JsonObject body(out);
    body.number("count", rows.size());
    body.boolean("truncated", truncated);
    write_rows(body.raw("connections"), rows, kernel, hooks_.host_netns,
               /*with_kernel_state=*/false);
  }
  return {200, fmt::to_string(out)};
}

HttpAnswer DaemonApi::stuck(const Params& params) {
  std::string error;
  auto query = parse_query(params, {"state", "port", "limit", "unit", "pod", "netns"},
                           "/api/v1/stuck", error);
  if (!query) return bad_request(error);
  std::vector<Row> rows;
  bool truncated = false;
  Json thresholds = Json::object();
  uint64_t now = hooks_.monotonic_now_ns();
  std::size_t take = query->owners.any() ? SIZE_MAX : query->limit;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : model::find_stuck(model_.table(), model_.thresholds(), now)) {
      const model::Connection& c = *s.connection;
      if ((query->state && c.state != *query->state) || !port_matches(*query, c.tuple)) continue;
      if (rows.size() >= take) {
        truncated = true;
        break;
      }
      rows.push_back(row_of(c, now));
    }
    for (TcpState state : model::kTrackedStates)
      if (uint64_t ns = model_.thresholds().for_state(state))
        thresholds[std::string(model::state_name(state))] = static_cast<double>(ns) / 1e9;
  }
  KernelView kernel = kernel_view(rows, /*only_unowned=*/false);
  filter_by_owner(rows, kernel, query->owners, query->limit, truncated);
  fmt::memory_buffer out;
  {
    JsonObject body(out);
    outputs::append_json_fragment(body.raw("thresholds_seconds"), dump(thresholds));
    body.number("count", rows.size());
    body.boolean("truncated", truncated);
    write_rows(body.raw("stuck"), rows, kernel, hooks_.host_netns,
               /*with_kernel_state=*/true);
  }
  return {200, fmt::to_string(out)};
}

HttpAnswer DaemonApi::time_wait(const Params& params) {
  std::string error;
  auto query = parse_query(params, {"port", "limit"}, "/api/v1/timewait", error);
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
    body["awaiting_peer_fin"] = model_.time_wait().awaiting_peer_fin();
    for (const auto& [key, count] : model_.time_wait().per_peer())
      if (!query->port || key.remote.port == *query->port) peers.push_back({key, count});
    body["drift"] = {{"added", model_.time_wait_drift().added},
                     {"removed", model_.time_wait_drift().removed},
                     {"reconciliations", model_.reconciliations()}};
    body["refused_by_kernel_limit"] = model_.time_wait().refused_by_kernel_limit();
  }
  std::sort(peers.begin(), peers.end(),
            [](const PeerRow& a, const PeerRow& b) { return a.count > b.count; });
  body["ephemeral_port_range"] = {{"low", range.low}, {"high", range.high}, {"size", range.size()}};
  body["truncated"] = false;
  Json list = Json::array();
  for (const PeerRow& p : peers) {
    if (list.size() >= query->limit) {
      body["truncated"] = true;
      break;
    }
    model::SocketTuple tuple;
    tuple.family = p.key.family;
    tuple.local.address = p.key.local_address;
    tuple.remote = p.key.remote;
    char buffer[64];
    Json j;
    j["family"] = tuple.family == model::AddressFamily::IPv6 ? "ipv6" : "ipv4";
    j["saddr"] = std::string(outputs::format_address(tuple, true, buffer));
    j["daddr"] = std::string(outputs::format_address(tuple, false, buffer));
    j["dport"] = tuple.remote.port;
    j["remote"] = endpoint_text(tuple, false);
    j["count"] = p.count;
    j["port_range_usage"] = range.size() ? static_cast<double>(p.count) / range.size() : 0.0;
    list.push_back(std::move(j));
  }
  body["by_peer"] = std::move(list);
  return {200, dump(body)};
}

HttpAnswer DaemonApi::closed(const Params& params) {
  std::string error;
  auto query = parse_query(params, {"port", "verdict", "outcome", "limit", "unit", "pod", "netns"},
                           "/api/v1/closed", error);
  if (!query) return bad_request(error);
  std::vector<model::ClosedConnection> rows;
  bool truncated = false;
  std::size_t take = query->owners.any() ? SIZE_MAX : query->limit;
  {
    std::lock_guard lock(mutex_);  // copied under the lock, rendered after it
    model_.for_each_recent_close([&](const model::ClosedConnection& closed) {
      const auto& k = closed.classification;
      if (!port_matches(*query, closed.connection.tuple)) return;
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
  fmt::memory_buffer out;
  outputs::append_json_fragment(out, R"({"closed":[)");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out.push_back(',');
    outputs::append_close_json(out, rows[i].connection, rows[i].classification,
                               clock_.to_epoch_ns(rows[i].closed_ns), model_.xdp());
    // The close object's last byte is its closing brace: the identity goes inside it.
    out.resize(out.size() - 1);
    out.push_back(',');
    append_identity_members(out, identity_of(rows[i]), rows[i].connection.tuple.netns,
                            hooks_.host_netns);
    out.push_back('}');
  }
  outputs::append_json_fragment(
      out, fmt::format(R"(],"count":{},"truncated":{}}})", rows.size(), truncated));
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
  const NamespaceWalkHealth& ns = health.namespaces;
  body["namespaces"] = {
      {"walk", ns.enter ? "iterator, entering each namespace" : "each namespace's /proc table"},
      {"entered", ns.entered},
      {"proc_tables", ns.proc_tables},
      {"not_walked", ns.not_walked},
      {"walk_seconds", ns.walk_seconds},
      {"enter_error", ns.enter_error.empty() ? Json(nullptr) : Json(ns.enter_error)}};
  {
    std::lock_guard lock(mutex_);
    body["connections_tracked"] = model_.table().size();
    body["connections_capacity"] = model_.table().capacity();
    body["time_wait_tracked"] = model_.time_wait().size();
  }
  return {attached ? 200 : 503, dump(body)};
}

HttpAnswer DaemonApi::handle(std::string_view method, std::string_view path, const Params& params) {
  struct Route {
    std::string_view path;
    HttpAnswer (DaemonApi::*serve)(const Params&);
  };
  static constexpr Route kRoutes[] = {
      {"/metrics", &DaemonApi::metrics},
      {"/healthz", &DaemonApi::healthz_route},
      {"/api/v1/connections", &DaemonApi::connections},
      {"/api/v1/stuck", &DaemonApi::stuck},
      {"/api/v1/timewait", &DaemonApi::time_wait},
      {"/api/v1/closed", &DaemonApi::closed},
      {"/api/v1/listeners", &DaemonApi::listeners},
  };
  if (WebUi::serves(path)) {
    if (method != "GET" && method != "HEAD") {
      HttpAnswer answer = error_answer(
          405, fmt::format("{} takes GET or HEAD, not {}", std::string(path), std::string(method)));
      answer.allow = "GET, HEAD";
      return answer;
    }
    std::string error;
    auto query = parse_query(params, {"format"}, "the web page", error);
    if (!query) return bad_request(error);
    auto format = params.find("format");
    auto answer = web_.route(path, format == params.end() ? "" : format->second);
    return answer ? *answer : error_answer(404, "no such page: " + std::string(path));
  }
  const Route* route = nullptr;
  for (const Route& r : kRoutes)
    if (r.path == path) route = &r;
  if (!route) {
    Json endpoints = Json::array({"/", "/conn/<cookie>", "/api/v1/ladder/<cookie>"});
    for (const Route& r : kRoutes) endpoints.push_back(r.path);
    return {404, dump(Json{{"error", "no such endpoint: " + std::string(path)},
                           {"endpoints", std::move(endpoints)}})};
  }
  if (method != "GET" && method != "HEAD") {
    HttpAnswer answer = error_answer(
        405, fmt::format("{} takes GET or HEAD, not {}", route->path, std::string(method)));
    answer.allow = "GET, HEAD";
    return answer;
  }
  // A health probe answers at once; every other route reads the live view.
  if (hooks_.before_reading && route->serve != &DaemonApi::healthz_route) hooks_.before_reading();
  return (this->*route->serve)(params);
}

HttpAnswer DaemonApi::metrics(const Params& params) {
  std::string error;
  if (!parse_query(params, {}, "/metrics", error)) return bad_request(error);
  return {200, hooks_.metrics ? hooks_.metrics() : std::string(),
          "text/plain; version=0.0.4; charset=utf-8"};
}

HttpAnswer DaemonApi::listeners(const Params& params) {
  std::string error;
  if (!parse_query(params, {"port", "unit", "pod", "netns"}, "/api/v1/listeners", error))
    return bad_request(error);
  if (!hooks_.listeners) return error_answer(404, "listeners are not served here");
  return hooks_.listeners(params);
}

HttpAnswer DaemonApi::healthz_route(const Params& params) {
  std::string error;
  if (!parse_query(params, {}, "/healthz", error)) return bad_request(error);
  return healthz();
}

}  // namespace synfin::api
