// The one JSON writer (outputs/json_writer.h): commas and nesting, escaping and invalid UTF-8,
// both number forms, and a reused buffer that stops allocating.
#include "outputs/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

namespace synfin::outputs {
namespace {

template <typename Write>
std::string written(Write write) {
  return json_text(write, /*expected=*/1);  // room for one byte: every write must grow
}

std::string fraction_text(double value) {
  return written([&](JsonWriter& j) { j.fraction(value); });
}

std::string number_text(double value) {
  return written([&](JsonWriter& j) { j.number(value); });
}

TEST(JsonWriterTest, CommasSeparateMembersAndElementsAtEveryDepth) {
  std::string text = written([](JsonWriter& j) {
    j.begin_object();
    j.key("a");
    j.number(1);
    j.key("empty_object");
    j.begin_object();
    j.end_object();
    j.key("empty_array");
    j.begin_array();
    j.end_array();
    j.key("list");
    j.begin_array();
    j.number(-2);
    j.begin_object();
    j.key("x");
    j.null();
    j.key("y");
    j.boolean(false);
    j.end_object();
    j.begin_array();
    j.boolean(true);
    j.end_array();
    j.string("s");
    j.end_array();
    j.key(std::string_view("run-time \"key\""));
    j.raw(R"({"already":"json"})");
    j.end_object();
  });
  EXPECT_EQ(text, R"({"a":1,"empty_object":{},"empty_array":[],"list":[-2,{"x":null,"y":false},)"
                  R"([true],"s"],"run-time \"key\"":{"already":"json"}})");
  EXPECT_TRUE(nlohmann::json::accept(text));
}

// A row's "not known": the member of an object that may be missing, number or string alike.
TEST(JsonWriterTest, FieldOrNullWritesTheFieldOrNull) {
  struct Socket {
    uint32_t queue = 7;
    std::string name = "a\"b";
  };
  Socket socket;
  const Socket* none = nullptr;
  std::string text = written([&](JsonWriter& j) {
    j.begin_array();
    j.field_or_null(&socket, &Socket::queue);
    j.field_or_null(&socket, &Socket::name);
    j.field_or_null(none, &Socket::queue);
    j.field_or_null(none, &Socket::name);
    j.end_array();
  });
  EXPECT_EQ(text, R"([7,"a\"b",null,null])");
}

TEST(JsonWriterTest, TablesNamesQuotedTextAndHexAreWrittenAsTheyAre) {
  std::string text = written([](JsonWriter& j) {
    j.begin_array();
    j.name("CLOSE_WAIT");
    j.name({});  // an unknown reason's name: empty, its data() may be null
    j.quoted(5, [](char* p) { return std::copy_n("A->B", 4, p); });
    j.hex_string(0xdeadbeef);
    j.hex_string(0);
    j.hex_string(UINT64_MAX);
    j.begin_object();
    j.name_key("TCP_OLD_DATA");
    j.number(2);
    j.name_key("TCP_ZEROWINDOW");
    j.number(1);
    j.end_object();
    j.end_array();
  });
  EXPECT_EQ(text, R"(["CLOSE_WAIT","","A->B","deadbeef","0","ffffffffffffffff",)"
                  R"({"TCP_OLD_DATA":2,"TCP_ZEROWINDOW":1}])");
}

TEST(JsonWriterTest, StringsEscapeQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(written([](JsonWriter& j) { j.string("q\"b\\s/"); }), R"("q\"b\\s/")");
  EXPECT_EQ(written([](JsonWriter& j) { j.string(std::string_view("\0\b\t\n\v\f\r\x1f\x7f", 9)); }),
            "\"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\x7f\"");
  // Well-formed UTF-8 stays as it is; each ill-formed piece becomes one U+FFFD.
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(written([](JsonWriter& j) { j.string("caf\xc3\xa9 \xf0\x9f\x90\x9b"); }),
            "\"caf\xc3\xa9 \xf0\x9f\x90\x9b\"");
  EXPECT_EQ(written([](JsonWriter& j) {
              j.string(
                  "a\xe6\x97"
                  "b\xff\xed\xa0\x80");
            }),
            "\"a" + fffd + "b" + fffd + fffd + fffd + fffd + "\"");
  // A key known at run time is escaped the same way.
  EXPECT_EQ(written([](JsonWriter& j) {
              j.begin_object();
              j.key(std::string_view("\xff\n"));
              j.number(1u);
              j.end_object();
            }),
            "{\"" + fffd + "\\n\":1}");
}

