/* Load-time configuration, frozen in .rodata by userspace before loading, so the verifier
 * prunes what is switched off. */
#ifndef SYNFIN_BPF_CONFIG_H
#define SYNFIN_BPF_CONFIG_H

/* Scope: sockets outside it are neither sent nor counted. */
const volatile __u16 filter_family = 0; /* 0: both */
const volatile __u32 filter_local_port_count = 0;
const volatile __u16 filter_local_ports[SYNFIN_MAX_PORT_FILTERS] = {};
const volatile __u32 filter_remote_port_count = 0;
const volatile __u16 filter_remote_ports[SYNFIN_MAX_PORT_FILTERS] = {};
/* --port: either end on one of these ports. */
const volatile __u32 filter_any_port_count = 0;
const volatile __u16 filter_any_ports[SYNFIN_MAX_PORT_FILTERS] = {};
/* The daemon's own HTTP port: its scrapes and API calls are not the host's traffic, and
 * counting them would make every scrape change what it reads. 0: none. */
const volatile __u16 exclude_port = 0;

/* What crosses to userspace. `synfin trace` (and the daemon with --xdp, whose packet view joins
 * live sockets step by step) wants a record per step: per_step_records. The daemon keeps every
 * socket's path in socket storage and counts in the kernel: keep_paths; without per-step
 * records a close crosses only when it matters (report_closes), plus a rate-bounded sample. */
const volatile bool per_step_records = true;
const volatile bool keep_paths = false;
const volatile bool report_closes = false;
/* With report_closes, the one network namespace (inode) the live walk covers, on kernels that
 * refuse the storage-map iterator; 0: the walk covers every namespace. */
const volatile __u32 walked_netns = 0;
/* Clean closes sent per CPU per second as the sample (0: none); the rest are only counted. */
const volatile __u64 sampled_closes_per_cpu_second = 0;
/* Closes on these ports (either end) always cross, unsampled. */
const volatile __u32 watch_port_count = 0;
const volatile __u16 watch_ports[SYNFIN_MAX_PORT_FILTERS] = {};
/* A state held at least this long makes the socket's close matter (0: no threshold). */
const volatile __u64 stuck_threshold_ns[SYNFIN_TCP_STATE_SLOTS] = {};

/* Wake the consumer early only once this many bytes wait (lib/ring_wakeup.h); otherwise it
 * drains on its own interval. Per-event wakeups cost ~30% of connection throughput on 2 cores. */
const volatile __u64 wakeup_threshold_bytes = 1 << 20;

/* Listen refusals on SYNs (userspace fills these from kallsyms and BTF; 0: not counted):
 * where tcp_rcv_state_process lies, which consumes a listener's SYN right after
 * tcp_conn_request judged it, and the kernel's LINUX_MIB_* indexes of the refusal counters. */
const volatile __u64 rcv_state_process_start = 0;
const volatile __u64 rcv_state_process_end = 0;
const volatile __u32 mib_listen_overflows = 0;
const volatile __u32 mib_syn_queue_drops = 0;
const volatile __u32 possible_cpus = 1;

#endif
