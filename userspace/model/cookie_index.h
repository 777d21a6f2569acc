#pragma once
// CookieIndex: an open-addressing index from socket cookie to a 32-bit slot number in the owner's
// own storage (the connection table's chunks, the TIME_WAIT entries). The index stores slots only:
// the owner says which cookie a slot holds, so each lookup compares against its storage.
// Linear probing, kept 50–75 % full (it grows by half at 3/4), backward-shift deletion (no
// tombstones): 4 bytes an entry at 100 % plus the slack.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace synfin::model {

class CookieIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // Slots are 0 .. kMaxSlots - 1: the owners cap their entries below it.
  static constexpr uint32_t kMaxSlots = (1u << 24) - 1;

  // The slot holding `cookie`, or kNone. CookieOf: uint64_t(uint32_t slot).
  template <typename CookieOf>
  uint32_t find(uint64_t cookie, const CookieOf& cookie_of) const {
    if (size_ == 0) return kNone;
    uint32_t entry = entries_[probe(cookie, cookie_of)];
    return entry == kEmpty ? kNone : slot_of(entry);
  }

  // `cookie` (not present) now lives in `slot`.
  template <typename CookieOf>
  void insert(uint64_t cookie, uint32_t slot, const CookieOf& cookie_of) {
    if ((size_ + 1) * 4 > entries_.size() * 3) grow(cookie_of);
    entries_[probe(cookie, cookie_of)] = tag_of(cookie) | (slot + 1);
    ++size_;
  }

  // Forgets `cookie`; call while its slot still holds it. Returns its slot, or kNone.
  template <typename CookieOf>
  uint32_t erase(uint64_t cookie, const CookieOf& cookie_of) {
    if (size_ == 0) return kNone;
    std::size_t hole = probe(cookie, cookie_of);
    uint32_t entry = entries_[hole];
    if (entry == kEmpty) return kNone;
    --size_;
    // Later entries of the same run move up into the hole when it lies on their probe path.
    entries_[hole] = kEmpty;
    for (std::size_t later = next(hole); entries_[later] != kEmpty; later = next(later)) {
      std::size_t wanted = home(cookie_of(slot_of(entries_[later])));
      if (distance(wanted, later) >= distance(hole, later)) {
        entries_[hole] = entries_[later];
        entries_[later] = kEmpty;
        hole = later;
      }
    }
    return slot_of(entry);
  }

  std::size_t size() const { return size_; }

 private:
  static constexpr uint32_t kEmpty = 0;  // entries hold tag | (slot + 1)
  static constexpr uint32_t kSlotBits = 0x00FFFFFF;

  static uint64_t mixed(uint64_t cookie) { return cookie * 0x9E3779B97F4A7C15ull; }
  // Any index size works: the mixed cookie's high bits are scaled onto it by a multiply, not
  // a modulo. The tag comes from its low bits, which the scaling leaves out.
  std::size_t home(uint64_t cookie) const {
    return static_cast<std::size_t>(
        (static_cast<unsigned __int128>(mixed(cookie)) * entries_.size()) >> 64);
  }
  static uint32_t tag_of(uint64_t cookie) {
    return static_cast<uint32_t>(mixed(cookie) >> 8) << 24;
  }
  static uint32_t slot_of(uint32_t entry) { return (entry & kSlotBits) - 1; }
  std::size_t next(std::size_t position) const {
    return position + 1 == entries_.size() ? 0 : position + 1;
  }
  // How far `position` lies past `from`, going round the index.
  std::size_t distance(std::size_t from, std::size_t position) const {
    return position >= from ? position - from : position + entries_.size() - from;
  }
  // The position holding `cookie`, or the empty one where it would go.
  template <typename CookieOf>
  std::size_t probe(uint64_t cookie, const CookieOf& cookie_of) const {
    uint32_t tag = tag_of(cookie);
    for (std::size_t at = home(cookie);; at = next(at)) {
      uint32_t entry = entries_[at];
      if (entry == kEmpty) return at;
      if ((entry & ~kSlotBits) == tag && cookie_of(slot_of(entry)) == cookie) return at;
    }
  }
  template <typename CookieOf>
  void grow(const CookieOf& cookie_of) {
    std::size_t capacity = entries_.empty() ? 1024 : entries_.size() + entries_.size() / 2;
    std::vector<uint32_t> old = std::move(entries_);
    entries_.assign(capacity, kEmpty);
    for (uint32_t entry : old)
      if (entry != kEmpty) entries_[probe(cookie_of(slot_of(entry)), cookie_of)] = entry;
  }

  std::vector<uint32_t> entries_;
  std::size_t size_ = 0;
};

// Storage for cookie-indexed things: fixed-size chunks, so addresses stay valid while the
// table grows and no growth copies everything; freed slots are reused first.
template <typename T, std::size_t kChunkSize = 1024>
class ChunkedSlots {
 public:
  T& operator[](uint32_t slot) const { return chunks_[slot / kChunkSize][slot % kChunkSize]; }

  uint32_t acquire() {
    if (!free_slots_.empty()) {
      uint32_t slot = free_slots_.back();
      free_slots_.pop_back();
      return slot;
    }
    uint32_t slot = next_unused_++;
    if (slot / kChunkSize >= chunks_.size()) chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    return slot;
  }
  // The caller has reset the slot's T to its empty value.
  void release(uint32_t slot) { free_slots_.push_back(slot); }

  // Every slot ever handed out, free ones included (the caller tells them apart).
  template <typename Visitor>
  void for_each_slot(Visitor&& visit) const {
    for (uint32_t slot = 0; slot < next_unused_; ++slot) visit((*this)[slot]);
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::vector<uint32_t> free_slots_;
  uint32_t next_unused_ = 0;
};

}  // namespace synfin::model
