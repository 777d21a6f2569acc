#!/usr/bin/env python3
"""Privileged: who owns a stuck socket on a server. Hand-made cgroups shaped exactly like a
systemd service (cgroup v2, and v1's name=systemd tree alone), a Docker container (systemd and
cgroupfs drivers) and a Kubernetes pod's container (systemd driver, containerd; cgroupfs driver),
each holding a server in its own network namespace with stuck CLOSE_WAIT sockets:
/api/v1/stuck names the unit / container / pod UID / netns of each, `?unit=`, `?pod=` and
`?netns=` select exactly them, and `synfin stuck` shows them. Two processes listening on one
port with SO_REUSEPORT: each socket, before anyone accepts it, is owned by the process whose
listener took it.

The cgroup trees are mounted by the test in a private directory (cgroup2, and the v1
name=systemd hierarchy when the host has one) and built under one sfown-<tag> directory,
removed with the namespaces on every path.

usage: test_owners.py SYNFIN identity|every_namespace|metrics_by_unit|walk_removes_lost|
       trace_close_lines|reuseport"""
import json
import os
import re
import signal
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from harness import (Daemon, Peer, Trace, check, eventually, kill_all, port_without_sockets,
                     require_privileges, run_main, ss_count)

LISTEN = "127.0.0.1:19741"
# Scenarios that could run beside the others (their own daemon's address).
LISTEN_BY_UNIT = "127.0.0.1:19742"
LISTEN_LOST = "127.0.0.1:19743"
LISTEN_REUSEPORT = "127.0.0.1:19744"

# A server of an SO_REUSEPORT group, named by argv[3]. It accepts nothing until told on stdin:
# until then its children have no file, so no process holds them and only the kernel side can
# name their owner. Then it accepts all that wait, writes each one's remote port to argv[2] and
# holds them without reading or closing them.
REUSEPORT_SERVER = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[3].encode(), 0, 0, 0)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen(128)
print("ready", flush=True)
sys.stdin.readline()
listener.setblocking(False)
held = []
with open(sys.argv[2], "w") as log:
    while True:
        try:
            conn, peer = listener.accept()
        except BlockingIOError:
            break
        held.append(conn)
        log.write(f"{peer[1]}\n")
