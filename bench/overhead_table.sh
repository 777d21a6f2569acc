#!/usr/bin/env bash
# What synfin costs a host, in one run: the throughput table, then memory and start-up.
#
# 1. The churn table. A loopback churn
# (build/synfin_churn: 2 client threads connecting from 200 source addresses, write 1 byte,
# close) runs alone, then with a tracer beside it, in alternating pairs of SECONDS each; the
# ratio is connections/s with the tracer / without, median over PAIRS. Per row also: the
# tracer's peak RSS, records lost and invalid verdicts (summed over its runs; "?" when a run's
# are unknown, as when the tracer died before reporting them). Figures only, nothing asserted:
# a 2-vCPU VM's numbers vary.
# 2. Memory per tracked connection: the daemon's model following 100 000 and 1 000 000
#    synthetic connections (build/synfin_memory_bench).
# 3. Sustained: the daemon (defaults) beside a 25 s churn, long enough for its reconciliations
#    with ~131 000 TIME_WAIT sockets (tcp_max_tw_buckets): records lost, invalid verdicts,
#    peak RSS, TIME_WAIT entries the reconciliations corrected.
# 4. The daemon (defaults) started beside 1 000 and 100 000 open sockets
#    (build/synfin_hold_sockets): time to a healthy /healthz, a /metrics scrape's time (median
#    of 5) and the daemon's RSS.
#
#   sudo bench/overhead_table.sh [pairs=5] [seconds=3]
#
# Run after a build, on an otherwise quiet machine. libbpf-tools' tcpstates is measured when
# installed (apt-get install libbpf-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-5}"
seconds="${2:-3}"
churn=build/synfin_churn
synfin=build/synfin
api=127.0.0.1:19798
port=0
work=$(mktemp -d /tmp/synfin-overhead.XXXXXX)
tracer=""
stop_tracer() {
  if [[ -n "$tracer" ]]; then
    kill -INT "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
  fi
  tracer=""
}
trap 'stop_tracer; rm -rf "$work"' EXIT

reset_percent=0
churn_rate() {
  "$churn" "$seconds" "$((port++ % 200 + 29000))" 2 "$reset_percent" | awk '{print $(NF-1)}'
}
peak_rss_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
daemon_figures() {  # lost records, invalid verdicts, path/step records received
  python3 - "$api" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=10).read().decode()
def total(prefix):
    return int(sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(prefix)))
print(total("synfin_events_lost_total{"), total('synfin_tcp_sequences_total{verdict="invalid"}'))
EOF
}
wait_for_daemon() {
  python3 - "$api" <<'EOF'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://{sys.argv[1]}/healthz", timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.05)
sys.exit("the daemon did not come up")
EOF
}

# One row: NAME and a function that starts the tracer (sets $tracer) and one that reads
# "lost invalid" from it before it stops.
row() {
  local name=$1 start=$2 figures=$3 ratios=() rss=0 lost=0 invalid=0
  for _ in $(seq "$pairs"); do
    local without with
    without=$(churn_rate)
    "$start"
    with=$(churn_rate)
    local now
    now=$(peak_rss_mb "$tracer")
    ((now > rss)) && rss=$now
    read -r l i < <("$figures")
    if [[ $l == - || $lost == - ]]; then
      lost=-; invalid=-
    elif [[ $l == '?' || $lost == '?' ]]; then
      lost='?'; invalid='?'  # a run's figures are unknown: its sum is too
    else
      lost=$((lost + l)); invalid=$((invalid + i))
    fi
    stop_tracer
    ratios+=("$(awk -v a="$with" -v b="$without" 'BEGIN {printf "%.3f", a / b}')")
    echo "  $name: without $without, with $with connections/s" >&2
  done
  local ratio
  ratio=$(printf '%s\n' "${ratios[@]}" | median)
  printf '| %-40s | %5.2f | %6s MB | %6s | %7s |\n' "$name" "$ratio" "$rss" "$lost" "$invalid"
}

start_daemon() {
  "$synfin" daemon --listen "$api" "${daemon_flags[@]}" > /dev/null 2> "$work/daemon.err" &
  tracer=$!
  wait_for_daemon
}
start_trace() {
  "$synfin" trace > /dev/null 2> "$work/trace.err" &
  tracer=$!
  sleep 1.5
}
trace_figures() {  # after the trace stops: its summary names lost records and invalid closes
  kill -INT "$tracer" 2>/dev/null || true
  while kill -0 "$tracer" 2>/dev/null; do sleep 0.1; done
  sleep 0.2
  if ! grep -q 'closes judged' "$work/trace.err"; then
    echo "  synfin trace ended without its summary:" >&2
    tail -3 "$work/trace.err" >&2
    echo "? ?"
    return
  fi
  local lost invalid
  lost=$(grep -oE '[0-9]+ lost' "$work/trace.err" | awk '{s += $1} END {print s + 0}')
  invalid=$(grep -oE '[0-9]+ invalid' "$work/trace.err" | awk '{s += $1} END {print s + 0}')
  echo "$lost $invalid"
}
start_tcpstates() {
  tcpstates > /dev/null 2>&1 &
  tracer=$!
  sleep 1.5
}
no_figures() { echo "- -"; }

