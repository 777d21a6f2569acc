#include "outputs/json_lines.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "event_builders.h"
#include "model/connection_table.h"
#include "recording_observer.h"

namespace synfin::outputs {
namespace {

using model::TcpState;
using S = TcpState;

std::string text(const fmt::memory_buffer& buffer) {
  return {buffer.data(), buffer.size()};
}

model::Connection finished_client() {
  testing::RecordingObserver observer;
  model::ConnectionTable table(4, observer);
  testing::Sequence s(0x4007, testing::loopback_tuple(40000, 80));
  s.step(S::Close, S::SynSent, testing::task(321, "curl"), true)
      .steps({S::SynSent, S::Established, S::FinWait1, S::FinWait2, S::Close})
      .signal(model::EventKind::Destroyed);
  for (const auto& e : s.events()) table.apply(e);
  return observer.closed.at(0).connection;
}

TEST(JsonLinesTest, TransitionLineCarriesTheContractFields) {
  fmt::memory_buffer out;
  auto c = finished_client();
  append_transition_json(out, c, S::SynSent, S::Established, 1700000000000000000ull);
  auto j = nlohmann::json::parse(text(out));
  EXPECT_EQ(j["event"], "transition");
  EXPECT_EQ(j["ts_ns"], 1700000000000000000ull);
  EXPECT_EQ(j["conn"], "4007");  // the cookie as `ss -e` prints it (sk:4007)
  EXPECT_EQ(j["family"], "ipv4");
  EXPECT_EQ(j["saddr"], "127.0.0.1");
  EXPECT_EQ(j["sport"], 40000);
  EXPECT_EQ(j["daddr"], "127.0.0.1");
  EXPECT_EQ(j["dport"], 80);
  EXPECT_EQ(j["from"], "SYN_SENT");
  EXPECT_EQ(j["to"], "ESTABLISHED");
  EXPECT_EQ(j["pid"], 321);
  EXPECT_EQ(j["comm"], "curl");
}

TEST(JsonLinesTest, CloseLineOfAnActiveCloserEndsInTimeWait) {
  fmt::memory_buffer out;
  auto c = finished_client();
  append_close_json(out, c, model::classify(c), 5);
  auto j = nlohmann::json::parse(text(out));
  EXPECT_EQ(j["event"], "close");
  EXPECT_EQ(j["role"], "client");
  EXPECT_EQ(j["states"], nlohmann::json({"CLOSE", "SYN_SENT", "ESTABLISHED", "FIN_WAIT1",
                                         "FIN_WAIT2", "TIME_WAIT"}));
  EXPECT_EQ(j["outcome"], "active_close");
  EXPECT_EQ(j["verdict"], "valid");
  EXPECT_TRUE(j["reason"].is_null());
  EXPECT_EQ(
      j["durations_ns"],
      nlohmann::json(
          {{"SYN_SENT", 1000}, {"ESTABLISHED", 1000}, {"FIN_WAIT1", 1000}, {"FIN_WAIT2", 1000}}));
  EXPECT_EQ(j["pid"], 321);
}

TEST(JsonLinesTest, InvalidSequenceNamesItsIllegalStep) {
  model::Connection c = finished_client();
  c.first_violation = model::Reason::IllegalTransition;
  c.violation_from = S::Established;
  c.violation_to = S::SynSent;
  fmt::memory_buffer out;
  append_close_json(out, c, model::classify(c), 5);
  auto j = nlohmann::json::parse(text(out));
  EXPECT_EQ(j["verdict"], "invalid");
  EXPECT_EQ(j["reason"], "illegal_transition");
  EXPECT_EQ(j["illegal_step"], "ESTABLISHED->SYN_SENT");
}

TEST(JsonLinesTest, UnknownOwnerIsNull) {
  model::Connection c = finished_client();
  c.clear_owner();
  fmt::memory_buffer out;
  append_transition_json(out, c, S::Listen, S::SynRecv, 1);
  auto j = nlohmann::json::parse(text(out));
  EXPECT_TRUE(j["pid"].is_null());
  EXPECT_TRUE(j["comm"].is_null());
}

TEST(JsonLinesTest, HostileCommStaysValidJson) {
  model::Connection c = finished_client();
  c.set_owner(testing::task(1, std::string_view("a\"b\\c\n\x01\xff", 8)));
  fmt::memory_buffer out;
  append_transition_json(out, c, S::Close, S::SynSent, 1);
  auto j = nlohmann::json::parse(text(out));
  EXPECT_EQ(j["comm"], "a\"b\\c\n\x01\xef\xbf\xbd");  // the byte that is not UTF-8: U+FFFD
  EXPECT_EQ(text(out).find('\n'), std::string::npos) << "a name must not split the line";
}

std::string json_string(std::string_view bytes) {
  fmt::memory_buffer out;
  append_json_string(out, bytes);
  return fmt::to_string(out);
}

TEST(JsonLinesTest, NamesKeepTheirUtf8AndLoseOnlyWhatIsNotUtf8) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x90\x9b"),
            "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x90\x9b\"");
  // One U+FFFD per maximal ill-formed subpart (Unicode §3.9): a cut sequence, a stray
  // continuation byte, an overlong form, a surrogate, a lead byte that never starts a character.
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(json_string("\xe6\x97"), "\"" + fffd + "\"");
  EXPECT_EQ(json_string("\xe6\x97x"), "\"" + fffd + "x\"");
  EXPECT_EQ(json_string("\x80\x80"), "\"" + fffd + fffd + "\"");
  EXPECT_EQ(json_string("\xc0\xaf"), "\"" + fffd + fffd + "\"");
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");
  EXPECT_EQ(json_string("\xf0\x9f\x90"), "\"" + fffd + "\"");
  EXPECT_EQ(json_string("\xff"), "\"" + fffd + "\"");
  EXPECT_EQ(json_string(std::string_view("\0\x1b[31m\t\x7f", 8)), "\"\\u0000\\u001b[31m\\t\x7f\"");
}

