#include "decode/decoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "synfin/abi.h"

namespace synfin::decode {
namespace {

synfin_event valid_record() {
  synfin_event raw{};
  raw.ts_ns = 123;
  raw.cookie = 0xabc;
  raw.type = SYNFIN_EV_STATE;
  raw.tgid = 42;
  raw.family = 10;
  raw.sport = 8080;
  raw.dport = 51000;
  raw.old_state = 2;
  raw.new_state = 1;
  raw.saddr[15] = 1;
  raw.daddr[15] = 1;
  std::memcpy(raw.comm, "curl", 5);
  raw.flags = SYNFIN_FLAG_TASK_IS_OWNER;
  return raw;
}

std::vector<std::byte> bytes_of(const synfin_event& raw, std::size_t size = sizeof(synfin_event)) {
  std::vector<std::byte> out(size);
  if (size)
    std::memcpy(out.data(), &raw, std::min(size, sizeof(raw)));  // data() is null when empty
  return out;
}

TEST(DecoderTest, DecodesAValidRecord) {
  Decoder decoder;
  auto event = decoder.decode(bytes_of(valid_record()));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, model::EventKind::StateChange);
  EXPECT_EQ(event->cookie, 0xabcu);
  EXPECT_EQ(event->tuple.family, model::AddressFamily::IPv6);
  EXPECT_EQ(event->tuple.local.port, 8080);
  EXPECT_EQ(event->tuple.remote.port, 51000);
  EXPECT_EQ(event->from, model::TcpState::SynSent);
  EXPECT_EQ(event->to, model::TcpState::Established);
  EXPECT_EQ(event->task.pid, 42u);
  EXPECT_EQ(event->task.comm_view(), "curl");
  EXPECT_TRUE(event->task_is_owner);
  EXPECT_EQ(decoder.counters().decoded, 1u);
}

TEST(DecoderTest, CountsAndSkipsTruncatedRecords) {
  Decoder decoder;
  for (std::size_t size : {0ul, 1ul, 8ul, sizeof(synfin_event) - 1})
    EXPECT_FALSE(decoder.decode(bytes_of(valid_record(), size)).has_value());
  EXPECT_EQ(decoder.counters().truncated, 4u);
  EXPECT_EQ(decoder.undecodable(), 4u);
}

TEST(DecoderTest, CountsAndSkipsOversizedRecords) {
  Decoder decoder;
  EXPECT_FALSE(decoder.decode(bytes_of(valid_record(), sizeof(synfin_event) + 8)).has_value());
  EXPECT_FALSE(decoder.decode(bytes_of(valid_record(), 4096)).has_value());
  EXPECT_EQ(decoder.counters().oversized, 2u);
}

TEST(DecoderTest, CountsAndSkipsUnknownTypes) {
  Decoder decoder;
  for (uint32_t type : {0u, uint32_t{SYNFIN_EV_TYPE_COUNT}, 0xffffffffu}) {
    auto raw = valid_record();
    raw.type = type;
    EXPECT_FALSE(decoder.decode(bytes_of(raw)).has_value());
  }
  EXPECT_EQ(decoder.counters().unknown_type, 3u);
}

TEST(DecoderTest, RejectsStatesAndFamiliesOutsideTheKernelsRange) {
  Decoder decoder;
  auto bad_state = valid_record();
  bad_state.new_state = 200;
  auto bad_family = valid_record();
  bad_family.family = 1;  // AF_UNIX
  EXPECT_FALSE(decoder.decode(bytes_of(bad_state)).has_value());
  EXPECT_FALSE(decoder.decode(bytes_of(bad_family)).has_value());
  EXPECT_EQ(decoder.counters().bad_field, 2u);
}

TEST(DecoderTest, UnterminatedCommIsCut) {
  Decoder decoder;
  auto raw = valid_record();
  std::memset(raw.comm, 'x', sizeof(raw.comm));
  auto event = decoder.decode(bytes_of(raw));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->task.comm_view().size(), 15u);
}

// ss shows a mini-socket by its own state: FIN_WAIT2 until the peer's FIN, then TIME_WAIT.
TEST(DecoderTest, ATimeWaitRowSaysWhetherItsMiniSocketAwaitsThePeersFin) {
  synfin_socket_record row{};
  row.cookie = 9;
  row.family = SYNFIN_AF_INET;
  row.state = 6;               // TIME_WAIT: the kernel's mini-socket
  row.time_wait_substate = 5;  // FIN_WAIT2
  auto waiting = decode_socket_record(row);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->state, model::TcpState::TimeWait);
  EXPECT_TRUE(waiting->awaiting_peer_fin);
  row.time_wait_substate = 6;
  auto time_wait = decode_socket_record(row);
  ASSERT_TRUE(time_wait);
  EXPECT_FALSE(time_wait->awaiting_peer_fin);
}

