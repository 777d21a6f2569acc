#!/usr/bin/env python3
"""What listing stuck sockets costs when they live in many network namespaces: N namespaces
(sfown-bench-*), each with a process holding one CLOSE_WAIT socket on PORT, against the same N
sockets in the daemon's own namespace. Each /api/v1/stuck answer then reads, for the other
namespaces, one /proc/PID/net/tcp{,6} table per namespace; with --enter-namespaces it opens the
socket-table iterator inside each instead. Also printed: how long the reconciliation's walk of
every namespace's table took (/healthz). Run as root after a build:
    sudo bench/namespaces_stuck.py [N] [SYNFIN [DAEMON FLAGS...]]
e.g. `... 100 build/synfin --enter-namespaces` for the walk that enters each namespace.
Prints the median and spread of 9 answers each way; it asserts nothing. Everything it made is
removed on exit."""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
SYNFIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..",
                                                            "build", "synfin")
LISTEN, PORT = "127.0.0.1:19798", 18798

# One process per namespace: a listener, a client that sends a byte and closes, the accepted
# end kept open (CLOSE_WAIT) until stdin closes.
HOLDER = """
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", %d)); l.listen()
c = socket.create_connection(("127.0.0.1", %d)); s, _ = l.accept(); c.send(b"x"); c.close()
print("ready", flush=True); sys.stdin.read()
""" % (PORT, PORT)


def get(path):
    with urllib.request.urlopen(f"http://{LISTEN}{path}", timeout=60) as r:
        return r.read()


def timed(path, rounds=9):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        body = get(path)
        times.append((time.perf_counter() - start) * 1000)
    return body, times


def holders(netns_names):
    procs = []
    for ns in netns_names:
        cmd = ["python3", "-c", HOLDER]
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True))
    for p in procs:
        p.stdout.readline()
    return procs


def main():
    namespaces, procs, daemon = [], [], None
    try:
        daemon = subprocess.Popen([SYNFIN, "daemon", "--listen", LISTEN, "--stuck-threshold",
                                   "CLOSE_WAIT=1", *sys.argv[3:]], stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                get("/healthz")
                break
            except OSError:
                time.sleep(0.2)
        for i in range(N):
            ns = f"sfown-bench-{os.getpid()}-{i}"
            subprocess.run(["ip", "netns", "add", ns], check=True)
            namespaces.append(ns)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        procs = holders(namespaces)
        time.sleep(12)  # a reconciliation walks them all (every 10 s)
        walked = json.loads(get("/healthz"))["namespaces"]
        print(f"{N} namespaces: the walk of every table took {walked['walk_seconds'] * 1e3:.0f} ms "
              f"({walked['entered']} entered, {walked['proc_tables']} from /proc)")
        body, many = timed(f"/api/v1/stuck?port={PORT}")
        rows = json.loads(body)["stuck"]
        with_queues = sum(r["recv_queue_bytes"] is not None for r in rows)
        print(f"{N} namespaces, one stuck socket each: {len(rows)} rows, {with_queues} with "
              f"queues; /api/v1/stuck median {statistics.median(many):.1f} ms "
              f"(min {min(many):.1f}, max {max(many):.1f})")
        for p in procs:
            p.stdin.close()
            p.wait()
        procs = []
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns])
        namespaces = []
        # The same count in the daemon's own namespace: one port each, the walk lists them.
        for i in range(N):
            code = HOLDER.replace(str(PORT), str(PORT - 1 - i))
            procs.append(subprocess.Popen(["python3", "-c", code], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True))
        for p in procs:
            p.stdout.readline()
        time.sleep(2)
        body, own = timed("/api/v1/stuck")
        rows = [r for r in json.loads(body)["stuck"] if PORT - N <= r["sport"] < PORT]
        print(f"{N} sockets in the daemon's namespace: {len(rows)} rows; /api/v1/stuck median "
              f"{statistics.median(own):.1f} ms (min {min(own):.1f}, max {max(own):.1f})")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if daemon:
            daemon.terminate()
            daemon.wait(15)


if __name__ == "__main__":
    main()
