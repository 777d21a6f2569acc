#include "model/daemon_model.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "api/daemon_api.h"
#include "event_builders.h"
#include "outputs/prometheus.h"

#include <nlohmann/json.hpp>

namespace synfin::model {
namespace {

using S = TcpState;
using testing::Sequence;
constexpr uint64_t kSecond = 1'000'000'000ull;

void apply_all(DaemonModel& model, const Sequence& s) {
  for (const Event& e : s.events()) model.apply(e);
}

TEST(DaemonModelTest, AggregatesFollowEvents) {
  DaemonModel model({});
  apply_all(model,
            Sequence(1, testing::loopback_tuple(40000, 80))
                .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
                .signal(EventKind::Destroyed));
  apply_all(model,
            Sequence(2, testing::loopback_tuple(80, 40000))
                .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait, S::LastAck, S::Close})
                .signal(EventKind::Destroyed));
  apply_all(model, Sequence(3, testing::loopback_tuple(80, 0))
                       .steps({S::Close, S::Listen, S::Close})
                       .signal(EventKind::Destroyed));
  const Aggregates& a = model.aggregates();
  EXPECT_EQ(a.closed_by_outcome[static_cast<int>(Outcome::ActiveClose)], 1u);
  EXPECT_EQ(a.closed_by_outcome[static_cast<int>(Outcome::PassiveClose)], 1u);
  EXPECT_EQ(a.closed_by_outcome[static_cast<int>(Outcome::ListenerClosed)],
            0u);  // not a connection
  EXPECT_EQ(a.transitions[index_of(S::SynSent)][index_of(S::Established)], 1u);
  EXPECT_EQ(a.client_handshake.count, 1u);
  EXPECT_EQ(a.server_handshake.count, 1u);
  EXPECT_EQ(a.lifetime.count, 2u);
  EXPECT_EQ(a.state_duration[0].count, 1u);  // CLOSE_WAIT left once
  EXPECT_EQ(model.time_wait().size(), 1u);   // the active closer
  int recent = 0;
  model.for_each_recent_close([&](const ClosedConnection&) { ++recent; });
  EXPECT_EQ(recent, 3);
}

