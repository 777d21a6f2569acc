// The classifier on what the kernel really reports: recordings of each privileged scenario
// (tests/fixtures/, made by `synfin trace --record`) replayed through decoder and model.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "decode/decoder.h"
#include "decode/recording.h"
#include "decode/replay.h"
#include "model/connection_table.h"
#include "recording_observer.h"

namespace synfin::model {
namespace {

using S = TcpState;

std::string fixture(const std::string& name) {
  return std::string(SYNFIN_FIXTURE_DIR) + "/" + name + ".synfinrec";
}

struct Side {
  Role role;
  std::vector<S> states;
  Outcome outcome;
};

struct Replayed {
  std::vector<testing::ClosedRecord> closed;
  uint64_t undecodable = 0;
};

Replayed replay(const std::string& name) {
  Replayed out;
  auto recording = decode::read_recording(fixture(name));
  EXPECT_TRUE(recording.ok()) << (recording.ok() ? "" : recording.error().message);
  if (!recording.ok()) return out;
  testing::RecordingObserver observer;
  ConnectionTable table(64, observer);
  decode::ReplayStats stats = decode::replay(*recording, table);
  out.closed = observer.closed;
  out.undecodable = stats.decoded.undecodable();
  return out;
}

std::vector<S> states_of(const Connection& c) {
  std::vector<S> states;
  for (uint8_t i = 0; i < c.history_length(); ++i) states.push_back(c.visit_state(i));
  return states;
}

void expect_sides(const std::string& name, const std::vector<Side>& sides) {
  SCOPED_TRACE(name);
  Replayed replayed = replay(name);
  EXPECT_EQ(replayed.undecodable, 0u);
  for (const Side& side : sides) {
    int found = 0;
    for (const auto& closed : replayed.closed) {
      if (closed.connection.role != side.role) continue;
      ++found;
      EXPECT_EQ(states_of(closed.connection), side.states);
      EXPECT_EQ(outcome_name(closed.classification.outcome), outcome_name(side.outcome));
      EXPECT_EQ(closed.classification.verdict, Verdict::Valid);
      EXPECT_TRUE(closed.connection.has_owner());
    }
    EXPECT_EQ(found, 1) << role_name(side.role);
  }
}

const std::vector<S> kClientActive = {S::Close,    S::SynSent,  S::Established,
                                      S::FinWait1, S::FinWait2, S::Close};
const std::vector<S> kClientPassive = {S::Close,     S::SynSent, S::Established,
                                       S::CloseWait, S::LastAck, S::Close};
const std::vector<S> kServerActive = {S::Listen,   S::SynRecv,  S::Established,
                                      S::FinWait1, S::FinWait2, S::Close};
const std::vector<S> kServerPassive = {S::Listen,    S::SynRecv, S::Established,
                                       S::CloseWait, S::LastAck, S::Close};

class KernelRecordingTest : public ::testing::TestWithParam<const char*> {};

TEST_P(KernelRecordingTest, EachSideClassifiedAsTheKernelLivedIt) {
  std::string family = GetParam();
  expect_sides("client_first_" + family, {{Role::Client, kClientActive, Outcome::ActiveClose},
                                          {Role::Server, kServerPassive, Outcome::PassiveClose}});
  expect_sides("server_first_" + family, {{Role::Client, kClientPassive, Outcome::PassiveClose},
                                          {Role::Server, kServerActive, Outcome::ActiveClose}});
  expect_sides("simultaneous_" + family,
               {{Role::Client,
                 {S::Close, S::SynSent, S::Established, S::FinWait1, S::Closing, S::Close},
                 Outcome::SimultaneousClose},
                {Role::Server,
                 {S::Listen, S::SynRecv, S::Established, S::FinWait1, S::Closing, S::Close},
                 Outcome::SimultaneousClose}});
  expect_sides(
      "linger_abort_" + family,
      {{Role::Client, {S::Close, S::SynSent, S::Established, S::Close}, Outcome::ResetSent},
       {Role::Server, {S::Listen, S::SynRecv, S::Established, S::Close}, Outcome::ResetReceived}});
  expect_sides(
      "unread_close_" + family,
      {{Role::Client, {S::Close, S::SynSent, S::Established, S::Close}, Outcome::ResetReceived},
       {Role::Server, {S::Listen, S::SynRecv, S::Established, S::Close}, Outcome::ResetSent}});
  expect_sides("refused_" + family,
               {{Role::Client, {S::Close, S::SynSent, S::Close}, Outcome::Refused}});
}

INSTANTIATE_TEST_SUITE_P(Families, KernelRecordingTest, ::testing::Values("ipv4", "ipv6"));

TEST(KernelRecordingTest, ListenerOpenAndClose) {
  expect_sides("listener_ipv4",
               {{Role::Listener, {S::Close, S::Listen, S::Close}, Outcome::ListenerClosed}});
}

TEST(KernelRecordingTest, ActiveClosersEnterTimeWait) {
  for (const auto& closed : replay("client_first_ipv4").closed)
    EXPECT_EQ(closed.classification.enters_time_wait, closed.connection.role == Role::Client);
}

// XDP on the server's end of a veth pair; a crafted RST far outside the window and a SYN+FIN
// hit a live connection, which then closed normally (tests/privileged/test_xdp.py anomalies).
TEST(KernelRecordingTest, PacketAnomaliesOnALiveConnection) {
  auto replayed = replay("xdp_anomalies_ipv4");
  EXPECT_EQ(replayed.undecodable, 0u);
  int servers = 0;
  for (const auto& closed : replayed.closed) {
    if (closed.connection.role != Role::Server) continue;
    ++servers;
    const PacketFacts& packets = closed.connection.packets();
    EXPECT_EQ(closed.classification.verdict, Verdict::Valid);
    EXPECT_TRUE(packets.has(Anomaly::InvalidFlags));
    EXPECT_TRUE(packets.has(Anomaly::RstOutOfWindow));
    EXPECT_EQ(packets.resets, 1u);
    EXPECT_GT(packets.syn_ns, 0u);
  }
  EXPECT_EQ(servers, 1);
}

TEST(RecordingFileTest, CutShortKeepsWholeFramesAndRejectsStrangers) {
  std::ifstream in(fixture("client_first_ipv4"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto whole = decode::read_recording(fixture("client_first_ipv4"));
  ASSERT_TRUE(whole.ok());
  std::string cut_path = ::testing::TempDir() + "/cut.synfinrec";
  std::ofstream(cut_path, std::ios::binary) << bytes.substr(0, bytes.size() - 50);
  auto cut = decode::read_recording(cut_path);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->records.size(), whole->records.size() - 1);
  EXPECT_TRUE(cut->truncated);
  EXPECT_FALSE(whole->truncated);

  // A header from a build whose records had another size is refused, not misread.
  std::string other_layout = bytes;
  other_layout[8] = 7;  // u32 record size, little endian: 112 -> 7
  other_layout[9] = other_layout[10] = other_layout[11] = 0;
  std::string other_path = ::testing::TempDir() + "/other.synfinrec";
  std::ofstream(other_path, std::ios::binary) << other_layout;
  auto refused = decode::read_recording(other_path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("7 bytes"), std::string::npos);

  std::string stranger = ::testing::TempDir() + "/stranger.synfinrec";
  std::ofstream(stranger, std::ios::binary) << "not a recording at all, just text";
  EXPECT_FALSE(decode::read_recording(stranger).ok());
  EXPECT_FALSE(decode::read_recording(::testing::TempDir() + "/missing.synfinrec").ok());
}

}  // namespace
}  // namespace synfin::model
