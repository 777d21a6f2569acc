#include "daemon/daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "api/daemon_api.h"
#include "api/http_server.h"
#include "api/listeners_api.h"
#include "capture/environment.h"
#include "capture/namespace_tables.h"
#include "capture/privileges.h"
#include "capture/proc_owners.h"
#include "capture/session.h"
#include "common/clock.h"
#include "common/fresh_view_gate.h"
#include "common/report_error.h"
#include "common/thread_priority.h"
#include "decode/decoder.h"
#include "model/daemon_model.h"
#include "model/unit_breakdown.h"
#include "outputs/prometheus.h"

namespace synfin::daemon {

namespace {

constexpr std::size_t kMaxMetricsPorts = 16;

api::PortRange read_port_range() {
  api::PortRange range;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0, high = 0;
  if (in >> low >> high && low <= high && high <= 65535) {
    range.low = static_cast<uint16_t>(low);
    range.high = static_cast<uint16_t>(high);
  }
  return range;
}

// net.ipv4.tcp_max_tw_buckets of the daemon's network namespace; 0 if unreadable.
uint64_t read_max_time_wait_buckets() {
  std::ifstream file("/proc/sys/net/ipv4/tcp_max_tw_buckets");
  uint64_t buckets = 0;
  return file >> buckets ? buckets : 0;
}

Result<std::vector<model::KernelSocket>> read_socket_table(const capture::TracerProgram& program,
                                                           std::size_t expected = 0) {
  std::vector<model::KernelSocket> sockets;
  sockets.reserve(expected);
  auto read = program.snapshot_sockets([&sockets](const synfin_socket_record& row) {
    if (auto socket = decode::decode_socket_record(row)) sockets.push_back(*socket);
  });
  if (!read) return read.error();
  return sockets;
}

// A walk of the kernel's socket tables, which namespaces it covered, and when it began and ended.
struct SocketTableWalk {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  Result<std::vector<model::KernelSocket>> sockets = std::vector<model::KernelSocket>{};
  model::WalkCoverage coverage;
  api::NamespaceWalkHealth namespaces;
  // --metrics-by unit: the first holder (/proc/PID/fd) of each socket no syscall named an owner
  // of, by cookie.
  std::unordered_map<uint64_t, uint32_t> holders;
  // --metrics-by unit: the /proc tables' rows (cookie-less), to find those holders by ends.
  std::vector<model::KernelSocket> proc_rows;
};

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : options_(o) {}

