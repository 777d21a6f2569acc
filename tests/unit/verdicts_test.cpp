// Why connections broke: reset and drop reasons decoded, kept per connection within bounds,
// counted with bounded labels; listeners served with their refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/listeners_api.h"
#include "decode/decoder.h"
#include "event_builders.h"
#include "model/daemon_model.h"
#include "model/reasons.h"
#include "outputs/json_lines.h"
#include "outputs/prometheus.h"
#include "synfin/abi.h"

namespace synfin {
namespace {

using model::EventKind;
using model::TcpState;
using S = TcpState;
using testing::Sequence;

std::vector<std::byte> bytes_of(const synfin_event& raw) {
  std::vector<std::byte> out(sizeof(raw));
  std::memcpy(out.data(), &raw, sizeof(raw));
  return out;
}

synfin_event record(uint32_t type, uint64_t cookie, uint16_t sport, uint16_t dport) {
  synfin_event raw{};
  raw.ts_ns = 1000;
  raw.cookie = cookie;
  raw.type = type;
  raw.family = SYNFIN_AF_INET;
  raw.sport = sport;
  raw.dport = dport;
  raw.saddr[0] = 127;
  raw.saddr[3] = 1;
  raw.daddr[0] = 127;
  raw.daddr[3] = 1;
  return raw;
}

// ---- decoding ----

TEST(VerdictDecodingTest, ResetSentCarriesItsReasonAndSocketState) {
  auto raw = record(SYNFIN_EV_SEND_RESET, 7, 8080, 40000);
  raw.reason = SYNFIN_RESET_TCP_ABORT_ON_CLOSE;
  raw.new_state = 7;  // TCP_CLOSE
  decode::Decoder decoder;
  auto event = decoder.decode(bytes_of(raw));
  ASSERT_TRUE(event);
  EXPECT_EQ(event->kind, EventKind::ResetSent);
  EXPECT_EQ(model::reset_reason_name(event->reason), "TCP_ABORT_ON_CLOSE");
  EXPECT_EQ(event->socket_state, S::Close);
  EXPECT_FALSE(event->no_socket);
}

TEST(VerdictDecodingTest, ResetToASegmentNoSocketMatchedKeepsTheSegmentsEnds) {
  auto raw = record(SYNFIN_EV_SEND_RESET, 0, 18509, 36584);
  raw.reason = SYNFIN_RESET_NO_SOCKET;
  raw.flags = SYNFIN_FLAG_NO_SOCKET;
  decode::Decoder decoder;
  auto event = decoder.decode(bytes_of(raw));
  ASSERT_TRUE(event);
  EXPECT_TRUE(event->no_socket);
  EXPECT_EQ(event->cookie, 0u);
  EXPECT_EQ(event->tuple.local.port, 18509);  // where the refused SYN went
  EXPECT_EQ(event->tuple.remote.port, 36584);
  EXPECT_EQ(model::reset_reason_name(event->reason), "NO_SOCKET");
  EXPECT_EQ(event->socket_state, S::Unknown);
}

TEST(VerdictDecodingTest, DropRecordCarriesReasonAndState) {
  auto raw = record(SYNFIN_EV_DROP, 9, 8080, 40000);
  raw.reason = SYNFIN_DROP_TCP_RFC7323_TW_PAWS;
  raw.new_state = 6;  // TCP_TIME_WAIT
  decode::Decoder decoder;
  auto event = decoder.decode(bytes_of(raw));
  ASSERT_TRUE(event);
  EXPECT_EQ(event->kind, EventKind::Dropped);
  EXPECT_EQ(model::drop_reason_name(event->reason), "TCP_RFC7323_TW_PAWS");
  EXPECT_EQ(event->socket_state, S::TimeWait);
  EXPECT_EQ(decode::record_source_name(SYNFIN_EV_DROP), "drop");
  EXPECT_EQ(decoder.counters().decoded_by_type[SYNFIN_EV_DROP], 1u);
}

TEST(VerdictDecodingTest, ReasonsOrStatesOutsideTheirRangeAreBadFields) {
  decode::Decoder decoder;
  auto reset = record(SYNFIN_EV_SEND_RESET, 1, 1, 2);
  reset.reason = SYNFIN_RESET_REASON_COUNT;
  EXPECT_FALSE(decoder.decode(bytes_of(reset)));
  auto drop = record(SYNFIN_EV_DROP, 1, 1, 2);
  drop.reason = SYNFIN_DROP_REASON_COUNT;
  EXPECT_FALSE(decoder.decode(bytes_of(drop)));
  auto state = record(SYNFIN_EV_DROP, 1, 1, 2);
  state.new_state = 200;
  EXPECT_FALSE(decoder.decode(bytes_of(state)));
  EXPECT_EQ(decoder.counters().bad_field, 3u);
}

TEST(VerdictDecodingTest, ListenerRowCarriesItsSynQueue) {
  synfin_socket_record row{};
  row.cookie = 5;
  row.family = SYNFIN_AF_INET;
  row.state = 10;  // LISTEN
  row.sport = 8080;
  row.rx_queue = 3;
  row.tx_queue = 4;
  row.syn_queue = 2;
  auto socket = decode::decode_socket_record(row);
  ASSERT_TRUE(socket);
  EXPECT_EQ(socket->syn_queue, 2u);
  EXPECT_EQ(socket->recv_queue_bytes, 3u);
}

// ---- bounded names ----

// Upper case, digits and '_' only, not empty (no std::regex: GCC 12 warns inside it under ASan).
bool tracefs_style(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

TEST(ReasonNamesTest, EveryReasonHasOneDistinctTracefsStyleName) {
  std::set<std::string_view> resets, drops;
  for (std::size_t r = 0; r < model::kResetReasonCount; ++r) {
    std::string_view name = model::reset_reason_name(r);
    EXPECT_TRUE(tracefs_style(name)) << name;
    resets.insert(name);
  }
  for (std::size_t r = 0; r < model::kDropReasonCount; ++r) {
    std::string_view name = model::drop_reason_name(r);
    EXPECT_TRUE(tracefs_style(name)) << name;
    EXPECT_EQ(name.find("SKB_DROP_REASON_"), std::string_view::npos);
    drops.insert(name);
  }
  EXPECT_EQ(resets.size(), model::kResetReasonCount);
  EXPECT_EQ(drops.size(), model::kDropReasonCount);
  EXPECT_EQ(model::reset_reason_name(model::kResetReasonCount), "");
  EXPECT_EQ(model::drop_reason_name(255), "");
  EXPECT_EQ(model::reset_reason_name(0), "UNKNOWN");
  EXPECT_EQ(model::drop_reason_name(SYNFIN_DROP_REASON_OTHER), "OTHER");
  EXPECT_EQ(model::drop_reason_name(SYNFIN_DROP_TCP_LISTEN_OVERFLOW), "TCP_LISTEN_OVERFLOW");
}

TEST(DropCountsTest, AConnectionKeepsFourReasonsAndCountsTheRestTogether) {
  model::DropCounts drops;
  for (uint8_t reason = 1; reason <= 10; ++reason)
    for (int i = 0; i < reason; ++i) drops.add(reason);
  EXPECT_EQ(drops.total(), 55u);
  EXPECT_EQ(drops.reasons[0], 1);
  EXPECT_EQ(drops.counts[3], 4u);
  EXPECT_EQ(drops.other, 55u - 1 - 2 - 3 - 4);
  static_assert(sizeof(model::DropCounts) <= 32, "per-connection drops must stay small");
}

TEST(RecentResetsTest, TheReceiverLearnsTheLocalSendersReasonWithinTheWindow) {
  model::RecentResets resets;
  auto server_side = testing::loopback_tuple(18509, 36584);
  auto client_side = testing::loopback_tuple(36584, 18509);
  resets.sent(server_side, SYNFIN_RESET_NO_SOCKET, 1000);
  EXPECT_EQ(resets.reason_received(client_side, 2000), SYNFIN_RESET_NO_SOCKET);
  EXPECT_EQ(resets.reason_received(server_side, 2000), 0);  // not towards itself
  EXPECT_EQ(resets.reason_received(client_side, 1000 + 2 * model::RecentResets::kWindowNs), 0);
  EXPECT_EQ(resets.reason_received(testing::loopback_tuple(36585, 18509), 2000), 0);
}

// ---- the model and its outputs ----

model::Event reset_sent(uint64_t cookie, model::SocketTuple tuple, uint8_t reason, uint64_t ts,
                        bool no_socket = false) {
  model::Event e;
  e.kind = EventKind::ResetSent;
  e.cookie = cookie;
  e.tuple = tuple;
  e.reason = reason;
  e.no_socket = no_socket;
  e.ts_ns = ts;
  return e;
}

model::Event dropped(uint64_t cookie, model::SocketTuple tuple, uint8_t reason, TcpState state,
                     uint64_t ts) {
  model::Event e;
  e.kind = EventKind::Dropped;
  e.cookie = cookie;
  e.tuple = tuple;
  e.reason = reason;
  e.socket_state = state;
  e.ts_ns = ts;
  return e;
}

TEST(VerdictModelTest, CloseLineNamesTheResetReasonAndTheDrops) {
  model::DaemonModel daemon({});
  auto tuple = testing::loopback_tuple(40000, 80);
  Sequence s(1, tuple);
  s.steps({S::Close, S::SynSent, S::Established});
  for (const auto& e : s.events()) daemon.apply(e);
  daemon.apply(dropped(1, tuple, SYNFIN_DROP_TCP_OLD_DATA, S::Established, 2'000'000));
  daemon.apply(dropped(1, tuple, SYNFIN_DROP_TCP_OLD_DATA, S::Established, 2'000'001));
  daemon.apply(dropped(1, tuple, SYNFIN_DROP_TCP_ZEROWINDOW, S::Established, 2'000'002));
  daemon.apply(reset_sent(1, tuple, SYNFIN_RESET_TCP_STATE, 2'000'003));
  Sequence end(1, tuple);
  end.step(S::Established, S::Close).signal(EventKind::Destroyed);
  for (auto e : end.events()) {
    e.ts_ns += 2'000'000;
    daemon.apply(e);
  }
  std::string line;
  daemon.for_each_recent_close([&](const model::ClosedConnection& closed) {
    fmt::memory_buffer out;
    outputs::append_close_json(out, closed.connection, closed.classification, 0);
    line = fmt::to_string(out);
  });
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["outcome"], "reset_sent");
  EXPECT_EQ(j["reset_reason"], "TCP_STATE");
  EXPECT_EQ(j["drops"], (nlohmann::json{{"TCP_OLD_DATA", 2}, {"TCP_ZEROWINDOW", 1}}));
  const auto& a = daemon.aggregates();
  EXPECT_EQ(a.resets_sent_by_reason[SYNFIN_RESET_TCP_STATE], 1u);
}

// On loopback the receiving end's tcp_receive_reset can be recorded before the sender's
// tcp_send_reset: the receiver still learns the reason when the sender's record arrives.
TEST(VerdictModelTest, AReceiverRecordedFirstLearnsTheReasonFromTheLaterSentRecord) {
  model::DaemonModel daemon({});
  auto server = testing::loopback_tuple(80, 40000);
  auto client = testing::loopback_tuple(40000, 80);
  Sequence s(2, server);
  s.steps({S::Listen, S::SynRecv, S::Established});
  for (const auto& e : s.events()) daemon.apply(e);
  model::Event received;
  received.kind = EventKind::ResetReceived;
  received.cookie = 2;
  received.tuple = server;
  received.ts_ns = 3'000'000;
  daemon.apply(received);
  daemon.apply(reset_sent(9, client, SYNFIN_RESET_TCP_ABORT_ON_CLOSE, 3'000'010));
  ASSERT_NE(daemon.table().find(2), nullptr);
  EXPECT_EQ(daemon.table().find(2)->reset_reason, SYNFIN_RESET_TCP_ABORT_ON_CLOSE);
  // A later reset from the same tuple does not rename it.
  daemon.apply(reset_sent(9, client, SYNFIN_RESET_TCP_STATE, 3'000'020));
  EXPECT_EQ(daemon.table().find(2)->reset_reason, SYNFIN_RESET_TCP_ABORT_ON_CLOSE);
}

// The daemon's compact mode: a socket is not in the table until its path arrives; a reset or
// drop meanwhile starts its entry, and the close line still carries them.
TEST(VerdictModelTest, CompactModeKeepsResetsAndDropsUntilThePathArrives) {
  model::DaemonModelConfig config;
  config.compact = true;
  model::DaemonModel daemon(config);
  auto tuple = testing::loopback_tuple(40000, 80);
  daemon.apply(dropped(5, tuple, SYNFIN_DROP_TCP_OLD_DATA, S::Established, 2'000'000));
  daemon.apply(reset_sent(5, tuple, SYNFIN_RESET_TCP_STATE, 2'000'001));
  daemon.apply(dropped(6, tuple, SYNFIN_DROP_TCP_RFC7323_TW_PAWS, S::TimeWait, 2'000'002));
  EXPECT_EQ(daemon.table().find(6), nullptr);  // a TIME_WAIT socket never gets a path
  model::SocketPath path;
  path.cookie = 5;
  path.tuple = tuple;
  path.ended = true;
  path.read_ns = 2'000'100;
  path.reset_sent = true;
  const S states[] = {S::Close, S::SynSent, S::Established, S::Close};
  for (int i = 0; i < 3; ++i) path.steps[i] = {states[i], states[i + 1], 1'000'000u + i * 1000u};
  path.steps[2].ts_ns = 2'000'050;
  path.step_count = 3;
  daemon.table().apply_path(path);
  int closes = 0;
  daemon.for_each_recent_close([&](const model::ClosedConnection& closed) {
    ++closes;
    fmt::memory_buffer out;
    outputs::append_close_json(out, closed.connection, closed.classification, 0);
    auto j = nlohmann::json::parse(fmt::to_string(out));
    EXPECT_EQ(j["outcome"], "reset_sent");
    EXPECT_EQ(j["verdict"], "valid");
    EXPECT_EQ(j["reset_reason"], "TCP_STATE");
    EXPECT_EQ(j["drops"], (nlohmann::json{{"TCP_OLD_DATA", 1}}));
  });
  EXPECT_EQ(closes, 1);
  EXPECT_EQ(daemon.table().find(5), nullptr);
}

TEST(VerdictModelTest, RefusedClientLearnsNoSocketAndThePortIsCountedOnlyWhenNamed) {
  model::DaemonModelConfig config;
  config.metrics_ports = {18509};
  model::DaemonModel daemon(config);
  auto client = testing::loopback_tuple(36584, 18509);
  auto client_before_port = testing::loopback_tuple(0, 18509);
  Sequence s(1, client_before_port);
  s.step(S::Close, S::SynSent);
  for (const auto& e : s.events()) daemon.apply(e);
  daemon.apply(reset_sent(0, testing::loopback_tuple(18509, 36584), SYNFIN_RESET_NO_SOCKET,
                          1'500'000, true));
  daemon.apply(reset_sent(0, testing::loopback_tuple(22, 5555), SYNFIN_RESET_NO_SOCKET, 1'500'001,
                          true));  // a scanned port: in the total only
  model::Event received;
  received.kind = EventKind::ResetReceived;
  received.cookie = 1;
  received.tuple = client;
  received.ts_ns = 1'500'002;
  daemon.apply(received);
  const model::Connection* c = daemon.table().find(1);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->reset_reason, SYNFIN_RESET_NO_SOCKET);
  EXPECT_EQ(c->tuple.local.port, 36584);  // the port only the reset record showed
  const auto& a = daemon.aggregates();
  EXPECT_EQ(a.no_socket_resets, 2u);
  EXPECT_EQ(a.resets_received_by_reason[SYNFIN_RESET_NO_SOCKET], 1u);
  EXPECT_EQ(daemon.port_sockets().at(0).no_socket_resets, 1u);

