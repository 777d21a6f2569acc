#!/usr/bin/env bash
# The daemon's API under load: starts `synfin daemon` on a loopback port, then
# build/synfin_api_load runs N concurrent API clients for S seconds (plus a /healthz prober on
# fresh connections) while holding P loopback connection pairs, half of them stuck in CLOSE_WAIT.
# Run as root after a build:
#   sudo bench/api_load.sh [clients] [seconds] [pairs]
# Prints requests/s, latency p50/p99 and /healthz p99; it asserts nothing (figures vary).
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-200}"
seconds="${2:-30}"
pairs="${3:-500}"
listen=127.0.0.1:19798

build/synfin daemon --listen "$listen" --stuck-threshold CLOSE_WAIT=1 2> /tmp/synfin-api-load.err &
daemon=$!
trap 'kill -TERM "$daemon" 2> /dev/null || true; wait "$daemon" || true' EXIT
python3 - "$listen" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://{sys.argv[1]}/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
PY
build/synfin_api_load --daemon "$listen" --clients "$clients" --seconds "$seconds" --hold "$pairs"
echo "daemon: $(ps -o rss=,nlwp= -p "$daemon" | awk '{print $1 / 1024 " MiB RSS, " $2 " threads"}') at the end"