  int run() {
    // A walk's table of 100 000s of sockets is allocated and freed every reconciliation. By
    // default glibc raises its mmap threshold to the largest block freed, so later walks would
    // come from (and stay in) the heap; a fixed threshold gives each walk's memory back.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    model::DaemonModelConfig config;
    config.max_connections = options_.capture.max_connections;
    config.recent_closes = options_.recent_closes;
    config.metrics_ports = options_.metrics_ports;
    config.packet_view = options_.capture.packet_view();
    config.packet_view.scope_ports = options_.ports;
    config.xdp = !options_.capture.xdp_interfaces.empty();
    // Packets are joined to live sockets step by step: with XDP every step crosses the ring
    // (the kernel still keeps and counts the paths).
    config.compact = !config.xdp;
    config.netns = capture::own_network_namespace();
    own_netns_ = config.netns;
    // Kept for the walks that enter other namespaces: the way back.
    home_netns_fd_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    config.time_wait_buckets = read_max_time_wait_buckets();
    config.count_by_owner = options_.metrics_by_unit;
    for (const auto& text : options_.stuck_thresholds)
      if (auto set = config.stuck.set_from_text(text); !set)
        return report_error(fmt::format("--stuck-threshold {}: {}", text, set.error().message), 2);
    if (options_.metrics_ports.size() > kMaxMetricsPorts)
      return report_error(fmt::format("at most {} --metrics-port values", kMaxMetricsPorts), 2);
    auto listen = api::parse_listen_address(options_.listen);
    if (!listen) return fail(listen.error().message);
    if (auto ready = capture::prepare_environment(); !ready) return fail(ready.error().message);

    model_ = std::make_unique<model::DaemonModel>(config);
    capture::CaptureOptions capture_options;
    capture_options.verbose = options_.capture.verbose;
    compact_ = config.compact;
    capture_options.keep_paths = true;
    capture_options.per_step_records = !compact_;
    capture_options.closes_per_second = options_.closes_per_second;
    capture_options.watch_ports = options_.watch_ports;
    capture_options.any_ports = options_.ports;
    for (model::TcpState state : model::kTrackedStates)
      capture_options.stuck_threshold_ns[model::index_of(state)] = config.stuck.for_state(state);
    capture_options.ring_bytes =
        options_.capture.daemon_ring_mib(compact_, std::thread::hardware_concurrency()) << 20;
    // Our own scrapes and API calls are left out: a scrape must not count itself.
    capture_options.exclude_port = static_cast<uint16_t>(listen->port);
    auto xdp = options_.capture.xdp_options();
    if (xdp) {
      xdp->exclude_port = capture_options.exclude_port;
      if (auto ready = capture::ensure_bpffs(); !ready) return fail(ready.error().message);
    }
    auto session =
        capture::CaptureSession::start(capture_options, xdp ? &*xdp : nullptr, model_->table());
    if (!session) return fail(session.error().message);
    session_ = std::move(*session);
    session_->set_model_mutex(&mutex_);
    model_->follow_timer_wheel(session_->program().time_wait_reap_bucket_ns());

    enter_namespaces_ =
        options_.enter_namespaces && capture::holds_sys_admin() && home_netns_fd_ >= 0;
    if (options_.enter_namespaces && !enter_namespaces_)
      fmt::print(stderr,
                 "synfin: --enter-namespaces needs CAP_SYS_ADMIN (setns): other network "
                 "namespaces are walked through their /proc tables instead\n");
    // Attached first, then the snapshot: a socket that changes state in between is seen by
    // both and reconciled by the model, so nothing falls into a gap.
    session_->drain(/*final=*/true);
    if (auto seeded = seed(walk_socket_table()); !seeded) return fail(seeded.error().message);
    // Loading parsed the kernel's BTF (tens of MB, freed by now): give those pages back.
    malloc_trim(0);

    clock_ = {realtime_minus_monotonic_ns()};
    api::DaemonApiHooks hooks;
    hooks.monotonic_now_ns = monotonic_now_ns;
    hooks.snapshot = [this] {
      auto sockets = read_socket_table(session_->program());
      if (!sockets) return std::vector<model::KernelSocket>{};
      // Entering: the other namespaces' rows carry bytes sent too. Else their /proc tables
      // are read for the rows that need them (hooks.namespace_sockets).
      if (enter_namespaces_) {
        SocketTableWalk unused;
        walk_other_namespaces(*sockets, unused, /*proc_tables=*/false);
      }
      return std::move(*sockets);
    };
    hooks.resolve_owners = [this](std::span<const uint64_t> inodes) {
      return owners_.resolve(inodes);
    };
    hooks.describe_process = [this](uint32_t pid) { return owners_.process(pid); };
    hooks.own_netns = config.netns;
    hooks.host_netns = capture::host_network_namespace();
    hooks.namespace_sockets = [this](uint32_t pid, model::AddressFamily family) {
      return owners_.namespace_sockets(pid, family);
    };
    hooks.port_range = read_port_range;
    hooks.health = [this] { return health(); };
    hooks.metrics = [this] { return metrics(); };
    hooks.before_reading = [this] { await_fresh_live_view(); };
    listeners_api_ = std::make_unique<api::ListenersApi>(
        api::ListenersApiHooks{hooks.snapshot, hooks.resolve_owners,
                               [this] { return session_->program().listener_counters(); },
                               hooks.own_netns, hooks.host_netns});
    hooks.listeners = [this](const api::DaemonApi::Params& params) {
      return listeners_api_->listeners(params);
    };
    api_ = std::make_unique<api::DaemonApi>(*model_, mutex_, hooks, clock_);
    server_ = std::make_unique<api::HttpServer>(*api_);
    if (auto bound = server_->bind(*listen); !bound) return fail(bound.error().message);
    if (!server_->loopback_only())
      fmt::print(stderr,
                 "synfin: warning: --listen {} is reachable from other hosts: the API is "
                 "unauthenticated and shows every connection and its owner; prefer 127.0.0.1\n",
                 options_.listen);
    // While privileged: the thread that drains the ring runs ahead of the host's own threads
    // where the kernel allows it (as auditd's priority_boost does). On a host whose CPUs are
    // all busy, a drain that waits its turn lets the ring fill and records be lost.
    inherited_nice_ = ::getpriority(PRIO_PROCESS, 0);
    if (!set_this_thread_nice(inherited_nice_ - kDrainNiceBoost))
      fmt::print(stderr,
                 "synfin: the ring's drain keeps nice {} (raising it needs CAP_SYS_NICE; "
                 "a systemd drop-in's Nice= sets the whole daemon's)\n",
                 inherited_nice_);
    bool xdp_dispatcher = session_->xdp() && session_->xdp()->uses_dispatcher();
    if (auto dropped = capture::keep_only_runtime_capabilities(xdp_dispatcher, enter_namespaces_);
        !dropped)
      return fail(dropped.error().message);
    server_->serve(inherited_nice_);
    fmt::print(stderr, "synfin: daemon tracking {} sockets, serving http://{}:{}/metrics\n",
               model_->table().size() + model_->time_wait().size(), listen->host, listen->port);
    for (const std::string& missing : cannot_report())
      fmt::print(stderr, "synfin: this kernel cannot report {}\n", missing);
    if (session_->xdp())
      for (const auto& interface : session_->xdp()->interfaces())
        fmt::print(stderr, "synfin: XDP on {} ({} mode, {})\n", interface.name, interface.mode,
                   interface.dispatcher ? "shared through libxdp's dispatcher"
                                        : "attached directly: the kernel cannot run libxdp's "
                                          "dispatcher");

    uint64_t next_tick = 0, next_reconcile = monotonic_now_ns() + reconcile_interval_ns();
    uint64_t next_live = 0, next_units = 0;
    auto status = session_->run(options_.capture.drain_interval_ms, [&] {
      uint64_t now = monotonic_now_ns();
      if (compact_ && (now >= next_live || live_gate_.wanted())) {
        bool asked = live_gate_.wanted();
        uint64_t started = monotonic_now_ns();
        if (auto refreshed = refresh_live(); !refreshed)
          fmt::print(stderr, "synfin: warning: {}\n", refreshed.error().message);
        if (asked) {  // the reader's gauges (sockets by state, stuck) from this very view
          std::lock_guard lock(mutex_);
          model_->tick(monotonic_now_ns());
        }
        live_gate_.refreshed(started);
        next_live = monotonic_now_ns() + std::max(live_interval_ns(), reconcile_interval_ns());
      }
      if (now >= next_tick) {
        std::lock_guard lock(mutex_);
        model_->tick(now);
        update_loss_rate(now);
        next_tick = now + 1'000'000'000ull;
      }
      if (options_.metrics_by_unit && now >= next_units) {
        learn_units();
        next_units = now + 1'000'000'000ull;
      }
      // The walk runs beside the drain: a table of 100 000s of TIME_WAIT sockets takes
      // about half a second to read, which the ring would otherwise have to hold. It is then
      // applied in parts, draining in between.
      if (!walk_.valid() && !reconciling_ && now >= next_reconcile) {
        {
          std::lock_guard lock(mutex_);
          model_->note_walk(now);  // no later than the walk's own start
        }
        walk_ = std::async(std::launch::async, [this] {
          // Threads inherit their creator's priority: the walk is no more urgent than the host.
          set_this_thread_nice(inherited_nice_);
          return walk_socket_table();
        });
      }
      if (walk_.valid() && walk_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        if (auto started = begin_reconcile(walk_.get()); !started) {
          fmt::print(stderr, "synfin: warning: {}\n", started.error().message);
          next_reconcile = monotonic_now_ns() + reconcile_interval_ns();
        }
      }
      if (reconciling_ && reconcile_part())
        next_reconcile = monotonic_now_ns() + reconcile_interval_ns();
      return true;
    });
    live_gate_.close();
    if (walk_.valid()) walk_.wait();
    server_->stop();
    fmt::print(stderr, "synfin: daemon stopped\n");
    if (!status) return fail(status.error().message);
    return 0;
  }

