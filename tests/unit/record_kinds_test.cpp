// One row per kind of SYNFIN_RECORD_KINDS: a raw record as its writer fills it, and the event
// (or path) the decoder must make of it. A kind added to the table without a row here fails
// EveryKindHasARow.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <set>
#include <string_view>
#include <variant>
#include <vector>

#include "decode/decoder.h"
#include "synfin/abi.h"

namespace synfin::decode {
namespace {

using model::EventKind;

template <typename Raw>
std::vector<std::byte> bytes_of(const Raw& raw) {
  std::vector<std::byte> out(sizeof(raw));
  std::memcpy(out.data(), &raw, sizeof(raw));
  return out;
}

synfin_event socket_event(uint32_t type) {
  synfin_event raw{};
  raw.ts_ns = 1000;
  raw.cookie = 0xc0;
  raw.type = type;
  raw.family = SYNFIN_AF_INET;
  raw.sport = 8080;
  raw.dport = 51000;
  raw.saddr[0] = 127;
  raw.daddr[0] = 127;
  raw.tgid = 42;
  std::memcpy(raw.comm, "server", 7);
  return raw;
}

struct KindCase {
  uint32_t type;
  std::string_view source;
  RecordOrigin origin;
  std::vector<std::byte> raw;
  std::function<void(const Record&)> expect;
};

void expect_socket_event(const Record& record, EventKind kind) {
  ASSERT_TRUE(std::holds_alternative<model::Event>(record));
  const auto& event = std::get<model::Event>(record);
  EXPECT_EQ(event.kind, kind);
  EXPECT_EQ(event.ts_ns, 1000u);
  EXPECT_EQ(event.cookie, 0xc0u);
  EXPECT_EQ(event.tuple.family, model::AddressFamily::IPv4);
  EXPECT_EQ(event.tuple.local.port, 8080);
  EXPECT_EQ(event.tuple.remote.port, 51000);
  EXPECT_EQ(event.task.pid, 42u);
  EXPECT_EQ(event.task.comm_view(), "server");
}

std::function<void(const Record&)> socket_kind(EventKind kind) {
  return [kind](const Record& r) { expect_socket_event(r, kind); };
}

std::vector<KindCase> cases() {
  std::vector<KindCase> rows;
  synfin_event state = socket_event(SYNFIN_EV_STATE);
  state.old_state = 2;  // SYN_SENT
  state.new_state = 1;  // ESTABLISHED
  rows.push_back(
      {SYNFIN_EV_STATE, "state_change", RecordOrigin::Kernel, bytes_of(state), [](const Record& r) {
         expect_socket_event(r, EventKind::StateChange);
         const auto& event = std::get<model::Event>(r);
         EXPECT_EQ(event.from, model::TcpState::SynSent);
         EXPECT_EQ(event.to, model::TcpState::Established);
       }});
  rows.push_back({SYNFIN_EV_RETRANSMIT, "retransmit", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_RETRANSMIT)),
                  socket_kind(EventKind::Retransmit)});
  rows.push_back({SYNFIN_EV_SYNACK_RETRANSMIT, "synack_retransmit", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_SYNACK_RETRANSMIT)),
                  socket_kind(EventKind::SynAckRetransmit)});
  synfin_event reset = socket_event(SYNFIN_EV_SEND_RESET);
  reset.reason = 1;
  rows.push_back({SYNFIN_EV_SEND_RESET, "send_reset", RecordOrigin::Kernel, bytes_of(reset),
                  [](const Record& r) {
                    expect_socket_event(r, EventKind::ResetSent);
                    EXPECT_EQ(std::get<model::Event>(r).reason, 1);
                  }});
  rows.push_back({SYNFIN_EV_RECEIVE_RESET, "receive_reset", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_RECEIVE_RESET)),
                  socket_kind(EventKind::ResetReceived)});
  rows.push_back({SYNFIN_EV_DESTROY, "destroy", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_DESTROY)), socket_kind(EventKind::Destroyed)});
  rows.push_back({SYNFIN_EV_ACCEPT, "accept", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_ACCEPT)), socket_kind(EventKind::Accepted)});
  rows.push_back({SYNFIN_EV_UNTRACK, "untrack", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_UNTRACK)), [](const Record& r) {
                    ASSERT_TRUE(std::holds_alternative<model::Event>(r));
                    const auto& event = std::get<model::Event>(r);
                    EXPECT_EQ(event.kind, EventKind::Untracked);
                    EXPECT_EQ(event.cookie, 0xc0u);  // only the cookie matters
                  }});
  synfin_packet packet{};
  packet.ts_ns = 2000;
  packet.cookie = 0xc1;
  packet.type = SYNFIN_EV_PACKET;
  packet.ifindex = 3;
  packet.family = SYNFIN_AF_INET;
  packet.src_port = 51000;
  packet.dst_port = 8080;
  packet.flag_class = SYNFIN_XDP_SYN;
  packet.seq = 7;
  rows.push_back(
      {SYNFIN_EV_PACKET, "packet", RecordOrigin::Kernel, bytes_of(packet), [](const Record& r) {
         ASSERT_TRUE(std::holds_alternative<model::Event>(r));
         const auto& event = std::get<model::Event>(r);
         EXPECT_EQ(event.kind, EventKind::Packet);
         EXPECT_EQ(event.cookie, 0xc1u);
         EXPECT_EQ(event.tuple.local.port, 8080);  // the packet's destination
         EXPECT_EQ(event.tuple.remote.port, 51000);
         EXPECT_EQ(event.packet.ifindex, 3u);
         EXPECT_EQ(event.packet.seq, 7u);
       }});
  synfin_interface_record interface {};
  interface.ts_ns = 3000;
  interface.type = SYNFIN_EV_INTERFACE;
  interface.ifindex = 3;
  std::memcpy(interface.name, "sfveth0", 8);
  rows.push_back({SYNFIN_EV_INTERFACE, "interface", RecordOrigin::Userspace, bytes_of(interface),
                  [](const Record& r) {
                    ASSERT_TRUE(std::holds_alternative<model::Event>(r));
                    const auto& event = std::get<model::Event>(r);
                    EXPECT_EQ(event.kind, EventKind::Interface);
                    EXPECT_EQ(event.packet.ifindex, 3u);
                    EXPECT_STREQ(event.packet.interface_name.data(), "sfveth0");
                  }});
  synfin_clock_record clock{};
  clock.ts_ns = 4000;
  clock.type = SYNFIN_EV_CLOCK;
  rows.push_back(
      {SYNFIN_EV_CLOCK, "clock", RecordOrigin::Userspace, bytes_of(clock), [](const Record& r) {
         ASSERT_TRUE(std::holds_alternative<model::Event>(r));
         EXPECT_EQ(std::get<model::Event>(r).kind, EventKind::Clock);
         EXPECT_EQ(std::get<model::Event>(r).ts_ns, 4000u);
       }});
  synfin_event drop = socket_event(SYNFIN_EV_DROP);
  drop.reason = 2;
  drop.new_state = 1;
  rows.push_back(
      {SYNFIN_EV_DROP, "drop", RecordOrigin::Kernel, bytes_of(drop), [](const Record& r) {
         expect_socket_event(r, EventKind::Dropped);
         EXPECT_EQ(std::get<model::Event>(r).reason, 2);
         EXPECT_EQ(std::get<model::Event>(r).socket_state, model::TcpState::Established);
       }});
  synfin_path_record path{};
  path.ts_ns = 5000;
  path.cookie = 0xc2;
  path.type = SYNFIN_EV_PATH;
  path.record_flags = SYNFIN_PATH_RECORD_ENDED;
  path.path.family = SYNFIN_AF_INET6;
  path.path.sport = 443;
  path.path.steps = 2;
  path.path.step_from[0] = 7;  // CLOSE
  path.path.step_to[0] = 2;    // SYN_SENT
  path.path.step_ns[0] = 10;
  path.path.step_from[1] = 2;
  path.path.step_to[1] = 1;  // ESTABLISHED
  path.path.step_ns[1] = 20;
  rows.push_back(
      {SYNFIN_EV_PATH, "path", RecordOrigin::Kernel, bytes_of(path), [](const Record& r) {
         ASSERT_TRUE(std::holds_alternative<model::SocketPath>(r));
         const auto& p = std::get<model::SocketPath>(r);
         EXPECT_EQ(p.cookie, 0xc2u);
         EXPECT_TRUE(p.ended);
         EXPECT_EQ(p.tuple.family, model::AddressFamily::IPv6);
         EXPECT_EQ(p.tuple.local.port, 443);
         ASSERT_EQ(p.step_count, 2);
         EXPECT_EQ(p.steps[1].to, model::TcpState::Established);
         EXPECT_EQ(p.steps[1].ts_ns, 20u);
       }});
  rows.push_back({SYNFIN_EV_TIME_WAIT, "time_wait", RecordOrigin::Kernel,
                  bytes_of(socket_event(SYNFIN_EV_TIME_WAIT)),
                  socket_kind(EventKind::TimeWaitEntered)});
  return rows;
}

