// The API's edges: every route x method, one validation rule for every parameter, and names
// that are not text (any local user chooses its process name) rendered, never refused.
#include "api/daemon_api.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "event_builders.h"

namespace synfin::api {
namespace {

using model::KernelSocket;
using model::ProcessInfo;
using S = model::TcpState;
using testing::Sequence;
constexpr uint64_t kSecond = 1'000'000'000ull;
const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD

class DaemonApiEdgesTest : public ::testing::Test {
 protected:
  DaemonApiEdgesTest() : model_({}) {
    hooks_.monotonic_now_ns = [this] { return now_; };
    hooks_.snapshot = [this] { return kernel_; };
    hooks_.resolve_owners = [this](std::span<const uint64_t> inodes) {
      std::unordered_map<uint64_t, std::vector<ProcessInfo>> out;
      for (uint64_t inode : inodes)
        if (auto it = owners_.find(inode); it != owners_.end()) out[inode] = {it->second};
      return out;
    };
    hooks_.port_range = [] { return PortRange{32768, 60999}; };
    hooks_.health = [] {
      HealthInputs h;
      h.programs = {{"on_inet_sock_set_state", true}};
      return h;
    };
    hooks_.metrics = [] { return std::string("synfin_build_info{version=\"test\"} 1\n"); };
  }

