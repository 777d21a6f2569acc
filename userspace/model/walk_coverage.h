#pragma once
// Which network namespaces one walk of the kernel's socket tables covered, and how each was
// read: with the socket-table iterator (rows carry cookies, a socket is matched exactly) or
// through a process's /proc/PID/net/tcp{,6} (no cookie: a socket is matched by its ends).
// Only a namespace the walk covered may tell that one of its sockets is gone.
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "model/event.h"

namespace synfin::model {

enum class NamespaceListing : uint8_t {
  NotWalked,  // the walk says nothing of this namespace's sockets
  ByCookie,   // the iterator's rows: listed iff its cookie is among them
  ByEnds,     // a /proc table: listed iff a row has its ends (addresses and ports)
};

class WalkCoverage {
 public:
  // The daemon's own namespace is walked with the iterator; a tuple of no known namespace (0)
  // is taken as its. own_netns 0: every namespace counts as walked by cookie (one namespace).
  explicit WalkCoverage(uint32_t own_netns = 0) : own_netns_(own_netns) {}

  void add_by_cookie(uint32_t netns);
  // A namespace read from its /proc table: its rows (their cookies are 0), kept by ends.
  void add_by_ends(uint32_t netns, std::span<const KernelSocket> rows);

  NamespaceListing listing_of(uint32_t netns) const;
  // ByEnds namespaces: whether the table had a socket with the tuple's ends.
  bool lists_ends(const SocketTuple& tuple) const;
  // Whether the walk, had the socket been there, would have shown it: a tuple whose namespace
  // is read by ends and whose ends are missing is as good as absent.
  bool shows_gone(const SocketTuple& tuple, bool cookie_listed) const;

  std::size_t namespaces(NamespaceListing listing) const;

 private:
  static std::string ends_key(uint32_t netns, const SocketTuple& tuple);

  uint32_t own_netns_;
  std::unordered_map<uint32_t, NamespaceListing> walked_;
  std::unordered_set<std::string> ends_;  // ends_key of every row read by ends
};

}  // namespace synfin::model
