#!/usr/bin/env bash
# What gzip saves on a large scrape: starts `synfin daemon` with the most per-port series it
# allows (16 --metrics-port values), makes loopback connections on those ports, then fetches
# /metrics plain and with `Accept-Encoding: gzip` as Prometheus asks. Run as root after a build:
#   sudo bench/metrics_size.sh [connections]
# Prints sizes and fetch times; it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
connections="${1:-5000}"
listen=127.0.0.1:19797
ports=()
for port in $(seq 19001 19016); do ports+=(--metrics-port "$port"); done

build/synfin daemon --listen "$listen" "${ports[@]}" 2> /tmp/synfin-metrics-size.err &
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
build/synfin_loopback_bench "$connections" 19001 > /dev/null
sleep 1.5  # the gauges refresh once a second
python3 - "$listen" <<'PY'
import http.client, sys, time
host, port = sys.argv[1].rsplit(":", 1)
for name, headers in (("plain", {}), ("gzip", {"Accept-Encoding": "gzip"})):
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    start = time.perf_counter()
    connection.request("GET", "/metrics", headers=headers)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    if name == "plain":
        samples = sum(1 for line in body.decode().splitlines() if line.startswith("synfin"))
        print(f"samples: {samples}")
    encoding = response.getheader("Content-Encoding") or "identity"
    print(f"{name:6} {len(body):7d} bytes ({encoding}) in {elapsed * 1000:.1f} ms")
PY