TEST(JsonWriterTest, StringsAreWhatNlohmannJsonWritesWithReplaceForAnyBytes) {
  std::mt19937 random(22);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 12);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(length(random), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(random));
    nlohmann::json as_json = bytes;
    ASSERT_EQ(written([&](JsonWriter& j) { j.string(bytes); }),
              as_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        << "for bytes " << nlohmann::json::binary({bytes.begin(), bytes.end()}).dump();
  }
}

TEST(JsonWriterTest, IntegersOfEveryWidthAndSign) {
  std::string text = written([](JsonWriter& j) {
    j.begin_array();
    j.number(uint16_t{65535});
    j.number(uint32_t{0});
    j.number(UINT64_MAX);
    j.number(INT64_MIN);
    j.number(std::size_t{10000});
    j.end_array();
  });
  EXPECT_EQ(text, "[65535,0,18446744073709551615,-9223372036854775808,10000]");
}

TEST(JsonWriterTest, NumbersAreTheShortestTextThatReadsBack) {
  EXPECT_EQ(number_text(5.0), "5");
  EXPECT_EQ(number_text(0.25), "0.25");
  EXPECT_EQ(number_text(100.122453789), "100.122453789");
  EXPECT_EQ(number_text(1e-7), "1e-07");
  EXPECT_EQ(number_text(1e16), "1e+16");
  EXPECT_EQ(number_text(std::nan("")), "null");
  EXPECT_EQ(number_text(-std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonWriterTest, FractionsAreWrittenAsNlohmannJsonWritesDoubles) {
  EXPECT_EQ(fraction_text(300.0), "300.0");
  EXPECT_EQ(fraction_text(0.0), "0.0");
  EXPECT_EQ(fraction_text(-0.0), "-0.0");
  EXPECT_EQ(fraction_text(-1.0), "-1.0");
  EXPECT_EQ(fraction_text(0.0123456789), "0.0123456789");
  EXPECT_EQ(fraction_text(1e-5), "1e-05");
  EXPECT_EQ(fraction_text(1e15), "1e+15");
  EXPECT_EQ(fraction_text(123456789012345.0), "123456789012345.0");
  EXPECT_EQ(fraction_text(1.5e300), "1.5e+300");
  EXPECT_EQ(fraction_text(std::numeric_limits<double>::infinity()), "null");
  const double samples[] = {1.0 / 3, 2.0 / 28232,           60.0, 3600.5, 1e-4, 0.00012, 9.999e14,
                            5e-324,  1.7976931348623157e308};
  for (double value : samples)
    EXPECT_EQ(fraction_text(value), nlohmann::json(value).dump()) << value;
  // Ratios and durations as the API computes them (counts over a port range, ns over 1e9):
  // the same double, laid out as nlohmann::json lays it out. nlohmann's Grisu2 now and then
  // writes a 17th digit the value does not need; the writer's digits are always the shortest.
  std::mt19937_64 random(22);
  int longer_in_nlohmann = 0;
  for (int round = 0; round < 20000; ++round) {
    for (double value : {static_cast<double>(random() % 28232) / 28232,
                         static_cast<double>(random() % 10'000'000'000'000ull) / 1e9}) {
      std::string ours = fraction_text(value), theirs = nlohmann::json(value).dump();
      auto read_back = nlohmann::json::parse(ours);
      ASSERT_TRUE(read_back.is_number_float()) << ours;
      ASSERT_EQ(read_back.get<double>(), value) << ours;
      if (ours == theirs) continue;
      ++longer_in_nlohmann;
      ASSERT_LT(ours.size(), theirs.size()) << ours << " vs " << theirs;
      ASSERT_EQ(ours.find('e'), theirs.find('e')) << ours << " vs " << theirs;
    }
  }
  EXPECT_LT(longer_in_nlohmann, 40000 / 100) << "at most 1% of values";
}

TEST(JsonWriterTest, AppendsToWhatTheBufferHoldsAndReusesItsRoom) {
  fmt::memory_buffer out;
  out.append(std::string_view("prefix "));
  {
    JsonWriter j(out, 1024);
    j.begin_object();
    j.key("k");
    j.string("v");
    j.end_object();
  }
  EXPECT_EQ(fmt::to_string(out), R"(prefix {"k":"v"})");
  // A line buffer cleared and written again keeps its storage: no allocation per line.
  const char* storage = out.data();
  for (int line = 0; line < 1000; ++line) {
    out.clear();
    JsonWriter j(out, 1024);
    j.begin_object();
    j.key("line");
    j.number(line);
    j.end_object();
  }
  EXPECT_EQ(out.data(), storage);
  EXPECT_EQ(fmt::to_string(out), R"({"line":999})");
}

}  // namespace
}  // namespace synfin::outputs
