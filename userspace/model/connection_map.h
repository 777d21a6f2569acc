#pragma once
// The connection table's storage: connections live in fixed-size chunks (addresses stay
// valid until erased; freed slots are reused), found through a CookieIndex. Memory grows
// with the peak number of connections, 5–8 bytes a connection above the Connection itself;
// steady churn allocates nothing.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/connection.h"
#include "model/cookie_index.h"

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
  std::size_t size() const { return index_.size(); }

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    slots_.for_each_slot([&](const Connection& c) {
      if (c.cookie != 0) visit(c);
    });
  }
  template <typename Visitor>
  void for_each(Visitor&& visit) {
    slots_.for_each_slot([&](Connection& c) {
      if (c.cookie != 0) visit(c);
    });
  }

 private:
  auto cookie_of() const {
    return [this](uint32_t slot) { return slots_[slot].cookie; };
  }

  ChunkedSlots<Connection> slots_;
  CookieIndex index_;
};

}  // namespace synfin::model
