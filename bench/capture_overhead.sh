#!/usr/bin/env bash
# What tracing costs a connection-heavy host: loopback connections/s alone, under
# `synfin trace` (JSON to /dev/null), the same writing a gzip recording, and under
# `synfin daemon`. Run as root after a build:
#   sudo bench/capture_overhead.sh [connections]
# Prints figures; it asserts nothing (a 2-core VM's numbers vary from run to run).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
load=build/synfin_loopback_bench
synfin=build/synfin

run() { "$load" "$n" "$1" | sed "s/^/  /"; }

echo "baseline (no tracing):"
run 18701

"$synfin" trace > /dev/null 2> /tmp/synfin-bench-trace.err &
tracer=$!
sleep 2
echo "under synfin trace:"
run 18702
kill -INT "$tracer"
wait "$tracer" || true
sed 's/^/  /' /tmp/synfin-bench-trace.err | tail -1

"$synfin" trace --record /tmp/synfin-bench.rec.gz > /dev/null 2> /tmp/synfin-bench-trace.err &
tracer=$!
sleep 2
echo "under synfin trace --record FILE.gz:"
run 18704
kill -INT "$tracer"
wait "$tracer" || true
sed 's/^/  /' /tmp/synfin-bench-trace.err | tail -1
echo "  recording: $(stat -c %s /tmp/synfin-bench.rec.gz) bytes gzip," \
  "$(gzip -dc /tmp/synfin-bench.rec.gz | wc -c) bytes uncompressed"
rm -f /tmp/synfin-bench.rec.gz

"$synfin" daemon --listen 127.0.0.1:19799 2> /tmp/synfin-bench-daemon.err &
daemon=$!
sleep 2
echo "under synfin daemon:"
run 18703
echo "  $(curl -s 127.0.0.1:19799/metrics | grep -E '^synfin_events_lost_total' | awk '{s+=$2} END {print "events lost:", s+0}')"
kill -TERM "$daemon"
wait "$daemon" || true
