#!/usr/bin/env python3
"""Privileged: why connections broke, as the real kernel says it.

resets:   SO_LINGER 0 close -> reset_reason TCP_STATE; close with unread data ->
          TCP_ABORT_ON_CLOSE; a refused connect -> the client's close names NO_SOCKET (the
          reset sent with no socket), and the daemon counts exactly those resets for a
          --metrics-port port.
overflow: a listener that never accepts, listen(0), in a network namespace with
          net.ipv4.tcp_syncookies=0, flooded with connects: /api/v1/listeners (daemon run inside
          the namespace) shows its owner and exactly the kernel's TcpExtListenOverflows and
          TcpExtTCPReqQFullDrop deltas in that namespace; nothing else is counted against the
          test's own sockets.

usage: test_verdicts.py SYNFIN resets|overflow"""
import json
import re
import subprocess
import sys
import time
import uuid

import kernel_limits
from harness import (Daemon, Failure, Peer, Trace, check, closes_on_port, eventually, kill_all,
                     require_privileges, run_main, run_pair)

LISTEN = {"resets": "127.0.0.1:19751", "overflow": "127.0.0.1:19752"}


def metric(text, name, **labels):
    """The value of one sample, 0 when absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + want + '}') if want else ''} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def require_kernel_features(daemon):
    """What this kernel cannot report is the documented list (kernel_limits.py); returns it.
    (The live view of other namespaces is not what these scenarios look at.)"""
    lines = daemon.get("/healthz")["cannot_report"]
    keys = set(kernel_limits.keys_of(lines)) - {"storage_iterator"}
    want = kernel_limits.expected_missing()
    check(keys == want, f"cannot_report {lines}, want {sorted(want)}")
    return keys


def scenario_resets(synfin):
    linger, unread, refused = 18811, 18812, 18813
    trace = Trace(synfin)
    try:
        run_pair("linger_abort", linger)
        run_pair("unread_close", unread)
        client = Peer("client", "refused", refused, name="sf-refused")
        client.expect("refused")
        client.wait()
    except Exception:
        trace.proc.kill()
        raise
    events = trace.stop()
    if kernel_limits.missing("reset_reasons"):
        return degraded_resets(synfin, events, linger, unread, refused)
    aborter = [c for c in closes_on_port(events, linger) if c["role"] == "client"]
    check(len(aborter) == 1 and aborter[0]["outcome"] == "reset_sent" and
          aborter[0]["reset_reason"] == "TCP_STATE",
          f"SO_LINGER 0 close: {aborter}")
    closer = [c for c in closes_on_port(events, unread) if c["role"] == "server"]
    check(len(closer) == 1 and closer[0]["outcome"] == "reset_sent" and
          closer[0]["reset_reason"] == "TCP_ABORT_ON_CLOSE",
          f"close with unread data: {closer}")
    refusal = [c for c in closes_on_port(events, refused) if c["role"] == "client"]
    check(len(refusal) == 1 and refusal[0]["outcome"] == "refused" and
          refusal[0]["reset_reason"] == "NO_SOCKET" and refusal[0]["sport"] != 0,
          f"refused connect: {refusal}")
    print(f"trace: TCP_STATE, TCP_ABORT_ON_CLOSE, NO_SOCKET (client port {refusal[0]['sport']})")

    # The daemon counts resets sent with no socket per named port, exactly.
    daemon = Daemon(synfin, LISTEN["resets"], "--metrics-port", str(refused))
    try:
        require_kernel_features(daemon)
        before = daemon.get_text("/metrics")
        n = 3
        for _ in range(n):
            client = Peer("client", "refused", refused, name="sf-refused")
            client.expect("refused")
            client.wait()
        port_resets = lambda: metric(daemon.get_text("/metrics"),
                                     "synfin_tcp_port_no_socket_resets_total", port=refused)
        counted = eventually(port_resets, lambda v: v >= n)
        # Each refused client's close comes after the reset that refused it: once all n are
        # listed, every reset the test caused has been applied, and no other can come.
        clients = lambda: [c for c in daemon.get(f"/api/v1/closed?port={refused}")["closed"]
                           if c["role"] == "client"]
        eventually(clients, lambda rows: len(rows) >= n)
        after = daemon.get_text("/metrics")
        check(counted == n and port_resets() == n,
              f"{port_resets()} resets without a socket counted on port {refused}, want {n}")
        grew = (metric(after, "synfin_tcp_resets_total", direction="sent", reason="NO_SOCKET") -
                metric(before, "synfin_tcp_resets_total", direction="sent", reason="NO_SOCKET"))
        check(grew >= n, f"synfin_tcp_resets_total{{reason=NO_SOCKET}} grew by {grew}, want >= {n}")
        closed = clients()
        check(len(closed) == n and all(c["reset_reason"] == "NO_SOCKET" for c in closed),
              f"refused clients in /api/v1/closed: {[c['reset_reason'] for c in closed]}")
        print(f"daemon: {n} resets without a socket on port {refused}, each client names NO_SOCKET")
    finally:
        rc = daemon.stop()
    check(rc == 0, f"daemon exited {rc}")


def degraded_resets(synfin, events, linger, unread, refused):
    """A kernel whose tcp_send_reset has no reason (before 6.10): every close is judged as
    usual with reset_reason null, and the daemon counts the resets it sends with reason
    UNKNOWN, as docs/guide.md says."""
    sides = {(linger, "client"): "reset_sent", (unread, "server"): "reset_sent",
             (refused, "client"): "refused"}
    for (port, role), outcome in sides.items():
        closes = [c for c in closes_on_port(events, port) if c["role"] == role]
        check(len(closes) == 1 and closes[0]["outcome"] == outcome and
              closes[0]["reset_reason"] is None, f"port {port} {role}: {closes}")
    print("trace: no reset reasons on this kernel; reset_sent, reset_sent, refused, reasons null")
    # Scoped to the test's port: the host's own resets count in none of the figures.
    daemon = Daemon(synfin, LISTEN["resets"], "--port", str(linger))
    try:
        check("reset_reasons" in require_kernel_features(daemon), "reset reasons reported")
        unknown = lambda: metric(daemon.get_text("/metrics"), "synfin_tcp_resets_total",
                                 direction="sent", reason="UNKNOWN")
        before, n = unknown(), 3
        for _ in range(n):
            run_pair("linger_abort", linger)
        counted = eventually(unknown, lambda v: v - before >= n)
        check(counted - before == n, f"{counted - before} resets sent counted as UNKNOWN, want {n}")
        print(f"daemon: {n} SO_LINGER 0 resets counted with reason UNKNOWN")
    finally:
        rc = daemon.stop()
    check(rc == 0, f"daemon exited {rc}")


class NetnsDaemon(Daemon):
    """The daemon inside a network namespace: its socket-table walk sees that namespace; its
    HTTP port is reachable only from inside, so requests go through `ip netns exec`."""

    def __init__(self, netns, synfin, listen, *args):
        self.netns = netns
        super().__init__(synfin, listen, *args, wrap=("ip", "netns", "exec", netns))

    def get_text(self, path):
        fetch = ("import sys, urllib.request; "
                 "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())")
        r = subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-c", fetch,
                            f"http://{self.listen}{path}"], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise OSError(r.stderr.strip()[-300:])
        return r.stdout


def netns_counters(netns):
    """The kernel's own counters in the namespace (absolute values)."""
    out = subprocess.run(["ip", "netns", "exec", netns, "nstat", "-az", "TcpExtListenOverflows",
                          "TcpExtTCPReqQFullDrop", "TcpExtListenDrops"],
                         check=True, capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith("TcpExt"):
            values[fields[0]] = int(fields[1])
    return values


def scenario_overflow(synfin):
    port, clients = 18821, 50
    netns = f"sfov{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    daemon = server = flooder = None
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        # Without syncookies a full queue refuses SYNs instead of answering with cookies.
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw",
                        "net.ipv4.tcp_syncookies=0"], check=True)
        daemon = NetnsDaemon(netns, synfin, LISTEN["overflow"], "--metrics-port", str(port))
        degraded = "listen_refusals" in require_kernel_features(daemon)
        server = Peer("server", "never_accept", port, name="sf-overflow", netns=netns)
        server.expect("ready")
        before = netns_counters(netns)
        flooder = Peer("client", "flood", port, count=clients, name="sf-flooder", netns=netns)
        flooder.expect("connected")
        time.sleep(3.5)  # SYN retransmissions at 1 s and 3 s overflow again
        flooder.tell("close")  # no more SYNs: both counts are final
        flooder.expect("ok")
        flooder.wait()

        def kernel_and_daemon():
            after = netns_counters(netns)
            overflows = after["TcpExtListenOverflows"] - before["TcpExtListenOverflows"]
            syn_queue = after["TcpExtTCPReqQFullDrop"] - before["TcpExtTCPReqQFullDrop"]
            return overflows, syn_queue, daemon.get(f"/api/v1/listeners?port={port}")["listeners"]

        def agree(figures):  # the daemon's counts, read after the kernel's, caught up with them
            overflows, syn_queue, rows = figures
            return len(rows) == 1 and (degraded or (rows[0]["overflows"] == overflows and
                                                    rows[0]["syn_queue_drops"] == syn_queue))
        overflows, syn_queue, rows = eventually(kernel_and_daemon, agree)
        check(overflows >= clients, f"the kernel counted only {overflows} overflows")
        check(len(rows) == 1, f"{len(rows)} listeners on port {port}: {rows}")
        row = rows[0]
        check(row["pid"] == server.pid and row["comm"] == "sf-overflow",
              f"owner {row['pid']} {row['comm']}, want {server.pid} sf-overflow")
        check(row["accept_queue_limit"] == 0 and row["accept_queue"] >= 1,
              f"accept queue {row['accept_queue']}/{row['accept_queue_limit']}")
        if degraded:
            # Listed with owner and queue; its refusals are what this kernel cannot report.
            check(row["overflows"] == 0 and row["syn_queue_drops"] == 0,
                  f"refusals counted on a kernel that cannot report them: {row}")
            print(f"overflow: listener listed with owner {row['comm']} pid {row['pid']} and "
                  f"its queue; {overflows} overflows (TcpExtListenOverflows) not per listener "
                  f"on this kernel")
        else:
            check_refusal_counts(synfin, daemon, netns, port, row, overflows, syn_queue)
        server.tell("close")
        server.expect("ok")
    finally:
        kill_all(flooder, server)
        rc = daemon.stop() if daemon else 0
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
    check(rc == 0, f"daemon exited {rc}")


