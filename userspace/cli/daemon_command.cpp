#include <memory>

#include "cli/capture_flags.h"
#include "cli/commands.h"
#include "daemon/daemon.h"
#include "model/unit_breakdown.h"

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
      "  /api/v1/closed?verdict=invalid                   recent closes that mattered, and a\n"
      "                                                   sample of the clean rest\n"
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
  daemon
      ->add_option(
          "--closes-per-second", o->closes_per_second,
          "The kernel side judges and counts every connection; a close crosses to the daemon\n"
          "(/api/v1/closed, ladders) when it matters: not valid, not a clean active, passive\n"
          "or simultaneous close, reset, retransmitted, dropped, held past a stuck threshold,\n"
          "or on a --watch-port. Of the clean rest, this many per second cross as a fair\n"
          "sample; the others are counted (synfin_closes_sampled_total of\n"
          "synfin_closes_clean_total). 0: none")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000000));
  daemon
      ->add_option("--watch-port", o->watch_ports,
                   "Every close with this local or remote port crosses, unsampled (repeatable,\n"
                   "at most 8)")
      ->check(CLI::Range(1, 65535));
  daemon
      ->add_option("--port", o->ports,
                   "Watch only sockets with this local or remote port (repeatable, at most 8):\n"
                   "the others are neither counted nor listed")
      ->check(CLI::Range(1, 65535));
  daemon
      ->add_option("--live-interval", o->live_interval_s,
                   "How old the live view (states, ages, owners, stuck sockets: the live\n"
                   "sockets' kernel-kept paths) may be when the API or a scrape reads it; older,\n"
                   "it is walked again first. Unread, it is walked every --reconcile-interval.\n"
                   "Not with --xdp, which follows every step")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 60.0));
  daemon
      ->add_option(
          "--metrics-port", o->metrics_ports,
          "Local port to break the synfin_tcp_port_* metrics down by (repeatable, at most\n"
          "16): sockets by state, listen drops, resets to segments no socket took")
      ->check(CLI::Range(1, 65535));
  daemon->add_flag(
      "--enter-namespaces", o->enter_namespaces,
      "Walk every other network namespace (containers, pods) with the socket-table iterator,\n"
      "entering each with setns(): their sockets then get activity (bytes sent) and exact\n"
      "reconciliation, like the daemon's own. Keeps CAP_SYS_ADMIN after start, which the\n"
      "shipped systemd unit and DaemonSet do not grant. Without it (or where setns is\n"
      "refused) each namespace's /proc/PID/net/tcp{,6} is its walk: queues, inode, sockets\n"
      "gone matched by their ends; activity unknown. A namespace no process is in (kept by\n"
      "its mount in /run/netns) is walked only when entered. /healthz says which each walk\n"
      "used");
  daemon
      ->add_option_function<std::string>(
          "--metrics-by", [o](const std::string&) { o->metrics_by_unit = true; },
          "unit: break the stuck and TIME_WAIT gauges down by the owner's systemd unit\n"
          "(synfin_tcp_unit_stuck_sockets, synfin_tcp_unit_time_wait_sockets): the\n"
          "--metrics-by-limit units with most sockets, then unknown, none and other (the rest,\n"
          "summed; synfin_metrics_units_folded counts them). Off: /metrics is unchanged")
      ->check(CLI::IsMember({"unit"}));
  daemon
      ->add_option("--metrics-by-limit", o->metrics_by_limit,
                   "Units given their own series by --metrics-by unit, per family")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, model::kMaxUnitLimit));
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
