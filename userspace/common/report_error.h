#pragma once
// How every synfin command reports a failure: one line on stderr, then an exit code.
#include <string>

#include <fmt/format.h>

namespace synfin {

// One line on stderr, as every synfin failure is reported; returns the exit code.
inline int report_error(const std::string& message, int exit_code = 1) {
  fmt::print(stderr, "synfin: error: {}\n", message);
  return exit_code;
}

}  // namespace synfin
