#include "model/cookie_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace synfin::model {
namespace {

// Inserts and erases in random order, many of them landing in the same probe runs (cookies
// drawn from a small range), checked against std::unordered_map after every step: a broken
// backward shift loses or duplicates entries here.
TEST(CookieIndexTest, AgreesWithAReferenceMapThroughRandomInsertsAndErases) {
  ChunkedSlots<uint64_t, 64> slots;  // each slot holds its cookie (0: free)
  CookieIndex index;
  auto cookie_of = [&](uint32_t slot) { return slots[slot]; };
  std::unordered_map<uint64_t, uint32_t> reference;
  std::mt19937_64 random(7);
  for (int step = 0; step < 200'000; ++step) {
    uint64_t cookie = 1 + random() % 5'000;
    auto known = reference.find(cookie);
    if (known == reference.end() && random() % 3 != 0) {
      uint32_t slot = slots.acquire();
      slots[slot] = cookie;
      index.insert(cookie, slot, cookie_of);
      reference[cookie] = slot;
    } else if (known != reference.end()) {
      ASSERT_EQ(index.erase(cookie, cookie_of), known->second);
      slots[known->second] = 0;
      slots.release(known->second);
      reference.erase(known);
    } else {
      ASSERT_EQ(index.find(cookie, cookie_of), CookieIndex::kNone);
    }
    ASSERT_EQ(index.size(), reference.size());
    if (step % 1'000 != 0) continue;
    for (const auto& [known_cookie, slot] : reference) {
      ASSERT_EQ(index.find(known_cookie, cookie_of), slot) << "cookie " << known_cookie;
    }
  }
}

TEST(CookieIndexTest, ReusesFreedSlotsBeforeNewOnes) {
  ChunkedSlots<uint64_t, 4> slots;
  std::vector<uint32_t> taken;
  for (int i = 0; i < 6; ++i) taken.push_back(slots.acquire());
  EXPECT_EQ(taken, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  slots.release(2);
  EXPECT_EQ(slots.acquire(), 2u);
  EXPECT_EQ(slots.acquire(), 6u);
  std::size_t visited = 0;
  slots.for_each_slot([&](const uint64_t&) { ++visited; });
  EXPECT_EQ(visited, 7u);
}

}  // namespace
}  // namespace synfin::model
