#pragma once
// The one rule for every parameter of every route: a parameter the route does not take, one
// given twice or empty, an unknown name for an enumeration (state, verdict, outcome) or
// anything but a decimal number in range (port 1-65535, limit 1-kMaxLimit) is refused with
// a message saying which and why (the API answers it as 400).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "api/owner_filter.h"
#include "api/routes.h"
#include "model/connection.h"
#include "model/tcp_state.h"

namespace synfin::api {

// Query parameters as the client sent them, repeats included.
using Params = std::multimap<std::string, std::string>;

// Lists stop here (also the default): answers stay a few MB at most.
inline constexpr std::size_t kMaxLimit = 10000;

struct Query {
  std::optional<model::TcpState> state;
  std::optional<uint16_t> port;
  std::optional<model::Verdict> verdict;
  std::optional<model::Outcome> outcome;
  std::size_t limit = kMaxLimit;
  OwnerFilter owners;  // ?unit= ?pod= ?netns=

  // No port asked, or either end on it.
  bool port_matches(const model::SocketTuple& tuple) const {
    return !port || tuple.local.port == *port || tuple.remote.port == *port;
  }
};

// The parameters `accepted` by the route named `route` (in messages); null with `error` set
// when the rule refuses one.
std::optional<Query> parse_query(const Params& params, std::span<const std::string_view> accepted,
                                 std::string_view route, std::string& error);
inline std::optional<Query> parse_query(const Params& params, const Route& route,
                                        std::string& error) {
  return parse_query(params, route.parameters, route.path, error);
}

}  // namespace synfin::api
