#pragma once
#include <CLI/CLI.hpp>

namespace synfin::cli {

// Each subcommand registers its options and returns the function that runs it.
using Runner = std::function<int()>;
Runner register_trace(CLI::App& app);
Runner register_daemon(CLI::App& app);
Runner register_stuck(CLI::App& app);
Runner register_listeners(CLI::App& app);
Runner register_replay(CLI::App& app);
Runner register_ladder(CLI::App& app);

}  // namespace synfin::cli