TEST(JsonLinesTest, EscapesExactlyAsNlohmannJsonReplaces) {
  // The API renders names through nlohmann::json with error_handler_t::replace; trace lines
  // and API answers must show the same name for the same bytes.
  const std::string samples[] = {"plain",    "q\"b\\s/",     std::string("\0\x01\x08\x0b\x1f", 5),
                                 "\xc3\xa9", "\xe2\x82\x28", "\xf0\x28\x8c\xbc",
                                 "\xc3",     "\xa9\xc3\xa9", "\xfe\xff\x7f"};
  for (const std::string& bytes : samples) {
    nlohmann::json as_json = bytes;
    EXPECT_EQ(json_string(bytes),
              as_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        << "for bytes " << nlohmann::json::binary({bytes.begin(), bytes.end()}).dump();
  }
}

TEST(JsonLinesTest, Ipv6AddressesAsSsPrintsThem) {
  model::SocketTuple tuple;
  tuple.family = model::AddressFamily::IPv6;
  tuple.local.address = {0xfd, 0, 0x05, 0xf1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  tuple.remote.address = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
  char buffer[64];
  EXPECT_EQ(format_address(tuple, true, buffer), "fd00:5f1::1");
  EXPECT_EQ(format_address(tuple, false, buffer), "::ffff:10.0.0.2");
}

TEST(JsonLinesTest, FilterMatchesOwnerPortsAndFamily) {
  model::Connection c = finished_client();
  EXPECT_TRUE(OutputFilter{}.matches(c));
  EXPECT_TRUE((OutputFilter{4, {40000}, {80}, 321}).matches(c));
  EXPECT_FALSE((OutputFilter{6, {}, {}, std::nullopt}).matches(c));
  EXPECT_FALSE((OutputFilter{0, {80}, {}, std::nullopt}).matches(c));
  EXPECT_FALSE((OutputFilter{0, {}, {443}, std::nullopt}).matches(c));
  EXPECT_FALSE((OutputFilter{0, {}, {}, 999}).matches(c));
  // --port: either end.
  EXPECT_TRUE((OutputFilter{0, {}, {}, std::nullopt, {80}}).matches(c));
  EXPECT_TRUE((OutputFilter{0, {}, {}, std::nullopt, {40000}}).matches(c));
  EXPECT_FALSE((OutputFilter{0, {}, {}, std::nullopt, {443}}).matches(c));
}

TEST(JsonLinesTest, WriterCountsEveryJudgedCloseByVerdictFilteredOrNot) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  {
    // Only port 443 is written: the test connection (40000 -> 80) is judged but not written.
    JsonLinesWriter writer(sink, OutputFilter{0, {}, {443}, std::nullopt}, Clock{});
    model::Connection valid = finished_client();
    model::Connection invalid = finished_client();
    invalid.first_violation = model::Reason::IllegalTransition;
    invalid.violation_from = S::Established;
    invalid.violation_to = S::SynSent;
    writer.on_closed(valid, model::classify(valid), 5);
    writer.on_closed(invalid, model::classify(invalid), 6);
    writer.on_closed(invalid, model::classify(invalid), 7);
    writer.flush();
    const auto& closes = writer.closes_by_verdict();
    EXPECT_EQ(closes[static_cast<std::size_t>(model::Verdict::Valid)], 1u);
    EXPECT_EQ(closes[static_cast<std::size_t>(model::Verdict::Invalid)], 2u);
    EXPECT_EQ(closes[static_cast<std::size_t>(model::Verdict::Incomplete)], 0u);
    EXPECT_EQ(writer.lines_written(), 0u);
  }
  std::fclose(sink);
}

}  // namespace
}  // namespace synfin::outputs
