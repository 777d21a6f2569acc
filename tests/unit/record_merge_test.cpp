// Two rings read one after the other come back in time order, whatever order they were read in.
#include "decode/record_merge.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace synfin::decode {
namespace {

std::vector<std::byte> record(uint64_t ts, uint8_t tag) {
  std::vector<std::byte> bytes(16);
  std::memcpy(bytes.data(), &ts, sizeof(ts));
  bytes[8] = static_cast<std::byte>(tag);
  return bytes;
}

struct Released {
  std::vector<uint64_t> times;
  std::vector<uint8_t> tags;
  RecordMerge::Apply sink() {
    return [this](std::span<const std::byte> r) {
      uint64_t ts = 0;
      if (r.size() >= 8) std::memcpy(&ts, r.data(), 8);
      times.push_back(ts);
      tags.push_back(r.size() > 8 ? static_cast<uint8_t>(r[8]) : 0);
    };
  }
};

TEST(RecordMergeTest, ReleasesBothRingsInTimeOrderUpToTheHorizon) {
  Released out;
  RecordMerge merge(8, 8, out.sink());
  // The socket ring was read after the packet ring: a step (t=30) and the packet that caused
  // it (t=20) arrive in that order across two drains.
  merge.add_packet(record(10, 'p'));
  merge.add_event(record(30, 'e'));
  merge.add_event(record(35, 'e'));
  merge.release_until(25);
  EXPECT_EQ(out.times, (std::vector<uint64_t>{10}));
  merge.add_packet(record(20, 'p'));
  merge.release_until(40);
  EXPECT_EQ(out.times, (std::vector<uint64_t>{10, 20, 30, 35}));
  EXPECT_EQ(merge.waiting(), 0u);
}

TEST(RecordMergeTest, PacketsGoFirstOnEqualTimes) {
  Released out;
  RecordMerge merge(4, 4, out.sink());
  merge.add_event(record(5, 'e'));
  merge.add_packet(record(5, 'p'));
  merge.release_until(5);
  EXPECT_EQ(out.tags, (std::vector<uint8_t>{'p', 'e'}));
}

TEST(RecordMergeTest, AFullFifoReleasesItsOldestInOrder) {
  Released out;
  RecordMerge merge(2, 2, out.sink());
  merge.add_packet(record(1, 'p'));
  merge.add_event(record(2, 'e'));
  merge.add_event(record(3, 'e'));
  merge.add_event(record(4, 'e'));  // full: the event at 2 goes, after the packet before it
  EXPECT_EQ(out.times, (std::vector<uint64_t>{1, 2}));
  merge.release_until(UINT64_MAX);
  EXPECT_EQ(out.times, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(RecordMergeTest, MalformedRecordsPassAtOnce) {
  Released out;
  RecordMerge merge(2, 2, out.sink());
  merge.add_event(std::vector<std::byte>(3));
  merge.add_event(std::vector<std::byte>(RecordMerge::kMaxRecord + 1));
  EXPECT_EQ(out.times.size(), 2u);
  EXPECT_EQ(merge.waiting(), 0u);
}

}  // namespace
}  // namespace synfin::decode
