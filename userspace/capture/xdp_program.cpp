#include "capture/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "synfin_xdp_bpf.skel.h"

namespace synfin::capture {

namespace {
constexpr const char* kProgramName = "synfin_xdp";
// Who owns each synfin XDP program: a program whose owner is gone was left by a synfin that
// was killed (SIGKILL skips the detach) and is removed at the next start.
constexpr const char* kOwnerDir = "/run/synfin";

bool g_verbose = false;

int print_libxdp(enum libxdp_print_level level, const char* format, va_list args) {
  (void)level;
  if (!g_verbose) return 0;
  return std::vfprintf(stderr, format, args);
}

std::string xdp_error_text(int error) {
  char buffer[256];
  libxdp_strerror(error, buffer, sizeof(buffer));
  return buffer;
}

std::string owner_path(uint32_t program_id) {
  return fmt::format("{}/xdp-prog-{}.pid", kOwnerDir, program_id);
}

bool process_alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

bool owner_alive(uint32_t program_id) {
  std::ifstream in(owner_path(program_id));
  pid_t pid = 0;
  return in >> pid && process_alive(pid);
}

void record_owner(uint32_t program_id) {
  ::mkdir(kOwnerDir, 0755);
  std::ofstream out(owner_path(program_id));
  out << ::getpid() << '\n';
}

const char* mode_name(xdp_attach_mode mode) {
  switch (mode) {
    case XDP_MODE_NATIVE:
      return "native";
    case XDP_MODE_SKB:
      return "generic";
    case XDP_MODE_HW:
      return "offload";
    default:
      return "unknown";
  }
}

bool stale_synfin_program(xdp_program* program) {
  return std::strcmp(xdp_program__name(program), kProgramName) == 0 &&
         !owner_alive(xdp_program__id(program));
}

Status detach_stale(const XdpInterface& interface, uint32_t id, xdp_attach_mode mode) {
  xdp_program* old = xdp_program__from_id(id);
  if (libxdp_get_error(old)) return Ok{};
  int err = xdp_program__detach(old, interface.ifindex, mode, 0);
  xdp_program__close(old);
  if (err)
    return Error{fmt::format("{}: cannot remove the XDP program (id {}) a killed synfin left: {}",
                             interface.name, id, xdp_error_text(err))};
  ::unlink(owner_path(id).c_str());
  std::fprintf(stderr, "synfin: removed the XDP program (id %u) a killed synfin left on %s\n", id,
               interface.name.c_str());
  return Ok{};
}

// Removes synfin programs on this interface whose owner is gone (SIGKILL skips the detach).
// Returns an error naming a program that libxdp cannot share the interface with.
Status clear_interface(const XdpInterface& interface, xdp_attach_mode* existing_mode) {
  xdp_multiprog* multiprog = xdp_multiprog__get_from_ifindex(interface.ifindex);
  long error = libxdp_get_error(multiprog);
  if (error || !multiprog) return Ok{};  // nothing attached
  *existing_mode = xdp_multiprog__attach_mode(multiprog);
  std::vector<uint32_t> stale;
  if (xdp_multiprog__is_legacy(multiprog)) {
    // Attached directly, without a dispatcher: only a stale synfin program may be removed.
    xdp_program* main = xdp_multiprog__main_prog(multiprog);
    if (main && stale_synfin_program(main)) {
      stale.push_back(xdp_program__id(main));
    } else {
      std::string name = main ? xdp_program__name(main) : "?";
      uint32_t id = main ? xdp_program__id(main) : 0;
      xdp_multiprog__close(multiprog);
      return Error{fmt::format(
          "{} already runs XDP program '{}' (id {}) outside libxdp's multi-program dispatcher; "
          "synfin will not replace it (load that program with xdp-loader to share the "
          "interface, or detach it)",
          interface.name, name, id)};
    }
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, multiprog); p;
         p = xdp_multiprog__next_prog(p, multiprog))
      if (stale_synfin_program(p)) stale.push_back(xdp_program__id(p));
  }
  xdp_multiprog__close(multiprog);
  for (uint32_t id : stale)
    if (auto removed = detach_stale(interface, id, *existing_mode); !removed) return removed;
  if (!stale.empty()) *existing_mode = XDP_MODE_UNSPEC;
  return Ok{};
}

template <typename Skeleton>
XdpCounters sum_counters(const Skeleton* skeleton, uint32_t slot) {
  XdpCounters totals{};
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  int fd = bpf_map__fd(skeleton->maps.xdp_counters);
  for (uint32_t counter = 0; counter < SYNFIN_XDP_COUNTER_COUNT; ++counter) {
    uint32_t key = slot * SYNFIN_XDP_COUNTER_COUNT + counter;
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) continue;
    for (uint64_t value : per_cpu) totals[counter] += value;
  }
  return totals;
}
}  // namespace

