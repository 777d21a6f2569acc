#include "capture/tracer_program.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "synfin_bpf.skel.h"

namespace synfin::capture {

namespace {
bool g_libbpf_verbose = false;

int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  (void)level;
  if (!g_libbpf_verbose) return 0;  // failures are reported as one line by the caller
  return std::vfprintf(stderr, format, args);
}

std::string errno_text(int error) {
  return std::strerror(error < 0 ? -error : error);
}

// Arguments of a raw tracepoint as the kernel declares it: typedef btf_trace_NAME is a pointer
// to a function whose first parameter is the tracepoint's context. -1: no such tracepoint.
int tracepoint_arity(const btf* vmlinux, const char* name) {
  int id =
      btf__find_by_name_kind(vmlinux, (std::string("btf_trace_") + name).c_str(), BTF_KIND_TYPEDEF);
  if (id < 0) return -1;
  const btf_type* type = btf__type_by_id(vmlinux, btf__resolve_type(vmlinux, id));
  if (!type || !btf_is_ptr(type)) return -1;
  const btf_type* proto = btf__type_by_id(vmlinux, type->type);
  if (!proto || !btf_is_func_proto(proto)) return -1;
  return btf_vlen(proto) - 1;
}

}  // namespace

std::vector<std::string> KernelFeatures::missing() const {
  std::vector<std::string> missing;
  if (!reset_reasons)
    missing.push_back(
        "reset reasons: tcp_send_reset has no reason argument before Linux 6.10 (resets are "
        "counted with reason UNKNOWN)");
  if (!drop_reasons)
    missing.push_back(
        "kernel drop reasons: skb:kfree_skb has no reason before Linux 5.17 (no drop counts)");
  else if (!drop_sockets)
    missing.push_back(
        "drops on the socket a packet was for, and listen overflows on the handshake's last "
        "ACK: skb:kfree_skb has no rx_sk before Linux 6.11");
  if (!listen_refusals)
    missing.push_back(
        "listen-queue overflows per listener: needs skb:consume_skb's location (Linux 6.3), "
        "bpf_map_lookup_percpu_elem (Linux 5.19) and tcp_rcv_state_process in /proc/kallsyms");
  return missing;
}

namespace {
// Where a kernel function's code lies: its kallsyms address up to the next symbol's.
std::pair<uint64_t, uint64_t> kernel_function_range(const char* name) {
  std::FILE* kallsyms = std::fopen("/proc/kallsyms", "r");
  if (!kallsyms) return {0, 0};
  std::vector<uint64_t> text;
  uint64_t start = 0;
  char line[512];
  while (std::fgets(line, sizeof(line), kallsyms)) {
    unsigned long long address = 0;
    char type = 0;
    char symbol[256];
    if (std::sscanf(line, "%llx %c %255s", &address, &type, symbol) != 3) continue;
    if (type != 't' && type != 'T') continue;
    text.push_back(address);
    if (std::strcmp(symbol, name) == 0) start = address;
  }
  std::fclose(kallsyms);
  if (!start) return {0, 0};  // hidden (kptr_restrict) addresses read as 0 too
  uint64_t end = UINT64_MAX;
  for (uint64_t address : text)
    if (address > start && address < end) end = address;
  return {start, end == UINT64_MAX ? 0 : end};
}

// The value of an enumerator of any enum (the kernel's LINUX_MIB_* enum has no name).
int64_t enumerator_value(const btf* vmlinux, std::string_view name) {
  for (uint32_t id = 1; id < btf__type_cnt(vmlinux); ++id) {
    const btf_type* type = btf__type_by_id(vmlinux, id);
    if (!btf_is_enum(type)) continue;
    const struct btf_enum* values = btf_enum(type);
    for (int i = 0; i < btf_vlen(type); ++i)
      if (name == btf__name_by_offset(vmlinux, values[i].name_off)) return values[i].val;
  }
  return -1;
}
}  // namespace