TEST(DaemonModelTest, TickRefreshesGaugesAndExpiresTimeWait) {
  DaemonModelConfig config;
  config.metrics_ports = {80};
  DaemonModel model(config);
  apply_all(model, Sequence(1, testing::loopback_tuple(80, 40000))
                       .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
  model.tick(1'000'000 + 61 * kSecond);
  EXPECT_EQ(model.aggregates().sockets_by_state[index_of(S::CloseWait)], 1u);
  EXPECT_EQ(model.aggregates().stuck_by_state[index_of(S::CloseWait)], 1u);
  EXPECT_EQ(model.port_sockets().at(0).sockets_by_state[index_of(S::CloseWait)], 1u);
}

// The peer of a stuck CLOSE_WAIT socket closed first: its mini-socket waits in FIN_WAIT2, and
// the gauges say so (as ss does) once a walk has seen it.
TEST(DaemonModelTest, AMiniSocketAwaitingThePeersFinCountsAsFinWait2) {
  DaemonModelConfig config;
  config.metrics_ports = {40000};
  DaemonModel model(config);
  auto tuple = testing::loopback_tuple(40000, 80);
  apply_all(model,
            Sequence(1, tuple)
                .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
                .signal(EventKind::Destroyed));
  model.tick(2 * kSecond);
  EXPECT_EQ(model.aggregates().sockets_by_state[index_of(S::TimeWait)], 1u);
  KernelSocket mini;
  mini.cookie = 1;
  mini.tuple = tuple;
  mini.state = S::TimeWait;
  mini.awaiting_peer_fin = true;
  mini.time_wait_reaped_at_ns = 62 * kSecond;
  model.reconcile(std::vector<KernelSocket>{mini}, 3 * kSecond, 4 * kSecond);
  model.tick(5 * kSecond);
  const Aggregates& a = model.aggregates();
  EXPECT_EQ(a.sockets_by_state[index_of(S::TimeWait)], 0u);
  EXPECT_EQ(a.sockets_by_state[index_of(S::FinWait2)], 1u);
  EXPECT_EQ(model.port_sockets().at(0).sockets_by_state[index_of(S::FinWait2)], 1u);
  // The peer's FIN came: TIME_WAIT from then, a moment no record shows, so it is not timed.
  mini.awaiting_peer_fin = false;
  model.reconcile(std::vector<KernelSocket>{mini}, 6 * kSecond, 7 * kSecond);
  model.tick(8 * kSecond);
  EXPECT_EQ(model.aggregates().sockets_by_state[index_of(S::TimeWait)], 1u);
  EXPECT_EQ(model.aggregates().sockets_by_state[index_of(S::FinWait2)], 0u);
  model.tick(63 * kSecond);
  EXPECT_EQ(model.aggregates().sockets_by_state[index_of(S::TimeWait)], 0u);
  auto time_wait = std::find(kTimedStates.begin(), kTimedStates.end(), S::TimeWait);
  ASSERT_NE(time_wait, kTimedStates.end());
  EXPECT_EQ(model.aggregates().state_duration[time_wait - kTimedStates.begin()].count, 0u);
}

TEST(DaemonModelTest, ReconcileSeedsFindsAndLoses) {
  DaemonModel model({});
  apply_all(model, Sequence(1, testing::loopback_tuple(40000, 80))
                       .steps({S::Close, S::SynSent, S::Established}));
  KernelSocket unknown;
  unknown.cookie = 9;
  unknown.tuple = testing::loopback_tuple(22, 50000);
  unknown.state = S::Established;
  // Cookie 1 is missing from the kernel's table: its end was lost.
  model.reconcile(std::vector<KernelSocket>{unknown}, 10 * kSecond, 11 * kSecond);
  EXPECT_EQ(model.live_drift().found, 1u);
  EXPECT_EQ(model.live_drift().lost, 1u);
  EXPECT_NE(model.table().find(9), nullptr);
  EXPECT_EQ(model.table().find(1), nullptr);
  EXPECT_EQ(model.aggregates().closed_by_verdict[static_cast<int>(Verdict::Incomplete)], 1u);
}

// A socket in CLOSE is off the kernel's tables while its owner holds it: a walk says nothing of
// it, its destroy record ends it. If records were lost since it reached CLOSE, that record may
// be one of them: the walk then ends it (seen on the real kernel: LAST_ACK -> CLOSE crossed,
// the destroy did not, and the connection stayed in the table, in no list, for ever).
TEST(DaemonModelTest, AClosedSocketWhoseDestroyMayBeLostIsEndedByTheWalk) {
  DaemonModel model({});
  apply_all(model, Sequence(1, testing::loopback_tuple(8080, 40000))
                       .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait, S::Close}));
  apply_all(model, Sequence(2, testing::loopback_tuple(8080, 40001))
                       .steps({S::Listen, S::SynRecv, S::Established, S::Close}));
  // No loss: held by their owner, both stay.
  model.reconcile({}, 10 * kSecond, 11 * kSecond);
  EXPECT_NE(model.table().find(1), nullptr);
  EXPECT_NE(model.table().find(2), nullptr);
  // A loss noticed after they reached CLOSE: the next walk ends them, as lost, incomplete.
  model.table().note_loss(12 * kSecond);
  apply_all(model, Sequence(3, testing::loopback_tuple(8080, 40002))
                       .steps({S::Listen, S::SynRecv, S::Established}));
  model.reconcile({}, 20 * kSecond, 21 * kSecond);
  EXPECT_EQ(model.table().find(1), nullptr);
  EXPECT_EQ(model.table().find(2), nullptr);
  EXPECT_EQ(model.live_drift().lost, 3u);  // the two, and 3, which the walk did not list
  EXPECT_EQ(model.aggregates().closed_by_verdict[static_cast<int>(Verdict::Incomplete)], 3u);
}

TEST(DaemonModelTest, AClosedSocketReachingCloseAfterTheLossWaitsForItsDestroy) {
  DaemonModel model({});
  model.table().note_loss(500'000);  // before any record of it
  apply_all(model, Sequence(1, testing::loopback_tuple(8080, 40000))
                       .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait, S::Close}));
  model.reconcile({}, 10 * kSecond, 11 * kSecond);
  EXPECT_NE(model.table().find(1), nullptr);
  EXPECT_EQ(model.live_drift().lost, 0u);
}

