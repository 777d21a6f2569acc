// The ladder of a connection: its peer found by the mirrored 4-tuple and opposite role, packets
// seen by XDP drawn as seen and the rest inferred, and the SVG listing each end's states in order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "decode/recording.h"
#include "model/ladder.h"
#include "outputs/ladder_render.h"

namespace synfin {
namespace {

std::string fixture(const std::string& name) {
  return std::string(SYNFIN_FIXTURE_DIR) + "/" + name + ".synfinrec";
}

std::vector<model::LadderEnd> ends_of(const std::string& name) {
  auto recording = decode::read_recording(fixture(name));
  EXPECT_TRUE(recording.ok());
  return recording.ok() ? outputs::ladder_ends_of(*recording) : std::vector<model::LadderEnd>{};
}

const model::LadderEnd& with_role(const std::vector<model::LadderEnd>& ends, model::Role role) {
  for (const auto& end : ends)
    if (end.connection.role == role) return end;
  static model::LadderEnd none;
  ADD_FAILURE() << "no " << model::role_name(role);
  return none;
}

TEST(LadderTest, BothLocalEndsAreJoinedByTheirMirroredTuple) {
  auto ends = ends_of("server_first_ipv4");
  uint64_t client = with_role(ends, model::Role::Client).connection.cookie;
  uint64_t server = with_role(ends, model::Role::Server).connection.cookie;
  auto ladder = model::build_ladder(client, ends);
  ASSERT_TRUE(ladder.has_value());
  ASSERT_TRUE(ladder->peer_is_local());
  EXPECT_EQ(ladder->ends[1].connection.cookie, server);
  // Without XDP every packet is inferred from a step.
  ASSERT_FALSE(ladder->arrows.empty());
  for (const auto& arrow : ladder->arrows) EXPECT_TRUE(arrow.inferred) << arrow.label;
  EXPECT_NE(ladder->story().find("passive close"), std::string::npos) << ladder->story();
  EXPECT_FALSE(model::build_ladder(0xdead, ends).has_value());
}

TEST(LadderTest, PacketsSeenByXdpAreDrawnAsSeen) {
  auto ends = ends_of("xdp_anomalies_ipv4");
  auto ladder = model::build_ladder(with_role(ends, model::Role::Server).connection.cookie, ends);
  ASSERT_TRUE(ladder.has_value());
  EXPECT_FALSE(ladder->peer_is_local());  // the client was in another network namespace
  std::vector<std::string> seen;
  for (const auto& arrow : ladder->arrows)
    if (!arrow.inferred) seen.push_back(arrow.label);
  EXPECT_EQ(seen, (std::vector<std::string>{"SYN seq=0", "ACK ack=1", "FIN seq=1"}));
}

TEST(LadderTest, TheSvgListsEachEndsStatesInOrder) {
  auto ends = ends_of("simultaneous_ipv6");
  auto ladder = model::build_ladder(with_role(ends, model::Role::Client).connection.cookie, ends);
  ASSERT_TRUE(ladder.has_value());
  std::string svg = outputs::render_ladder_svg(*ladder, {});
  for (int end = 0; end < 2; ++end) {
    // <text ... class="state" data-end="N" fill="...">NAME</text>, top to bottom
    std::string marker = R"(class="state" data-end=")" + std::to_string(end) + R"(")";
    std::vector<std::string> drawn;
    for (auto at = svg.find(marker); at != std::string::npos; at = svg.find(marker, at + 1)) {
      auto open = svg.find('>', at) + 1;
      drawn.push_back(svg.substr(open, svg.find('<', open) - open));
    }
    const model::Connection& c = ladder->ends[end].connection;
    std::vector<std::string> lived;
    for (uint8_t i = 0; i < c.history_length(); ++i)
      lived.emplace_back(model::state_name(c.visit_state(i)));
    lived.back() = "TIME_WAIT";  // both ends of a simultaneous close end in TIME_WAIT
    EXPECT_EQ(drawn, lived) << "end " << end;
  }
}

// The last row of an end's column: the state its socket ended in, as drawn.
model::LadderRow last_state_row(const model::Ladder& ladder, int end) {
  model::LadderRow last;
  for (const model::LadderRow& row : ladder.rows())
    if (!row.arrow && row.end == end) last = row;
  return last;
}

TEST(LadderTest, AMiniSocketStillAwaitingThePeersFinIsFinWait2) {
  // close() after shutdown(): the server's socket went on as a mini-socket before the client's
  // FIN came (300 ms later), which the kernel keeps, and ss lists, in FIN_WAIT2.
  auto ends = ends_of("close_after_shutdown_ipv4");
  auto ladder = model::build_ladder(with_role(ends, model::Role::Server).connection.cookie, ends);
  ASSERT_TRUE(ladder.has_value());
  ASSERT_TRUE(ladder->peer_is_local());
  model::LadderRow handed_off = last_state_row(*ladder, 0);
  EXPECT_EQ(handed_off.state, model::TcpState::FinWait2);
  EXPECT_TRUE(handed_off.awaiting_peer_fin);
  EXPECT_EQ(model::state_label(handed_off), "FIN_WAIT2 (awaiting the peer's FIN)");
  EXPECT_NE(outputs::render_ladder_text(*ladder, {}).find("FIN_WAIT2 (awaiting the peer's FIN)"),
            std::string::npos);
  EXPECT_NE(outputs::render_ladder_svg(*ladder, {})
                .find(R"(class="state-note" data-end="0" fill="#555">awaiting the peer's FIN<)"),
            std::string::npos);

  // The peer's FIN there first: TIME_WAIT, as the RFC draws it.
  auto first = ends_of("client_first_ipv4");
  auto client = model::build_ladder(with_role(first, model::Role::Client).connection.cookie, first);
  ASSERT_TRUE(client.has_value());
  EXPECT_EQ(last_state_row(*client, 0).state, model::TcpState::TimeWait);
  EXPECT_FALSE(last_state_row(*client, 0).awaiting_peer_fin);
}

}  // namespace
}  // namespace synfin
