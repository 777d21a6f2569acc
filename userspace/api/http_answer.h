#pragma once
// What every route of the daemon's HTTP endpoint returns: a status and a body.
#include <string>
#include <string_view>

namespace synfin::api {

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  // the Allow header of a 405
};

// {"error":"..."}: the body of every refusal, whoever refuses (a route, the server).
std::string error_body(std::string_view message);

}  // namespace synfin::api