// The snapshot walks the daemon's own network namespace; tracepoints see every namespace. A
// socket of another namespace is never missing from a walk that could not list it.
TEST(DaemonModelTest, ReconcileLeavesOtherNamespacesAlone) {
  DaemonModelConfig config;
  config.netns = 4026531840u;
  DaemonModel model(config);
  auto own = testing::loopback_tuple(40000, 80);
  own.netns = config.netns;
  auto container = testing::loopback_tuple(40001, 80);
  container.netns = 4026532999u;
  apply_all(model, Sequence(1, own).steps({S::Close, S::SynSent, S::Established}));
  apply_all(model, Sequence(2, container).steps({S::Close, S::SynSent, S::Established}));
  model.reconcile(std::vector<KernelSocket>{}, 10 * kSecond, 11 * kSecond);
  EXPECT_EQ(model.table().find(1), nullptr);  // own namespace, not listed: lost
  EXPECT_NE(model.table().find(2), nullptr);  // another namespace: still tracked
  EXPECT_EQ(model.live_drift().lost, 1u);
}

// A walk that covered other namespaces decides in each of them: by cookie where the iterator
// was opened inside it, by ends where its /proc table was read; one it did not cover says nothing.
TEST(DaemonModelTest, ReconcileDecidesInEveryNamespaceTheWalkCovered) {
  DaemonModelConfig config;
  config.netns = 4026531840u;
  DaemonModel model(config);
  constexpr uint32_t kEntered = 4026532001u, kProcTable = 4026532002u, kUnwalked = 4026532003u;
  auto tuple_in = [](uint32_t netns, uint16_t port) {
    auto t = testing::loopback_tuple(port, 80);
    t.netns = netns;
    return t;
  };
  struct Case {
    uint64_t cookie;
    uint32_t netns;
    bool listed;  // in the walk: its cookie (iterator) or its ends (/proc table)
    bool kept;
  };
  const Case cases[] = {{1, kEntered, true, true},
                        {2, kEntered, false, false},
                        {3, kProcTable, true, true},
                        {4, kProcTable, false, false},
                        {5, kUnwalked, false, true}};
  std::vector<KernelSocket> iterator_rows, proc_rows;
  for (const Case& c : cases) {
    auto tuple = tuple_in(c.netns, static_cast<uint16_t>(40000 + c.cookie));
    apply_all(model, Sequence(c.cookie, tuple).steps({S::Close, S::SynSent, S::Established}));
    if (!c.listed) continue;
    KernelSocket row;
    row.tuple = tuple;
    row.state = S::Established;
    if (c.netns == kEntered) {
      row.cookie = c.cookie;
      iterator_rows.push_back(row);
    } else {
      proc_rows.push_back(row);  // /proc tables carry no cookie
    }
  }
  WalkCoverage coverage(config.netns);
  coverage.add_by_cookie(kEntered);
  coverage.add_by_ends(kProcTable, proc_rows);
  model.begin_reconcile();
  model.reconcile_time_wait(iterator_rows, 11 * kSecond);
  model.finish_reconcile(iterator_rows, coverage, 10 * kSecond, 11 * kSecond);
  for (const Case& c : cases)
    EXPECT_EQ(model.table().find(c.cookie) != nullptr, c.kept) << "cookie " << c.cookie;
  EXPECT_EQ(model.live_drift().lost, 2u);
  EXPECT_EQ(coverage.namespaces(NamespaceListing::ByCookie), 1u);
  EXPECT_EQ(coverage.namespaces(NamespaceListing::ByEnds), 1u);
}

