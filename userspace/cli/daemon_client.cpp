#include "cli/daemon_client.h"

#include <httplib.h>

#include <fmt/format.h>

#include "api/http_server.h"
#include "outputs/utf8.h"

namespace synfin::cli {

Result<DaemonAnswer> get_from_daemon(const std::string& daemon, const std::string& path,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     int* exit_code_on_error) {
  *exit_code_on_error = 2;
  auto address = api::parse_listen_address(daemon);
  if (!address)
    return Error{fmt::format("--daemon '{}' is not ADDR:PORT (e.g. 127.0.0.1:9847)", daemon)};
  *exit_code_on_error = 1;
  httplib::Client client(address->host, address->port);
  client.set_connection_timeout(3);
  client.set_read_timeout(30);
  httplib::Params query(params.begin(), params.end());
  auto response = client.Get(path, query, httplib::Headers{});
  if (!response)
    return Error{fmt::format(
        "no daemon answering at {} ({}): start one with `synfin daemon`, or point --daemon at "
        "the one running",
        daemon, httplib::to_string(response.error()))};
  if (response->status != 200)
    return Error{fmt::format("daemon at {} answered {}: {}", daemon, response->status,
                             outputs::printable(response->body))};
  return DaemonAnswer{response->body};
}

}  // namespace synfin::cli
