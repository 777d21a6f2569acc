#!/usr/bin/env python3
"""Privileged: the systemd unit's capability set is enough, and needed. The daemon runs as
root's uid with only the unit's CapabilityBoundingSet/AmbientCapabilities (and the noroot
securebits systemd sets), while a server owned by another user leaks a CLOSE_WAIT socket:
the daemon must attach, serve, and name that owner through /proc. With CAP_PERFMON taken away
it must refuse in one clear line; without CAP_DAC_READ_SEARCH the owner is not found.

usage: test_deploy.py SYNFIN DEPLOY_DIR"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import (Daemon, Peer, PEERS, check, eventually, kill_all, require_privileges,
                     run_main)

LISTEN = "127.0.0.1:19761"


def unit_capabilities(deploy):
    text = open(os.path.join(deploy, "systemd", "synfin.service")).read()
    caps = re.search(r"^AmbientCapabilities=(.*)$", text, re.M).group(1).split()
    return [c.removeprefix("CAP_").lower() for c in caps]


def confined(caps, *cmd):
    listed = ",".join("+" + c for c in caps)
    return ["setpriv", "--securebits", "+noroot,+noroot_locked", "--bounding-set", "-all," + listed,
            "--inh-caps", "-all," + listed, "--ambient-caps", listed, *cmd]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, deploy = os.path.abspath(sys.argv[1]), sys.argv[2]
    caps = unit_capabilities(deploy)
    port = 18641

    def test():
        check(sorted(caps) == ["bpf", "dac_read_search", "net_admin", "perfmon", "sys_ptrace"],
              f"unit caps {caps}")
        # Too few: one clear line, non-zero exit.
        r = subprocess.run(confined([c for c in caps if c != "perfmon"], synfin, "daemon",
                                    "--listen", LISTEN), capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and "CAP_PERFMON" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              f"without CAP_PERFMON: rc {r.returncode}, {r.stderr!r}")

        # The peer script where user nobody can read it.
        scratch = tempfile.mkdtemp(prefix="synfin-caps-")
        os.chmod(scratch, 0o755)
        peers = shutil.copy(PEERS, scratch)
        os.chmod(peers, 0o755)
        daemon = server = client = None
        try:
            daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=1", wrap=confined(caps))
            server = Peer("server", "hold", port, name="sf-nobody", script=peers,
                          wrap=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
            server.expect("ready")
            client = Peer("client", "client_first", port, name="sf-client")
            client.expect("done")
            server.expect("accepted")
            stuck = eventually(lambda: daemon.get(f"/api/v1/stuck?port={port}")["stuck"],
                               lambda rows: len(rows) == 1, timeout=15)
            check(len(stuck) == 1, f"stuck: {stuck}")
            check(stuck[0]["pid"] == server.pid and stuck[0]["comm"] == "sf-nobody"
                  and stuck[0]["owner_source"] == "proc",
                  f"owner of another user's socket not found through /proc: {stuck[0]}")
            health = daemon.get("/healthz")
            check(health["status"] == "ok" and all(p["attached"] for p in health["programs"]),
                  f"healthz under the unit's capabilities: {health}")
            status = open(f"/proc/{daemon.proc.pid}/status").read()
            effective = int(re.search(r"^CapEff:\s*(\S+)", status, re.M).group(1), 16)
            check(effective == (1 << 39) | (1 << 38) | (1 << 12) | (1 << 19) | (1 << 2),
                  f"daemon runs with CapEff {effective:#x}, not exactly the unit's set")
            # One capability less and /proc/PID/fd of another user stays shut.
            daemon.stop()
            daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=0.5",
                            wrap=confined([c for c in caps if c != "dac_read_search"]))
            stuck = eventually(lambda: daemon.get(f"/api/v1/stuck?port={port}")["stuck"],
                               lambda rows: len(rows) == 1, timeout=15)
            check(len(stuck) == 1 and stuck[0]["owner_source"] != "proc",
                  f"owner found without CAP_DAC_READ_SEARCH: the unit would over-grant: {stuck}")
            print(f"daemon confined to {caps}: attached, healthy, owner of uid 65534's socket named")
        finally:
            kill_all(client, server)
            if daemon:
                daemon.stop()
            shutil.rmtree(scratch, ignore_errors=True)

    run_main(test)


if __name__ == "__main__":
    main()
