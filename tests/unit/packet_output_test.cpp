// What the packet view adds to the outputs: `packet` and `syn_without_socket` lines, the
// close line's anomalies and timings, and bounded metric families per interface.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "event_builders.h"
#include "model/daemon_model.h"
#include "outputs/json_lines.h"
#include "outputs/prometheus.h"

namespace synfin::outputs {
namespace {

using model::TcpState;

model::Event syn_packet() {
  model::Event e;
  e.kind = model::EventKind::Packet;
  e.ts_ns = 5;
  e.cookie = 0x11;
  e.tuple = testing::loopback_tuple(443, 40000);
  e.packet.ifindex = 4;
  e.packet.tcp_flags = SYNFIN_TCP_SYN;
  e.packet.flag_class = SYNFIN_XDP_SYN;
  e.packet.seq = 1000;
  e.packet.end_seq = 1001;
  e.packet.socket_state = TcpState::Listen;
  return e;
}

TEST(PacketOutputTest, APacketLineShowsTheWireView) {
  fmt::memory_buffer out;
  append_packet_json(out, syn_packet(), nullptr, "eth0", 123);
  auto line = nlohmann::json::parse(fmt::to_string(out));
  EXPECT_EQ(line["event"], "packet");
  EXPECT_EQ(line["iface"], "eth0");
  EXPECT_EQ(line["sport"], 40000);  // the sender: the peer
  EXPECT_EQ(line["dport"], 443);
  EXPECT_EQ(line["flags"], "SYN");
  EXPECT_EQ(line["class"], "syn");
  EXPECT_EQ(line["seq"], 1000);
  EXPECT_EQ(line["len"], 0);
  EXPECT_TRUE(line["conn"].is_null());
  EXPECT_EQ(line["socket"]["state"], "LISTEN");
  EXPECT_EQ(line["socket"]["cookie"], "11");
}

TEST(PacketOutputTest, InterfacesAreNamedOnceAnnounced) {
  InterfaceNames names;
  char buffer[16];
  EXPECT_EQ(names.name_of(4, buffer), "4");
  names.set(4, "veth-a");
  EXPECT_EQ(names.name_of(4, buffer), "veth-a");
}

TEST(PacketOutputTest, CloseLinesCarryAnomaliesAndTimingsOnlyWithXdp) {
  model::Connection c;
  c.cookie = 0x51;
  c.tuple = testing::loopback_tuple(443, 40000);
  c.role = model::Role::Server;
  c.push_visit(TcpState::Listen, 0);
  c.push_visit(TcpState::SynRecv, 2000);
  c.push_visit(TcpState::Established, 3000);
  c.push_visit(TcpState::CloseWait, 9000);
  c.push_visit(TcpState::LastAck, 59000);
  c.packets_for_update().known = model::PacketFacts::kSyn | model::PacketFacts::kPeerFin;
  c.packets_for_update().syn_ns = 1000;
  c.packets_for_update().peer_fin_ns = 8000;
  c.packets_for_update().anomalies = 1u << static_cast<unsigned>(model::Anomaly::RstOutOfWindow);
  model::Classification k;
  fmt::memory_buffer plain, with_xdp;
  append_close_json(plain, c, k, 1);
  append_close_json(with_xdp, c, k, 1, true);
  EXPECT_FALSE(nlohmann::json::parse(fmt::to_string(plain)).contains("anomalies"));
  auto line = nlohmann::json::parse(fmt::to_string(with_xdp));
  EXPECT_EQ(line["anomalies"], nlohmann::json::array({"rst_out_of_window"}));
  EXPECT_EQ(line["packets"]["syn_to_established_ns"], 2000);
  EXPECT_EQ(line["packets"]["peer_fin_to_close_wait_ns"], 1000);
  EXPECT_EQ(line["packets"]["close_wait_reaction_ns"], 51000);
}

TEST(PacketOutputTest, XdpFamiliesAreBoundedAndPresetToZero) {
  model::DaemonModelConfig config;
  config.metrics_ports = {443};
  model::DaemonModel model(config);
  SelfMetrics self;
  XdpInterfaceMetrics veth;
  veth.name = "veth0";
  veth.mode = "native";
  veth.attached = true;
  veth.counters[SYNFIN_XDP_SYN] = 3;
  veth.counters[SYNFIN_XDP_ERR_DOFF] = 1;
  veth.counters[SYNFIN_XDP_RECORD_SUPPRESSED] = 2;
  self.xdp.push_back(veth);
  std::string text = render_metrics(model, self);
  for (const char* sample :
       {"synfin_xdp_attached{iface=\"veth0\",mode=\"native\"} 1\n",
        "synfin_xdp_packets_total{iface=\"veth0\",flags=\"syn\"} 3\n",
        "synfin_xdp_packets_total{iface=\"veth0\",flags=\"invalid\"} 0\n",
        "synfin_xdp_parse_errors_total{iface=\"veth0\",reason=\"bad_doff\"} 1\n",
        "synfin_xdp_records_total{iface=\"veth0\",result=\"suppressed\"} 2\n",
        "synfin_tcp_syns_without_socket_total{reason=\"accept_queue_full\"} 0\n",
        "synfin_tcp_port_syns_without_socket_total{port=\"443\",reason=\"no_listener\"} 0\n",
        "synfin_tcp_packet_anomalies_total{kind=\"rst_out_of_window\"} 0\n",
        "synfin_xdp_packets_without_socket_total{flags=\"rst\"} 0\n",
        "synfin_tcp_server_handshake_from_syn_seconds_count 0\n",
        "synfin_tcp_close_wait_reaction_seconds_count 0\n"})
    EXPECT_NE(text.find(sample), std::string::npos) << sample;
  // Without --xdp, no per-interface families at all.
  std::string without = render_metrics(model, {});
  EXPECT_EQ(without.find("synfin_xdp_packets_total{"), std::string::npos);
}

}  // namespace
}  // namespace synfin::outputs

namespace synfin {
namespace {

// A recording's clock offset is data from a file: any value converts without overflow (UBSan
// runs this in CI).
TEST(ClockTest, AnyOffsetConvertsWithoutOverflow) {
  for (int64_t offset : {INT64_MIN, INT64_MAX, int64_t{-1}, int64_t{0}})
    for (uint64_t t : {uint64_t{0}, UINT64_MAX, uint64_t{1} << 63}) {
      Clock clock{offset};
      EXPECT_EQ(clock.to_epoch_ns(t), t + static_cast<uint64_t>(offset));
    }
  EXPECT_EQ(Clock{1000}.to_epoch_ns(5), 1005u);
  EXPECT_EQ(Clock{-5}.to_epoch_ns(1000), 995u);
}

}  // namespace
}  // namespace synfin