TEST(DecoderTest, NonStateRecordsIgnoreStateBytes) {
  Decoder decoder;
  auto raw = valid_record();
  raw.type = SYNFIN_EV_DESTROY;
  raw.old_state = 0;
  raw.new_state = 0;
  auto event = decoder.decode(bytes_of(raw));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, model::EventKind::Destroyed);
}

}  // namespace
}  // namespace synfin::decode

namespace synfin::decode {
namespace {

synfin_packet valid_packet() {
  synfin_packet raw{};
  raw.ts_ns = 77;
  raw.cookie = 0xfeed;
  raw.type = SYNFIN_EV_PACKET;
  raw.ifindex = 3;
  raw.family = SYNFIN_AF_INET;
  raw.src_port = 40000;
  raw.dst_port = 443;
  raw.tcp_flags = SYNFIN_TCP_FIN | SYNFIN_TCP_ACK;
  raw.flag_class = SYNFIN_XDP_FIN;
  raw.sk_state = 1;  // ESTABLISHED
  raw.src_addr[0] = 10;
  raw.dst_addr[0] = 192;
  raw.seq = 100;
  raw.ack = 200;
  raw.end_seq = 111;
  raw.packet_flags = SYNFIN_PACKET_SOCKET_SEQ;
  raw.sk_rcv_nxt = 100;
  return raw;
}

template <typename Raw>
std::vector<std::byte> raw_bytes(const Raw& raw, std::size_t size = sizeof(Raw)) {
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), &raw, std::min(size, sizeof(raw)));
  return out;
}

TEST(PacketDecoderTest, APacketIsSeenFromTheReceivingSocket) {
  Decoder decoder;
  auto event = decoder.decode(raw_bytes(valid_packet()));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, model::EventKind::Packet);
  EXPECT_EQ(event->cookie, 0xfeedu);
  EXPECT_EQ(event->tuple.local.port, 443);  // the destination is this host's end
  EXPECT_EQ(event->tuple.remote.port, 40000);
  EXPECT_EQ(event->tuple.local.address[0], 192);
  EXPECT_EQ(event->tuple.remote.address[0], 10);
  EXPECT_EQ(event->packet.socket_state, model::TcpState::Established);
  EXPECT_TRUE(event->packet.socket_sequence_valid);
  EXPECT_EQ(event->packet.payload_length(), 10u);
  EXPECT_EQ(decoder.counters().decoded_by_type[SYNFIN_EV_PACKET], 1u);
}

TEST(PacketDecoderTest, PacketRecordsAreSizeCheckedByTheirOwnLayout) {
  Decoder decoder;
  EXPECT_FALSE(decoder.decode(raw_bytes(valid_packet(), sizeof(synfin_packet) - 1)));
  EXPECT_FALSE(decoder.decode(raw_bytes(valid_packet(), sizeof(synfin_event))));
  auto bad_class = valid_packet();
  bad_class.flag_class = SYNFIN_XDP_NON_TCP;  // never sent for a TCP packet
  auto bad_state = valid_packet();
  bad_state.sk_state = 99;
  EXPECT_FALSE(decoder.decode(raw_bytes(bad_class)));
  EXPECT_FALSE(decoder.decode(raw_bytes(bad_state)));
  EXPECT_EQ(decoder.counters().truncated, 1u);
  EXPECT_EQ(decoder.counters().oversized, 1u);
  EXPECT_EQ(decoder.counters().bad_field, 2u);
}

TEST(PacketDecoderTest, InterfaceRecordsNameAnIfindex) {
  synfin_interface_record raw{};
  raw.type = SYNFIN_EV_INTERFACE;
  raw.ifindex = 7;
  std::memset(raw.name, 'e', sizeof(raw.name));  // unterminated: cut at 15
  Decoder decoder;
  auto event = decoder.decode(raw_bytes(raw));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, model::EventKind::Interface);
  EXPECT_EQ(event->packet.ifindex, 7u);
  EXPECT_EQ(event->packet.interface_name_view().size(), 15u);
}

TEST(PacketDecoderTest, EveryKindHasASourceLabel) {
  for (std::size_t type = 1; type < model::kEventKindSlots; ++type)
    EXPECT_FALSE(record_source_name(type).empty()) << type;
  EXPECT_TRUE(record_source_name(0).empty());
  EXPECT_TRUE(record_source_name(model::kEventKindSlots).empty());
}

}  // namespace
}  // namespace synfin::decode
