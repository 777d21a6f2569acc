#!/usr/bin/env python3
"""Privileged: what the running kernel does not let synfin report is exactly what
docs/guide.md's kernel table says for its version (tests/privileged/kernel_limits.py): each line
once in the daemon's log, the same lines in /healthz `cannot_report`, and
synfin_kernel_feature_available 0 for exactly those features, and the storage-map iterator (the
daemon's live view of other namespaces) as seen on this kernel.

usage: test_kernel.py SYNFIN"""
import os
import re
import sys

import kernel_limits
from harness import Daemon, check, require_privileges, run_main

LISTEN = "127.0.0.1:19771"


def feature_gauges(text):
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'^synfin_kernel_feature_available\{feature="(\w+)"\} (\S+)$', text, re.M)}


def one_daemon(synfin):
    daemon = Daemon(synfin, LISTEN)
    try:
        health = daemon.get("/healthz")
        lines = health["cannot_report"]
        programs = health["programs"]
        check(programs and all(p["attached"] for p in programs),
              f"programs not attached: {[p for p in programs if not p['attached']]}")
        print(f"{len(programs)} programs attached: {', '.join(p['name'] for p in programs)}")
        gauges = feature_gauges(daemon.get_text("/metrics"))
    finally:
        rc = daemon.stop()
        log = daemon.proc.stderr.read()
    check(rc == 0, f"daemon exited {rc}: {log[-2000:]}")
    said = [line for line in log.splitlines() if line.startswith("synfin: this kernel cannot report")]
    for line in lines:
        check(said.count(f"synfin: this kernel cannot report {line}") == 1,
              f"the log does not say once that it cannot report {line!r}: {said}")
    check(len(said) == len(lines), f"the log says {said}, /healthz {lines}")
    return lines, gauges


def scenario(synfin):
    release = os.uname().release
    lines, gauges = one_daemon(synfin)
    keys = kernel_limits.keys_of(lines)
    want = kernel_limits.expected_missing(compact=True)
    if want is None:
        want = kernel_limits.expected_missing() | ({"storage_iterator"} & set(keys))
        print(f"kernel {release}: never run here before; the storage-map iterator "
              f"{'is refused' if 'storage_iterator' in keys else 'loads'}")
    check(len(keys) == len(set(keys)) and set(keys) == want,
          f"kernel {release}: cannot_report {lines}, want {sorted(want)}")
    check(set(gauges) == set(kernel_limits.FEATURES),
          f"synfin_kernel_feature_available has {sorted(gauges)}")
    unavailable = {key for key, value in gauges.items() if value == 0}
    want_unavailable = {k for k in kernel_limits.FEATURES if kernel_limits.missing(k)}
    check(unavailable == want_unavailable,
          f"features at 0: {sorted(unavailable)}, want {sorted(want_unavailable)}")
    print(f"kernel {release} cannot report: {sorted(keys) or 'nothing'}")
    for line in lines:
        print(f"  {line}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    require_privileges()
    run_main(lambda: scenario(sys.argv[1]))


if __name__ == "__main__":
    main()