 private:
  static int fail(const std::string& message) { return report_error(message); }

  uint64_t reconcile_interval_ns() const {
    return static_cast<uint64_t>(options_.reconcile_interval_s * 1e9);
  }
  uint64_t live_interval_ns() const {
    return static_cast<uint64_t>(options_.live_interval_s * 1e9);
  }

  // Before an API route or a scrape reads the model (an HTTP thread): the live view no older
  // than --live-interval. The drain thread walks it; a reader waits at most a few seconds.
  void await_fresh_live_view() {
    if (!compact_) return;
    live_gate_.await(monotonic_now_ns(), live_interval_ns(), std::chrono::seconds(5),
                     [this] { session_->stream().wake(); });
  }

  SocketTableWalk walk_socket_table() {  // on any thread
    SocketTableWalk walk;
    walk.coverage = model::WalkCoverage(own_netns_);
    walk.start_ns = monotonic_now_ns();
    // Sized like the last walk, with room to grow: no copy of the whole table on the way.
    walk.sockets = read_socket_table(session_->program(), last_walk_size_ + last_walk_size_ / 8);
    if (walk.sockets) walk_other_namespaces(*walk.sockets, walk, /*proc_tables=*/true);
    walk.end_ns = monotonic_now_ns();
    walk.namespaces.walk_seconds = static_cast<double>(walk.end_ns - walk.start_ns) / 1e9;
    if (options_.metrics_by_unit && walk.sockets)
      walk.holders = holders_of_unowned(*walk.sockets, walk.proc_rows);
    return walk;
  }