  void apply(const Sequence& sequence) {
    for (const model::Event& e : sequence.events()) model_.apply(e);
  }
  // A server socket in CLOSE_WAIT since t=1 ms, on port 8443; its inode is `inode`.
  void add_close_wait(uint64_t cookie, uint16_t remote_port, uint64_t inode) {
    apply(Sequence(cookie, testing::loopback_tuple(8443, remote_port))
              .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
    KernelSocket k;
    k.cookie = cookie;
    k.inode = inode;
    k.state = S::CloseWait;
    kernel_.push_back(k);
  }
  DaemonApi api() { return DaemonApi(model_, mutex_, hooks_, {}); }

  model::DaemonModel model_;
  std::mutex mutex_;
  DaemonApiHooks hooks_;
  uint64_t now_ = 100 * kSecond;
  std::vector<KernelSocket> kernel_;
  std::unordered_map<uint64_t, ProcessInfo> owners_;
};

nlohmann::json parse(const HttpAnswer& answer) {
  return nlohmann::json::parse(answer.body);  // throws on anything that is not JSON
}

TEST_F(DaemonApiEdgesTest, EveryRouteAndMethod) {
  const std::string known[] = {"/",
                               "/static/app.js",
                               "/static/style.css",
                               "/metrics",
                               "/healthz",
                               "/api/v1/connections",
                               "/api/v1/stuck",
                               "/api/v1/timewait",
                               "/api/v1/closed"};
  const std::string unknown[] = {"/nope",     "/api/v1",       "/api/v1/connections/",
                                 "/METRICS",  "/api/v2/stuck", "",
                                 "/healthz?", "/\xff"};
  const std::string methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  auto api = this->api();
  for (const std::string& method : methods) {
    bool readable = method == "GET" || method == "HEAD";
    for (const std::string& path : known) {
      HttpAnswer answer = api.handle(method, path, {});
      SCOPED_TRACE(method + " " + path);
      EXPECT_EQ(answer.status, readable ? 200 : 405);
      if (readable) continue;
      EXPECT_EQ(answer.allow, "GET, HEAD");
      EXPECT_EQ(answer.content_type, "application/json");
      EXPECT_TRUE(parse(answer)["error"].is_string());
    }
    // The web page's connection routes: a cookie not known is 404 (JSON), not a crash.
    for (std::string path : {"/conn/abc", "/api/v1/ladder/abc", "/api/v1/ladder/zz"}) {
      HttpAnswer answer = api.handle(method, path, {});
      SCOPED_TRACE(method + " " + path);
      EXPECT_EQ(answer.status, !readable ? 405 : path.ends_with("zz") ? 400 : 404);
      if (path.starts_with("/conn/") && readable) continue;  // an HTML page saying so
      EXPECT_TRUE(parse(answer)["error"].is_string());
      EXPECT_TRUE(parse(answer)["error"].is_string());
    }
    for (const std::string& path : unknown) {
      HttpAnswer answer = api.handle(method, path, {});
      SCOPED_TRACE(method + " " + path);
      EXPECT_EQ(answer.status, 404);
      EXPECT_TRUE(answer.allow.empty());
      auto body = parse(answer);
      EXPECT_TRUE(body["error"].is_string());
      EXPECT_EQ(body["endpoints"],
                nlohmann::json::array({"/", "/conn/<cookie>", "/api/v1/ladder/<cookie>", "/metrics",
                                       "/healthz", "/api/v1/connections", "/api/v1/stuck",
                                       "/api/v1/timewait", "/api/v1/closed", "/api/v1/listeners"}));
    }
  }
  EXPECT_EQ(api.handle("GET", "/metrics", {}).content_type,
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(api.handle("GET", "/metrics", {}).body.find("synfin_build_info"), std::string::npos);
}

TEST_F(DaemonApiEdgesTest, OneRuleForEveryParameter) {
  struct Case {
    std::string path;
    DaemonApi::Params params;
    int status;
  };
  const Case cases[] = {
      // state: the kernel's names, any case, '-' for '_'
      {"/api/v1/connections", {{"state", "CLOSE_WAIT"}}, 200},
      {"/api/v1/connections", {{"state", "close-wait"}}, 200},
      {"/api/v1/stuck", {{"state", "time_wait"}}, 200},
      {"/api/v1/connections", {{"state", "BOGUS"}}, 400},
      {"/api/v1/stuck", {{"state", "\xff"}}, 400},
      {"/api/v1/stuck", {{"state", ""}}, 400},
      {"/api/v1/listeners", {{"state", "LISTEN"}}, 400},  // takes port only
      {"/api/v1/listeners", {{"port", "0"}}, 400},
      // owner filters: a unit or pod is any text; netns an inode number
      {"/api/v1/stuck", {{"unit", "nginx.service"}}, 200},
      {"/api/v1/connections", {{"pod", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}, 200},
      {"/api/v1/closed", {{"netns", "4026531840"}}, 200},
      {"/api/v1/stuck", {{"netns", "abc"}}, 400},
      {"/api/v1/stuck", {{"netns", "0"}}, 400},
      {"/api/v1/stuck", {{"netns", "99999999999"}}, 400},
      {"/api/v1/connections", {{"unit", ""}}, 400},
      {"/api/v1/timewait", {{"unit", "x.service"}}, 400},
      // verdict and outcome: the same rule as state
      {"/api/v1/closed", {{"verdict", "invalid"}}, 200},
      {"/api/v1/closed", {{"verdict", "INCOMPLETE"}}, 200},
      {"/api/v1/closed", {{"verdict", "bogus"}}, 400},
      {"/api/v1/closed", {{"verdict", ""}}, 400},
      {"/api/v1/closed", {{"outcome", "active-close"}}, 200},
      {"/api/v1/closed", {{"outcome", "listener_closed"}}, 200},
      {"/api/v1/closed", {{"outcome", "closed"}}, 400},
      // numbers: decimal digits in range, nothing else
      {"/api/v1/connections", {{"port", "8443"}}, 200},
      {"/api/v1/timewait", {{"port", "65535"}}, 200},
      {"/api/v1/closed", {{"port", "1"}}, 200},
      {"/api/v1/connections", {{"port", "0"}}, 400},
      {"/api/v1/connections", {{"port", "65536"}}, 400},
      {"/api/v1/connections", {{"port", "-1"}}, 400},
      {"/api/v1/connections", {{"port", "+80"}}, 400},
      {"/api/v1/connections", {{"port", " 80"}}, 400},
      {"/api/v1/connections", {{"port", "80x"}}, 400},
      {"/api/v1/connections", {{"port", "0x50"}}, 400},
      {"/api/v1/stuck", {{"port", "99999999999999999999999"}}, 400},
      {"/api/v1/connections", {{"limit", "1"}}, 200},
      {"/api/v1/closed", {{"limit", "10000"}}, 200},
      {"/api/v1/timewait", {{"limit", "10001"}}, 400},
      {"/api/v1/connections", {{"limit", "0"}}, 400},
      {"/api/v1/connections", {{"limit", "x"}}, 400},
      {"/api/v1/stuck", {{"limit", "1e3"}}, 400},
      // a parameter the route does not take, twice, or where none is taken
      {"/api/v1/timewait", {{"state", "CLOSE_WAIT"}}, 400},
      {"/api/v1/connections", {{"verdict", "valid"}}, 400},
      {"/api/v1/connections", {{"prot", "80"}}, 400},
      {"/api/v1/connections", {{"port", "80"}, {"port", "81"}}, 400},
      {"/api/v1/closed", {{"verdict", "valid"}, {"verdict", "valid"}}, 400},
      {"/healthz", {{"verbose", "1"}}, 400},
      {"/metrics", {{"name", "x"}}, 400},
      {"/", {{"x", ""}}, 400},
      // everything together
      {"/api/v1/closed",
       {{"port", "80"}, {"verdict", "valid"}, {"outcome", "refused"}, {"limit", "5"}},
       200},
      {"/api/v1/connections", {{"state", "LISTEN"}, {"port", "80"}, {"limit", "5"}}, 200},
  };
  auto api = this->api();
  for (const Case& c : cases) {
    HttpAnswer answer = api.handle("GET", c.path, c.params);
    std::string query;
    for (const auto& [name, value] : c.params) query += name + "=" + value + "&";
    SCOPED_TRACE(c.path + "?" + query);
    EXPECT_EQ(answer.status, c.status);
    auto body = parse(answer);
    if (c.status == 400) {
      EXPECT_TRUE(body["error"].is_string()) << answer.body;
    }
  }
}

TEST_F(DaemonApiEdgesTest, LimitTruncatesAndSaysSo) {
  add_close_wait(5, 50000, 0);
  add_close_wait(6, 50001, 0);
  auto api = this->api();
  auto all = parse(api.handle("GET", "/api/v1/connections", {{"port", "8443"}}));
  EXPECT_EQ(all["count"], 2);
  EXPECT_EQ(all["truncated"], false);
  auto one = parse(api.handle("GET", "/api/v1/connections", {{"port", "8443"}, {"limit", "1"}}));
  EXPECT_EQ(one["count"], 1);
  EXPECT_EQ(one["truncated"], true);
  auto stuck = parse(api.handle("GET", "/api/v1/stuck", {{"limit", "1"}}));
  EXPECT_EQ(stuck["count"], 1);
  EXPECT_EQ(stuck["truncated"], true);
}

// Two active closers hand their ends to mini-sockets; a walk finds one still awaiting the
// peer's FIN. The list and the filters say FIN_WAIT2 for it, as ss does.
TEST_F(DaemonApiEdgesTest, AMiniSocketAwaitingThePeersFinIsListedAsFinWait2) {
  for (uint64_t cookie : {7, 8})
    apply(Sequence(cookie, testing::loopback_tuple(static_cast<uint16_t>(40000 + cookie), 8443))
              .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
              .signal(model::EventKind::Destroyed));
  KernelSocket waiting;
  waiting.cookie = 7;
  waiting.tuple = testing::loopback_tuple(40007, 8443);
  waiting.state = S::TimeWait;
  waiting.awaiting_peer_fin = true;
  waiting.time_wait_reaped_at_ns = 150 * kSecond;
  KernelSocket time_wait = waiting;
  time_wait.cookie = 8;
  time_wait.tuple = testing::loopback_tuple(40008, 8443);
  time_wait.awaiting_peer_fin = false;
  model_.reconcile(std::vector<KernelSocket>{waiting, time_wait}, 90 * kSecond, 91 * kSecond);
  auto api = this->api();
  auto state_of = [&](const nlohmann::json& answer, uint64_t sport) {
    for (const auto& row : answer["connections"])
      if (row["sport"] == sport) return row["state"].get<std::string>();
    return std::string("absent");
  };
  auto all = parse(api.handle("GET", "/api/v1/connections", {{"port", "8443"}}));
  EXPECT_EQ(state_of(all, 40007), "FIN_WAIT2");
  EXPECT_EQ(state_of(all, 40008), "TIME_WAIT");
  auto fin_wait2 =
      parse(api.handle("GET", "/api/v1/connections", {{"state", "FIN_WAIT2"}, {"port", "8443"}}));
  EXPECT_EQ(fin_wait2["count"], 1);
  EXPECT_EQ(state_of(fin_wait2, 40007), "FIN_WAIT2");
  auto time_waits =
      parse(api.handle("GET", "/api/v1/connections", {{"state", "TIME_WAIT"}, {"port", "8443"}}));
  EXPECT_EQ(time_waits["count"], 1);
  EXPECT_EQ(state_of(time_waits, 40008), "TIME_WAIT");
  auto timewait = parse(api.handle("GET", "/api/v1/timewait", {}));
  EXPECT_EQ(timewait["total"], 2);
  EXPECT_EQ(timewait["awaiting_peer_fin"], 1);
}

TEST_F(DaemonApiEdgesTest, ClosedFiltersByVerdictAndOutcome) {
  apply(Sequence(9, testing::loopback_tuple(40000, 80))
            .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
            .signal(model::EventKind::Destroyed));
  auto api = this->api();
  auto count = [&](DaemonApi::Params params) {
    return parse(api.handle("GET", "/api/v1/closed", params))["count"].get<int>();
  };
  EXPECT_EQ(count({}), 1);
  EXPECT_EQ(count({{"verdict", "valid"}}), 1);
  EXPECT_EQ(count({{"verdict", "invalid"}}), 0);
  EXPECT_EQ(count({{"outcome", "active-close"}}), 1);
  EXPECT_EQ(count({{"outcome", "refused"}}), 0);
  EXPECT_EQ(count({{"port", "80"}, {"verdict", "Valid"}, {"outcome", "ACTIVE_CLOSE"}}), 1);
  EXPECT_EQ(count({{"limit", "1"}}), 1);
}

// Each row says who owns it: the socket's namespace (host or not) and what the owner's cgroup path
// names; ?unit=, ?pod= and ?netns= select on exactly that, before the limit.
TEST_F(DaemonApiEdgesTest, RowsNameTheirOwnersIdentityAndFiltersSelectIt) {
  constexpr uint32_t kHost = 4026531840, kContainer = 4026532999;
  auto close_wait_in = [&](uint64_t cookie, uint16_t remote_port, uint32_t netns, uint64_t inode,
                           const std::string& cgroup_path) {
    model::SocketTuple tuple = testing::loopback_tuple(8443, remote_port);
    tuple.netns = netns;
    apply(Sequence(cookie, tuple).steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
    KernelSocket k;
    k.cookie = cookie;
    k.inode = inode;
    k.state = S::CloseWait;
    kernel_.push_back(k);
    ProcessInfo owner;
    owner.pid = static_cast<uint32_t>(inode);
    owner.comm = "srv";
    owner.cgroup_path = cgroup_path;
    owner.identity = model::parse_cgroup_path(cgroup_path);
    owner.netns = netns;
    owners_[inode] = owner;
  };
  const std::string uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  const std::string id(64, 'a');
  close_wait_in(21, 50001, kHost, 901, "/system.slice/nginx.service");
  close_wait_in(22, 50002, kContainer, 902,
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" +
                    id + ".scope");
  close_wait_in(23, 50003, kContainer, 903,
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" +
                    std::string(64, 'b') + ".scope");
  hooks_.host_netns = kHost;
  now_ = 200 * kSecond;
  auto api = this->api();
  auto rows = [&](DaemonApi::Params params) {
    params.emplace("port", "8443");
    return parse(api.handle("GET", "/api/v1/stuck", params))["stuck"];
  };
  auto ports = [](const nlohmann::json& list) {
    std::vector<int> out;
    for (const auto& r : list) out.push_back(r["dport"].get<int>());
    std::sort(out.begin(), out.end());
    return out;
  };
  auto all = rows({});
  ASSERT_EQ(all.size(), 3u);
  for (const auto& r : all) {
    if (r["dport"] == 50001) {
      EXPECT_EQ(r["netns"], kHost);
      EXPECT_EQ(r["netns_is_host"], true);
      EXPECT_EQ(r["cgroup_path"], "/system.slice/nginx.service");
      EXPECT_EQ(r["unit"], "nginx.service");
      EXPECT_TRUE(r["pod_uid"].is_null());
      EXPECT_TRUE(r["container_id"].is_null());
    } else {
      EXPECT_EQ(r["netns"], kContainer);
      EXPECT_EQ(r["netns_is_host"], false);
      EXPECT_EQ(r["pod_uid"], uid);
      EXPECT_EQ(r["pod_qos"], "burstable");
      EXPECT_EQ(r["container_runtime"], "containerd");
      EXPECT_EQ(r["container_id"], r["dport"] == 50002 ? id : std::string(64, 'b'));
    }
  }
  EXPECT_EQ(ports(rows({{"unit", "nginx.service"}})), std::vector<int>{50001});
  EXPECT_EQ(ports(rows({{"unit", "nginx"}})), std::vector<int>{50001});
  EXPECT_EQ(ports(rows({{"unit", "ngin"}})), std::vector<int>{});
  EXPECT_EQ(ports(rows({{"pod", uid}})), (std::vector<int>{50002, 50003}));
  EXPECT_EQ(ports(rows({{"pod", "0F1E2D3C_4B5A_6978_8796_A5B4C3D2E1F0"}})),
            (std::vector<int>{50002, 50003}));
  EXPECT_EQ(ports(rows({{"netns", std::to_string(kHost)}})), std::vector<int>{50001});
  EXPECT_EQ(ports(rows({{"netns", std::to_string(kContainer)}})), (std::vector<int>{50002, 50003}));
  EXPECT_EQ(ports(rows({{"netns", "1"}})), std::vector<int>{});
  // The limit applies to what the filter kept.
  auto limited =
      parse(api.handle("GET", "/api/v1/stuck", {{"pod", uid}, {"limit", "1"}, {"port", "8443"}}));
  EXPECT_EQ(limited["count"], 1);
  EXPECT_EQ(limited["truncated"], true);
  auto connections =
      parse(api.handle("GET", "/api/v1/connections", {{"netns", std::to_string(kContainer)}}));
  EXPECT_EQ(connections["count"], 2);
}

// A socket of another namespace is not in the daemon's walk: its queues and inode come from
// that namespace's /proc table, read through its owner, matched by ends and state; no byte
// count there, so its activity is unknown rather than guessed.
TEST_F(DaemonApiEdgesTest, AnotherNamespacesSocketGetsItsQueuesFromThatNamespacesTable) {
  constexpr uint32_t kOwn = 4026531840, kContainer = 4026532999;
  model::SocketTuple tuple = testing::loopback_tuple(8443, 50009);
  tuple.netns = kContainer;
  apply(Sequence(31, tuple)
            .step(S::Listen, S::SynRecv)
            .step(S::SynRecv, S::Established, testing::task(77, "srv"), true)
            .step(S::Established, S::CloseWait));
  ProcessInfo owner;
  owner.pid = 77;
  owner.comm = "srv";
  owner.netns = kContainer;
  hooks_.own_netns = kOwn;
  hooks_.describe_process = [&](uint32_t pid) {
    return pid == 77 ? std::optional<ProcessInfo>(owner) : std::nullopt;
  };
  std::vector<uint32_t> read_through;
  hooks_.namespace_sockets = [&](uint32_t pid, model::AddressFamily family) {
    EXPECT_EQ(family, model::AddressFamily::IPv4);
    read_through.push_back(pid);
    KernelSocket other_port;  // same namespace, another connection
    other_port.tuple = testing::loopback_tuple(8443, 50010);
    other_port.state = S::CloseWait;
    other_port.inode = 1;
    KernelSocket mine = other_port;
    mine.tuple = testing::loopback_tuple(8443, 50009);
    mine.recv_queue_bytes = 5;
    mine.send_queue_bytes = 3;
    mine.inode = 4242;
    return std::vector<KernelSocket>{other_port, mine};
  };
  owners_[4242] = owner;
  now_ = 200 * kSecond;
  auto api = this->api();
  auto rows = parse(api.handle("GET", "/api/v1/stuck", {{"port", "8443"}}))["stuck"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["recv_queue_bytes"], 5);
  EXPECT_EQ(rows[0]["send_queue_bytes"], 3);
  EXPECT_EQ(rows[0]["inode"], 4242);
  EXPECT_EQ(rows[0]["activity"], "unknown");
  EXPECT_EQ(rows[0]["owner_source"], "proc");
  EXPECT_EQ(rows[0]["netns"], kContainer);
  EXPECT_EQ(read_through, std::vector<uint32_t>{77});
}

TEST_F(DaemonApiEdgesTest, HostileProcessNamesAreRenderedNotRefused) {
  // Owner from /proc: invalid UTF-8, quotes, a newline, an escape sequence, and a cgroup
  // path with a byte that is not UTF-8 either.
  add_close_wait(5, 50000, 777);
  owners_[777] = {4242, "\xff\"q\\\n\x1b[2J\xc3", "/x\xfe.service"};
  // Owner from a syscall (the BPF side's comm): the same bytes, cut to the kernel's 15.
  model::Task task = testing::task(5151, "\xff\"q\\\n\x1b[2J\xc3");
  apply(Sequence(7, testing::loopback_tuple(9000, 50002))
            .step(S::Close, S::SynSent, task, true)
            .steps({S::SynSent, S::Established, S::CloseWait}));
  const std::string rendered = kReplacement + "\"q\\\n\x1b[2J" + kReplacement;
  auto api = this->api();
  for (const char* path : {"/api/v1/connections", "/api/v1/stuck"}) {
    HttpAnswer answer = api.handle("GET", path, {});
    SCOPED_TRACE(path);
    ASSERT_EQ(answer.status, 200);
    auto body = parse(answer);
    auto rows = body.contains("stuck") ? body["stuck"] : body["connections"];
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) {
      EXPECT_EQ(row["comm"], rendered);
      if (row["owner_source"] == "proc") {
        EXPECT_EQ(row["cgroup"], "/x" + kReplacement + ".service");
      }
    }
    EXPECT_EQ(answer.body.find('\n'), std::string::npos);
    EXPECT_EQ(answer.body.find('\x1b'), std::string::npos);
  }
  // Parameters are echoed in errors the same way.
  HttpAnswer answer = api.handle("GET", "/api/v1/stuck", {{"state", "\xff\n"}});
  EXPECT_EQ(answer.status, 400);
  EXPECT_NE(parse(answer)["error"].get<std::string>().find(kReplacement + "\n"), std::string::npos);
  EXPECT_EQ(api.handle("GET", "/\xff", {}).status, 404);
}

}  // namespace
}  // namespace synfin::api
