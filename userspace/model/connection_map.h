#pragma once
// The connection table's storage: connections live in fixed-size chunks (addresses stay
// valid until erased; freed slots are reused), found through an open-addressing index of
// 32-bit slot numbers keyed by socket cookie. Memory grows with the peak number of
// connections, 5–8 bytes a connection above the Connection itself; steady churn
// allocates nothing.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "model/connection.h"

namespace synfin::model {

class ConnectionMap {
 public:
  ConnectionMap() = default;
  ConnectionMap(const ConnectionMap&) = delete;
  ConnectionMap& operator=(const ConnectionMap&) = delete;

  Connection* find(uint64_t cookie);
  const Connection* find(uint64_t cookie) const;
  // A fresh connection for `cookie` (which must be nonzero and not present).
  Connection& insert(uint64_t cookie);
  void erase(uint64_t cookie);
  std::size_t size() const { return size_; }

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    for (std::size_t chunk = 0; chunk < chunks_.size(); ++chunk)
      for (std::size_t i = 0; i < kChunkSize; ++i)
        if (chunks_[chunk][i].cookie != 0) visit(chunks_[chunk][i]);
  }
  template <typename Visitor>
  void for_each(Visitor&& visit) {
    for (std::size_t chunk = 0; chunk < chunks_.size(); ++chunk)
      for (std::size_t i = 0; i < kChunkSize; ++i)
        if (chunks_[chunk][i].cookie != 0) visit(chunks_[chunk][i]);
  }

 private:
  static constexpr std::size_t kChunkSize = 1024;
  static constexpr uint32_t kEmpty = 0;  // index entries hold slot + 1

  Connection& at(uint32_t slot) const { return chunks_[slot / kChunkSize][slot % kChunkSize]; }
  // Any index size works (growth by half keeps the index 50–75 % full): the mixed cookie is
  // scaled onto it by a multiply instead of a modulo.
  std::size_t home(uint64_t cookie) const {
    unsigned __int128 mixed = cookie * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>((mixed * index_.size()) >> 64);
  }
  std::size_t next(std::size_t position) const {
    return position + 1 == index_.size() ? 0 : position + 1;
  }
  // How far `position` lies past `from`, going round the index.
  std::size_t distance(std::size_t from, std::size_t position) const {
    return position >= from ? position - from : position + index_.size() - from;
  }
  // The index position holding `cookie`, or the empty one where it would go.
  std::size_t probe(uint64_t cookie) const;
  void grow_index();

  std::vector<std::unique_ptr<Connection[]>> chunks_;
  std::vector<uint32_t> free_slots_;
  uint32_t next_unused_slot_ = 0;
  std::vector<uint32_t> index_;
  std::size_t size_ = 0;
};

}  // namespace synfin::model