  // Sockets no syscall named an owner of (those from before the start, those of other
  // namespaces) that could be stuck: their holders by inode, as `ss -p` finds them, so that
  // --metrics-by unit counts them for their unit. A row of a /proc table is matched by its ends.
  std::unordered_map<uint64_t, uint32_t> holders_of_unowned(
      std::span<const model::KernelSocket> rows, std::span<const model::KernelSocket> proc_rows) {
    std::unordered_map<uint64_t, model::SocketTuple> unowned;
    {
      std::lock_guard lock(mutex_);
      model_->table().for_each([&](const model::Connection& c) {
        if (!c.has_owner() && c.role != model::Role::Listener &&
            model_->thresholds().for_state(c.state))
          unowned.emplace(c.cookie, c.tuple);
      });
    }
    std::unordered_map<uint64_t, uint32_t> holders;
    if (unowned.empty()) return holders;
    std::unordered_map<uint64_t, uint64_t> cookie_by_inode;
    std::vector<uint64_t> inodes;
    auto want = [&](uint64_t inode, uint64_t cookie) {
      if (!inode || !cookie_by_inode.emplace(inode, cookie).second) return;
      inodes.push_back(inode);
    };
    for (const model::KernelSocket& row : rows)
      if (unowned.count(row.cookie)) want(row.inode, row.cookie);
    if (!proc_rows.empty()) {
      auto ends = [](const model::SocketTuple& t) {
        std::string key(reinterpret_cast<const char*>(&t.netns), sizeof t.netns);
        key += static_cast<char>(t.family);
        key.append(reinterpret_cast<const char*>(t.local.address.data()), t.local.address.size());
        key.append(reinterpret_cast<const char*>(t.remote.address.data()), t.remote.address.size());
        key.append(reinterpret_cast<const char*>(&t.local.port), sizeof t.local.port);
        key.append(reinterpret_cast<const char*>(&t.remote.port), sizeof t.remote.port);
        return key;
      };
      std::unordered_map<std::string, uint64_t> cookie_by_ends;
      for (const auto& [cookie, tuple] : unowned)
        if (tuple.netns && tuple.netns != own_netns_) cookie_by_ends.emplace(ends(tuple), cookie);
      for (const model::KernelSocket& row : proc_rows)
        if (auto cookie = cookie_by_ends.find(ends(row.tuple)); cookie != cookie_by_ends.end())
          want(row.inode, cookie->second);
    }
    for (const auto& [inode, processes] : owners_.resolve(inodes))
      if (!processes.empty())
        if (auto cookie = cookie_by_inode.find(inode); cookie != cookie_by_inode.end())
          holders.emplace(cookie->second, processes.front().pid);
    return holders;
  }

