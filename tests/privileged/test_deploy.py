#!/usr/bin/env python3
"""Privileged: the systemd unit's settings are enough, and needed. The daemon runs as the unit
runs it — an unprivileged uid standing for DynamicUser=, no new privileges, only the unit's
CapabilityBoundingSet/AmbientCapabilities, and a /proc mounted hidepid=invisible in a mount
namespace of its own (ProtectProc=invisible) — while a server owned by another user leaks a
CLOSE_WAIT socket: the daemon must attach, serve, reconcile with the kernel's socket table and
name that owner through /proc. Once attached it keeps only the capabilities it still uses
(every thread's CapEff/CapPrm, read from /proc/PID/task/*/status) and still works. With
CAP_PERFMON taken away it must refuse in one clear line; without CAP_DAC_READ_SEARCH the owner
is not found. Run as plain root, it also shrinks its bounding set to what it keeps.

usage: test_deploy.py SYNFIN DEPLOY_DIR"""
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

from harness import (Daemon, Peer, PEERS, check, eventually, kill_all, require_privileges,
                     run_main)

LISTEN = "127.0.0.1:19761"
UNIT_UID = 61873  # stands for the unit's DynamicUser: a uid that owns nothing
CAP = {"dac_read_search": 2, "net_admin": 12, "sys_ptrace": 19, "perfmon": 38, "bpf": 39}


def unit_settings(deploy):
    text = open(os.path.join(deploy, "systemd", "synfin.service")).read()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    caps = [c.removeprefix("CAP_").lower() for c in settings["AmbientCapabilities"].split()]
    return settings, caps


def confined(caps, *cmd, uid=UNIT_UID):
    """The unit's execution environment as systemd sets it up, emulated."""
    listed = ",".join("+" + c for c in caps)
    identity = ([f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid else
                ["--securebits", "+noroot,+noroot_locked"])  # root's uid without root's powers
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t proc -o hidepid=invisible proc /proc && exec "$@"', "confined",
            "setpriv", *identity, "--no-new-privs", "--bounding-set", "-all," + listed,
            "--inh-caps", "-all," + listed, "--ambient-caps", listed, *cmd]


def runtime_capabilities():
    """What the daemon keeps after attach (userspace/capture/privileges.cpp): before Linux 5.19
    reading maps through held descriptors still needed CAP_BPF."""
    kept = ["sys_ptrace", "dac_read_search", "net_admin"]
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", platform.release()).groups())
    if (major, minor) < (5, 19):
        kept.append("bpf")
    return kept


def mask(caps):
    return sum(1 << CAP[c] for c in caps)


def capability_sets(pid):
    """{thread id: {CapEff: int, ...}} for every thread of the process."""
    sets = {}
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        text = open(status).read()
        sets[status.split("/")[4]] = {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s*(\S+)", text, re.M)}
    return sets


def uid_of(pid):
    return int(re.search(r"^Uid:\s*(\d+)", open(f"/proc/{pid}/status").read(), re.M).group(1))


def check_reconciles(daemon):
    """Snapshots of the kernel's table go on after the capabilities are gone."""
    first = daemon.get("/api/v1/timewait")["drift"]["reconciliations"]
    later = eventually(lambda: daemon.get("/api/v1/timewait")["drift"]["reconciliations"],
                       lambda n: n >= first + 2, timeout=15)
    check(later >= first + 2, f"no reconciliation after dropping capabilities ({first} -> {later})")
    age = daemon.get("/healthz")["last_snapshot_age_seconds"]
    check(0 <= age < 3, f"last snapshot {age} s old with --reconcile-interval 1")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, deploy = os.path.abspath(sys.argv[1]), sys.argv[2]
    settings, caps = unit_settings(deploy)
    port = 18641
    kept = runtime_capabilities()

    def test():
        check(sorted(caps) == ["bpf", "dac_read_search", "net_admin", "perfmon", "sys_ptrace"],
              f"unit caps {caps}")
        check(settings.get("DynamicUser") == "yes" and settings.get("NoNewPrivileges") == "yes"
              and settings.get("ProtectProc") == "invisible" and "User" not in settings,
              f"the unit's identity settings changed; update this emulation: {settings}")
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
            daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=1",
                            "--reconcile-interval", "1", wrap=confined(caps))
            check(uid_of(daemon.proc.pid) == UNIT_UID, "the daemon does not run as the unit's user")
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
                  f"owner of another user's socket not found through a hidepid=invisible /proc: {stuck[0]}")
            health = daemon.get("/healthz")
            check(health["status"] == "ok" and all(p["attached"] for p in health["programs"]),
                  f"healthz under the unit's settings: {health}")
            check_reconciles(daemon)
            threads = capability_sets(daemon.proc.pid)
            check(len(threads) > 2, f"expected the HTTP threads too: {list(threads)}")
            for tid, sets in threads.items():
                check(sets["CapEff"] == mask(kept) and sets["CapPrm"] == mask(kept)
                      and sets["CapAmb"] == 0 and sets["CapInh"] == 0,
                      f"thread {tid} runs with CapEff {sets['CapEff']:#x} CapPrm {sets['CapPrm']:#x} "
                      f"CapAmb {sets['CapAmb']:#x}, not only {kept} ({mask(kept):#x})")
                check(sets["CapBnd"] == mask(caps),  # no CAP_SETPCAP to shrink it: the unit's
                      f"thread {tid} bounding set {sets['CapBnd']:#x}")
            print(f"under the unit's settings: uid {UNIT_UID}, {len(threads)} threads with only "
                  f"{kept} after attach; owner of uid 65534's socket named; snapshots go on")

            # One capability less and /proc/PID/fd of another user stays shut (root's uid here,
            # so that tracefs stays readable without CAP_DAC_READ_SEARCH).
            daemon.stop()
            daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=0.5",
                            wrap=confined([c for c in caps if c != "dac_read_search"], uid=0))
            stuck = eventually(lambda: daemon.get(f"/api/v1/stuck?port={port}")["stuck"],
                               lambda rows: len(rows) == 1, timeout=15)
            check(len(stuck) == 1 and stuck[0]["owner_source"] != "proc",
                  f"owner found without CAP_DAC_READ_SEARCH: the unit would over-grant: {stuck}")

            # Plain root (sudo synfin daemon): everything else goes, the bounding set included.
            daemon.stop()
            daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=0.5",
                            "--reconcile-interval", "1")
            stuck = eventually(lambda: daemon.get(f"/api/v1/stuck?port={port}")["stuck"],
                               lambda rows: len(rows) == 1, timeout=15)
            check(stuck[0]["owner_source"] == "proc" and stuck[0]["pid"] == server.pid,
                  f"as root: {stuck}")
            check_reconciles(daemon)
            for tid, sets in capability_sets(daemon.proc.pid).items():
                check(sets["CapEff"] == mask(kept) and sets["CapBnd"] == mask(kept),
                      f"as root, thread {tid}: CapEff {sets['CapEff']:#x} CapBnd {sets['CapBnd']:#x}")
            print(f"as root: every thread down to {kept}, bounding set included")
        finally:
            kill_all(client, server)
            if daemon:
                daemon.stop()
            shutil.rmtree(scratch, ignore_errors=True)

    run_main(test)


if __name__ == "__main__":
    main()
