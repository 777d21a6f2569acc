// Records of several sources (each CPU's ring, the packet ring, userspace's own) come back in
// one time order, whatever order each source was filled in.
#include "decode/record_merge.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <vector>

namespace synfin::decode {
namespace {

std::vector<std::byte> record(uint64_t ts, uint8_t tag) {
  std::vector<std::byte> bytes(16);
  std::memcpy(bytes.data(), &ts, sizeof(ts));
  bytes[8] = static_cast<std::byte>(tag);
  return bytes;
}

// A ring as the merge sees it: records in the order they were committed.
class FakeRing : public RecordSource {
 public:
  void commit(std::vector<std::byte> r) { records_.push_back(std::move(r)); }
  std::span<const std::byte> peek() override {
    if (records_.empty()) return {};
    return records_.front();
  }
  void pop() override { records_.pop_front(); }
  std::size_t left() const { return records_.size(); }

 private:
  std::deque<std::vector<std::byte>> records_;
};

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

TEST(RecordMergeTest, ReleasesEveryRingInTimeOrderUpToTheHorizon) {
  Released out;
  RecordMerge merge(out.sink());
  FakeRing cpu0, cpu1;
  merge.add_source(cpu0);
  merge.add_source(cpu1);
  // A socket's steps taken on two CPUs: ring by ring they are out of order.
  cpu0.commit(record(10, 'a'));
  cpu0.commit(record(30, 'a'));
  cpu1.commit(record(20, 'b'));
  cpu1.commit(record(40, 'b'));
  EXPECT_EQ(merge.release_until(25), 2u);
  EXPECT_EQ(out.times, (std::vector<uint64_t>{10, 20}));
  // Held back records stay in their ring until the horizon passes them.
  EXPECT_EQ(cpu0.left(), 1u);
  EXPECT_EQ(cpu1.left(), 1u);
  cpu1.commit(record(35, 'b'));  // behind 40 in its ring: the ring's order is kept
  merge.release_until(UINT64_MAX);
  EXPECT_EQ(out.times, (std::vector<uint64_t>{10, 20, 30, 40, 35}));
}

TEST(RecordMergeTest, EarlierSourcesGoFirstOnEqualTimes) {
  Released out;
  RecordMerge merge(out.sink());
  FakeRing packets, sockets;
  merge.add_source(packets);
  merge.add_source(sockets);
  sockets.commit(record(5, 'e'));
  packets.commit(record(5, 'p'));
  merge.release_until(5);
  EXPECT_EQ(out.tags, (std::vector<uint8_t>{'p', 'e'}));
}

TEST(RecordMergeTest, UserspaceRecordsTakeTheirPlaceInTime) {
  Released out;
  RecordMerge merge(out.sink());
  FakeRing ring;
  QueuedRecords written;
  merge.add_source(ring);
  merge.add_source(written);
  ring.commit(record(10, 'k'));
  ring.commit(record(30, 'k'));
  ASSERT_TRUE(written.push(record(20, 'u')));
  merge.release_until(UINT64_MAX);
  EXPECT_EQ(out.tags, (std::vector<uint8_t>{'k', 'u', 'k'}));
}

TEST(RecordMergeTest, AFullQueueRefusesUntilReleased) {
  QueuedRecords written;
  for (std::size_t i = 0; i < QueuedRecords::kCapacity; ++i)
    ASSERT_TRUE(written.push(record(i + 1, 'u')));
  EXPECT_TRUE(written.full());
  EXPECT_FALSE(written.push(record(100, 'u')));
  EXPECT_EQ(written.front_ts_ns(), 1u);
  EXPECT_FALSE(written.push(std::vector<std::byte>(QueuedRecords::kMaxRecord + 1)));
  Released out;
  RecordMerge merge(out.sink());
  merge.add_source(written);
  EXPECT_EQ(merge.release_until(written.front_ts_ns()), 1u);
  EXPECT_TRUE(written.push(record(100, 'u')));
}

TEST(RecordMergeTest, RecordsWithoutAStampPassAtOnce) {
  Released out;
  RecordMerge merge(out.sink());
  FakeRing ring;
  merge.add_source(ring);
  ring.commit(std::vector<std::byte>(3));
  ring.commit(record(50, 'k'));
  EXPECT_EQ(merge.release_until(10), 1u);  // the short one; the stamped one waits
  EXPECT_EQ(ring.left(), 1u);
}

}  // namespace
}  // namespace synfin::decode