KernelFeatures probe_kernel_features() {
  KernelFeatures features;
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return features;
  features.reset_reasons = tracepoint_arity(vmlinux, "tcp_send_reset") >= 3;
  int drop_arity = tracepoint_arity(vmlinux, "kfree_skb");
  features.drop_reasons = drop_arity >= 3;
  features.drop_sockets = drop_arity >= 4;
  int64_t overflows = enumerator_value(vmlinux, "LINUX_MIB_LISTENOVERFLOWS");
  int64_t syn_queue_drops = enumerator_value(vmlinux, "LINUX_MIB_TCPREQQFULLDROP");
  auto [start, end] = kernel_function_range("tcp_rcv_state_process");
  features.listen_refusals = tracepoint_arity(vmlinux, "consume_skb") >= 2 &&
                             enumerator_value(vmlinux, "BPF_FUNC_map_lookup_percpu_elem") > 0 &&
                             overflows > 0 && syn_queue_drops > 0 && start && end;
  if (features.listen_refusals) {
    features.rcv_state_process_start = start;
    features.rcv_state_process_end = end;
    features.mib_listen_overflows = static_cast<uint32_t>(overflows);
    features.mib_syn_queue_drops = static_cast<uint32_t>(syn_queue_drops);
  }
  btf__free(vmlinux);
  return features;
}

TracerProgram::TracerProgram(synfin_bpf* skeleton, KernelFeatures features)
    : skeleton_(skeleton), features_(features) {}

TracerProgram::~TracerProgram() {
  bpf_link__destroy(socket_iterator_);
  bpf_link__destroy(path_iterator_);
  synfin_bpf__destroy(skeleton_);
  for (int ring : ring_fds_) ::close(ring);
}

Result<std::unique_ptr<TracerProgram>> TracerProgram::load(const CaptureOptions& options) {
  g_libbpf_verbose = options.verbose;
  libbpf_set_print(print_libbpf);
  if (options.local_ports.size() > SYNFIN_MAX_PORT_FILTERS ||
      options.remote_ports.size() > SYNFIN_MAX_PORT_FILTERS ||
      options.any_ports.size() > SYNFIN_MAX_PORT_FILTERS ||
      options.watch_ports.size() > SYNFIN_MAX_PORT_FILTERS)
    return Error{fmt::format("at most {} ports per filter", SYNFIN_MAX_PORT_FILTERS)};
  auto loaded = load_with(options, LiveWalk::StorageMap);
  if (loaded || !options.report_closes()) return loaded;
  // Some kernels refuse the socket-storage map iterator while loading everything else: the
  // live walk then reads each socket's storage from the socket table of this namespace.
  auto own_namespace = load_with(options, LiveWalk::OwnNamespaceTable);
  if (own_namespace) return own_namespace;
  return loaded;
}