echo "churn: ${seconds} s runs, ${pairs} pairs per row, median ratio (connections/s with / without)"
baseline=()
for _ in $(seq "$pairs"); do baseline+=("$(churn_rate)"); done
echo "| running beside the churn                 | ratio | peak RSS  | lost   | invalid |"
echo "|------------------------------------------|-------|-----------|--------|---------|"
printf '| %-40s | %5.2f | %9s | %6s | %7s |\n' \
  "nothing ($(printf '%s\n' "${baseline[@]}" | median) connections/s)" 1 - - -
daemon_flags=()
row "synfin daemon (defaults)" start_daemon daemon_figures
# Cost grows with what is wrong, not with what is right: the same daemon beside a churn whose
# clients abort 1% of their connections with a reset (each such close crosses whole).
reset_percent=1
row "synfin daemon, churn with 1% resets" start_daemon daemon_figures
reset_percent=0
row "synfin trace > /dev/null" start_trace trace_figures
if command -v tcpstates > /dev/null; then
  row "libbpf-tools tcpstates > /dev/null" start_tcpstates no_figures
fi

echo
sustained=25
echo "sustained: synfin daemon (defaults) beside a ${sustained} s churn (reconciliations every 10 s)"
daemon_flags=()
start_daemon
rate=$("$churn" "$sustained" 29199 | awk '{print $(NF-1)}')
read -r lost invalid < <(daemon_figures)
drift=$(curl -fs "http://$api/api/v1/timewait" |
  python3 -c 'import json, sys; t = json.load(sys.stdin); d = t["drift"]
print(d["added"], d["removed"], d["reconciliations"], t["total"], t["refused_by_kernel_limit"])')
printf '  %s connections/s, %s lost, %s invalid, peak RSS %s MB; TIME_WAIT corrected: %s\n' \
  "$rate" "$lost" "$invalid" "$(peak_rss_mb "$tracer")" \
  "$(awk '{printf "%d added, %d removed in %d reconciliations; %d tracked, %d past the kernel'"'"'s limit", $1, $2, $3, $4, $5}' <<< "$drift")"
stop_tracer

echo
echo "memory per tracked connection (the daemon's model, synthetic ESTABLISHED clients):"
build/synfin_memory_bench 100000 1000000

# The daemon beside SOCKETS held open: prints "SECONDS-TO-HEALTHY SCRAPE-MS RSS-MB".
daemon_beside_sockets() {
  local sockets=$1 base_port=$2 holders=() per=16000 i=0
  rm -f "$work/hold.in" "$work"/hold.*.out
  mkfifo "$work/hold.in"
  # One holder per 16 000 sockets: a process's descriptor limit may not be raisable.
  while ((sockets > 0)); do
    local n=$((sockets < per ? sockets : per))
    build/synfin_hold_sockets "$n" $((base_port + i)) < "$work/hold.in" > "$work/hold.$i.out" &
    holders+=($!)
    sockets=$((sockets - n)) i=$((i + 1))
  done
  exec 7> "$work/hold.in"  # the holders hold their sockets until this closes
  for ((j = 0; j < i; j++)); do
    while ! grep -q ready "$work/hold.$j.out" 2>/dev/null; do
      kill -0 "${holders[j]}" 2>/dev/null || { echo "synfin_hold_sockets failed" >&2; return 1; }
      sleep 0.2
    done
  done
  python3 - "$synfin" "$api" <<'EOF'
import statistics, subprocess, sys, time, urllib.request
synfin, api = sys.argv[1], sys.argv[2]
started = time.monotonic()
daemon = subprocess.Popen([synfin, "daemon", "--listen", api], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
try:
    while True:
        try:
            urllib.request.urlopen(f"http://{api}/healthz", timeout=1)
            break
        except Exception:
            if daemon.poll() is not None:
                sys.exit("the daemon exited")
            time.sleep(0.005)
    healthy = time.monotonic() - started
    time.sleep(2)  # the first reconcile has run
    scrapes = []
    for _ in range(5):
        t = time.monotonic()
        urllib.request.urlopen(f"http://{api}/metrics", timeout=10).read()
        scrapes.append((time.monotonic() - t) * 1000)
    with open(f"/proc/{daemon.pid}/status") as status:
        rss = next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024
    print(f"{healthy:.2f} {statistics.median(scrapes):.1f} {rss:.0f}")
finally:
    daemon.terminate()
    daemon.wait()
EOF
  exec 7>&-
  wait "${holders[@]}" 2>/dev/null || true
  rm -f "$work/hold.in"
}

echo
echo "| synfin daemon (defaults) started beside | healthy after | /metrics scrape | RSS    |"
echo "|-----------------------------------------|---------------|-----------------|--------|"
# Each size on ports of its own: the last run's sockets may still be closing on its ports.
for sockets in 1000 100000; do
  read -r healthy scrape rss < <(daemon_beside_sockets "$sockets" $((29500 + sockets % 997)))
  printf '| %7d open sockets                        | %11s s | %12s ms | %3s MB |\n' \
    "$sockets" "$healthy" "$scrape" "$rss"
done
