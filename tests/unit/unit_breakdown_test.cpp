// --metrics-by unit: the stuck and TIME_WAIT gauges by systemd unit, counted by owner in the
// model's tick and bounded to a fixed number of series however many units a host runs.
#include "model/unit_breakdown.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "event_builders.h"
#include "model/daemon_model.h"
#include "outputs/prometheus.h"

namespace synfin::model {
namespace {

using S = TcpState;
using testing::Sequence;
constexpr uint64_t kSecond = 1'000'000'000ull;

void apply_all(DaemonModel& model, const Sequence& s) {
  for (const Event& e : s.events()) model.apply(e);
}

OwnerSockets close_wait(uint64_t n) {
  OwnerSockets sockets;
  sockets.stuck_by_state[index_of(S::CloseWait)] = n;
  return sockets;
}

UnitOfPid units(std::map<uint32_t, std::string> by_pid) {
  return [by_pid](uint32_t pid) -> std::optional<std::string> {
    auto it = by_pid.find(pid);
    if (it == by_pid.end()) return std::nullopt;
    return it->second;
  };
}

std::map<std::string, uint64_t> counts(const UnitSeries& series) {
  std::map<std::string, uint64_t> by_unit;
  for (const UnitSockets& unit : series.units) by_unit[unit.unit] = unit.count;
  return by_unit;
}

TEST(UnitBreakdownTest, TheUnitsWithMostGetSeriesAndTheRestAreSummedIntoOther) {
  SocketsByOwner owners = {{10, close_wait(3)},
                           {11, close_wait(1)},
                           {12, close_wait(2)},
                           {13, close_wait(2)},
                           {14, close_wait(5)}};
  // Two processes of one unit count together (a pre-forked server).
  auto unit_of = units({{10, "api.service"},
                        {11, "cron.service"},
                        {12, "db.service"},
                        {13, "api.service"},
                        {14, "web.service"}});
  UnitBreakdown b = break_down_by_unit(owners, unit_of, 2);
  ASSERT_EQ(b.stuck.units.size(), 5u);  // limit + unknown, none, other
  EXPECT_EQ(b.stuck.units[0].unit, "api.service");
  EXPECT_EQ(b.stuck.units[0].count, 5u);
  EXPECT_EQ(b.stuck.units[1].unit, "web.service");  // 5 too: ties go by name
  EXPECT_EQ(b.stuck.units[4].unit, "other");
  EXPECT_EQ(b.stuck.units[4].count, 3u);  // db 2 + cron 1
  EXPECT_EQ(b.stuck.units[4].stuck_by_state[index_of(S::CloseWait)], 3u);
  EXPECT_EQ(b.stuck.folded_units, 2u);
  // Nothing silent: every stuck socket is in some series.
  uint64_t total = 0;
  for (const UnitSockets& unit : b.stuck.units) total += unit.count;
  EXPECT_EQ(total, 13u);
}

TEST(UnitBreakdownTest, OwnersWithoutAUnitAndUnknownOwnersHaveTheirOwnBuckets) {
  OwnerSockets time_wait;
  time_wait.time_wait = 4;
  SocketsByOwner owners = {{0, close_wait(1)},   // no owner known (found by a walk)
                           {20, close_wait(2)},  // exited since
                           {21, close_wait(3)},  // in a cgroup outside any unit
                           {22, close_wait(1)},  // a cgroup path naming a reserved bucket
                           {23, time_wait}};
  UnitBreakdown b = break_down_by_unit(owners, units({{21, ""}, {22, "other"}, {23, "x.service"}}),
                                       kDefaultUnitLimit);
  EXPECT_EQ(counts(b.stuck),
            (std::map<std::string, uint64_t>{{"unknown", 3}, {"none", 4}, {"other", 0}}));
  EXPECT_EQ(b.stuck.folded_units, 0u);
  EXPECT_EQ(counts(b.time_wait), (std::map<std::string, uint64_t>{
                                     {"x.service", 4}, {"unknown", 0}, {"none", 0}, {"other", 0}}));
}

TEST(UnitBreakdownTest, SeriesStayWithinTheBudgetHoweverManyUnits) {
  SocketsByOwner owners;
  std::map<uint32_t, std::string> unit_by_pid;
  for (uint32_t pid = 1; pid <= 5000; ++pid) {
    owners[pid] = close_wait(pid % 7 + 1);
    owners[pid].time_wait = pid % 3;
    unit_by_pid[pid] = "u" + std::to_string(pid) + ".service";
  }
  UnitBreakdown b = break_down_by_unit(owners, units(unit_by_pid), kDefaultUnitLimit);
  EXPECT_EQ(b.stuck.units.size(), kDefaultUnitLimit + 3);
  EXPECT_EQ(b.time_wait.units.size(), kDefaultUnitLimit + 3);
  EXPECT_EQ(b.stuck.folded_units, 5000 - kDefaultUnitLimit);
  EXPECT_EQ(b.time_wait.folded_units, 3334 - kDefaultUnitLimit);  // pids with TIME_WAIT sockets
  for (std::size_t i = 0; i < kDefaultUnitLimit; ++i) EXPECT_EQ(b.stuck.units[i].count, 7u);
}

// The tick counts each owner's stuck sockets past their threshold, and its TIME_WAIT sockets by
// the owner the connection had when its close reached the model.
TEST(UnitBreakdownTest, TheTickCountsStuckAndTimeWaitSocketsByOwner) {
  DaemonModelConfig config;
  config.count_by_owner = true;
  DaemonModel model(config);
  auto leaky = testing::task(4242, "leaky");
  apply_all(model, Sequence(1, testing::loopback_tuple(8080, 40000))
                       .steps({S::Listen, S::SynRecv, S::Established})
                       .step(S::Established, S::CloseWait, leaky, /*task_is_owner=*/true));
  apply_all(model, Sequence(2, testing::loopback_tuple(8080, 40001))
                       .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
  auto client = testing::task(777, "client");
  apply_all(model, Sequence(3, testing::loopback_tuple(40002, 80))
                       .step(S::Close, S::SynSent, client, /*task_is_owner=*/true)
                       .steps({S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
                       .signal(EventKind::Destroyed));
  // A clean close reported only by the TIME_WAIT socket it left: its owner is the table's.
  apply_all(model, Sequence(4, testing::loopback_tuple(40003, 80))
                       .step(S::Close, S::SynSent, client, /*task_is_owner=*/true)
                       .steps({S::SynSent, S::Established})
                       .signal(EventKind::TimeWaitEntered));
  model.tick(30 * kSecond);  // not stuck yet
  EXPECT_EQ(model.sockets_by_owner().count(4242), 0u);
  EXPECT_EQ(model.sockets_by_owner().at(777).time_wait, 2u);
  model.tick(62 * kSecond);
  const SocketsByOwner& owners = model.sockets_by_owner();
  EXPECT_EQ(owners.at(4242).stuck_by_state[index_of(S::CloseWait)], 1u);
  EXPECT_EQ(owners.at(0).stuck_by_state[index_of(S::CloseWait)], 1u);  // no step named an owner
  EXPECT_EQ(owners.count(777), 0u);  // TIME_WAIT reaped after 60 s
}

// A socket no syscall named an owner of (from before the start, or of another namespace) counts
// for the holder the last walk found for it; one without is unknown (pid 0).
TEST(UnitBreakdownTest, SocketsWithoutAnOwnerCountForTheirHolder) {
  DaemonModelConfig config;
  config.count_by_owner = true;
  DaemonModel model(config);
  for (uint64_t cookie : {1, 2})
    apply_all(model, Sequence(cookie, testing::loopback_tuple(8080, 40000 + cookie))
                         .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
  model.set_holders({{1, 555}});
  model.tick(62 * kSecond);
  EXPECT_EQ(model.sockets_by_owner().at(555).stuck_by_state[index_of(S::CloseWait)], 1u);
  EXPECT_EQ(model.sockets_by_owner().at(0).stuck_by_state[index_of(S::CloseWait)], 1u);
  model.set_holders({});  // the next walk found none
  model.tick(63 * kSecond);
  EXPECT_EQ(model.sockets_by_owner().at(0).stuck_by_state[index_of(S::CloseWait)], 2u);
}

TEST(UnitBreakdownTest, OffByDefault) {
  DaemonModel model({});
  apply_all(model, Sequence(1, testing::loopback_tuple(8080, 40000))
                       .steps({S::Listen, S::SynRecv, S::Established, S::CloseWait}));
  model.tick(62 * kSecond);
  EXPECT_TRUE(model.sockets_by_owner().empty());
}

TEST(UnitMetricsTest, TheBreakdownIsRenderedOnlyWhenAskedFor) {
  DaemonModel model({});
  outputs::SelfMetrics self;
  std::string off = outputs::render_metrics(model, self);
  EXPECT_EQ(off.find("unit="), std::string::npos);
  EXPECT_EQ(off.find("synfin_metrics_units_folded"), std::string::npos);
  SocketsByOwner owners = {{10, close_wait(2)}};
  owners[10].time_wait = 3;
  self.by_unit = break_down_by_unit(owners, units({{10, "a\"b\\x2d.service"}}), 1);
  std::string on = outputs::render_metrics(model, self);
  EXPECT_NE(on.find("synfin_tcp_unit_stuck_sockets{unit=\"a\\\"b\\\\x2d.service\","
                    "state=\"CLOSE_WAIT\"} 2\n"),
            std::string::npos);
  EXPECT_NE(on.find("synfin_tcp_unit_stuck_sockets{unit=\"other\",state=\"CLOSE_WAIT\"} 0\n"),
            std::string::npos);
  EXPECT_NE(on.find("synfin_tcp_unit_time_wait_sockets{unit=\"a\\\"b\\\\x2d.service\"} 3\n"),
            std::string::npos);
  EXPECT_NE(on.find("synfin_metrics_units_folded{family=\"stuck\"} 0\n"), std::string::npos);
  // Everything else is as without the flag.
  std::string rest;
  std::istringstream lines(on);
  for (std::string line; std::getline(lines, line);)
    if (line.find("synfin_tcp_unit_") == std::string::npos &&
        line.find("synfin_metrics_units_folded") == std::string::npos)
      rest += line + "\n";
  EXPECT_EQ(rest, off);
}

TEST(UnitMetricsTest, LabelValuesAreEscapedAndValidUtf8) {
  EXPECT_EQ(outputs::label_value("nginx.service"), "nginx.service");
  EXPECT_EQ(outputs::label_value("a\"b"), "a\\\"b");
  EXPECT_EQ(outputs::label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(outputs::label_value("a\nb"), "a\\nb");
  EXPECT_EQ(outputs::label_value("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(outputs::label_value("x\xff\x01"), "x\\\\xff\\\\x01");
}

}  // namespace
}  // namespace synfin::model
