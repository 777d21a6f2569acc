#include "model/walk_coverage.h"

#include <algorithm>

namespace synfin::model {

void WalkCoverage::add_by_cookie(uint32_t netns) {
  walked_[netns] = NamespaceListing::ByCookie;
}

void WalkCoverage::add_by_ends(uint32_t netns, std::span<const KernelSocket> rows) {
  walked_[netns] = NamespaceListing::ByEnds;
  for (const KernelSocket& row : rows) ends_.insert(ends_key(netns, row.tuple));
}

NamespaceListing WalkCoverage::listing_of(uint32_t netns) const {
  if (own_netns_ == 0 || netns == 0 || netns == own_netns_) return NamespaceListing::ByCookie;
  auto it = walked_.find(netns);
  return it == walked_.end() ? NamespaceListing::NotWalked : it->second;
}

bool WalkCoverage::lists_ends(const SocketTuple& tuple) const {
  return ends_.count(ends_key(tuple.netns, tuple)) != 0;
}

bool WalkCoverage::shows_gone(const SocketTuple& tuple, bool cookie_listed) const {
  switch (listing_of(tuple.netns)) {
    case NamespaceListing::ByCookie:
      return !cookie_listed;
    case NamespaceListing::ByEnds:
      return !cookie_listed && !lists_ends(tuple);
    case NamespaceListing::NotWalked:
      break;
  }
  return false;
}

std::size_t WalkCoverage::namespaces(NamespaceListing listing) const {
  return static_cast<std::size_t>(std::count_if(
      walked_.begin(), walked_.end(), [&](const auto& entry) { return entry.second == listing; }));
}

std::string WalkCoverage::ends_key(uint32_t netns, const SocketTuple& tuple) {
  std::string key;
  key.reserve(sizeof(netns) + 1 + 2 * sizeof(Endpoint));
  key.append(reinterpret_cast<const char*>(&netns), sizeof(netns));
  key.push_back(static_cast<char>(tuple.family));
  for (const Endpoint* end : {&tuple.local, &tuple.remote}) {
    key.append(reinterpret_cast<const char*>(end->address.data()), end->address.size());
    key.append(reinterpret_cast<const char*>(&end->port), sizeof(end->port));
  }
  return key;
}

}  // namespace synfin::model