// TIME_WAIT mini-sockets of a namespace read from /proc: kept while their ends are listed.
TEST(DaemonModelTest, TimeWaitOfAProcTableNamespaceIsReconciledByEnds) {
  DaemonModelConfig config;
  config.netns = 4026531840u;
  DaemonModel model(config);
  constexpr uint32_t kContainer = 4026532002u;
  std::vector<KernelSocket> proc_rows;
  for (uint64_t cookie : {1u, 2u}) {
    auto tuple = testing::loopback_tuple(static_cast<uint16_t>(40000 + cookie), 80);
    tuple.netns = kContainer;
    apply_all(model,
              Sequence(cookie, tuple)
                  .steps({S::Close, S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
                  .signal(EventKind::Destroyed));
    if (cookie == 1) {
      KernelSocket row;
      row.tuple = tuple;
      row.state = S::TimeWait;
      proc_rows.push_back(row);
    }
  }
  ASSERT_EQ(model.time_wait().size(), 2u);
  WalkCoverage coverage(config.netns);
  coverage.add_by_ends(kContainer, proc_rows);
  std::vector<KernelSocket> iterator_rows;  // the daemon's own namespace: empty
  model.begin_reconcile();
  model.reconcile_time_wait(proc_rows, 11 * kSecond);  // cookie-less rows add nothing
  model.finish_reconcile(iterator_rows, coverage, 10 * kSecond, 11 * kSecond);
  ASSERT_EQ(model.time_wait().size(), 1u);
  model.time_wait().for_each([](const TimeWaitEntry& e) { EXPECT_EQ(e.cookie, 1u); });
  EXPECT_EQ(model.time_wait_drift().removed, 1u);
  EXPECT_EQ(model.time_wait_drift().added, 0u);
}

TEST(DaemonModelTest, SocketDestroyedDuringTheWalkIsNotResurrected) {
  DaemonModel model({});
  auto s = Sequence(1, testing::loopback_tuple(40000, 80))
               .steps({S::Close, S::SynSent, S::Established, S::Close})
               .signal(EventKind::ResetSent)
               .signal(EventKind::Destroyed);
  apply_all(model, s);
  KernelSocket stale;  // the walk saw it just before its destroy record was applied
  stale.cookie = 1;
  stale.tuple = testing::loopback_tuple(40000, 80);
  stale.state = S::Established;
  model.reconcile(std::vector<KernelSocket>{stale}, s.events().front().ts_ns, 20 * kSecond);
  EXPECT_EQ(model.table().find(1), nullptr);
  EXPECT_EQ(model.live_drift().found, 0u);
}

TEST(MetricsTest, EveryContractFamilyIsThereFromTheStart) {
  DaemonModel model({});
  outputs::SelfMetrics self;
  self.version = "test";
  std::string text = outputs::render_metrics(model, self);
  for (const char* family :
       {"synfin_tcp_state_transitions_total", "synfin_tcp_sockets",
        "synfin_tcp_connections_closed_total", "synfin_tcp_handshake_duration_seconds",
        "synfin_tcp_state_duration_seconds", "synfin_tcp_stuck_sockets",
        "synfin_tcp_invalid_sequences_total", "synfin_events_lost_total", "synfin_build_info",
        "synfin_tcp_connection_lifetime_seconds", "synfin_tcp_resets_total",
        "synfin_tcp_retransmits_total", "synfin_tcp_time_wait_port_range_usage_ratio",
        "synfin_events_received_total", "synfin_events_undecodable_total"})
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  EXPECT_NE(text.find("synfin_tcp_connections_closed_total{outcome=\"reset_received\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("synfin_events_lost_total{source=\"state_change\"} 0\n"), std::string::npos);
  EXPECT_EQ(text.find("listener_closed"), std::string::npos);
  EXPECT_EQ(text.find("synfin_tcp_port_sockets"), std::string::npos);  // no ports named
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  DaemonModel model({});
  auto s = Sequence(1, testing::loopback_tuple(40000, 80));
  s.steps({S::Close, S::SynSent, S::Established});  // 1 µs handshake per the builder
  apply_all(model, s);
  std::string text = outputs::render_metrics(model, {});
  EXPECT_NE(
      text.find("synfin_tcp_handshake_duration_seconds_bucket{role=\"client\",le=\"0.0001\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("synfin_tcp_handshake_duration_seconds_bucket{role=\"client\",le=\"+Inf\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find("synfin_tcp_handshake_duration_seconds_count{role=\"client\"} 1\n"),
            std::string::npos);
}

class DaemonApiTest : public ::testing::Test {
 protected:
  DaemonApiTest() : model_({}) {
    hooks_.monotonic_now_ns = [this] { return now_; };
    hooks_.snapshot = [this] { return kernel_; };
    hooks_.resolve_owners = [this](std::span<const uint64_t> inodes) {
      std::unordered_map<uint64_t, std::vector<ProcessInfo>> out;
      for (uint64_t inode : inodes)
        if (inode == 777) out[inode] = {{4242, "leaky", "/system.slice/leaky.service"}};
      return out;
    };
    hooks_.port_range = [] { return api::PortRange{32768, 60999}; };
    hooks_.health = [] {
      api::HealthInputs h;
      h.programs = {{"on_inet_sock_set_state", true}};
      return h;
    };
  }
  api::DaemonApi api() { return api::DaemonApi(model_, mutex_, hooks_, {}); }

  DaemonModel model_;
  std::mutex mutex_;
  api::DaemonApiHooks hooks_;
  uint64_t now_ = 0;
  std::vector<KernelSocket> kernel_;
};

TEST_F(DaemonApiTest, StuckListsOwnerQueuesAndActivity) {
  apply_all(model_, Sequence(5, testing::loopback_tuple(8443, 50000))
                        .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
  now_ = 1'000'000 + 70 * kSecond;
  KernelSocket k;
  k.cookie = 5;
  k.inode = 777;
  k.recv_queue_bytes = 2;
  k.state = S::CloseWait;
  kernel_ = {k};
  auto api = this->api();
  auto answer = api.stuck({{"port", "8443"}});
  ASSERT_EQ(answer.status, 200);
  auto j = nlohmann::json::parse(answer.body);
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["stuck"][0]["pid"], 4242);
  EXPECT_EQ(j["stuck"][0]["owner_source"], "proc");
  EXPECT_EQ(j["stuck"][0]["cgroup"], "/system.slice/leaky.service");
  EXPECT_EQ(j["stuck"][0]["recv_queue_bytes"], 2);
  EXPECT_EQ(j["stuck"][0]["activity"], "idle");
  EXPECT_EQ(j["stuck"][0]["local"], "127.0.0.1:8443");
  EXPECT_EQ(j["thresholds_seconds"]["CLOSE_WAIT"], 60.0);
  kernel_[0].bytes_sent = 4096;  // still writing after the peer's FIN: a half-close
  j = nlohmann::json::parse(api.stuck({}).body);
  EXPECT_EQ(j["stuck"][0]["activity"], "sending");
}

TEST_F(DaemonApiTest, ConnectionsFilterByStateAndPortAndRejectNonsense) {
  apply_all(model_, Sequence(5, testing::loopback_tuple(8443, 50000))
                        .steps({S::Listen, S::SynRecv, S::Established}));
  apply_all(model_, Sequence(6, testing::loopback_tuple(9000, 50001))
                        .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
  auto api = this->api();
  auto j = nlohmann::json::parse(api.connections({{"state", "close-wait"}}).body);
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["connections"][0]["sport"], 9000);
  j = nlohmann::json::parse(api.connections({{"port", "50000"}}).body);
  EXPECT_EQ(j["count"], 1);
  EXPECT_EQ(api.connections({{"state", "HALF_OPEN"}}).status, 400);
  EXPECT_EQ(api.connections({{"port", "70000"}}).status, 400);
  EXPECT_EQ(api.connections({{"limit", "x"}}).status, 400);
}

TEST_F(DaemonApiTest, HealthzIsDownWhenAProgramIsNotAttached) {
  auto api = this->api();
  EXPECT_EQ(api.healthz().status, 200);
  hooks_.health = [] {
    api::HealthInputs h;
    h.programs = {{"on_inet_sock_set_state", false}};
    return h;
  };
  auto down = this->api();
  auto answer = down.healthz();
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(nlohmann::json::parse(answer.body)["status"], "down");
}

}  // namespace
}  // namespace synfin::model

namespace synfin::model {
namespace {

using S = TcpState;

// A socket refused because the table is full sends many records; it is one untracked socket.
TEST(DaemonModelCountsTest, AnUntrackedSocketIsCountedOnce) {
  DaemonModelConfig config;
  config.max_connections = 1;
  DaemonModel model(config);
  for (uint64_t cookie : {1, 2, 3}) {
    testing::Sequence s(cookie, testing::loopback_tuple(static_cast<uint16_t>(40000 + cookie), 80));
    s.steps({S::Close, S::SynSent, S::Established, S::FinWait1});
    for (const Event& e : s.events()) model.apply(e);
  }
  EXPECT_EQ(model.table().size(), 1u);
  EXPECT_EQ(model.table().counters().untracked_connections, 2u);
}

// TIME_WAIT entries obey --max-connections too; the rest is counted.
TEST(DaemonModelCountsTest, TimeWaitIsBoundedAndCounted) {
  TimeWaitTracker tracker(2);
  for (uint64_t cookie = 1; cookie <= 5; ++cookie)
    tracker.enter(cookie, testing::loopback_tuple(static_cast<uint16_t>(40000 + cookie), 80), 1);
  EXPECT_EQ(tracker.size(), 2u);
  EXPECT_EQ(tracker.untracked(), 3u);
}

}  // namespace
}  // namespace synfin::model