Result<std::unique_ptr<TracerProgram>> TracerProgram::load_with(const CaptureOptions& options,
                                                                LiveWalk walk) {
  synfin_bpf* skeleton = synfin_bpf__open();
  if (!skeleton)
    return Error{fmt::format("cannot open the embedded BPF object: {}", errno_text(errno))};
  std::unique_ptr<TracerProgram> program(new TracerProgram(skeleton, probe_kernel_features()));
  program->live_walk_ = walk;
  const KernelFeatures& features = program->features_;
  auto* progs = &skeleton->progs;
  // A tp_btf program reading an argument the kernel's tracepoint lacks is refused at load:
  // only the shape the kernel has is loaded.
  bpf_program__set_autoload(progs->on_tcp_send_reset, !features.reset_reasons);
  bpf_program__set_autoload(progs->on_tcp_send_reset_with_reason, features.reset_reasons);
  bpf_program__set_autoload(progs->on_kfree_skb, features.drop_reasons && !features.drop_sockets);
  bpf_program__set_autoload(progs->on_kfree_skb_with_socket, features.drop_sockets);
  bpf_program__set_autoload(progs->on_consume_skb, features.listen_refusals);
  // accept() names owners for per-step records; socket paths inherit the listener's owner and
  // learn the closer's, with no syscall hook per connection.
  bpf_program__set_autoload(progs->on_sys_exit_accept, options.per_step_records);
  bpf_program__set_autoload(progs->on_sys_exit_accept4, options.per_step_records);

  auto* config = skeleton->rodata;
  config->filter_family = options.family == 4 ? 2 : options.family == 6 ? 10 : 0;
  config->filter_local_port_count = static_cast<uint32_t>(options.local_ports.size());
  for (std::size_t i = 0; i < options.local_ports.size(); ++i)
    config->filter_local_ports[i] = options.local_ports[i];
  config->filter_remote_port_count = static_cast<uint32_t>(options.remote_ports.size());
  for (std::size_t i = 0; i < options.remote_ports.size(); ++i)
    config->filter_remote_ports[i] = options.remote_ports[i];
  config->filter_any_port_count = static_cast<uint32_t>(options.any_ports.size());
  for (std::size_t i = 0; i < options.any_ports.size(); ++i)
    config->filter_any_ports[i] = options.any_ports[i];
  config->exclude_port = options.exclude_port;
  config->per_step_records = options.per_step_records;
  config->keep_paths = options.keep_paths;
  config->report_closes = options.report_closes();
  // The walk of this namespace's table sees no other namespace's sockets: those cross step by
  // step instead.
  if (options.report_closes() && walk == LiveWalk::OwnNamespaceTable) {
    struct stat own {};
    if (::stat("/proc/self/ns/net", &own) == 0)
      config->walked_netns = static_cast<uint32_t>(own.st_ino);
  }
  config->watch_port_count = static_cast<uint32_t>(options.watch_ports.size());
  for (std::size_t i = 0; i < options.watch_ports.size(); ++i)
    config->watch_ports[i] = options.watch_ports[i];
  for (std::size_t state = 0; state < options.stuck_threshold_ns.size(); ++state)
    config->stuck_threshold_ns[state] = options.stuck_threshold_ns[state];
  config->possible_cpus = static_cast<uint32_t>(std::max(libbpf_num_possible_cpus(), 1));
  uint32_t ring_bytes = per_cpu_ring_bytes(options.ring_bytes, config->possible_cpus);
  config->wakeup_threshold_bytes = ring_bytes / 4;
  config->rcv_state_process_start = features.rcv_state_process_start;
  config->rcv_state_process_end = features.rcv_state_process_end;
  config->mib_listen_overflows = features.mib_listen_overflows;
  config->mib_syn_queue_drops = features.mib_syn_queue_drops;
  // Each CPU samples its share; a rate below one per CPU still samples one per CPU per second.
  if (options.closes_per_second)
    config->sampled_closes_per_cpu_second =
        std::max<uint64_t>(options.closes_per_second / config->possible_cpus, 1);
  if (int err = bpf_map__set_max_entries(skeleton->maps.cpu_rings, config->possible_cpus); err)
    return Error{fmt::format("cannot size the per-CPU ring array: {}", errno_text(err))};
  bpf_program__set_autoattach(skeleton->progs.dump_tcp_sockets, false);
  bpf_program__set_autoattach(skeleton->progs.dump_socket_paths, false);
  bpf_program__set_autoattach(skeleton->progs.dump_socket_paths_tcp, false);
  bpf_program__set_autoload(skeleton->progs.dump_socket_paths,
                            options.report_closes() && walk == LiveWalk::StorageMap);
  bpf_program__set_autoload(skeleton->progs.dump_socket_paths_tcp,
                            options.report_closes() && walk == LiveWalk::OwnNamespaceTable);

  if (int err = synfin_bpf__load(skeleton); err)
    return Error{
        fmt::format("the kernel refused synfin's BPF programs ({}); rerun with --verbose "
                    "for libbpf's and the verifier's log",
                    errno_text(err))};
  // Filled before anything attaches, so that no CPU's first record finds its slot empty.
  int rings_fd = bpf_map__fd(skeleton->maps.cpu_rings);
  for (uint32_t cpu = 0; cpu < config->possible_cpus; ++cpu) {
    int ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "synfin_cpu_ring", 0, 0, ring_bytes, nullptr);
    if (ring < 0)
      return Error{fmt::format("cannot create CPU {}'s ring buffer of {} bytes: {}", cpu,
                               ring_bytes, errno_text(errno))};
    program->ring_fds_.push_back(ring);
    if (bpf_map_update_elem(rings_fd, &cpu, &ring, BPF_ANY) != 0)
      return Error{fmt::format("cannot install CPU {}'s ring buffer: {}", cpu, errno_text(errno))};
  }
  return program;
}

