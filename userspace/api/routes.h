#pragma once
// The routes the daemon answers with JSON or metrics and the parameters each takes: the table
// DaemonApi::handle dispatches on, that a 404 lists, and that the parameter rule
// (api/query_parameters.h) checks a request against. To add a route: a row here, its
// function in DaemonApi (docs/internals.md, "Adding an API route").
#include <array>
#include <span>
#include <string_view>

namespace synfin::api {

enum class RouteId { Metrics, Healthz, Connections, Stuck, TimeWait, Closed, Listeners };

struct Route {
  RouteId id;
  std::string_view path;
  // In the order an answer to an unknown parameter lists them.
  std::span<const std::string_view> parameters;
};

inline constexpr std::array<std::string_view, 0> kNoParameters{};
inline constexpr std::array<std::string_view, 6> kListingParameters = {"state", "port", "limit",
                                                                       "unit",  "pod",  "netns"};
inline constexpr std::array<std::string_view, 2> kTimeWaitParameters = {"port", "limit"};
inline constexpr std::array<std::string_view, 7> kClosedParameters = {
    "port", "verdict", "outcome", "limit", "unit", "pod", "netns"};
inline constexpr std::array<std::string_view, 4> kListenersParameters = {"port", "unit", "pod",
                                                                         "netns"};
// The web page's routes (api/web_ui.h), which take ?format= only.
inline constexpr std::array<std::string_view, 1> kWebPageParameters = {"format"};
inline constexpr std::array<std::string_view, 3> kWebPageEndpoints = {"/", "/conn/<cookie>",
                                                                      "/api/v1/ladder/<cookie>"};

inline constexpr Route kRoutes[] = {
    {RouteId::Metrics, "/metrics", kNoParameters},
    {RouteId::Healthz, "/healthz", kNoParameters},
    {RouteId::Connections, "/api/v1/connections", kListingParameters},
    {RouteId::Stuck, "/api/v1/stuck", kListingParameters},
    {RouteId::TimeWait, "/api/v1/timewait", kTimeWaitParameters},
    {RouteId::Closed, "/api/v1/closed", kClosedParameters},
    {RouteId::Listeners, "/api/v1/listeners", kListenersParameters},
};

constexpr const Route& route(RouteId id) {
  for (const Route& r : kRoutes)
    if (r.id == id) return r;
  return kRoutes[0];  // not reached: every RouteId has its row
}

// The route at exactly this path, or null.
constexpr const Route* find_route(std::string_view path) {
  for (const Route& r : kRoutes)
    if (r.path == path) return &r;
  return nullptr;
}

}  // namespace synfin::api
