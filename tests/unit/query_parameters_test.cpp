// The one parameter rule (api/query_parameters.h) on its own, and the route table it reads
// (api/routes.h): what each parameter becomes, and what each refusal says.
#include "api/query_parameters.h"

#include <gtest/gtest.h>

namespace synfin::api {
namespace {

using S = model::TcpState;

std::string refusal(const Params& params, const Route& route) {
  std::string error;
  auto query = parse_query(params, route, error);
  EXPECT_FALSE(query) << "accepted for " << route.path;
  return error;
}

TEST(QueryParametersTest, ReadsEveryParameterIntoItsValue) {
  std::string error;
  auto query = parse_query({{"state", "close-wait"},
                            {"port", "8443"},
                            {"limit", "25"},
                            {"unit", "nginx"},
                            {"pod", "0F1E_2D"},
                            {"netns", "4026531840"}},
                           route(RouteId::Stuck), error);
  ASSERT_TRUE(query) << error;
  EXPECT_EQ(query->state, S::CloseWait);
  EXPECT_EQ(query->port, 8443);
  EXPECT_EQ(query->limit, 25u);
  EXPECT_EQ(query->owners.unit, "nginx");
  EXPECT_EQ(query->owners.pod, "0f1e-2d");
  EXPECT_EQ(query->owners.netns, 4026531840u);

  query = parse_query({{"verdict", "Invalid"}, {"outcome", "active_close"}}, route(RouteId::Closed),
                      error);
  ASSERT_TRUE(query) << error;
  EXPECT_EQ(query->verdict, model::Verdict::Invalid);
  EXPECT_EQ(query->outcome, model::Outcome::ActiveClose);
  EXPECT_EQ(query->limit, kMaxLimit);  // the default
  EXPECT_FALSE(query->state);
}

TEST(QueryParametersTest, NoPortMatchesEverySocketAPortEitherEnd) {
  model::SocketTuple tuple;
  tuple.local.port = 8443;
  tuple.remote.port = 50000;
  Query any;
  EXPECT_TRUE(any.port_matches(tuple));
  Query local, remote, neither;
  local.port = 8443;
  remote.port = 50000;
  neither.port = 80;
  EXPECT_TRUE(local.port_matches(tuple));
  EXPECT_TRUE(remote.port_matches(tuple));
  EXPECT_FALSE(neither.port_matches(tuple));
}

TEST(QueryParametersTest, RefusalsSayWhichParameterAndWhy) {
  EXPECT_EQ(refusal({{"prot", "80"}}, route(RouteId::TimeWait)),
            "unknown parameter 'prot' (/api/v1/timewait takes port, limit)");
  EXPECT_EQ(refusal({{"x", "1"}}, route(RouteId::Healthz)),
            "unknown parameter 'x' (/healthz takes none)");
  EXPECT_EQ(refusal({{"port", "80"}, {"port", "81"}}, route(RouteId::Connections)),
            "parameter 'port' given 2 times");
  EXPECT_EQ(refusal({{"limit", ""}}, route(RouteId::Connections)), "parameter 'limit' is empty");
  EXPECT_EQ(refusal({{"state", "HALF_OPEN"}}, route(RouteId::Connections)),
            "unknown state 'HALF_OPEN' (use the kernel's names, e.g. CLOSE_WAIT)");
  EXPECT_EQ(refusal({{"port", "0x50"}}, route(RouteId::Connections)),
            "port must be a number 1-65535, not '0x50'");
  EXPECT_EQ(refusal({{"limit", "10001"}}, route(RouteId::Closed)),
            "limit must be a number 1-10000, not '10001'");
  EXPECT_EQ(refusal({{"verdict", "bogus"}}, route(RouteId::Closed)),
            "unknown verdict 'bogus' (valid, invalid, incomplete)");
  EXPECT_EQ(refusal({{"netns", "0"}}, route(RouteId::Listeners)),
            "netns must be a namespace's inode number (as in /proc/PID/ns/net), not '0'");
  std::string outcome = refusal({{"outcome", "closed"}}, route(RouteId::Closed));
  EXPECT_TRUE(outcome.starts_with("unknown outcome 'closed' (")) << outcome;
}

TEST(QueryParametersTest, EveryRouteOfTheTableIsFoundByItsPathOnly) {
  for (const Route& r : kRoutes) {
    EXPECT_EQ(find_route(r.path), &r);
    EXPECT_EQ(&route(r.id), &r);
    std::string error;
    EXPECT_TRUE(parse_query({}, r, error)) << r.path << ": " << error;
  }
  EXPECT_EQ(find_route("/api/v1/stuck/"), nullptr);
  EXPECT_EQ(find_route("/METRICS"), nullptr);
  EXPECT_EQ(find_route(""), nullptr);
}

}  // namespace
}  // namespace synfin::api