Result<std::unique_ptr<XdpProgram>> XdpProgram::attach(const XdpOptions& options) {
  g_verbose = options.verbose;
  libxdp_set_print(print_libxdp);
  if (options.interfaces.size() > SYNFIN_MAX_XDP_IFACES)
    return Error{fmt::format("--xdp: at most {} interfaces", SYNFIN_MAX_XDP_IFACES)};
  std::unique_ptr<XdpProgram> program(new XdpProgram());
  for (const std::string& name : options.interfaces) {
    unsigned ifindex = if_nametoindex(name.c_str());
    if (ifindex == 0)
      return Error{fmt::format("--xdp {}: no such network interface (see `ip link`)", name)};
    for (const auto& known : program->interfaces_)
      if (known.ifindex == static_cast<int>(ifindex))
        return Error{fmt::format("--xdp {}: named twice", name)};
    program->interfaces_.push_back({name, static_cast<int>(ifindex), "", false});
  }

  program->skeleton_ = synfin_xdp_bpf__open();
  if (!program->skeleton_)
    return Error{fmt::format("cannot open the embedded XDP object: {}", std::strerror(errno))};
  auto* config = program->skeleton_->rodata;
  config->iface_count = static_cast<uint32_t>(program->interfaces_.size());
  for (std::size_t i = 0; i < program->interfaces_.size(); ++i)
    config->iface_ifindex[i] = static_cast<uint32_t>(program->interfaces_[i].ifindex);
  config->records_per_window = options.records_per_second_per_cpu / 10;
  config->wakeup_threshold_bytes = options.ring_bytes / 4;
  config->exclude_port = options.exclude_port;
  if (int err = bpf_map__set_max_entries(program->skeleton_->maps.packets, options.ring_bytes))
    return Error{fmt::format("XDP ring buffer size {} rejected: {}", options.ring_bytes,
                             std::strerror(-err))};

  xdp_program_opts opts{};
  opts.sz = sizeof(opts);
  opts.obj = program->skeleton_->obj;
  opts.prog_name = kProgramName;
  program->program_ = xdp_program__create(&opts);
  if (long err = libxdp_get_error(program->program_)) {
    program->program_ = nullptr;
    return Error{
        fmt::format("cannot prepare the XDP program: {}", xdp_error_text(static_cast<int>(err)))};
  }
  for (XdpInterface& interface : program->interfaces_) {
    if (auto attached = program->attach_to(interface, options.mode); !attached) {
      program->detach_all();
      return attached.error();
    }
  }
  record_owner(xdp_program__id(program->program_));
  return program;
}

Status XdpProgram::attach_to(XdpInterface& interface, XdpMode mode) {
  xdp_attach_mode existing = XDP_MODE_UNSPEC;
  if (auto cleared = clear_interface(interface, &existing); !cleared) return cleared.error();
  std::vector<xdp_attach_mode> tries;
  if (mode == XdpMode::Native) {
    tries = {XDP_MODE_NATIVE};
  } else if (mode == XdpMode::Generic) {
    tries = {XDP_MODE_SKB};
  } else if (existing != XDP_MODE_UNSPEC) {
    tries = {existing};  // programs sharing a dispatcher share its mode
  } else {
    tries = {XDP_MODE_NATIVE, XDP_MODE_SKB};
  }
  int err = 0;
  for (xdp_attach_mode attempt : tries) {
    err = xdp_program__attach(program_, interface.ifindex, attempt, 0);
    if (!err) {
      interface.mode = mode_name(attempt);
      interface.attached = true;
      xdp_multiprog* multiprog = xdp_multiprog__get_from_ifindex(interface.ifindex);
      if (!libxdp_get_error(multiprog) && multiprog) {
        interface.dispatcher = !xdp_multiprog__is_legacy(multiprog);
        xdp_program* main = xdp_multiprog__main_prog(multiprog);
        interface.attached_id = main ? xdp_program__id(main) : 0;
        xdp_multiprog__close(multiprog);
      }
      return Ok{};
    }
  }
  if (mode != XdpMode::Auto && existing != XDP_MODE_UNSPEC &&
      existing != (mode == XdpMode::Native ? XDP_MODE_NATIVE : XDP_MODE_SKB))
    return Error{fmt::format(
        "--xdp {}: the interface's XDP dispatcher runs in {} mode; use --xdp-mode auto or {}",
        interface.name, mode_name(existing), mode_name(existing))};
  return Error{fmt::format("--xdp {}: attaching the XDP program failed: {}{}", interface.name,
                           xdp_error_text(err),
                           mode == XdpMode::Native ? " (does the driver support native XDP? "
                                                     "try --xdp-mode generic)"
                                                   : "")};
}

