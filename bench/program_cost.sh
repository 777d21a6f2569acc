#!/usr/bin/env bash
# Where the kernel-side time goes: each synfin BPF program's runs and run time per connection
# of the loopback churn (build/synfin_churn), from the kernel's own accounting
# (kernel.bpf_stats_enabled, switched on for the run and restored after), and the daemon's
# CPU time per connection. Do-nothing programs on the same hooks (build/synfin_empty_hooks) run
# beside them, and their rows (empty_*) are the floor any program pays there on this machine at
# this moment, the kernel's run-time accounting included. Figures only, nothing asserted.
#
#   sudo bench/program_cost.sh [seconds=3] [daemon flags...]
#   e.g. sudo bench/program_cost.sh 3 --closes-per-second 0
#   sudo bench/program_cost.sh [seconds=3] trace [trace flags...]   (synfin trace > /dev/null)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3}"
shift || true
api=127.0.0.1:19797
work=$(mktemp -d /tmp/synfin-program-cost.XXXXXX)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
daemon=""
empty=""
cleanup() {
  [[ -n "$daemon" ]] && kill -INT "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  [[ -n "$empty" ]] && kill -INT "$empty" 2>/dev/null && wait "$empty" 2>/dev/null
  sysctl -qw kernel.bpf_stats_enabled="$stats_before"
  rm -rf "$work"
}
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

programs() {  # id name run_time_ns run_cnt of every BPF program (bpftool omits zero statistics)
  bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}
programs > "$work/others"  # loaded before the daemon: not synfin's
command=daemon
if [[ "${1:-}" == trace ]]; then
  command=trace
  shift
  build/synfin trace "$@" > /dev/null 2> "$work/daemon.err" &
  daemon=$!
  for _ in $(seq 200); do  # attached once its programs show
    [[ $(programs | wc -l) -gt $(wc -l < "$work/others") ]] && break
    sleep 0.05
  done
else
  build/synfin daemon --listen "$api" "$@" > /dev/null 2> "$work/daemon.err" &
  daemon=$!
  for _ in $(seq 200); do
    curl -sf "http://$api/healthz" > /dev/null && break
    sleep 0.05
  done
fi
if ! kill -0 "$daemon" 2> /dev/null; then
  cat "$work/daemon.err" >&2
  daemon=""
  exit 1
fi
build/synfin_empty_hooks > "$work/empty.out" &
empty=$!
for _ in $(seq 100); do
  grep -q attached "$work/empty.out" 2> /dev/null && break
  sleep 0.05
done
if ! grep -q attached "$work/empty.out"; then
  echo "program_cost: build/synfin_empty_hooks did not attach its programs" >&2
  exit 1
fi
sleep 1
programs > "$work/before"
cpu_before=$(awk '{print $14 + $15}' "/proc/$daemon/stat")
churn=$(build/synfin_churn "$seconds" 29190)
cpu_after=$(awk '{print $14 + $15}' "/proc/$daemon/stat")
programs > "$work/after"
echo "churn beside synfin $command $*: $churn"
python3 - "$work" "$(echo "$churn" | awk '{print $1}')" "$((cpu_after - cpu_before))" \
  "$(getconf CLK_TCK)" "$command" <<'PY'
import sys
work, connections, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
others = {l.split()[0] for l in open(f"{work}/others")}
before = {l.split()[0]: l.split() for l in open(f"{work}/before") if l.split()[0] not in others}
print(f"| {'BPF program':32} | runs/connection | ns/run | ns/connection |")
print(f"|{'-' * 34}|-----------------|--------|---------------|")
total = 0
floors = []
for line in open(f"{work}/after"):
    pid, name, ns, runs = line.split()
    if pid not in before:
        continue
    d_ns, d_runs = int(ns) - int(before[pid][2]), int(runs) - int(before[pid][3])
    if d_runs == 0:
        continue
    row = f"| {name:32} | {d_runs / connections:15.1f} | {d_ns / d_runs:6.0f} | {d_ns / connections:13.0f} |"
    if name.startswith("empty_"):
        floors.append(row)
        continue
    total += d_ns
    print(row)
print(f"| {'all BPF programs':32} | {'':15} | {'':6} | {total / connections:13.0f} |")
print(f"| {'the ' + sys.argv[5] + ' (user + system CPU)':32} | {'':15} | {'':6} | {ticks / hz * 1e9 / connections:13.0f} |")
print(f"| {'floor: do-nothing programs':32} | {'':15} | {'':6} | {'':13} |")
for row in floors:
    print(row)
PY
