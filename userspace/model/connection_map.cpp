#include "model/connection_map.h"

namespace synfin::model {

std::size_t ConnectionMap::probe(uint64_t cookie) const {
  for (std::size_t at_index = home(cookie);; at_index = next(at_index)) {
    uint32_t entry = index_[at_index];
    if (entry == kEmpty || at(entry - 1).cookie == cookie) return at_index;
  }
}

Connection* ConnectionMap::find(uint64_t cookie) {
  if (size_ == 0 || cookie == 0) return nullptr;
  uint32_t entry = index_[probe(cookie)];
  return entry == kEmpty ? nullptr : &at(entry - 1);
}

const Connection* ConnectionMap::find(uint64_t cookie) const {
  return const_cast<ConnectionMap*>(this)->find(cookie);
}

void ConnectionMap::grow_index() {
  std::size_t capacity = index_.empty() ? 1024 : index_.size() + index_.size() / 2;
  std::vector<uint32_t> old = std::move(index_);
  index_.assign(capacity, kEmpty);
  for (uint32_t entry : old)
    if (entry != kEmpty) index_[probe(at(entry - 1).cookie)] = entry;
}

Connection& ConnectionMap::insert(uint64_t cookie) {
  // At most 3/4 full: probes stay short.
  if ((size_ + 1) * 4 > index_.size() * 3) grow_index();
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = next_unused_slot_++;
    if (slot / kChunkSize >= chunks_.size())
      chunks_.push_back(std::make_unique<Connection[]>(kChunkSize));
  }
  Connection& connection = at(slot);
  connection.cookie = cookie;
  index_[probe(cookie)] = slot + 1;
  ++size_;
  return connection;
}

void ConnectionMap::erase(uint64_t cookie) {
  if (size_ == 0 || cookie == 0) return;
  std::size_t hole = probe(cookie);
  uint32_t entry = index_[hole];
  if (entry == kEmpty) return;
  at(entry - 1) = Connection{};  // cookie 0 marks the slot free; extras go back to the pool
  free_slots_.push_back(entry - 1);
  --size_;
  // Backward-shift deletion: later entries of the same run move up, so no tombstones.
  index_[hole] = kEmpty;
  for (std::size_t later = next(hole); index_[later] != kEmpty; later = next(later)) {
    std::size_t wanted = home(at(index_[later] - 1).cookie);
    // Move it into the hole when the hole lies on its probe path (between home and later).
    if (distance(wanted, later) >= distance(hole, later)) {
      index_[hole] = index_[later];
      index_[later] = kEmpty;
      hole = later;
    }
  }
}

}  // namespace synfin::model