  // Every other network namespace a process is in, walked: with the iterator opened inside it
  // where the daemon may enter it (its rows, stamped with it, join `sockets`), else — and with
  // proc_tables — from that process's /proc table, whose cookie-less rows only tell the
  // coverage which of its sockets are there. On any thread: entering moves this thread only.
  void walk_other_namespaces(std::vector<model::KernelSocket>& sockets, SocketTableWalk& walk,
                             bool proc_tables) const {
    walk.namespaces.enter = enter_namespaces_;
    for (const capture::NamespaceHolder& holder : capture::other_network_namespaces(own_netns_)) {
      if (enter_namespaces_) {
        auto entered = enter_and_walk(holder, sockets);
        if (entered) {
          walk.coverage.add_by_cookie(holder.netns);
          ++walk.namespaces.entered;
          continue;
        }
        if (walk.namespaces.enter_error.empty())
          walk.namespaces.enter_error = entered.error().message;
      }
      if (!proc_tables) continue;
      if (auto table = capture::read_namespace_table(holder)) {
        walk.coverage.add_by_ends(holder.netns, *table);
        ++walk.namespaces.proc_tables;
        if (options_.metrics_by_unit)
          walk.proc_rows.insert(walk.proc_rows.end(), table->begin(), table->end());
      } else {
        ++walk.namespaces.not_walked;
      }
    }
  }

  Status enter_and_walk(const capture::NamespaceHolder& holder,
                        std::vector<model::KernelSocket>& sockets) const {
    auto fd = capture::open_network_namespace(holder);
    if (!fd) return fd.error();
    std::size_t before = sockets.size();
    auto read = session_->program().snapshot_sockets_in(
        *fd, home_netns_fd_, [&](const synfin_socket_record& row) {
          if (auto socket = decode::decode_socket_record(row)) {
            socket->tuple.netns = holder.netns;
            sockets.push_back(*socket);
          }
        });
    ::close(*fd);
    if (!read) sockets.resize(before);  // a part of a table would read as sockets gone
    return read;
  }

  // Startup: seeded before the records made during the walk are applied, which the model
  // then reconciles (a step already reflected in the seeded state is skipped, an older
  // seeded state is advanced).
  Status seed(SocketTableWalk walk) {
    if (!walk.sockets) return walk.sockets.error();
    last_walk_size_ = walk.sockets->size();
    std::lock_guard lock(mutex_);
    last_namespaces_ = walk.namespaces;
    model_->seed(*walk.sockets, walk.end_ns);
    model_->tick(walk.end_ns);
    last_snapshot_ns_ = walk.end_ns;
    return Ok{};
  }

  // Later: the records made during the walk are applied first, so a socket destroyed during
  // the walk is finished by its own destroy record, not resurrected.
  Status begin_reconcile(SocketTableWalk walk) {
    if (!walk.sockets) {
      std::lock_guard lock(mutex_);
      model_->note_walk(std::nullopt);
      return walk.sockets.error();
    }
    last_walk_size_ = walk.sockets->size();
    session_->drain(/*final=*/true);  // nothing held back across a walk
    std::lock_guard lock(mutex_);
    last_namespaces_ = walk.namespaces;
    model_->begin_reconcile();
    reconciling_.emplace(std::move(walk));
    reconciled_rows_ = 0;
    return Ok{};
  }

  // One part of the reconciliation under way; true once it is finished.
  bool reconcile_part() {
    constexpr std::size_t kRowsPerPart = 16384;  // ~10-20 ms of work
    SocketTableWalk& walk = *reconciling_;
    std::span<const model::KernelSocket> rows = *walk.sockets;
    std::size_t part = std::min(kRowsPerPart, rows.size() - reconciled_rows_);
    std::lock_guard lock(mutex_);
    uint64_t now = monotonic_now_ns();
    model_->reconcile_time_wait(rows.subspan(reconciled_rows_, part), now);
    reconciled_rows_ += part;
    if (reconciled_rows_ < rows.size()) return false;
    model_->finish_reconcile(rows, walk.coverage, walk.start_ns, walk.end_ns);
    if (options_.metrics_by_unit) model_->set_holders(std::move(walk.holders));
    model_->note_walk(std::nullopt);
    model_->tick(now);
    last_snapshot_ns_ = walk.end_ns;
    reconciling_.reset();
    return true;
  }