uint32_t per_cpu_ring_bytes(uint32_t total_bytes, uint32_t cpus) {
  uint32_t share = total_bytes / std::max(cpus, 1u);
  return std::max(share ? std::bit_floor(share) : 0u, kMinCpuRingBytes);
}

Status TracerProgram::attach() {
  if (int err = synfin_bpf__attach(skeleton_); err)
    return Error{fmt::format("attaching the TCP tracepoint programs failed: {}", errno_text(err))};
  // Attached once, while privileged: each snapshot then only opens a new read of it
  // (BPF_ITER_CREATE on a link we hold), which needs no capability.
  socket_iterator_ = bpf_program__attach_iter(skeleton_->progs.dump_tcp_sockets, nullptr);
  if (!socket_iterator_)
    return Error{fmt::format("cannot attach the iter/tcp program: {}", errno_text(errno))};
  if (bpf_program__autoload(skeleton_->progs.dump_socket_paths)) {
    union bpf_iter_link_info link_info {};
    link_info.map.map_fd = bpf_map__fd(skeleton_->maps.socket_paths);
    DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, options);
    options.link_info = &link_info;
    options.link_info_len = sizeof(link_info);
    path_iterator_ = bpf_program__attach_iter(skeleton_->progs.dump_socket_paths, &options);
    if (!path_iterator_)
      return Error{fmt::format("cannot attach the socket-path iterator: {}", errno_text(errno))};
  } else if (bpf_program__autoload(skeleton_->progs.dump_socket_paths_tcp)) {
    path_iterator_ = bpf_program__attach_iter(skeleton_->progs.dump_socket_paths_tcp, nullptr);
    if (!path_iterator_)
      return Error{fmt::format("cannot attach the socket-path iterator: {}", errno_text(errno))};
  }
  return Ok{};
}

uint64_t TracerProgram::time_wait_reap_bucket_ns() const {
  int hz = skeleton_->kconfig ? skeleton_->kconfig->CONFIG_HZ : 0;
  if (hz <= 0) return 0;
  uint64_t jiffies = synfin_timer_wheel_bucket_jiffies(uint64_t{SYNFIN_TIME_WAIT_SECONDS} *
                                                       static_cast<uint64_t>(hz));
  return jiffies * (1'000'000'000ull / static_cast<uint64_t>(hz));
}

DropTotals TracerProgram::drop_totals() const {
  DropTotals totals{};
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  int fd = bpf_map__fd(skeleton_->maps.drop_totals);
  for (uint32_t reason = 0; reason < SYNFIN_DROP_REASON_COUNT; ++reason) {
    if (bpf_map_lookup_elem(fd, &reason, per_cpu.data()) != 0) continue;
    for (uint64_t count : per_cpu) totals[reason] += count;
  }
  return totals;
}

namespace {
// Every element of a per-CPU array, summed over CPUs by `add`.
template <typename Value, typename Add>
void sum_per_cpu_array(int fd, uint32_t entries, Add&& add) {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return;
  std::vector<Value> per_cpu(static_cast<std::size_t>(cpus));
  for (uint32_t key = 0; key < entries; ++key) {
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) continue;
    for (const Value& value : per_cpu) add(key, value);
  }
}
}  // namespace

