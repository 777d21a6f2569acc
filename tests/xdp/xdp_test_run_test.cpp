// synfin's XDP program on crafted frames through BPF_PROG_TEST_RUN (root, no network): every
// frame passes, and each lands in exactly the counter its construction says it should.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "capture/xdp_program.h"
#include "frames.h"

namespace synfin::testing {
namespace {

constexpr uint32_t kXdpPass = 2;

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

class XdpTestRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = capture::XdpTestRun::load();
    if (!loaded) {
      // Under CI a privileged test never skips: no BPF is a failure.
      if (in_ci()) FAIL() << "cannot load the XDP program: " << loaded.error().message;
      GTEST_SKIP() << "needs root to load BPF: " << loaded.error().message;
    }
    program_ = std::move(*loaded);
    ring_ = ring_buffer__new(program_->ring_buffer_fd(), &XdpTestRunTest::on_record, this, nullptr);
    ASSERT_NE(ring_, nullptr);
  }
  void TearDown() override {
    if (ring_) ring_buffer__free(ring_);
  }

  static int on_record(void* self, void* data, size_t size) {
    auto* test = static_cast<XdpTestRunTest*>(self);
    if (size == sizeof(synfin_packet)) {
      synfin_packet record;
      std::memcpy(&record, data, sizeof(record));
      test->records_.push_back(record);
    }
    return 0;
  }

  // Runs the frame; it must pass. Returns the counter deltas it caused.
  capture::XdpCounters run(const std::vector<uint8_t>& frame) {
    capture::XdpCounters before = program_->counters();
    auto outcome = program_->run(frame);
    EXPECT_TRUE(outcome.ok()) << (outcome.ok() ? "" : outcome.error().message);
    if (outcome.ok()) {
      EXPECT_EQ(outcome->action, kXdpPass);
    }
    capture::XdpCounters after = program_->counters();
    capture::XdpCounters delta{};
    for (std::size_t i = 0; i < delta.size(); ++i) delta[i] = after[i] - before[i];
    ring_buffer__consume(ring_);
    return delta;
  }

  // Exactly one of the per-frame counters (flag classes, traffic, errors) moved, by one.
  void expect_only(const capture::XdpCounters& delta, int counter, const std::string& what) {
    for (int c = 0; c < SYNFIN_XDP_RECORD_SENT; ++c)
      EXPECT_EQ(delta[c], c == counter ? 1u : 0u) << what << ": counter " << c;
  }

  std::unique_ptr<capture::XdpTestRun> program_;
  ring_buffer* ring_ = nullptr;
  std::vector<synfin_packet> records_;
};

TEST_F(XdpTestRunTest, EveryFlagCombinationLandsInItsClassOverEveryEncapsulation) {
  struct Shape {
    std::string name;
    FrameSpec spec;
  };
  std::vector<Shape> shapes;
  shapes.push_back({"ipv4", {}});
  FrameSpec options;
  options.ipv4_ihl = 15;  // 40 bytes of options
  shapes.push_back({"ipv4 with options", options});
  FrameSpec vlan;
  vlan.vlan_tpids = {0x8100};
  shapes.push_back({"vlan ipv4", vlan});
  FrameSpec qinq;
  qinq.vlan_tpids = {0x88a8, 0x8100};
  qinq.family = 6;
  shapes.push_back({"qinq ipv6", qinq});
  FrameSpec v6;
  v6.family = 6;
  v6.ipv6_extensions = {0, 60, 43, 44, 51};  // hop-by-hop, dest, routing, first fragment, AH
  shapes.push_back({"ipv6 with extension headers", v6});
  FrameSpec tcp_options;
  tcp_options.tcp.data_offset_words = 15;
  tcp_options.tcp.payload = std::vector<uint8_t>(100, 0xab);
  shapes.push_back({"tcp options and data", tcp_options});

  for (const Shape& shape : shapes) {
    bool syn_awaits_ack = false;
    for (int flags = 0; flags < 256; ++flags) {
      FrameSpec spec = shape.spec;
      spec.tcp.flags = static_cast<uint8_t>(flags);
      int expected = expected_flag_class(spec.tcp.flags);
      std::size_t records_before = records_.size();
      auto delta = run(build_frame(spec));
      expect_only(delta, expected, shape.name + " flags " + std::to_string(flags));
      // Handshake and teardown packets (and impossible ones) are sent; data and ACKs are
      // not, except the first bare ACK after a SYN of the same flow: it completes a handshake.
      bool completes_handshake =
          syn_awaits_ack && flags == SYNFIN_TCP_ACK && spec.tcp.payload.empty();
      if (completes_handshake) syn_awaits_ack = false;
      if (expected == SYNFIN_XDP_SYN) syn_awaits_ack = true;
      bool sent = expected != SYNFIN_XDP_OTHER || completes_handshake;
      EXPECT_EQ(delta[SYNFIN_XDP_RECORD_SENT], sent ? 1u : 0u) << shape.name << " " << flags;
      ASSERT_EQ(records_.size(), records_before + (sent ? 1 : 0));
      if (!sent) continue;
      const synfin_packet& r = records_.back();
      EXPECT_EQ(r.type, uint32_t{SYNFIN_EV_PACKET});
      EXPECT_EQ(r.family, spec.family == 4 ? SYNFIN_AF_INET : SYNFIN_AF_INET6);
      EXPECT_EQ(r.src_port, spec.tcp.src_port);
      EXPECT_EQ(r.dst_port, spec.tcp.dst_port);
      EXPECT_EQ(r.tcp_flags, spec.tcp.flags);
      EXPECT_EQ(r.flag_class, expected);
      EXPECT_EQ(r.seq, spec.tcp.seq);
      uint32_t consumed = static_cast<uint32_t>(spec.tcp.payload.size()) +
                          ((flags & SYNFIN_TCP_SYN) ? 1 : 0) + ((flags & SYNFIN_TCP_FIN) ? 1 : 0);
      EXPECT_EQ(r.end_seq, spec.tcp.seq + consumed);
      EXPECT_EQ(r.cookie, 0u) << "no socket exists for a crafted flow";
      EXPECT_EQ((r.packet_flags & SYNFIN_PACKET_HANDSHAKE_ACK) != 0, completes_handshake);
    }
  }
}

