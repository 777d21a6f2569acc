#include "model/connection_map.h"

namespace synfin::model {

Connection* ConnectionMap::find(uint64_t cookie) {
  if (cookie == 0) return nullptr;
  uint32_t slot = index_.find(cookie, cookie_of());
  return slot == CookieIndex::kNone ? nullptr : &slots_[slot];
}

const Connection* ConnectionMap::find(uint64_t cookie) const {
  return const_cast<ConnectionMap*>(this)->find(cookie);
}

Connection& ConnectionMap::insert(uint64_t cookie) {
  uint32_t slot = slots_.acquire();
  Connection& connection = slots_[slot];
  connection.cookie = cookie;
  index_.insert(cookie, slot, cookie_of());
  return connection;
}

void ConnectionMap::erase(uint64_t cookie) {
  if (cookie == 0) return;
  uint32_t slot = index_.erase(cookie, cookie_of());
  if (slot == CookieIndex::kNone) return;
  slots_[slot] = Connection{};  // cookie 0 marks the slot free; extras go back to the pool
  slots_.release(slot);
}

}  // namespace synfin::model
