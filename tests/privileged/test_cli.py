#!/usr/bin/env python3
"""Privileged: how `synfin trace` fails and recovers on a real machine — one clear line when
not privileged, usage errors, tracefs mounted when missing, --duration honoured.

usage: test_cli.py SYNFIN"""
import os
import subprocess
import sys

from harness import check, require_privileges, run_main


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, **kw)


def main():
    require_privileges()
    synfin = sys.argv[1]

    def test():
        # Not root: one line naming what is missing, non-zero exit, nothing on stdout.
        r = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", synfin, "trace")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode != 0, "unprivileged trace exited 0")
        check(len(lines) == 1 and "CAP_BPF" in lines[0] and "root" in lines[0],
              f"unprivileged error is not one clear line: {r.stderr!r}")
        check(r.stdout == "", "unprivileged trace printed to stdout")

        # Usage errors and help.
        r = run(synfin, "trace", "--sport", "70000")
        check(r.returncode != 0 and "sport" in r.stderr, f"bad port accepted: {r.stderr!r}")
        r = run(synfin, "trace", "-4", "-6")
        check(r.returncode != 0, "-4 with -6 accepted")
        r = run(synfin, "trace", "--help")
        for flag in ("--sport", "--dport", "-4", "-6", "--pid", "--duration", "jq"):
            check(flag in r.stdout, f"--help does not teach {flag}")
        r = run(synfin)
        check(r.returncode != 0 and "trace" in (r.stdout + r.stderr), "no subcommand accepted")

        # tracefs missing: synfin mounts it. Only when nothing else holds it busy.
        tracing = "/sys/kernel/tracing"
        unmounted = run("umount", tracing).returncode == 0
        r = run(synfin, "trace", "--duration", "1")
        check(r.returncode == 0, f"trace --duration 1 failed: {r.stderr!r}")
        check("0 lost" in r.stderr, f"no summary: {r.stderr!r}")
        check(os.path.isdir(tracing + "/events/syscalls"), "tracefs not mounted after trace")
        print(f"tracefs {'was unmounted and re-mounted by synfin' if unmounted else 'busy: kept'}")

    run_main(test)


if __name__ == "__main__":
    main()