void XdpProgram::detach_all() {
  for (XdpInterface& interface : interfaces_) {
    if (!interface.attached) continue;
    xdp_attach_mode mode = interface.mode == "native" ? XDP_MODE_NATIVE : XDP_MODE_SKB;
    int err = 0;
    if (interface.dispatcher) {
      err = xdp_program__detach(program_, interface.ifindex, mode, 0);
    } else {
      // Attached directly: netlink with our own descriptor, which needs only CAP_NET_ADMIN
      // (the daemon has dropped the rest by now) and removes nothing but our program.
      LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = xdp_program__fd(program_));
      uint32_t flags =
          XDP_FLAGS_REPLACE | (mode == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
      err = bpf_xdp_detach(interface.ifindex, flags, &opts);
    }
    if (err)
      std::fprintf(stderr, "synfin: warning: detaching XDP from %s failed: %s\n",
                   interface.name.c_str(), xdp_error_text(err).c_str());
    interface.attached = false;
  }
}

XdpProgram::~XdpProgram() {
  if (program_) {
    uint32_t id = xdp_program__id(program_);
    detach_all();
    if (id) ::unlink(owner_path(id).c_str());
    xdp_program__close(program_);
  }
  synfin_xdp_bpf__destroy(skeleton_);
}

int XdpProgram::ring_buffer_fd() const {
  return bpf_map__fd(skeleton_->maps.packets);
}

std::vector<XdpCounters> XdpProgram::counters() const {
  std::vector<XdpCounters> out;
  for (std::size_t slot = 0; slot < interfaces_.size(); ++slot)
    out.push_back(sum_counters(skeleton_, static_cast<uint32_t>(slot)));
  return out;
}

namespace {
// libxdp replaces an interface's dispatcher whenever a program joins or leaves it (xdp-loader
// load or unload beside synfin): ours runs while whichever dispatcher is there holds it.
bool dispatcher_runs(int ifindex, uint32_t program_id) {
  xdp_multiprog* multiprog = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(multiprog) || !multiprog) return false;
  bool found = false;
  if (!xdp_multiprog__is_legacy(multiprog))
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, multiprog); p;
         p = xdp_multiprog__next_prog(p, multiprog))
      found = found || xdp_program__id(p) == program_id;
  xdp_multiprog__close(multiprog);
  return found;
}
}  // namespace

std::vector<XdpInterface> XdpProgram::interfaces() const {
  std::vector<XdpInterface> out = interfaces_;
  for (XdpInterface& interface : out) {
    bool still = false;
    if (interface.dispatcher) {
      still = dispatcher_runs(interface.ifindex, xdp_program__id(program_));
    } else {
      uint32_t running = 0;
      int flags = interface.mode == "native" ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
      still = bpf_xdp_query_id(interface.ifindex, flags, &running) == 0 &&
              running == interface.attached_id && running != 0;
    }
    interface.attached = interface.attached && still;
  }
  return out;
}

bool XdpProgram::uses_dispatcher() const {
  for (const XdpInterface& interface : interfaces_)
    if (interface.dispatcher) return true;
  return false;
}

Result<std::unique_ptr<XdpTestRun>> XdpTestRun::load() {
  libbpf_set_print(nullptr);  // tests and benchmarks report failures themselves
  std::unique_ptr<XdpTestRun> run(new XdpTestRun());
  run->skeleton_ = synfin_xdp_bpf__open();
  if (!run->skeleton_)
    return Error{fmt::format("cannot open the embedded XDP object: {}", std::strerror(errno))};
  // Test runs are not rate-bounded: every handshake/teardown frame must produce its record.
  run->skeleton_->rodata->records_per_window = 0xffffffffu;
  if (int err = synfin_xdp_bpf__load(run->skeleton_))
    return Error{fmt::format("the kernel refused the XDP program: {}", std::strerror(-err))};
  return run;
}

XdpTestRun::~XdpTestRun() {
  synfin_xdp_bpf__destroy(skeleton_);
}

Result<XdpTestRun::Outcome> XdpTestRun::run(const std::vector<uint8_t>& frame, uint32_t repeat) {
  std::vector<uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()),
              .repeat = static_cast<int>(repeat));
  int fd = bpf_program__fd(skeleton_->progs.synfin_xdp);
  if (int err = bpf_prog_test_run_opts(fd, &opts))
    return Error{fmt::format("BPF_PROG_TEST_RUN failed: {}", std::strerror(-err))};
  return Outcome{opts.retval, opts.duration};
}

XdpCounters XdpTestRun::counters() const {
  return sum_counters(skeleton_, SYNFIN_MAX_XDP_IFACES);
}

int XdpTestRun::ring_buffer_fd() const {
  return bpf_map__fd(skeleton_->maps.packets);
}

}  // namespace synfin::capture