TEST_F(XdpTestRunTest, NonTcpAndLaterFragmentsAreSkippedNotParsed) {
  FrameSpec udp;
  udp.ip_protocol = 17;
  expect_only(run(build_frame(udp)), SYNFIN_XDP_NON_TCP, "udp");
  FrameSpec esp;
  esp.family = 6;
  esp.ip_protocol = 50;
  expect_only(run(build_frame(esp)), SYNFIN_XDP_NON_TCP, "ipv6 esp");
  FrameSpec fragment;
  fragment.ipv4_fragment_offset = 185;
  expect_only(run(build_frame(fragment)), SYNFIN_XDP_FRAGMENT, "ipv4 later fragment");
  FrameSpec fragment6;
  fragment6.family = 6;
  fragment6.ipv6_extensions = {44};
  fragment6.ipv6_fragment_offset = 100;
  expect_only(run(build_frame(fragment6)), SYNFIN_XDP_FRAGMENT, "ipv6 later fragment");
  std::vector<uint8_t> arp = build_frame({});
  arp[12] = 0x08;
  arp[13] = 0x06;
  expect_only(run(arp), SYNFIN_XDP_NON_TCP, "arp");
}

TEST_F(XdpTestRunTest, MalformedHeadersAreNamedParseErrors) {
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    FrameSpec bad;
    bad.ipv4_ihl = ihl;
    expect_only(run(build_frame(bad)), SYNFIN_XDP_ERR_IHL, "ihl " + std::to_string(ihl));
  }
  for (uint8_t doff = 0; doff < 5; ++doff) {
    FrameSpec bad;
    bad.tcp.data_offset_words = doff;
    expect_only(run(build_frame(bad)), SYNFIN_XDP_ERR_DOFF, "doff " + std::to_string(doff));
  }
  FrameSpec too_many;
  too_many.family = 6;
  too_many.ipv6_extensions = {0, 60, 60, 60, 60, 60, 60};
  expect_only(run(build_frame(too_many)), SYNFIN_XDP_ERR_EXTENSION, "7 extension headers");
  // An IPv4 header claiming options beyond the frame.
  std::vector<uint8_t> claims_options = build_frame({});
  claims_options.resize(14 + 20 + 8);
  claims_options[14] = 0x4f;
  expect_only(run(claims_options), SYNFIN_XDP_ERR_IHL, "ihl beyond the frame");
}

