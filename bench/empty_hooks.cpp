// Holds do-nothing BPF programs on the hooks synfin's socket programs use until SIGINT or
// SIGTERM: bench/program_cost.sh reads their ns/run as the floor any program pays there.
// Needs root.
//
//   sudo build/synfin_empty_hooks
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "bench_empty_hooks_bpf.skel.h"

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  bench_empty_hooks_bpf* hooks = bench_empty_hooks_bpf__open_and_load();
  if (!hooks || bench_empty_hooks_bpf__attach(hooks) != 0) {
    std::fprintf(stderr, "synfin_empty_hooks: cannot load or attach the empty programs\n");
    bench_empty_hooks_bpf__destroy(hooks);
    return 1;
  }
  std::printf("attached\n");
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  bench_empty_hooks_bpf__destroy(hooks);
  return 0;
}