  std::string text = outputs::render_metrics(daemon, {});
  EXPECT_NE(text.find("synfin_tcp_port_no_socket_resets_total{port=\"18509\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("port=\"22\""), std::string::npos);
  EXPECT_NE(text.find("synfin_tcp_no_socket_resets_total 2\n"), std::string::npos);
}

TEST(VerdictModelTest, DropsOnTimeWaitSocketsCountForTheTimeWaitView) {
  model::DaemonModel daemon({});
  daemon.apply(dropped(77, testing::loopback_tuple(40000, 80), SYNFIN_DROP_TCP_RFC7323_TW_PAWS,
                       S::TimeWait, 1000));
  EXPECT_EQ(daemon.aggregates().time_wait_drops[SYNFIN_DROP_TCP_RFC7323_TW_PAWS], 1u);
  std::string text = outputs::render_metrics(daemon, {});
  EXPECT_NE(text.find("synfin_tcp_time_wait_drops_total{reason=\"TCP_RFC7323_TW_PAWS\"} 1\n"),
            std::string::npos);
}

std::size_t samples_of(const std::string& text, const std::string& family) {
  std::size_t count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(family + "{", 0) == 0 || line.rfind(family + " ", 0) == 0) ++count;
  return count;
}

TEST(VerdictMetricsTest, LabelSetsAreBoundedAndThereFromTheStart) {
  model::DaemonModel daemon({});
  outputs::SelfMetrics self;
  self.drops[SYNFIN_DROP_NO_SOCKET] = 3;
  self.listen = {5, 1, 2, 4};
  self.kernel_features = {{"reset_reasons", true}, {"listen_refusals", false}};
  std::string text = outputs::render_metrics(daemon, self);
  EXPECT_EQ(samples_of(text, "synfin_tcp_resets_total"), 2 * model::kResetReasonCount);
  EXPECT_EQ(samples_of(text, "synfin_tcp_drops_total"), model::kDropReasonCount - 1);
  EXPECT_EQ(samples_of(text, "synfin_tcp_time_wait_drops_total"), model::kDropReasonCount - 1);
  EXPECT_EQ(samples_of(text, "synfin_tcp_listen_drops_total"), 3u);
  EXPECT_NE(text.find("synfin_tcp_drops_total{reason=\"NO_SOCKET\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("synfin_tcp_listen_drops_total{cause=\"overflow\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("synfin_tcp_listener_resets_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("synfin_kernel_feature_available{feature=\"listen_refusals\"} 0\n"),
            std::string::npos);
  EXPECT_EQ(text.find("synfin_tcp_port_listen_drops_total"), std::string::npos);  // no ports
}

TEST(VerdictMetricsTest, ListenDropsPerPortOnlyForNamedPorts) {
  model::DaemonModelConfig config;
  config.metrics_ports = {8080};
  model::DaemonModel daemon(config);
  outputs::SelfMetrics self;
  self.port_listen = {{8080, {7, 0, 0, 0}}, {9090, {100, 0, 0, 0}}};
  std::string text = outputs::render_metrics(daemon, self);
  EXPECT_NE(text.find("synfin_tcp_port_listen_drops_total{port=\"8080\",cause=\"overflow\"} 7\n"),
            std::string::npos);
  EXPECT_EQ(text.find("port=\"9090\""), std::string::npos);
}

// ---- /api/v1/listeners ----

TEST(ListenersApiTest, ListsListenersWithOwnersQueuesAndRefusalsMostOverflowingFirst) {
  model::KernelSocket quiet, busy, connected;
  quiet.cookie = 0x10;
  quiet.state = S::Listen;
  quiet.tuple = testing::loopback_tuple(22, 0);
  quiet.inode = 100;
  quiet.send_queue_bytes = 128;
  busy.cookie = 0x20;
  busy.state = S::Listen;
  busy.tuple = testing::loopback_tuple(8080, 0);
  busy.inode = 200;
  busy.recv_queue_bytes = 1;  // accept queue
  busy.send_queue_bytes = 0;  // listen(0)
  busy.syn_queue = 3;
  connected.cookie = 0x30;
  connected.state = S::Established;
  connected.tuple = testing::loopback_tuple(8080, 40000);
  api::ListenersApiHooks hooks;
  hooks.snapshot = [&] { return std::vector<model::KernelSocket>{quiet, busy, connected}; };
  hooks.resolve_owners = [](std::span<const uint64_t> inodes) {
    std::unordered_map<uint64_t, std::vector<model::ProcessInfo>> owners;
    for (uint64_t inode : inodes)
      if (inode == 200) owners[inode] = {{4242, "slow-acceptor", "/system.slice/app.service"}};
    return owners;
  };
  hooks.counters = [] {
    std::unordered_map<uint64_t, synfin_listener_counters> counters;
    counters[0x20] = {796, 2, 1, 5};
    return counters;
  };
  api::ListenersApi api(hooks);
  auto answer = api.listeners({});
  ASSERT_EQ(answer.status, 200);
  auto body = nlohmann::json::parse(answer.body);
  ASSERT_EQ(body["count"], 2);
  const auto& first = body["listeners"][0];
  EXPECT_EQ(first["sport"], 8080);
  EXPECT_EQ(first["local"], "127.0.0.1:8080");
  EXPECT_EQ(first["pid"], 4242);
  EXPECT_EQ(first["comm"], "slow-acceptor");
  EXPECT_EQ(first["cgroup"], "/system.slice/app.service");
  EXPECT_EQ(first["accept_queue"], 1);
  EXPECT_EQ(first["accept_queue_limit"], 0);
  EXPECT_EQ(first["syn_queue"], 3);
  EXPECT_EQ(first["overflows"], 796);
  EXPECT_EQ(first["syn_queue_drops"], 2);
  EXPECT_EQ(first["other_drops"], 1);
  EXPECT_EQ(first["resets_sent"], 5);
  const auto& second = body["listeners"][1];
  EXPECT_EQ(second["sport"], 22);
  EXPECT_TRUE(second["pid"].is_null());
  EXPECT_EQ(second["overflows"], 0);
  EXPECT_EQ(body["totals"]["overflows"], 796);

  auto one = nlohmann::json::parse(api.listeners({{"port", "22"}}).body);
  EXPECT_EQ(one["count"], 1);
  EXPECT_EQ(api.listeners({{"port", "0"}}).status, 400);
  EXPECT_EQ(api.listeners({{"port", "http"}}).status, 400);
}

}  // namespace
}  // namespace synfin
