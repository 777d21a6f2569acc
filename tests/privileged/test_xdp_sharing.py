#!/usr/bin/env python3
"""Privileged: synfin's XDP program and another tool's on one interface. Where the kernel can
run libxdp's multi-program dispatcher (freplace programs: 6.1 does), synfin attaches through
it, xdp-loader adds another program beside it, synfin goes on seeing every SYN, and each
program's removal leaves the other running. Where it cannot (the dispatcher fails to load),
synfin attaches directly, says so in /healthz, and another tool's xdp-loader load does not
replace it.

usage: test_xdp_sharing.py SYNFIN"""
import json
import subprocess
import sys

from harness import Daemon, check, eventually, require_privileges, run_main
from test_xdp import XdpLink, daemon_health, metric

LISTEN = "127.0.0.1:19772"
OTHER = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o"  # xdp-tools' pass-everything filter


def loader_status(dev):
    return subprocess.run(["xdp-loader", "status", dev], capture_output=True, text=True).stdout


def syns(daemon, dev):
    return metric(daemon.get_text("/metrics"), "synfin_xdp_packets_total", iface=dev, flags="syn")


def attached(daemon):
    """/healthz says synfin's XDP program runs (503 when not)."""
    code, body = daemon_health(daemon)
    return code == 200 and body["xdp"][0]["attached"]


def refused_connects(link, port, n):
    for _ in range(n):
        client = link.client("refused", port, name="sf-xshare")
        client.expect("refused")
        client.wait()


def scenario(synfin):
    port = 18841
    with XdpLink() as link:
        dev = link.server_dev
        daemon = Daemon(synfin, LISTEN, "--xdp", dev)
        try:
            interface = daemon.get("/healthz")["xdp"][0]
            check(interface["attached"], f"synfin's XDP program not attached: {interface}")
            mode = {"native": "native", "generic": "skb"}[interface["mode"]]
            loaded = subprocess.run(["xdp-loader", "load", "-m", mode, dev, OTHER],
                                    capture_output=True, text=True)
            status = loader_status(dev)
            if not interface["dispatcher"]:
                check(loaded.returncode != 0, f"xdp-loader load beside a direct attach:\n{status}")
                check(attached(daemon) and "synfin_xdp" in status,
                      f"synfin's program replaced:\n{status}")
                print(f"no dispatcher on this kernel: synfin attached directly, xdp-loader "
                      f"refused ({loaded.stderr.strip().splitlines()[-1:]})")
                rc = daemon.stop()
                check(rc == 0, f"daemon exited {rc}")
                return
            check(loaded.returncode == 0, f"xdp-loader load beside synfin: {loaded.stderr}")
            check("synfin_xdp" in status and "xdpfilt_alw_all" in status,
                  f"both programs in the dispatcher:\n{status}")
            # libxdp made a new dispatcher for the two: synfin's health follows its program.
            check(attached(daemon), f"/healthz after xdp-loader load: {daemon_health(daemon)}")
            print(status.rstrip())
            before, n = syns(daemon, dev), 3
            refused_connects(link, port, n)
            seen = eventually(lambda: syns(daemon, dev), lambda v: v - before >= n)
            check(seen - before == n, f"synfin saw {seen - before} SYNs beside another program, "
                                      f"want {n}")
            # The other tool leaves: synfin's program stays.
            subprocess.run(["xdp-loader", "unload", dev, "-i", other_id(dev)], check=True,
                           capture_output=True)
            status = loader_status(dev)
            check("xdpfilt_alw_all" not in status and "synfin_xdp" in status and attached(daemon),
                  f"after the other program's removal:\n{status}")
            # And the other way round: the other tool stays when synfin stops.
            subprocess.run(["xdp-loader", "load", "-m", mode, dev, OTHER], check=True,
                           capture_output=True)
        finally:
            rc = daemon.stop()
        check(rc == 0, f"daemon exited {rc}")
        status = loader_status(dev)
        check("xdpfilt_alw_all" in status and "synfin_xdp" not in status,
              f"after synfin stopped:\n{status}")
        subprocess.run(["xdp-loader", "unload", dev, "--all"], capture_output=True)
        print(f"dispatcher: synfin counted {n} SYNs beside xdpfilt_alw_all; each removal left "
              f"the other program attached")


def other_id(dev):
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    ids = [str(p["id"]) for p in json.loads(out) if p.get("name") == "xdpfilt_alw_all"]
    check(len(ids) == 1, f"xdpfilt_alw_all programs: {ids}")
    return ids[0]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    require_privileges()
    run_main(lambda: scenario(sys.argv[1]))


if __name__ == "__main__":
    main()