def check_refusal_counts(synfin, daemon, netns, port, row, overflows, syn_queue):
    check(row["overflows"] == overflows,
          f"/api/v1/listeners: {row['overflows']} overflows, the kernel's "
          f"TcpExtListenOverflows grew by {overflows}")
    check(row["syn_queue_drops"] == syn_queue,
          f"{row['syn_queue_drops']} SYN-queue drops, TcpExtTCPReqQFullDrop grew by {syn_queue}")
    # Nothing but what the test provoked is counted against its own sockets.
    check(row["other_drops"] == 0 and row["resets_sent"] == 0,
          f"unprovoked counts on the listener: {row}")
    closed = daemon.get(f"/api/v1/closed?port={port}&limit=10000")["closed"]
    with_drops = [c for c in closed if c["drops"]]
    check(not with_drops, f"drops counted on the flood's connections: {with_drops[:2]}")

    text = daemon.get_text("/metrics")
    per_port = metric(text, "synfin_tcp_port_listen_drops_total", port=port, cause="overflow")
    check(per_port == overflows, f"per-port metric {per_port}, want {overflows}")
    check(metric(text, "synfin_tcp_listen_drops_total", cause="overflow") >= overflows,
          "the total is below this listener's count")
    table = subprocess.run(["ip", "netns", "exec", netns, synfin, "listeners", "--daemon",
                            LISTEN["overflow"], "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    lines = [l for l in table.stdout.splitlines() if f":{port} " in l]
    check(table.returncode == 0 and len(lines) == 1 and "sf-overflow" in lines[0] and
          str(overflows) in lines[0].split(), f"synfin listeners printed {table.stdout!r}")
    print(table.stdout.rstrip())
    print(f"overflow: {overflows} overflows = TcpExtListenOverflows, {syn_queue} SYN-queue drops"
          f" = TcpExtTCPReqQFullDrop, owner {row['comm']} pid {row['pid']}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, scenario = sys.argv[1], sys.argv[2]
    run_main(lambda: {"resets": scenario_resets, "overflow": scenario_overflow}[scenario](synfin))


if __name__ == "__main__":
    main()
