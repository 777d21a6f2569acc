#include "capture/tracer_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
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
}  // namespace

TracerProgram::TracerProgram(synfin_bpf* skeleton) : skeleton_(skeleton) {}

TracerProgram::~TracerProgram() {
  bpf_link__destroy(socket_iterator_);
  bpf_link__destroy(path_iterator_);
  synfin_bpf__destroy(skeleton_);
}

Result<std::unique_ptr<TracerProgram>> TracerProgram::load(const CaptureOptions& options) {
  g_libbpf_verbose = options.verbose;
  libbpf_set_print(print_libbpf);
  if (options.local_ports.size() > SYNFIN_MAX_PORT_FILTERS ||
      options.remote_ports.size() > SYNFIN_MAX_PORT_FILTERS)
    return Error{fmt::format("at most {} ports per filter", SYNFIN_MAX_PORT_FILTERS)};

  synfin_bpf* skeleton = synfin_bpf__open();
  if (!skeleton)
    return Error{fmt::format("cannot open the embedded BPF object: {}", errno_text(errno))};
  std::unique_ptr<TracerProgram> program(new TracerProgram(skeleton));

  auto* config = skeleton->rodata;
  config->filter_family = options.family == 4 ? 2 : options.family == 6 ? 10 : 0;
  config->filter_local_port_count = static_cast<uint32_t>(options.local_ports.size());
  for (std::size_t i = 0; i < options.local_ports.size(); ++i)
    config->filter_local_ports[i] = options.local_ports[i];
  config->filter_remote_port_count = static_cast<uint32_t>(options.remote_ports.size());
  for (std::size_t i = 0; i < options.remote_ports.size(); ++i)
    config->filter_remote_ports[i] = options.remote_ports[i];
  config->exclude_port = options.exclude_port;
  config->wakeup_threshold_bytes = options.ring_bytes / 4;
  if (int err = bpf_map__set_max_entries(skeleton->maps.events, options.ring_bytes); err)
    return Error{
        fmt::format("ring buffer size {} rejected: {}", options.ring_bytes, errno_text(err))};
  config->compact_paths = options.compact_paths;
  bpf_program__set_autoattach(skeleton->progs.dump_tcp_sockets, false);
  bpf_program__set_autoattach(skeleton->progs.dump_socket_paths, false);
  if (!options.compact_paths) bpf_program__set_autoload(skeleton->progs.dump_socket_paths, false);

  if (int err = synfin_bpf__load(skeleton); err)
    return Error{
        fmt::format("the kernel refused synfin's BPF programs ({}); rerun with --verbose "
                    "for libbpf's and the verifier's log",
                    errno_text(err))};
  return program;
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
  }
  return Ok{};
}

std::vector<ProgramStatus> TracerProgram::program_status() const {
  // Asked of the kernel each time: a link that no longer runs its program reads as down.
  std::vector<ProgramStatus> status;
  const bpf_object_skeleton* s = skeleton_->skeleton;
  for (int i = 0; i < s->prog_cnt; ++i) {
    bpf_program* program = *s->progs[i].prog;
    if (program == skeleton_->progs.dump_tcp_sockets ||
        program == skeleton_->progs.dump_socket_paths)
      continue;  // iterators run on demand
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

int TracerProgram::ring_buffer_fd() const {
  return bpf_map__fd(skeleton_->maps.events);
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
Result<std::vector<Row>> read_iterator(bpf_link* link, std::string_view what) {
  int fd = bpf_iter_create(bpf_link__fd(link));
  if (fd < 0) return Error{fmt::format("cannot start the {}: {}", what, errno_text(errno))};
  std::vector<Row> rows;
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
      rows.push_back(row);
    }
    pending = available - whole * sizeof(Row);
    std::memmove(buffer.data(), buffer.data() + whole * sizeof(Row), pending);
  }
  ::close(fd);
  return rows;
}
}  // namespace

Result<std::vector<synfin_socket_record>> TracerProgram::snapshot_sockets() const {
  if (!socket_iterator_) return Error{"the iter/tcp program is not attached"};
  return read_iterator<synfin_socket_record>(socket_iterator_, "socket-table iterator");
}

Result<std::vector<synfin_path_record>> TracerProgram::walk_paths() const {
  if (!path_iterator_) return Error{"the socket-path iterator is not attached"};
  return read_iterator<synfin_path_record>(path_iterator_, "socket-path iterator");
}

}  // namespace synfin::capture