  // Compact mode: the live sockets' paths, walked; records of sockets that ended meanwhile are
  // applied first, so none comes back.
  Status refresh_live() {
    uint64_t start = monotonic_now_ns();
    live_paths_.clear();
    auto walked = session_->program().walk_paths([&](const synfin_path_record& row) {
      if (auto path =
              walk_decoder_.decode_path({reinterpret_cast<const std::byte*>(&row), sizeof(row)}))
        live_paths_.push_back(*path);
    });
    if (!walked) return walked.error();
    session_->drain(/*final=*/true);
    uint64_t end = monotonic_now_ns();
    std::lock_guard lock(mutex_);
    live_paths_undecodable_ = walk_decoder_.undecodable();
    model_->refresh(live_paths_, start, end);
    return Ok{};
  }

  uint64_t lost_total() const {
    const auto& lost = session_->lost_counts();
    return std::accumulate(lost.begin(), lost.end(), uint64_t{0});
  }

  void update_loss_rate(uint64_t now) {  // caller holds mutex_
    uint64_t lost = lost_total();
    if (loss_window_start_ns_ && now > loss_window_start_ns_)
      loss_rate_ = static_cast<double>(lost - loss_window_lost_) * 1e9 /
                   static_cast<double>(now - loss_window_start_ns_);
    loss_window_start_ns_ = now;
    loss_window_lost_ = lost;
  }

  api::HealthInputs health() {
    api::HealthInputs h;
    for (const auto& program : session_->program().program_status())
      h.programs.push_back({program.name, program.attached});
    if (session_->xdp())
      for (const auto& interface : session_->xdp()->interfaces())
        h.xdp.push_back({interface.name, interface.mode, interface.attached, interface.dispatcher});
    h.cannot_report = cannot_report();
    std::lock_guard lock(mutex_);
    h.events_lost_total = lost_total();
    h.events_lost_per_second = loss_rate_;
    h.namespaces = last_namespaces_;
    h.last_snapshot_age_seconds =
        last_snapshot_ns_ ? static_cast<double>(monotonic_now_ns() - last_snapshot_ns_) / 1e9 : -1;
    return h;
  }

  std::string metrics() {
    outputs::SelfMetrics self;
    self.version = SYNFIN_VERSION;
    self.ephemeral_port_range_size = read_port_range().size();
    const capture::TracerProgram& program = session_->program();
    self.drops = program.drop_totals();
    for (const auto& [port, c] : program.port_listener_counters()) {
      outputs::ListenDrops drops{c.overflows, c.syn_queue_drops, c.other_drops, c.resets_sent};
      self.port_listen.push_back({port, drops});
      self.listen.overflows += c.overflows;
      self.listen.syn_queue_drops += c.syn_queue_drops;
      self.listen.other_drops += c.other_drops;
      self.listen.resets_sent += c.resets_sent;
    }
    const capture::KernelFeatures& features = program.features();
    self.kernel_tally = program.tally();
    self.kernel_features = {{"reset_reasons", features.reset_reasons},
                            {"drop_reasons", features.drop_reasons},
                            {"drop_sockets", features.drop_sockets},
                            {"listen_refusals", features.listen_refusals}};
    if (options_.metrics_by_unit) self.by_unit = units_breakdown();
    std::lock_guard lock(mutex_);
    self.decoded = session_->decode_counters();
    self.live_paths_undecodable = live_paths_undecodable_;
    self.lost_by_type = session_->lost_counts();
    if (capture::XdpProgram* xdp = session_->xdp()) {
      auto interfaces = xdp->interfaces();
      auto counters = xdp->counters();
      for (std::size_t i = 0; i < interfaces.size() && i < counters.size(); ++i) {
        self.xdp.push_back(
            {interfaces[i].name, interfaces[i].mode, interfaces[i].attached, counters[i]});
        self.lost_by_type[SYNFIN_EV_PACKET] += counters[i][SYNFIN_XDP_RECORD_LOST];
      }
    }
    self.last_snapshot_timestamp_seconds =
        last_snapshot_ns_ ? static_cast<double>(clock_.to_epoch_ns(last_snapshot_ns_)) / 1e9 : 0;
    return outputs::render_metrics(*model_, self);
  }