TEST(RecordKindsTest, EveryKindHasARow) {
  std::set<uint32_t> covered;
  for (const auto& row : cases()) covered.insert(row.type);
  for (uint32_t type = 1; type < SYNFIN_EV_TYPE_COUNT; ++type)
    EXPECT_TRUE(covered.count(type))
        << "no row for record kind " << type << " (" << record_source_name(type) << ")";
}

TEST(RecordKindsTest, EachKindDecodesToItsEvent) {
  for (const auto& row : cases()) {
    SCOPED_TRACE(row.source);
    EXPECT_EQ(record_source_name(row.type), row.source);
    EXPECT_EQ(record_origin(row.type), row.origin);
    Decoder decoder;
    auto decoded = decoder.decode_record(row.raw);
    ASSERT_TRUE(decoded.has_value());
    row.expect(*decoded);
    EXPECT_EQ(decoder.counters().decoded_by_type[row.type], 1u);
    EXPECT_EQ(decoder.undecodable(), 0u);
    // One byte short or one too many is refused, whatever the kind's layout.
    std::vector<std::byte> shorter(row.raw.begin(), row.raw.end() - 1);
    std::vector<std::byte> longer = row.raw;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decoder.decode_record(shorter));
    EXPECT_FALSE(decoder.decode_record(longer));
    EXPECT_EQ(decoder.counters().truncated, 1u);
    EXPECT_EQ(decoder.counters().oversized, 1u);
  }
}

}  // namespace
}  // namespace synfin::decode