model::KernelTally TracerProgram::tally() const {
  model::KernelTally tally;
  auto counts = [](auto& into) {
    return [&into](uint32_t key, uint64_t value) { into[key] += value; };
  };
  sum_per_cpu_array<uint64_t>(bpf_map__fd(skeleton_->maps.tally_transitions),
                              SYNFIN_TALLY_TRANSITION_SLOTS, counts(tally.transitions));
  sum_per_cpu_array<uint64_t>(bpf_map__fd(skeleton_->maps.tally_closes), SYNFIN_TALLY_CLOSE_SLOTS,
                              counts(tally.closes));
  sum_per_cpu_array<uint64_t>(bpf_map__fd(skeleton_->maps.tally_invalid),
                              SYNFIN_VERDICT_REASON_COUNT, counts(tally.invalid));
  sum_per_cpu_array<uint64_t>(bpf_map__fd(skeleton_->maps.close_counters),
                              SYNFIN_CLOSE_COUNTER_COUNT, counts(tally.close_counters));
  sum_per_cpu_array<uint64_t>(bpf_map__fd(skeleton_->maps.time_wait_drop_totals),
                              SYNFIN_DROP_REASON_COUNT, counts(tally.time_wait_drops));
  sum_per_cpu_array<synfin_histogram>(
      bpf_map__fd(skeleton_->maps.tally_histograms), SYNFIN_HISTOGRAM_COUNT,
      [&tally](uint32_t key, const synfin_histogram& h) {
        synfin_histogram& total = tally.histograms[key];
        for (std::size_t b = 0; b < SYNFIN_HISTOGRAM_MAX_BUCKETS; ++b)
          total.buckets[b] += h.buckets[b];
        total.count += h.count;
        total.sum_ns += h.sum_ns;
      });
  return tally;
}

std::unordered_map<uint64_t, synfin_listener_counters> TracerProgram::listener_counters() const {
  std::unordered_map<uint64_t, synfin_listener_counters> counters;
  int fd = bpf_map__fd(skeleton_->maps.listener_counters);
  uint64_t key = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &key) == 0) {
    synfin_listener_counters value{};
    if (bpf_map_lookup_elem(fd, &key, &value) == 0) counters[key] = value;
    previous = &key;
  }
  return counters;
}

std::vector<PortListenerCounters> TracerProgram::port_listener_counters() const {
  std::vector<PortListenerCounters> ports;
  int fd = bpf_map__fd(skeleton_->maps.port_listener_counters);
  uint16_t key = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &key) == 0) {
    PortListenerCounters entry{key, {}};
    if (bpf_map_lookup_elem(fd, &key, &entry.counters) == 0) ports.push_back(entry);
    previous = &key;
  }
  return ports;
}

std::vector<ProgramStatus> TracerProgram::program_status() const {
  // Asked of the kernel each time: a link that no longer runs its program reads as down.
  std::vector<ProgramStatus> status;
  const bpf_object_skeleton* s = skeleton_->skeleton;
  for (int i = 0; i < s->prog_cnt; ++i) {
    bpf_program* program = *s->progs[i].prog;
    if (program == skeleton_->progs.dump_tcp_sockets ||
        program == skeleton_->progs.dump_socket_paths ||
        program == skeleton_->progs.dump_socket_paths_tcp)
      continue;                                     // iterators run on demand
    if (!bpf_program__autoload(program)) continue;  // a shape this kernel does not have
    bpf_link* link = *s->progs[i].link;
    bool attached = false;
    if (link) {
      bpf_prog_info program_info{};
      uint32_t program_info_size = sizeof(program_info);
      bpf_link_info link_info{};
      uint32_t link_info_size = sizeof(link_info);
      attached = bpf_obj_get_info_by_fd(bpf_program__fd(program), &program_info,
                                        &program_info_size) == 0 &&
                 bpf_obj_get_info_by_fd(bpf_link__fd(link), &link_info, &link_info_size) == 0 &&
                 link_info.prog_id == program_info.id;
    }
    status.push_back({s->progs[i].name, attached});
  }
  return status;
}

