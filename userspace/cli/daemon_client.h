#pragma once
// How the CLI views (`synfin stuck`, `synfin ladder`) ask a running daemon: one GET, and one
// clear line when no daemon answers or it refuses.
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace synfin::cli {

// The body of GET `path` (query `params`) from the daemon at ADDR:PORT `daemon`. On an error,
// *exit_code_on_error says how the command should end (2: the address itself is malformed).
struct DaemonAnswer {
  std::string body;
};
Result<DaemonAnswer> get_from_daemon(const std::string& daemon, const std::string& path,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     int* exit_code_on_error);

}  // namespace synfin::cli