print("accepted", flush=True)
sys.stdin.readline()
"""


def container_id():
    return secrets.token_hex(32)


class Cgroups:
    """cgroup2 (and, where the host has it, v1 name=systemd) mounted in a private directory;
    every directory made below sfown-<tag> is removed at exit, leaves first."""

    def __init__(self, tag):
        self.tag = tag
        self.root = tempfile.mkdtemp(prefix="sfown-cgroup-")
        self.v2 = os.path.join(self.root, "v2")
        self.v1 = os.path.join(self.root, "systemd")
        self.made = []
        self.mounted = []
        self.has_v1 = False

    def __enter__(self):
        try:
            os.mkdir(self.v2)
            subprocess.run(["mount", "-t", "cgroup2", "none", self.v2], check=True,
                           capture_output=True)
            self.mounted.append(self.v2)
            os.mkdir(self.v1)
            # The v1 hierarchy named systemd exists only on hybrid and legacy hosts.
            if subprocess.run(["mount", "-t", "cgroup", "-o", "none,name=systemd", "none",
                               self.v1], capture_output=True).returncode == 0:
                self.mounted.append(self.v1)
                self.has_v1 = True
        except Exception:
            self.__exit__()
            raise
        return self

    def make(self, mount, path):
        """Creates sfown-<tag>/path (relative) under `mount`; returns the path the kernel
        reports in /proc/PID/cgroup."""
        full = f"/sfown-{self.tag}/{path}"
        current = mount
        for part in full.strip("/").split("/"):
            current = os.path.join(current, part)
            if not os.path.isdir(current):
                os.mkdir(current)
                self.made.append(current)
        return full

    def move(self, mount, path, pid):
        with open(os.path.join(mount, path.lstrip("/"), "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def __exit__(self, *exc):
        # Processes are gone by now (killed first); a cgroup is removed leaves first.
        for path in reversed(self.made):
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)  # its last process is still exiting
        for mount in reversed(self.mounted):
            subprocess.run(["umount", mount], capture_output=True)
        for d in (self.v1, self.v2, self.root):
            try:
                os.rmdir(d)
            except OSError:
                pass
        return False


def host_netns():
    """init's namespace, as the daemon takes it; its own where init's cannot be read (a
    sandbox whose pid 1 is not ours to inspect)."""
    try:
        return os.stat("/proc/1/ns/net").st_ino
    except PermissionError:
        return os.stat("/proc/self/ns/net").st_ino


def netns_inode(name):
    return os.stat(f"/var/run/netns/{name}").st_ino


def add_loopback_namespace(name):
    """`ip netns add` NAME with its loopback up; its inode. The caller deletes it."""
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    return netns_inode(name)


def scenario_identity(synfin):
    port = port_without_sockets(range(18741, 18761))
    check(port is not None, "no free port in 18741-18760")
    n = 3  # stuck sockets per owner
    tag = uuid.uuid4().hex[:6]
    pod_a, pod_b = str(uuid.uuid4()), str(uuid.uuid4())
    docker_sd, docker_fs, cri_sd, cri_fs = (container_id() for _ in range(4))
    uid_sd = pod_a.replace("-", "_")
    # (name, hierarchy, cgroup path below sfown-<tag>, what the row must say)
    cases = [
        ("service-v2", "v2", f"system.slice/sfown-web-{tag}.service",
         {"unit": f"sfown-web-{tag}.service", "container_id": None, "container_runtime": None,
          "pod_uid": None, "pod_qos": None}),
        ("docker-systemd", "v2", f"system.slice/docker-{docker_sd}.scope",
         {"unit": f"docker-{docker_sd}.scope", "container_id": docker_sd,
          "container_runtime": "docker", "pod_uid": None, "pod_qos": None}),
        ("docker-cgroupfs", "v2", f"docker/{docker_fs}",
         {"unit": None, "container_id": docker_fs, "container_runtime": "docker",
          "pod_uid": None, "pod_qos": None}),
        ("pod-systemd", "v2",
         f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_sd}.slice/"
         f"cri-containerd-{cri_sd}.scope",
         {"unit": f"cri-containerd-{cri_sd}.scope", "container_id": cri_sd,
          "container_runtime": "containerd", "pod_uid": pod_a, "pod_qos": "burstable"}),
        ("pod-cgroupfs", "v2", f"kubepods/besteffort/pod{pod_b}/{cri_fs}",
         {"unit": None, "container_id": cri_fs, "container_runtime": "cri", "pod_uid": pod_b,
          "pod_qos": "besteffort"}),
    ]
    namespaces, peers = [], []
    daemon = None
    with Cgroups(tag) as cg:
        if cg.has_v1:
            # v1 only: the process stays at the v2 root (0::/), as on a hybrid host whose
            # systemd keeps its tree in name=systemd.
            cases.append(("service-v1", "v1", f"system.slice/sfown-api-{tag}.service",
                          {"unit": f"sfown-api-{tag}.service", "container_id": None,
                           "container_runtime": None, "pod_uid": None, "pod_qos": None}))
        try:
            daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=1")
            owners = {}
            for name, hierarchy, path, want in cases:
                ns = f"sfown-{tag}-{name}"
                subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
                namespaces.append(ns)
                subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
                mount = cg.v2 if hierarchy == "v2" else cg.v1
                full = cg.make(mount, path)
                server = Peer("server", "hold", port, count=n, name="sf-owned", netns=ns)
                peers.append(server)
                server.expect("ready")
                cg.move(mount, full, server.pid)
                client = Peer("client", "client_first", port, count=n, name="sf-ownclient",
                              netns=ns)
                peers.append(client)
                client.expect("done")
                server.expect("accepted")
                owners[name] = (server.pid, ns, netns_inode(ns), full, want)
                with open(f"/proc/{server.pid}/cgroup") as f:
                    print(f"{name}: {f.read().strip().splitlines()[-1]} | {full}")

            total = n * len(cases)
            rows = eventually(lambda: daemon.get(f"/api/v1/stuck?port={port}")["stuck"],
                              lambda rows: len(rows) >= total)
            check(len(rows) == total, f"{len(rows)} stuck rows on port {port}, want {total}")
            host = host_netns()
            for name, (pid, ns, inode, full, want) in owners.items():
                mine = [r for r in rows if r["pid"] == pid]
                check(len(mine) == n, f"{name}: {len(mine)} rows owned by {pid}, want {n}")
                for r in mine:
                    check(r["netns"] == inode and r["netns_is_host"] is False,
                          f"{name}: netns {r['netns']} (host {r['netns_is_host']}), want {inode}")
                    check(r["cgroup_path"] == full,
                          f"{name}: cgroup_path {r['cgroup_path']!r}, want {full!r}")
                    for key, value in want.items():
                        check(r[key] == value, f"{name}: {key} {r[key]!r}, want {value!r}")
                # The kernel's side, as ss inside that namespace sees it: queues and inode.
                ss = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanHe", "state",
                                     "close-wait", f"sport = :{port}"],
                                    capture_output=True, text=True).stdout
                kernel = {}
                for line in ss.splitlines():
                    f = line.split()
                    ino = next(int(t[4:]) for t in f if t.startswith("ino:"))
                    kernel[int(f[3].rsplit(":", 1)[1])] = (int(f[0]), int(f[1]), ino)
                ours = {r["dport"]: (r["recv_queue_bytes"], r["send_queue_bytes"], r["inode"])
                        for r in mine}
                check(ours == kernel, f"{name}: queues/inodes {ours} differ from ss in {ns}: {kernel}")
                # /proc's table counts no bytes sent: whether the owner still sends is not known.
                check(all(r["activity"] == "unknown" for r in mine), f"{name}: activity known?")
                # Each filter selects exactly this owner's sockets.
                by_netns = daemon.get(f"/api/v1/stuck?port={port}&netns={inode}")["stuck"]
                check(sorted(r["pid"] for r in by_netns) == [pid] * n,
                      f"{name}: ?netns={inode} gave {[r['pid'] for r in by_netns]}")
                if want["unit"]:
                    by_unit = daemon.get(f"/api/v1/stuck?unit={want['unit']}")["stuck"]
                    check(sorted(r["pid"] for r in by_unit) == [pid] * n,
                          f"{name}: ?unit= gave {[r['pid'] for r in by_unit]}")
                if want["pod_uid"]:
                    by_pod = daemon.get(f"/api/v1/stuck?pod={want['pod_uid']}")["stuck"]
                    check(sorted(r["pid"] for r in by_pod) == [pid] * n,
                          f"{name}: ?pod= gave {[r['pid'] for r in by_pod]}")
                    # systemd's spelling of the UID selects the same pod.
                    by_sd = daemon.get(
                        f"/api/v1/stuck?pod={want['pod_uid'].replace('-', '_')}")["stuck"]
                    check(len(by_sd) == n, f"{name}: ?pod= in systemd's spelling gave {len(by_sd)}")
                live = daemon.get(f"/api/v1/connections?state=CLOSE_WAIT&netns={inode}")
                check(len(live["connections"]) == n and all(
                    r["pid"] == pid and r["netns"] == inode for r in live["connections"]),
                      f"{name}: /connections?netns= gave {live['connections'][:1]}")
            unit = owners["service-v2"][4]["unit"]
            check(daemon.get("/api/v1/stuck?unit=" + unit[:-len(".service")])["count"] == n,
                  "?unit= without .service does not select the service")
            check(daemon.get(f"/api/v1/stuck?pod={uuid.uuid4()}")["count"] == 0,
                  "an unknown pod selects something")
            bad = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  f"http://{LISTEN}/api/v1/stuck?netns=abc"],
                                 capture_output=True, text=True)
            check(bad.stdout == "400", f"?netns=abc answered {bad.stdout}")
            # The daemon's own sockets are in the host's namespace.
            own = daemon.get("/api/v1/listeners")["listeners"]
            check(any(r["netns"] == host and r["netns_is_host"] for r in own),
                  "no listener in the host's namespace marked so")

            # The CLI: NETNS and OWNER columns, and the same filters.
            table = subprocess.run([synfin, "stuck", "--daemon", LISTEN, "--port", str(port)],
                                   capture_output=True, text=True, timeout=30)
            check(table.returncode == 0, f"synfin stuck: {table.stderr}")
            lines = [l for l in table.stdout.splitlines() if l.startswith("CLOSE_WAIT")]
            check(len(lines) == total, f"synfin stuck printed {len(lines)} rows, want {total}")
            pod_lines = [l for l in lines if f"pod {pod_a} {cri_sd[:12]}" in l]
            check(len(pod_lines) == n and all(str(owners["pod-systemd"][2]) in l
                                              for l in pod_lines),
                  f"pod rows in the table: {pod_lines}")
            filtered = subprocess.run([synfin, "stuck", "--daemon", LISTEN, "--pod", pod_b],
                                      capture_output=True, text=True, timeout=30)
            check(sum(l.startswith("CLOSE_WAIT") for l in filtered.stdout.splitlines()) == n,
                  f"synfin stuck --pod: {filtered.stdout}")
            print(table.stdout.splitlines()[0])
            print("\n".join(pod_lines[:1] + [l for l in lines if "docker" in l][:1]))
            print(json.dumps(daemon.get(f"/api/v1/stuck?pod={pod_a}&limit=1")["stuck"][0],
                             indent=4))
            print(f"identity: {len(cases)} owners x {n} CLOSE_WAIT, each named and filtered")
        finally:
            kill_all(*peers)
            if daemon:
                daemon.stop()
            for ns in namespaces:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def ss_close_wait(ns, port):
    """{remote port: (recv queue, send queue, inode)} of CLOSE_WAIT sockets on port, as ss run
    inside that namespace sees them."""
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanHe", "state", "close-wait",
                          f"sport = :{port}"], capture_output=True, text=True).stdout
    kernel = {}
    for line in out.splitlines():
        f = line.split()
        ino = next(int(t[4:]) for t in f if t.startswith("ino:"))
        kernel[int(f[3].rsplit(":", 1)[1])] = (int(f[0]), int(f[1]), ino)
    return kernel


def scenario_every_namespace(synfin):
    """Another namespace's sockets walked like the daemon's own, both ways: entered with the
    iterator (--enter-namespaces: queues, inode and activity) and through its /proc table
    (queues and inode). Sockets that existed before the daemon are found by the entered walk;
    live ones survive every walk of their namespace; killed, they leave /connections and
    /stuck."""
    port = port_without_sockets(range(18761, 18781))
    check(port is not None, "no free port in 18761-18780")
    n = 3
    ns = f"sfown-{uuid.uuid4().hex[:6]}-walk"
    peers, daemon = [], None
    try:
        inode = add_loopback_namespace(ns)
        for enter in (True, False):
            # Held before the daemon starts: only a walk of that namespace can list them.
            early = Peer("server", "hold", port, count=n, name="sf-nsearly", netns=ns)
            peers.append(early)
            early.expect("ready")
            early_client = Peer("client", "client_first", port, count=n, netns=ns)
            peers.append(early_client)
            early_client.expect("done")
            early.expect("accepted")
            args = ["--stuck-threshold", "CLOSE_WAIT=1", "--reconcile-interval", "1"]
            daemon = Daemon(synfin, LISTEN, *args, *(["--enter-namespaces"] if enter else []))
            late = Peer("server", "hold", port + 1, count=n, name="sf-nslate", netns=ns)
            peers.append(late)
            late.expect("ready")
            late_client = Peer("client", "client_first", port + 1, count=n, netns=ns)
            peers.append(late_client)
            late_client.expect("done")
            late.expect("accepted")
            health = eventually(lambda: daemon.get("/healthz")["namespaces"],
                                lambda h: (h["entered"] if enter else h["proc_tables"]) >= 1)
            print(f"enter={enter}: /healthz namespaces {health}")
            check((health["entered"] >= 1) == enter and health["enter_error"] is None,
                  f"enter={enter}: namespaces {health}")
            check(enter or health["proc_tables"] >= 1, f"no /proc table walked: {health}")

            def stuck_on(p):
                return [r for r in daemon.get(f"/api/v1/stuck?port={p}&netns={inode}")["stuck"]
                        if r["sport"] == p]
            # Followed from their first step: stuck, with the kernel's side as ss says.
            rows = eventually(lambda: stuck_on(port + 1), lambda rows: len(rows) >= n)
            check(len(rows) == n and all(r["pid"] == late.pid for r in rows),
                  f"enter={enter}: {len(rows)} stuck rows of {late.pid}")
            ours = {r["dport"]: (r["recv_queue_bytes"], r["send_queue_bytes"], r["inode"])
                    for r in rows}
            kernel = ss_close_wait(ns, port + 1)
            check(ours == kernel, f"enter={enter}: {ours} differ from ss in {ns}: {kernel}")
            # Entered, the iterator counts bytes sent: an owner that never writes is idle.
            want_activity = "idle" if enter else "unknown"
            check(all(r["activity"] == want_activity for r in rows),
                  f"enter={enter}: activity {[r['activity'] for r in rows]}, want {want_activity}")
            # Several walks of the namespace later, its live sockets are all still there.
            walks = daemon.get("/api/v1/timewait")["drift"]["reconciliations"]
            eventually(lambda: daemon.get("/api/v1/timewait")["drift"]["reconciliations"],
                       lambda count: count >= walks + 3, timeout=15)
            check(len(stuck_on(port + 1)) == n, f"enter={enter}: a walk lost live sockets")
            live = daemon.get(f"/api/v1/connections?state=CLOSE_WAIT&netns={inode}")
            found = [r for r in live["connections"] if r["sport"] == port]
            # Sockets from before the start: only the entered walk, with cookies, adopts them.
            check(len(found) == (n if enter else 0),
                  f"enter={enter}: {len(found)} sockets from before the start listed")
            if enter:
                check(ss_close_wait(ns, port).keys() == {r["dport"] for r in found},
                      "found sockets differ from ss")
            # Killed: its sockets leave every view.
            late.kill()
            early.kill()
            gone = eventually(
                lambda: daemon.get(f"/api/v1/connections?netns={inode}")["connections"],
                lambda rows: not [r for r in rows if r["sport"] in (port, port + 1) and
                                  r["state"] == "CLOSE_WAIT"], timeout=15)
            check(not [r for r in gone if r["sport"] in (port, port + 1) and
                       r["state"] == "CLOSE_WAIT"], f"enter={enter}: killed sockets still listed")
            check(not stuck_on(port) and not stuck_on(port + 1),
                  f"enter={enter}: killed sockets still stuck")
            kill_all(*peers)
            peers.clear()
            check(daemon.stop() == 0, "daemon exit code")
            daemon = None
            port = port_without_sockets(range(port + 2, 18781))
            check(port is not None, "no free port left in 18761-18780")
        print("every_namespace: entered and /proc-table walks agree with ss")
    finally:
        kill_all(*peers)
        if daemon:
            daemon.stop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def processes_in(inode):
    """The pids of the processes whose network namespace is `inode`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                    pids.append(int(entry))
            except OSError:
                pass  # exited meanwhile, or a kernel thread's unreadable link
    return pids