LostCounts TracerProgram::lost_counts() const {
  LostCounts totals{};
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  int fd = bpf_map__fd(skeleton_->maps.lost_events);
  for (uint32_t type = 0; type < SYNFIN_EV_TYPE_COUNT; ++type) {
    if (bpf_map_lookup_elem(fd, &type, per_cpu.data()) != 0) continue;
    for (uint64_t count : per_cpu) totals[type] += count;
  }
  return totals;
}

namespace {
// Reads one pass of an iterator link: fixed-size rows, a read may end mid-row.
template <typename Row>
Status read_iterator_fd(int fd, std::string_view what,
                        const std::function<void(const Row&)>& on_row) {
  std::vector<char> buffer(64 * 1024);
  std::size_t pending = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data() + pending, buffer.size() - pending);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error{fmt::format("reading the {} failed: {}", what, errno_text(err))};
    }
    if (n == 0) break;
    std::size_t available = pending + static_cast<std::size_t>(n);
    std::size_t whole = available / sizeof(Row);
    for (std::size_t i = 0; i < whole; ++i) {
      Row row;
      std::memcpy(&row, buffer.data() + i * sizeof(row), sizeof(row));
      on_row(row);
    }
    pending = available - whole * sizeof(Row);
    std::memmove(buffer.data(), buffer.data() + whole * sizeof(Row), pending);
  }
  ::close(fd);
  return Ok{};
}

template <typename Row>
Status read_iterator(bpf_link* link, std::string_view what,
                     const std::function<void(const Row&)>& on_row) {
  int fd = bpf_iter_create(bpf_link__fd(link));
  if (fd < 0) return Error{fmt::format("cannot start the {}: {}", what, errno_text(errno))};
  return read_iterator_fd(fd, what, on_row);
}
}  // namespace

Status TracerProgram::snapshot_sockets(
    const std::function<void(const synfin_socket_record&)>& on_row) const {
  if (!socket_iterator_) return Error{"the iter/tcp program is not attached"};
  return read_iterator(socket_iterator_, "socket-table iterator", on_row);
}

Status TracerProgram::snapshot_sockets_in(
    int netns_fd, int home_netns_fd,
    const std::function<void(const synfin_socket_record&)>& on_row) const {
  if (!socket_iterator_) return Error{"the iter/tcp program is not attached"};
  // The iterator walks the namespace of the task that opens it (bpf_iter_init_seq_net takes
  // current's): this thread steps in for the open only, and reads from back home.
  if (::setns(netns_fd, CLONE_NEWNET) != 0)
    return Error{fmt::format("cannot enter the network namespace: {}", errno_text(errno))};
  int fd = bpf_iter_create(bpf_link__fd(socket_iterator_));
  int create_errno = errno;
  if (::setns(home_netns_fd, CLONE_NEWNET) != 0) {
    // A thread left in another namespace would open its later sockets there: fatal.
    std::fprintf(stderr, "synfin: cannot return to the daemon's network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  if (fd < 0)
    return Error{fmt::format("cannot start the socket-table iterator in another namespace: {}",
                             errno_text(create_errno))};
  return read_iterator_fd(fd, "socket-table iterator", on_row);
}

Status TracerProgram::walk_paths(
    const std::function<void(const synfin_path_record&)>& on_row) const {
  if (!path_iterator_) return Error{"the socket-path iterator is not attached"};
  return read_iterator(path_iterator_, "socket-path iterator", on_row);
}

}  // namespace synfin::capture
