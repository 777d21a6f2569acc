// The address writer and the line writer against what they replaced: glibc's inet_ntop for
// every address, and exact text for the numbers at the ends of their ranges.
#include "outputs/address_text.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "event_builders.h"
#include "outputs/json_lines.h"

namespace synfin::outputs {
namespace {

using Bytes16 = std::array<uint8_t, 16>;

std::string ours_v4(const uint8_t* address) {
  char buffer[kAddressTextRoom];
  return {buffer, write_ipv4_text(buffer, address)};
}
std::string ours_v6(const Bytes16& address) {
  char buffer[kAddressTextRoom];
  return {buffer, write_ipv6_text(buffer, address.data())};
}
std::string glibc(int family, const uint8_t* address) {
  char buffer[INET6_ADDRSTRLEN];
  EXPECT_NE(inet_ntop(family, address, buffer, sizeof(buffer)), nullptr);
  return buffer;
}
Bytes16 groups(std::array<uint16_t, 8> words) {
  Bytes16 bytes{};
  for (std::size_t i = 0; i < 8; ++i) {
    bytes[2 * i] = static_cast<uint8_t>(words[i] >> 8);
    bytes[2 * i + 1] = static_cast<uint8_t>(words[i]);
  }
  return bytes;
}

TEST(AddressTextTest, EveryOctetValueInEveryPositionAsInetNtop) {
  for (int value = 0; value < 256; ++value) {
    const uint8_t address[4] = {static_cast<uint8_t>(value), static_cast<uint8_t>(255 - value),
                                static_cast<uint8_t>(value / 3), static_cast<uint8_t>(value % 10)};
    EXPECT_EQ(ours_v4(address), glibc(AF_INET, address)) << value;
  }
  const uint8_t zeros[4] = {0, 0, 0, 0}, ones[4] = {255, 255, 255, 255};
  EXPECT_EQ(ours_v4(zeros), "0.0.0.0");
  EXPECT_EQ(ours_v4(ones), "255.255.255.255");
}

TEST(AddressTextTest, Ipv6CompressionAsRfc5952AndGlibcDoIt) {
  struct Case {
    std::array<uint16_t, 8> words;
    const char* text;
  };
  const Case cases[] = {
      {{0, 0, 0, 0, 0, 0, 0, 0}, "::"},
      {{0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
      {{1, 0, 0, 0, 0, 0, 0, 0}, "1::"},
      {{1, 0, 0, 0, 0, 0, 0, 1}, "1::1"},
      {{0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329}, "2001:db8::ff00:42:8329"},
      {{0xfd00, 0x5f1, 0, 0, 0, 0, 0, 1}, "fd00:5f1::1"},
      // One zero group alone is never compressed.
      {{1, 0, 2, 3, 4, 5, 6, 7}, "1:0:2:3:4:5:6:7"},
      {{0, 1, 2, 3, 4, 5, 6, 7}, "0:1:2:3:4:5:6:7"},
      {{1, 2, 3, 4, 5, 6, 7, 0}, "1:2:3:4:5:6:7:0"},
      // Equal runs: the first; a longer run wins wherever it is.
      {{1, 0, 0, 2, 0, 0, 3, 4}, "1::2:0:0:3:4"},
      {{1, 0, 0, 2, 0, 0, 0, 3}, "1:0:0:2::3"},
      {{0, 0, 1, 0, 0, 0, 0, 0}, "0:0:1::"},
      {{1, 2, 3, 4, 5, 6, 0, 0}, "1:2:3:4:5:6::"},
      // Lowercase hex without leading zeros.
      {{0xabc, 0xa, 0xab, 0xabcd, 0xf000, 0x0f00, 0x00f0, 0x000f}, "abc:a:ab:abcd:f000:f00:f0:f"},
      {{0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff},
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      // The dotted tail: IPv4-mapped and IPv4-compatible addresses only.
      {{0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0002}, "::ffff:10.0.0.2"},
      {{0, 0, 0, 0, 0, 0xffff, 0, 0}, "::ffff:0.0.0.0"},
      {{0, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff}, "::ffff:255.255.255.255"},
      {{0, 0, 0, 0, 0, 0, 0x0102, 0x0304}, "::1.2.3.4"},
      {{0, 0, 0, 0, 0, 0xfffe, 0x0102, 0x0304}, "::fffe:102:304"},
      {{0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304}, "::ffff:0:102:304"},
      {{0x64, 0xff9b, 0, 0, 0, 0, 0x0102, 0x0304}, "64:ff9b::102:304"},
  };
  for (const Case& c : cases) {
    Bytes16 bytes = groups(c.words);
    EXPECT_EQ(ours_v6(bytes), c.text);
    EXPECT_EQ(ours_v6(bytes), glibc(AF_INET6, bytes.data())) << c.text;
  }
}

TEST(AddressTextTest, RandomAddressesAsInetNtop) {
  std::mt19937_64 random(5952);
  for (int n = 0; n < 200000; ++n) {
    std::array<uint16_t, 8> words{};
    // Mostly zero groups, so that runs of every length and place turn up, and the prefixes
    // of mapped and compatible addresses.
    for (auto& word : words) {
      uint64_t pick = random();
      word = pick % 3 ? 0 : static_cast<uint16_t>(pick >> 8 >> (pick % 7 * 2));
    }
    if (n % 5 == 0) words[5] = 0xffff;
    Bytes16 bytes = groups(words);
    ASSERT_EQ(ours_v6(bytes), glibc(AF_INET6, bytes.data()));
    ASSERT_EQ(ours_v4(bytes.data() + 12), glibc(AF_INET, bytes.data() + 12));
  }
}

TEST(AddressTextTest, FormatAddressPicksTheSideAndTheFamily) {
  model::SocketTuple tuple = testing::loopback_tuple(1, 2);
  tuple.remote.address = {10, 20, 30, 40};
  char buffer[64];
  EXPECT_EQ(format_address(tuple, true, buffer), "127.0.0.1");
  EXPECT_EQ(format_address(tuple, false, buffer), "10.20.30.40");
  EXPECT_STREQ(buffer, "10.20.30.40");  // terminated, as inet_ntop left it
  tuple.family = model::AddressFamily::IPv6;
  tuple.local.address = groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1});
  EXPECT_EQ(format_address(tuple, true, buffer), "2001:db8::1");
  EXPECT_EQ(format_address(tuple, false, buffer), "a14:1e28::");
}

std::string text(const fmt::memory_buffer& buffer) {
  return {buffer.data(), buffer.size()};
}

model::Connection connection(uint64_t cookie, uint16_t local_port, uint16_t remote_port) {
  model::Connection c;
  c.cookie = cookie;
  c.tuple = testing::loopback_tuple(local_port, remote_port);
  return c;
}

TEST(LineWriterTest, NumbersAtBothEndsOfTheirRanges) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  model::Connection c = connection(kMax, 65535, 0);
  c.set_owner(testing::task(std::numeric_limits<uint32_t>::max(), "x"));
  fmt::memory_buffer out;
  append_transition_json(out, c, model::TcpState::Close, model::TcpState::SynSent, kMax);
  EXPECT_EQ(text(out),
            R"({"event":"transition","ts_ns":18446744073709551615,"conn":"ffffffffffffffff",)"
            R"("family":"ipv4","saddr":"127.0.0.1","sport":65535,"daddr":"127.0.0.1","dport":0,)"
            R"("from":"CLOSE","to":"SYN_SENT","pid":4294967295,"comm":"x"})");

  c = connection(0, 0, 65535);
  c.set_owner(testing::task(0, ""));
  out.clear();
  append_transition_json(out, c, model::TcpState::Close, model::TcpState::SynSent, 0);
  EXPECT_EQ(text(out),
            R"({"event":"transition","ts_ns":0,"conn":"0","family":"ipv4","saddr":"127.0.0.1",)"
            R"("sport":0,"daddr":"127.0.0.1","dport":65535,"from":"CLOSE","to":"SYN_SENT",)"
            R"("pid":0,"comm":""})");

  // Every digit count: 10^k - 1 and 10^k.
  uint64_t power = 1;
  for (int digits = 1; digits <= 20; ++digits) {
    for (uint64_t ts : {power - 1, power}) {
      out.clear();
      append_transition_json(out, c, model::TcpState::Close, model::TcpState::SynSent, ts);
      EXPECT_NE(text(out).find(R"("ts_ns":)" + std::to_string(ts) + ","), std::string::npos)
          << text(out);
    }
    if (digits < 20) power *= 10;
  }
}

// A close line longer than the room a line reserves up front, written after whatever is in
// the buffer already: it must come out whole wherever the buffer has to grow.
TEST(LineWriterTest, LongLinesGrowTheBufferAnywhere) {
  using S = model::TcpState;
  constexpr uint64_t kBig = 18'000'000'000'000'000'000ull;
  model::Connection c = connection(0xabcdef, 40000, 80);
  c.tuple.family = model::AddressFamily::IPv6;
  c.tuple.local.address = groups({0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 1});
  c.set_owner(testing::task(7, std::string_view("\x01\x02\x03\x04\x05\x06\x07\x0e\x0f\x10\x11\x12"
                                                "\x13\x14\x15",
                                                15)));
  const S cycle[] = {S::Established, S::FinWait1,   S::FinWait2, S::Closing,
                     S::LastAck,     S::CloseWait,  S::SynRecv,  S::SynSent,
                     S::Listen,      S::NewSynRecv, S::TimeWait, S::Established};
  for (std::size_t i = 0; i < model::Connection::kMaxHistory; ++i)
    c.push_visit(cycle[i % std::size(cycle)], 1 + i * (kBig / 16));
  c.retransmits = std::numeric_limits<uint32_t>::max();
  c.drops_for_update().reasons = {1, 2, 3, 4};
  c.drops_for_update().counts = {4000000000u, 4000000001u, 4000000002u, 4000000003u};
  c.drops_for_update().other = 4000000004u;
  c.packets_for_update().anomalies = 0xff;
  model::Classification k;
  k.verdict = model::Verdict::Invalid;

  fmt::memory_buffer alone;
  append_close_json(alone, c, k, kBig, true);
  ASSERT_GT(alone.size(), 1024u);
  auto j = nlohmann::json::parse(text(alone));
  EXPECT_EQ(j["ts_ns"], kBig);
  EXPECT_EQ(j["conn"], "abcdef");
  EXPECT_EQ(j["saddr"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:1");
  EXPECT_EQ(j["states"].size(), model::Connection::kMaxHistory);
  EXPECT_EQ(j["retransmits"], 4294967295u);
  EXPECT_EQ(j["comm"].get<std::string>().size(), 15u);
  EXPECT_EQ(j["drops"]["more_reasons"], 4000000004u);
  EXPECT_EQ(j["anomalies"].size(), model::kAnomalyCount);
  uint64_t spent = 0;
  for (const auto& [state, ns] : j["durations_ns"].items()) spent += ns.get<uint64_t>();
  EXPECT_EQ(spent, (c.history_length() - 2) * (kBig / 16));

  for (std::size_t before = 0; before < 1500; before += 7) {
    fmt::memory_buffer out;
    std::string prefix(before, 'p');
    out.append(prefix.data(), prefix.data() + prefix.size());
    append_close_json(out, c, k, kBig, true);
    ASSERT_EQ(text(out), prefix + text(alone)) << before;
  }
}

model::Connection numbered(uint64_t n) {
  model::Connection c = connection(n, static_cast<uint16_t>(n), 80);
  c.set_owner(testing::task(static_cast<uint32_t>(n), "worker"));
  return c;
}

// Lines are held back in batches: all of them, in order, once flushed, and what the writer
// still holds when it goes away is written too.
TEST(LineWriterTest, BatchedLinesAllArriveInOrder) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  std::string expected;
  constexpr uint64_t kLines = 5000;  // several batches and a part of one
  {
    JsonLinesWriter writer(file, {}, {});
    for (uint64_t n = 0; n < kLines; ++n) {
      model::Connection c = numbered(n);
      writer.on_transition(c, model::TcpState::SynSent, model::TcpState::Established, n);
      fmt::memory_buffer line;
      append_transition_json(line, c, model::TcpState::SynSent, model::TcpState::Established, n);
      expected += text(line) + "\n";
      if (n == kLines / 2) {
        writer.flush();
        EXPECT_EQ(std::ftell(file), static_cast<long>(expected.size()));
      }
    }
    EXPECT_EQ(writer.lines_written(), kLines);
  }
  std::string written;
  std::rewind(file);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof(buffer), file)) written.append(buffer, n);
  std::fclose(file);
  EXPECT_EQ(written, expected);
}

}  // namespace
}  // namespace synfin::outputs