def scenario_bound_namespace(synfin):
    """A namespace no process is in, kept by its bind mount (`ip netns add`; CNI does the same),
    still holds sockets: TIME_WAIT ones whose owners exited. An entering daemon started after
    that finds them there (its walk opens the namespace through /run/netns) and lists them as
    ss inside it does; one that may not enter says the namespace was not walked."""
    port = port_without_sockets(range(18921, 18931))
    check(port is not None, "no free port in 18921-18930")
    n = 4
    ns = f"sfown-{uuid.uuid4().hex[:6]}-bound"
    peers, daemon = [], None
    try:
        inode = add_loopback_namespace(ns)
        # The client closes first: each of its n sockets is left in TIME_WAIT, owned by nobody.
        server = Peer("server", "client_first", port, count=n, name="sf-boundsrv", netns=ns)
        peers.append(server)
        server.expect("ready")
        client = Peer("client", "client_first", port, count=n, name="sf-boundcli", netns=ns)
        peers.append(client)
        client.expect("done")
        client.wait(30)
        server.wait(30)
        peers.clear()

        def kernel_time_wait():
            out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanH", "state",
                                  "time-wait", f"dport = :{port}"],
                                 capture_output=True, text=True).stdout
            return sorted(int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines())
        kernel = eventually(kernel_time_wait, lambda ports: len(ports) == n)
        check(len(kernel) == n, f"ss in {ns} lists {kernel} in TIME_WAIT, want {n}")
        left = eventually(lambda: processes_in(inode), lambda pids: not pids)
        check(not left, f"processes still in {ns}: {left}")

        def listed():
            rows = daemon.get(f"/api/v1/connections?state=TIME_WAIT&netns={inode}&port={port}")
            return sorted(r["sport"] for r in rows["connections"] if r["dport"] == port)
        for enter in (True, False):
            daemon = Daemon(synfin, LISTEN, "--reconcile-interval", "1",
                            *(["--enter-namespaces"] if enter else []))
            health = eventually(lambda: daemon.get("/healthz")["namespaces"],
                                lambda h: h["entered"] >= 1 if enter else h["not_walked"] >= 1)
            print(f"enter={enter}: /healthz namespaces {health}")
            ours = eventually(listed, lambda ports: ports == kernel) if enter else listed()
            kernel = kernel_time_wait()  # none expires within the test: 60 s
            if enter:
                check(health["entered"] >= 1 and health["enter_error"] is None,
                      f"the bound namespace was not entered: {health}")
                check(ours == kernel, f"TIME_WAIT listed in {ns}: {ours}, ss there: {kernel}")
                # Walked again and again: the mounted namespace stays covered, its sockets kept.
                walks = daemon.get("/api/v1/timewait")["drift"]["reconciliations"]
                eventually(lambda: daemon.get("/api/v1/timewait")["drift"]["reconciliations"],
                           lambda count: count >= walks + 2, timeout=15)
                check(listed() == kernel_time_wait(), "a later walk lost the bound namespace's "
                      f"TIME_WAIT sockets: {listed()}")
            else:
                check(health["not_walked"] >= 1, f"no namespace said not walked: {health}")
                check(not ours, f"listed without a walk of {ns}: {ours}")
            check(daemon.stop() == 0, "daemon exit code")
            daemon = None
        print(f"bound_namespace: {n} TIME_WAIT sockets of a namespace no process is in, "
              "found by entering it through its mount")
    finally:
        kill_all(*peers)
        if daemon:
            daemon.stop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


