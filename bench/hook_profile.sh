#!/usr/bin/env bash
# Where the time goes inside synfin's socket programs, and what the kernel spends on their socket
# storage outside them: perf samples every CPU (cpu-clock, with call chains) while the loopback
# churn (build/synfin_churn) runs beside the daemon, then splits each program's samples by what
# it was calling (its own code, the storage lookup, creating storage, the clock, the ring) and
# counts the kernel's own storage work at a child's clone and at a socket's free. Per connection:
# samples × the sampling period ÷ connections. Figures only, nothing asserted.
#
# A VM without a hardware PMU samples on a timer: a sample due while interrupts are off lands
# where they come back on, so time under an irq-saving lock shows up at its unlock.
#
#   sudo bench/hook_profile.sh [seconds=4] [daemon flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-4}"
shift || true
api=127.0.0.1:19796
frequency=4000
work=$(mktemp -d /tmp/synfin-hook-profile.XXXXXX)
daemon=""
cleanup() {
  [[ -n "$daemon" ]] && kill -INT "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  [[ -n "${KEEP_PROFILE:-}" ]] && cp "$work/stacks.txt" "$KEEP_PROFILE"
  rm -rf "$work"
}
trap cleanup EXIT
command -v perf > /dev/null || { echo "hook_profile: needs perf (apt-get install linux-perf)" >&2; exit 1; }

tags() { bpftool prog show -j | python3 -c 'import json, sys; [print(p["id"], p["tag"]) for p in json.load(sys.stdin)]'; }
tags > "$work/before"  # loaded before the daemon: not its programs
build/synfin daemon --listen "$api" "$@" > /dev/null 2> "$work/daemon.err" &
daemon=$!
for _ in $(seq 200); do
  curl -sf "http://$api/healthz" > /dev/null && break
  sleep 0.05
done
kill -0 "$daemon" 2> /dev/null || { cat "$work/daemon.err" >&2; daemon=""; exit 1; }
sleep 1
# This daemon's programs (loaded since), by tag (a perf symbol is bpf_prog_<tag>_<name>):
# another synfin on the host runs programs of the same names. Told apart by file name, not
# NR == FNR: on a host with no other program the list before is empty.
tags | awk -v before="$work/before" \
  'FILENAME == before { known[$1] = 1; next } !($1 in known) { print $2 }' "$work/before" - \
  > "$work/tags"
perf record -q -a -g -F "$frequency" -o "$work/perf.data" -- \
  build/synfin_churn "$seconds" 29191 > "$work/churn.out" 2> /dev/null
echo "churn beside synfin daemon $*: $(cat "$work/churn.out")"
perf script -i "$work/perf.data" -F ip,sym 2> /dev/null > "$work/stacks.txt"
python3 - "$work/stacks.txt" "$(awk '{print $1}' "$work/churn.out")" "$frequency" \
  "$work/tags" <<'PY'
import re, sys
from collections import Counter, defaultdict
stacks, connections, frequency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ours = set(open(sys.argv[4]).read().split())
if not ours:
    print("(no program loaded with the daemon: every synfin program on the host is counted)")
per_sample_ns = 1e9 / frequency

def leafward(frames, i):
    """What the program at frames[i] was calling: the frame just below it, if any."""
    return frames[i - 1] if i > 0 else "(its own code)"

CALLEE = [("storage: create", re.compile(r"bpf_local_storage_update|bpf_local_storage_alloc|"
                                          r"bpf_selem_alloc|bpf_map_kzalloc|bpf_sk_storage_charge")),
          ("storage: lookup", re.compile(r"bpf_sk_storage_get")),
          ("clock read", re.compile(r"ktime_get|kvm_clock|pvclock|read_tsc")),
          ("ring reserve/submit", re.compile(r"ringbuf")),
          ("hash map", re.compile(r"htab|lookup_nulls_elem")),
          ("socket cookie", re.compile(r"sock_gen_cookie|socket_ptr_cookie|socket_cookie"))]
programs = defaultdict(Counter)
kernel_side = Counter()
for sample in re.split(r"\n\s*\n", open(stacks).read()):
    frames = [line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else line
              for line in (l.strip() for l in sample.strip().splitlines()) if line]
    frames = [f.split("+")[0] for f in frames]
    for i, frame in enumerate(frames):
        m = re.match(r"bpf_prog_([0-9a-f]+)_(on_\w+)", frame)
        if m and ours and m.group(1) not in ours:
            break  # another tracer's program
        if m:
            below = frames[:i]
            kind = "its own code" if not below else "other kernel calls"
            for name, pattern in CALLEE:
                if any(pattern.search(f) for f in below):
                    kind = name
                    break
            programs[m.group(2)][kind] += 1
            break
        if frame in ("bpf_sk_storage_clone", "bpf_sk_storage_free"):
            kernel_side[frame] += 1
            break
print(f"| {'program: what it was doing':48} | ns/connection |")
print(f"|{'-' * 50}|---------------|")
total = 0
for program, kinds in sorted(programs.items(), key=lambda p: -sum(p[1].values())):
    ns = sum(kinds.values()) * per_sample_ns / connections
    total += ns
    print(f"| {program:48} | {ns:13.0f} |")
    for kind, n in kinds.most_common():
        print(f"|   {kind:46} | {n * per_sample_ns / connections:13.0f} |")
print(f"| {'all programs':48} | {total:13.0f} |")
for frame, label in (("bpf_sk_storage_clone", "kernel: a child's storage cloned (BPF_F_CLONE)"),
                     ("bpf_sk_storage_free", "kernel: a socket's storage freed")):
    print(f"| {label:48} | {kernel_side[frame] * per_sample_ns / connections:13.0f} |")
PY