// Cut after every byte: the first header the cut reaches names the error. (The kernel's
// test run refuses frames shorter than an Ethernet header, so cuts start at 14 bytes.)
TEST_F(XdpTestRunTest, TruncatedAtEveryOffset) {
  struct Shape {
    std::string name;
    FrameSpec spec;
    std::vector<std::pair<std::size_t, int>> first_error_at;  // (frame length below, counter)
  };
  FrameSpec v4;
  v4.tcp.data_offset_words = 8;
  FrameSpec vlan6;
  vlan6.family = 6;
  vlan6.vlan_tpids = {0x88a8, 0x8100};
  vlan6.ipv6_extensions = {0, 44};
  std::vector<Shape> shapes = {
      {"ipv4", v4, {{34, SYNFIN_XDP_ERR_IPV4}, {66, SYNFIN_XDP_ERR_TCP}}},
      {"qinq ipv6 + extensions",
       vlan6,
       {{18, SYNFIN_XDP_ERR_VLAN},
        {22, SYNFIN_XDP_ERR_VLAN},
        {62, SYNFIN_XDP_ERR_IPV6},
        {86, SYNFIN_XDP_ERR_EXTENSION},
        {106, SYNFIN_XDP_ERR_TCP}}},
  };
  for (const Shape& shape : shapes) {
    std::vector<uint8_t> frame = build_frame(shape.spec);
    ASSERT_EQ(frame.size(), shape.first_error_at.back().first) << shape.name;
    for (std::size_t length = 14; length < frame.size(); ++length) {
      int expected = -1;
      for (const auto& [below, counter] : shape.first_error_at)
        if (length < below) {
          expected = counter;
          break;
        }
      std::vector<uint8_t> cut(frame.begin(), frame.begin() + static_cast<long>(length));
      expect_only(run(cut), expected, shape.name + " cut at " + std::to_string(length));
    }
    expect_only(run(frame), SYNFIN_XDP_SYN, shape.name + " whole");
  }
}

// A million random frames (half of them random mutations of valid TCP frames): every one
// passes and is counted exactly once; every record sent is one the ring delivered.
TEST_F(XdpTestRunTest, AMillionRandomFramesAllPassAndAreEachCountedOnce) {
  std::mt19937_64 random(20261122);
  std::vector<std::vector<uint8_t>> bases;
  for (int family : {4, 6}) {
    FrameSpec spec;
    spec.family = family;
    spec.tcp.payload = std::vector<uint8_t>(32, 7);
    bases.push_back(build_frame(spec));
  }
  constexpr int kFrames = 1'000'000;
  capture::XdpCounters before = program_->counters();
  std::size_t records_before = records_.size();
  for (int i = 0; i < kFrames; ++i) {
    std::vector<uint8_t> frame;
    if (i % 2) {
      frame = bases[random() % bases.size()];
      for (int m = 0; m < 4; ++m) frame[random() % frame.size()] = static_cast<uint8_t>(random());
      frame.resize(14 + random() % (frame.size() - 13));
    } else {
      frame.resize(14 + random() % 120);
      for (auto& byte : frame) byte = static_cast<uint8_t>(random());
      if (random() % 2) {  // steer half of them into the IP parsers
        frame[12] = random() % 2 ? 0x08 : 0x86;
        frame[13] = frame[12] == 0x08 ? 0x00 : 0xdd;
      }
    }
    auto outcome = program_->run(frame);
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    ASSERT_EQ(outcome->action, kXdpPass) << "frame " << i;
    if (i % 4096 == 0) ring_buffer__consume(ring_);
  }
  ring_buffer__consume(ring_);
  capture::XdpCounters after = program_->counters();
  uint64_t counted = 0;
  for (int c = 0; c < SYNFIN_XDP_RECORD_SENT; ++c) counted += after[c] - before[c];
  EXPECT_EQ(counted, uint64_t{kFrames});
  uint64_t sent = after[SYNFIN_XDP_RECORD_SENT] - before[SYNFIN_XDP_RECORD_SENT];
  uint64_t lost = after[SYNFIN_XDP_RECORD_LOST] - before[SYNFIN_XDP_RECORD_LOST];
  EXPECT_EQ(records_.size() - records_before, sent);
  EXPECT_EQ(lost, 0u);
  std::printf("1M random frames: %llu TCP, %llu sent to the ring\n",
              static_cast<unsigned long long>(after[SYNFIN_XDP_SYN] + after[SYNFIN_XDP_OTHER] -
                                              before[SYNFIN_XDP_SYN] - before[SYNFIN_XDP_OTHER]),
              static_cast<unsigned long long>(sent));
}

}  // namespace
}  // namespace synfin::testing