UNIT_SAMPLE = re.compile(r'^(synfin_tcp_unit_\w+)\{unit="([^"]*)"(?:,state="(\w+)")?\} (\S+)$')


def unit_samples(text):
    """{(family, unit, state or None): value} of the --metrics-by unit families."""
    samples = {}
    for line in text.splitlines():
        m = UNIT_SAMPLE.match(line)
        if m:
            samples[(m.group(1), m.group(2), m.group(3))] = float(m.group(4))
    return samples


def sample(text, name):
    """The value of the one sample `name` (with its labels) in the exposition."""
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + " ")]
    check(len(values) == 1, f"{name}: {len(values)} samples")
    return values[0]


def scenario_metrics_by_unit(synfin):
    """--metrics-by unit on the real kernel: hand-made systemd services (cgroup v2), each a
    server holding stuck CLOSE_WAIT sockets on its own port: two followed from their first step,
    one whose sockets predate the daemon and one in another network namespace (no syscall names
    those owners: their holders are found through /proc by inode, as ss -p does). /metrics
    counts each unit's, the units' series add up to synfin_tcp_stuck_sockets, and the one that
    then closes first keeps its unit on its TIME_WAIT sockets after it has exited."""
    ports = [p for p in range(18781, 18801) if port_without_sockets([p])][:4]
    check(len(ports) == 4, "no four free ports in 18781-18800")
    tag = uuid.uuid4().hex[:6]
    ns = f"sfown-{tag}-unit"
    # key: (unit, stuck sockets, port, network namespace, started before the daemon)
    units = {"a": (f"sfown-a-{tag}.service", 3, ports[0], None, False),
             "b": (f"sfown-b-{tag}.service", 2, ports[1], None, False),
             "c": (f"sfown-c-{tag}.service", 2, ports[2], None, True),
             "d": (f"sfown-d-{tag}.service", 2, ports[3], ns, False)}
    m = 4  # unit a's server also closes first on m connections: TIME_WAIT under its unit
    peers, daemon = [], None
    with Cgroups(tag) as cg:
        try:
            add_loopback_namespace(ns)
            servers = {}

            def start(key):
                unit, n, port, netns, _ = units[key]
                full = cg.make(cg.v2, f"system.slice/{unit}")
                extra = m if key == "a" else 0
                server = Peer("server", "hold", port, count=n + extra, name=f"sf-unit-{key}",
                              netns=netns)
                peers.append(server)
                server.expect("ready")
                cg.move(cg.v2, full, server.pid)
                leaver = Peer("client", "client_first", port, count=n, name="sf-unitclient",
                              netns=netns)
                peers.append(leaver)
                leaver.expect("done")
                if extra:
                    holder = Peer("client", "hold", port, count=extra, name="sf-unitholder")
                    peers.append(holder)
                    holder.expect("connected")
                    servers["holder"] = holder
                server.expect("accepted")
                servers[key] = server
            for key, (_, _, _, _, early) in units.items():
                if early:
                    start(key)
            daemon = Daemon(synfin, LISTEN_BY_UNIT, "--stuck-threshold", "CLOSE_WAIT=1",
                            "--reconcile-interval", "1", "--metrics-by", "unit")
            for key, (_, _, _, _, early) in units.items():
                if not early:
                    start(key)

            def agree(text):
                got = unit_samples(text)
                return all(got.get(("synfin_tcp_unit_stuck_sockets", unit, "CLOSE_WAIT")) == n
                           for unit, n, *_ in units.values())
            text = eventually(lambda: daemon.get_text("/metrics"), agree, timeout=20)
            got = unit_samples(text)
            for unit, n, port, *_ in units.values():
                counted = got.get(("synfin_tcp_unit_stuck_sockets", unit, "CLOSE_WAIT"))
                check(counted == n, f"{unit}: {counted} stuck CLOSE_WAIT, want {n}")
                # Every state with a threshold has its series, at 0 here.
                check(got.get(("synfin_tcp_unit_stuck_sockets", unit, "FIN_WAIT2")) == 0,
                      f"{unit}: no FIN_WAIT2 series at 0")
                # What /api/v1/stuck says of the same unit.
                listed = daemon.get(f"/api/v1/stuck?unit={unit}&port={port}")["count"]
                check(listed == n, f"{unit}: /api/v1/stuck lists {listed}, want {n}")
            # Nothing silent: the units' series (unknown, none and other included) add up to the
            # unlabelled gauge of the same scrape, whatever else runs on this host.
            for state in ("CLOSE_WAIT", "FIN_WAIT2", "LAST_ACK"):
                total = sum(v for (f, _, st), v in got.items()
                            if f == "synfin_tcp_unit_stuck_sockets" and st == state)
                whole = sample(text, f'synfin_tcp_stuck_sockets{{state="{state}"}}')
                check(total == whole, f"{state}: units add up to {total}, the gauge says {whole}")
            for bucket in ("unknown", "none", "other"):
                check(("synfin_tcp_unit_stuck_sockets", bucket, "CLOSE_WAIT") in got,
                      f"no {bucket} bucket")
            folded = sample(text, 'synfin_metrics_units_folded{family="stuck"}')
            print(f"metrics_by_unit: {len(got)} unit series, {folded:g} units folded")
            print("\n".join(l for l in text.splitlines()
                            if "unit_stuck_sockets" in l and "CLOSE_WAIT" in l))
            lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                                  capture_output=True, text=True)
            check(lint.returncode == 0, f"promtool check metrics: {lint.stdout}{lint.stderr}")

            # Unit a's server closes first on the held connections, then exits: their TIME_WAIT
            # sockets count for its unit still (learnt while it ran).
            unit_a = units["a"][0]
            servers["a"].tell("close")
            servers["a"].expect("ok")
            servers["holder"].tell("close")
            servers["holder"].expect("ok")
            servers["a"].wait(timeout=10)
            time_wait = eventually(
                lambda: unit_samples(daemon.get_text("/metrics")).get(
                    ("synfin_tcp_unit_time_wait_sockets", unit_a, None)),
                lambda v: v == m, timeout=20)
            check(time_wait == m, f"{unit_a}: {time_wait} TIME_WAIT sockets, want {m}")
            # The holder's FINs turn the kernel's FIN_WAIT2 mini-sockets into TIME_WAIT ones (ss
            # shows the former as FIN-WAIT-2); on a loaded host they may still be on their way.
            port_a = units["a"][2]
            kernel = eventually(lambda: ss_count("state", "time-wait", f"sport = :{port_a}"),
                                lambda rows: len(rows) == m, timeout=10)
            check(len(kernel) == m, f"ss lists {len(kernel)} TIME_WAIT sockets, want {m}; on "
                  f"port {port_a}: {ss_count(f'( sport = :{port_a} or dport = :{port_a} )')}; "
                  f"{nstat_overflow()}")
            print(f"metrics_by_unit: {unit_a} {m} TIME_WAIT after its owner exited")
        finally:
            kill_all(*peers)
            if daemon:
                daemon.stop()
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def nstat_overflow():
    """The kernel's count of TIME_WAIT sockets it could not make (tcp_max_tw_buckets)."""
    out = subprocess.run(["nstat", "-asz", "TcpExtTCPTimeWaitOverflow"], capture_output=True,
                         text=True).stdout.split()
    return " ".join(out[-3:-1]) if len(out) >= 3 else "nstat: no TcpExtTCPTimeWaitOverflow"


