#include <memory>

#include "cli/capture_flags.h"
#include "cli/commands.h"
#include "daemon/daemon.h"

namespace synfin::cli {

Runner register_daemon(CLI::App& app) {
  auto o = std::make_shared<daemon::DaemonOptions>();
  CLI::App* daemon = app.add_subcommand(
      "daemon",
      "Run continuously: track every TCP connection, find stuck sockets and their owners,\n"
      "serve Prometheus /metrics, /healthz and a JSON API:\n"
      "  /api/v1/connections?state=CLOSE_WAIT&port=8080   live sockets (TIME_WAIT included)\n"
      "  /api/v1/stuck                                    sockets past their state's threshold\n"
      "  /api/v1/timewait                                 TIME_WAIT (and FIN_WAIT2) mini-sockets\n"
      "                                                   per remote endpoint\n"
      "  /api/v1/closed?verdict=invalid                   recently closed connections\n"
      "  /api/v1/listeners?port=8080                      listeners: queues, overflows, owner\n"
      "  /                                                the web page; /conn/<cookie> ladders\n"
      "Sockets that existed before start are read from the kernel's table (marked\n"
      "joined_mid_life; their ages are lower bounds).");
  daemon
      ->add_option("--listen", o->listen,
                   "HTTP address ADDR:PORT; the API is unauthenticated: anything but a loopback\n"
                   "address (e.g. :9847, every interface) is warned about")
      ->capture_default_str();
  daemon->add_option("--stuck-threshold", o->stuck_thresholds,
                     "STATE=SECONDS, repeatable; 0 disables. Defaults: CLOSE_WAIT=60 FIN_WAIT1=60\n"
                     "FIN_WAIT2=60 LAST_ACK=30 CLOSING=30 SYN_SENT=10 SYN_RECV=10");
  daemon
      ->add_option("--reconcile-interval", o->reconcile_interval_s,
                   "Seconds between reconciliations with the kernel's socket table")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 3600.0));
  daemon->add_flag(
      "--compact-paths", o->compact_paths,
      "Keep each socket's path (steps, owner, counters) in the kernel's per-socket storage\n"
      "and send it once, when the socket ends, instead of a record per step. The live view\n"
      "(read every --live-interval) covers every network namespace where the kernel lets\n"
      "synfin walk that storage, else the daemon's own (/healthz says which). Costs about\n"
      "what step records cost (docs/performance.md). Ignored with --xdp (packets join live\n"
      "sockets)");
  daemon
      ->add_option("--live-interval", o->live_interval_s,
                   "With --compact-paths: seconds between reads of the live sockets' paths\n"
                   "(states, ages, owners, stuck sockets)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 60.0));
  daemon
      ->add_option(
          "--metrics-port", o->metrics_ports,
          "Local port to break the synfin_tcp_port_* metrics down by (repeatable, at most\n"
          "16): sockets by state, listen drops, resets to segments no socket took")
      ->check(CLI::Range(1, 65535));
  daemon
      ->add_option("--recent-closes", o->recent_closes,
                   "Closed connections kept for /api/v1/closed")
      ->capture_default_str();
  add_capture_flags(daemon, o->capture);
  return [daemon, o]() -> int {
    if (!daemon->parsed()) return -1;
    return daemon::run(*o);
  };
}

}  // namespace synfin::cli