  // Each second, the units of owners the model's tick counted for the first time: a TIME_WAIT
  // socket's owner often exits soon after its close (a client), and its unit is known only while
  // it runs. At most kUnitsLearntPerTick /proc reads a second on the drain thread.
  static constexpr std::size_t kUnitsLearntPerTick = 256;
  void learn_units() {
    std::vector<uint32_t> pids;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [pid, sockets] : model_->sockets_by_owner())
        if (pid) pids.push_back(pid);
    }
    std::lock_guard lock(units_mutex_);
    std::size_t read = 0;
    for (uint32_t pid : pids)
      if (read < kUnitsLearntPerTick && !unit_by_pid_.count(pid)) {
        ++read;
        if (auto process = owners_.process(pid)) unit_by_pid_.emplace(pid, process->identity.unit);
      }
  }

  // Counted by the model's tick; the owners' units read from /proc outside the model's lock. A
  // pid's unit, once learnt, is kept while some socket still names that pid, so a TIME_WAIT
  // socket keeps its unit once its owner has exited.
  model::UnitBreakdown units_breakdown() {
    model::SocketsByOwner owners;
    {
      std::lock_guard lock(mutex_);
      owners = model_->sockets_by_owner();
    }
    std::lock_guard lock(units_mutex_);
    std::unordered_map<uint32_t, std::string> units;
    for (const auto& [pid, sockets] : owners) {
      if (!pid) continue;
      if (auto known = unit_by_pid_.find(pid); known != unit_by_pid_.end())
        units.emplace(pid, known->second);
      else if (auto process = owners_.process(pid))
        units.emplace(pid, process->identity.unit);
    }
    unit_by_pid_ = units;
    return model::break_down_by_unit(
        owners,
        [&units](uint32_t pid) -> std::optional<std::string> {
          auto it = units.find(pid);
          if (it == units.end()) return std::nullopt;
          return it->second;
        },
        options_.metrics_by_limit);
  }

  DaemonOptions options_;
  std::mutex mutex_;  // guards model_ and the session's counters
  std::mutex units_mutex_;
  std::unordered_map<uint32_t, std::string> unit_by_pid_;  // guarded by units_mutex_
  std::unique_ptr<model::DaemonModel> model_;
  std::unique_ptr<capture::CaptureSession> session_;
  capture::ProcOwners owners_;
  Clock clock_;
  std::unique_ptr<api::ListenersApi> listeners_api_;  // used by api_: outlives it
  std::unique_ptr<api::DaemonApi> api_;
  std::unique_ptr<api::HttpServer> server_;
  std::vector<std::string> cannot_report() const {
    std::vector<std::string> missing = session_->program().features().missing();
    if (compact_ &&
        session_->program().live_walk() == capture::TracerProgram::LiveWalk::OwnNamespaceTable)
      missing.push_back(
          "the live view of other network namespaces from their sockets' kept paths (the "
          "kernel refuses the socket-storage map iterator): those sockets cross step by step "
          "instead, a record per step; this namespace's are walked live");
    return missing;
  }
  static constexpr int kDrainNiceBoost = 5;
  uint32_t own_netns_ = 0;
  int home_netns_fd_ = -1;  // the daemon's own network namespace, to come back to
  bool enter_namespaces_ = false;
  api::NamespaceWalkHealth last_namespaces_;  // the last walk's; guarded by mutex_
  int inherited_nice_ = 0;
  bool compact_ = false;
  FreshViewGate live_gate_;                    // readers wait here for a fresh live view
  std::vector<model::SocketPath> live_paths_;  // reused by every walk
  decode::Decoder walk_decoder_;               // the live walk's rows, on the drain thread
  uint64_t live_paths_undecodable_ = 0;        // its skipped rows, copied under mutex_ for /metrics
  std::future<SocketTableWalk> walk_;          // the periodic walk, while it runs
  std::size_t last_walk_size_ = 0;
  std::optional<SocketTableWalk> reconciling_;  // a walk being applied, in parts
  std::size_t reconciled_rows_ = 0;
  uint64_t last_snapshot_ns_ = 0;
  uint64_t loss_window_start_ns_ = 0;
  uint64_t loss_window_lost_ = 0;
  double loss_rate_ = 0;
};
}  // namespace

int run(const DaemonOptions& options) {
  return Daemon(options).run();
}

}  // namespace synfin::daemon