def metric(text, name):
    """The sum of the samples of `name` (with its labels, if given) in the exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name)] in " {,")


def scenario_walk_removes_lost(synfin):
    """Sockets of another network namespace whose end records were lost (a small ring, the
    daemon stopped while floods fill every CPU's ring, the sockets' owner killed meanwhile):
    the walk of their namespace alone, which no longer lists them, takes them out of the views,
    counted as lost (synfin_tcp_tracking_drift_total{direction="lost"}) and closed as
    incomplete at their last known state. Both walks: entered, and the /proc table."""
    n = 3
    ns = f"sfown-{uuid.uuid4().hex[:6]}-lost"
    peers, daemon = [], None
    try:
        inode = add_loopback_namespace(ns)
        # A process that stays in the namespace (a pod's pause container): it is walked after
        # the sockets' owner is gone.
        pause = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "600"])
        for enter in (True, False):
            free = [p for p in range(18801, 18821) if port_without_sockets([p])]
            check(len(free) >= 2, "no two free ports in 18801-18820")
            port, flood_port = free[:2]
            args = ["--stuck-threshold", "CLOSE_WAIT=1", "--reconcile-interval", "1",
                    "--ring-size-mib", "1", "--drain-interval-ms", "5000",
                    "--closes-per-second", "10000000", "--port", str(port), "--port",
                    str(flood_port)]
            daemon = Daemon(synfin, LISTEN_LOST, *args,
                            *(["--enter-namespaces"] if enter else []))
            server = Peer("server", "hold", port, count=n, name="sf-lostowner", netns=ns)
            peers.append(server)
            server.expect("ready")
            client = Peer("client", "client_first", port, count=n, netns=ns)
            peers.append(client)
            client.expect("done")
            server.expect("accepted")

            def stuck():
                return [r for r in daemon.get(f"/api/v1/stuck?port={port}&netns={inode}")["stuck"]
                        if r["sport"] == port]
            rows = eventually(stuck, lambda rows: len(rows) >= n)
            check(len(rows) == n, f"enter={enter}: {len(rows)} stuck rows, want {n}")
            before = daemon.get_text("/metrics")
            lost_before = metric(before, "synfin_events_lost_total")
            drift_before = metric(before, 'synfin_tcp_tracking_drift_total{direction="lost"}')

            daemon.proc.send_signal(signal.SIGSTOP)
            try:
                # Every CPU's ring filled first (a flood pinned to each), then the owner killed:
                # its sockets' last steps find the rings full.
                for cpu in range(os.cpu_count()):
                    flood_server = Peer("server", "client_first", flood_port, count=3000,
                                        name="sf-flood", cpu=cpu)
                    peers.append(flood_server)
                    flood_server.expect("ready")
                    flood_client = Peer("client", "client_first", flood_port, count=3000,
                                        name="sf-flood", cpu=cpu)
                    peers.append(flood_client)
                    flood_client.expect("done", timeout=120)
                    flood_server.wait(timeout=120)
                server.kill()
                gone = eventually(lambda: ss_close_wait(ns, port), lambda k: not k, timeout=10)
                check(not gone, f"enter={enter}: the killed owner's sockets stay: {gone}")
                leftover = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanH",
                                           f"sport = :{port}"], capture_output=True,
                                          text=True).stdout.strip()
                check(not leftover, f"enter={enter}: sockets left on {port}: {leftover}")
            finally:
                daemon.proc.send_signal(signal.SIGCONT)

            def figures():
                text = daemon.get_text("/metrics")
                return (metric(text, "synfin_events_lost_total") - lost_before,
                        metric(text, 'synfin_tcp_tracking_drift_total{direction="lost"}') -
                        drift_before, stuck())
            def gone_from_views():
                live = [r for r in daemon.get(f"/api/v1/connections?netns={inode}")["connections"]
                        if r["sport"] == port]
                return figures(), live
            (lost, drift, rows), live = eventually(
                gone_from_views, lambda g: not g[0][2] and not g[1], timeout=40)
            print(f"enter={enter}: {lost:g} records lost, {drift:g} sockets found gone by the "
                  f"walks, {len(rows)} still stuck")
            check(lost > 0, f"enter={enter}: no record was lost: the test forced no loss")
            check(not rows, f"enter={enter}: {len(rows)} sockets still stuck after the walks")
            check(not live, f"enter={enter}: still listed: {live[:1]}")
            # Each ended as incomplete, none by its destroy record: at its last known state (some
            # of their last steps may have found room in a ring; a socket left in CLOSE by a lost
            # destroy record stayed in the table, in no list, before the walk ended it too).
            closed = [c for c in daemon.get(f"/api/v1/closed?port={port}")["closed"]
                      if c["sport"] == port]
            check(len(closed) == n and all(
                c["verdict"] == "incomplete" and c["reason"] == "events_lost" for c in closed),
                  f"enter={enter}: closes {[(c['verdict'], c['states']) for c in closed]}")
            check(drift >= n, f"enter={enter}: the walks found {drift:g} gone, want {n} or more")
            print(f"enter={enter}: ends " + ", ".join(c["states"][-1] for c in closed))
            kill_all(*peers)
            peers.clear()
            check(daemon.stop() == 0, "daemon exit code")
            daemon = None
        print("walk_removes_lost: sockets whose records were lost leave by the walk alone")
    finally:
        kill_all(*peers)
        if daemon:
            daemon.proc.send_signal(signal.SIGCONT)
            daemon.stop()
        if "pause" in locals():
            pause.kill()
            pause.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def scenario_trace_close_lines(synfin):
    """`synfin trace`'s close lines name the owner's unit, container, pod and namespace: servers
    in hand-made cgroups shaped like a systemd service (host namespace), a Kubernetes pod's
    containerd scope and a cgroupfs Docker container (each in its own network namespace). Each
    server exits right after closing: its identity was learnt while it ran. Trace.stop() checks
    that the replay of the recording names exactly the same."""
    port = port_without_sockets(range(18861, 18881))
    check(port is not None, "no free port in 18861-18880")
    n = 2  # connections per server
    tag = uuid.uuid4().hex[:6]
    pod = str(uuid.uuid4())
    cri, docker = container_id(), container_id()
    # (name, network namespace or None for the host's, cgroup below sfown-<tag>, identity)
    cases = [
        ("service", None, f"system.slice/sftrace-{tag}.service",
         {"unit": f"sftrace-{tag}.service", "container_id": None, "container_runtime": None,
          "pod_uid": None, "pod_qos": None}),
        ("pod", f"sfown-{tag}-tpod",
         # A Guaranteed pod's slice sits right under kubepods.slice.
         f"kubepods.slice/kubepods-pod{pod.replace('-', '_')}.slice/cri-containerd-{cri}.scope",
         {"unit": f"cri-containerd-{cri}.scope", "container_id": cri,
          "container_runtime": "containerd", "pod_uid": pod, "pod_qos": "guaranteed"}),
        ("docker", f"sfown-{tag}-tdocker", f"docker/{docker}",
         {"unit": None, "container_id": docker, "container_runtime": "docker", "pod_uid": None,
          "pod_qos": None}),
    ]
    namespaces, peers, trace = [], [], None
    with Cgroups(tag) as cg:
        try:
            trace = Trace(synfin, "--port", str(port))
            servers = {}
            for name, ns, path, want in cases:
                if ns:
                    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
                    namespaces.append(ns)
                    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
                full = cg.make(cg.v2, path)
                # In its cgroup before its first step (sh execs in place: the same pid).
                into = ("sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
                        os.path.join(cg.v2, full.lstrip("/")))
                server = Peer("server", "hold", port, count=n, name="sf-traced", netns=ns,
                              wrap=into)
                peers.append(server)
                server.expect("ready")
                client = Peer("client", "client_first", port, count=n, name="sf-tracecli",
                              netns=ns)
                peers.append(client)
                client.expect("done")
                server.expect("accepted")
                # The trace has written a line of the server's: it asked /proc then, while the
                # server ran.
                eventually(trace.printed, lambda events: any(
                    e.get("event") == "transition" and e.get("pid") == server.pid
                    for e in events))
                server.tell("close")
                server.expect("ok")
                server.wait(timeout=10)  # gone before its sockets' lines are written
                servers[name] = (server.pid, netns_inode(ns) if ns else host_netns(), full, want)
            for pid, *_ in servers.values():
                eventually(trace.printed, lambda events: sum(
                    1 for e in events if e.get("event") == "close" and e.get("pid") == pid) > n)
            events = trace.stop()
            trace = None
            host = host_netns()
            for name, (pid, inode, full, want) in servers.items():
                # Its accepted sockets and its listener.
                closes = [e for e in events if e.get("event") == "close" and e.get("pid") == pid]
                roles = sorted(e["role"] for e in closes)
                check(roles == ["listener"] + ["server"] * n,
                      f"{name}: close lines of pid {pid}: {roles}, want a listener and {n} server")
                for e in closes:
                    check(e["sport"] == port, f"{name}: a close line of {pid} not on {port}: {e}")
                    check(e["netns"] == inode and e["netns_is_host"] == (inode == host),
                          f"{name}: netns {e['netns']} (host {e['netns_is_host']}), want {inode}")
                    check(e["cgroup_path"] == full,
                          f"{name}: cgroup_path {e['cgroup_path']!r}, want {full!r}")
                    for key, value in want.items():
                        check(e[key] == value, f"{name}: {key} {e[key]!r}, want {value!r}")
                print(f"trace_close_lines: {name}: {n} close lines name "
                      f"{want['unit'] or want['container_id'][:12]} in netns {inode}")
        finally:
            if trace:
                trace.proc.kill()
                trace.proc.wait()
            kill_all(*peers)
            for ns in namespaces:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def scenario_reuseport(synfin):
    """A child takes the owner of the listener that made it, which the kernel picked in the
    SO_REUSEPORT group by the connection's hash: while no process holds them yet (not
    accepted), each CLOSE_WAIT socket must already name the process whose listener took it,
    as its accept() shows afterwards."""
    port = port_without_sockets(range(18881, 18901))
    check(port is not None, "no free port in 18881-18900")
    n = 32
    servers, daemon = [], None
    with tempfile.TemporaryDirectory() as work:
        try:
            daemon = Daemon(synfin, LISTEN_REUSEPORT)
            for name in ("sf-reuse-a", "sf-reuse-b"):
                log = os.path.join(work, name)
                proc = subprocess.Popen([sys.executable, "-c", REUSEPORT_SERVER, str(port), log,
                                         name], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
                servers.append((proc, log, name))
                check(proc.stdout.readline().strip() == "ready", f"{name} did not listen")
            for _ in range(n):
                # The client closes first: the server's socket waits in CLOSE_WAIT.
                with socket.create_connection(("127.0.0.1", port)):
                    pass
            rows = eventually(
                lambda: daemon.get(f"/api/v1/connections?state=CLOSE_WAIT&port={port}")[
                    "connections"],
                lambda rows: len(rows) >= n)
            check(len(rows) == n, f"{len(rows)} CLOSE_WAIT sockets listed, want {n}")
            owner_of = {r["dport"]: (r["pid"], r["comm"]) for r in rows}
            accepted_by = {}
            for proc, log, name in servers:
                proc.stdin.write("accept\n")
                proc.stdin.flush()
                check(proc.stdout.readline().strip() == "accepted", f"{name} did not accept")
                with open(log) as f:
                    accepted_by.update({int(line): (proc.pid, name) for line in f})
            check(len(accepted_by) == n, f"{len(accepted_by)} sockets accepted, want {n}")
            takers = set(accepted_by.values())
            check(len(takers) == 2, f"the kernel gave all {n} connections to {takers}")
            for peer, owner in accepted_by.items():
                check(owner_of.get(peer) == owner,
                      f"the socket from port {peer} was owned by {owner_of.get(peer)} before "
                      f"{owner} accepted it")
            counts = {name: sum(1 for o in accepted_by.values() if o[1] == name)
                      for _, _, name in servers}
            print(f"reuseport: {n} children of 2 listeners on one port, each owned by its "
                  f"listener's process before accept ({counts})")
        finally:
            for proc, _, _ in servers:
                proc.kill()
                proc.wait()
            if daemon:
                daemon.stop()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, scenario = sys.argv[1], sys.argv[2]
    run_main(lambda: {"identity": scenario_identity,
                      "every_namespace": scenario_every_namespace,
                      "bound_namespace": scenario_bound_namespace,
                      "metrics_by_unit": scenario_metrics_by_unit,
                      "walk_removes_lost": scenario_walk_removes_lost,
                      "trace_close_lines": scenario_trace_close_lines,
                      "reuseport": scenario_reuseport}[scenario](synfin))


if __name__ == "__main__":
    main()
