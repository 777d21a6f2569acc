#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "synfin_git_commit.h"

int main(int argc, char** argv) {
  CLI::App app{
      "synfin — TCP connection tracer.\n"
      "Watches every TCP connection through the kernel's TCP tracepoints, rebuilds each\n"
      "connection's state sequence, validates it against the TCP state machine and tells\n"
      "how it ended. Needs root (or CAP_BPF+CAP_PERFMON) and a kernel with BTF.",
      "synfin"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "synfin " SYNFIN_VERSION " (git " SYNFIN_GIT_COMMIT ")");
  std::vector<synfin::cli::Runner> runners;
  runners.push_back(synfin::cli::register_trace(app));
  runners.push_back(synfin::cli::register_daemon(app));
  runners.push_back(synfin::cli::register_stuck(app));
  runners.push_back(synfin::cli::register_listeners(app));
  runners.push_back(synfin::cli::register_replay(app));
  runners.push_back(synfin::cli::register_ladder(app));
  if (argc < 2) {  // a bare `synfin` teaches rather than complains
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  CLI11_PARSE(app, argc, argv);
  for (auto& run : runners) {
    int rc = run();
    if (rc >= 0) return rc;
  }
  return 2;
}
