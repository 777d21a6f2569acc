"""Shared pieces of the privileged tests: privilege policy, running synfin, peers, netns pairs."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.realpath(__file__))
PEERS = os.path.join(HERE, "peers.py")
SKIP = 77  # ctest SKIP_RETURN_CODE


def require_privileges():
    """Root is needed to load BPF. Outside CI a non-root run skips; under CI=true it fails."""
    if os.geteuid() == 0:
        return
    if os.environ.get("CI") == "true":
        print("FAIL: privileged test needs root to load BPF, and CI=true forbids skipping")
        sys.exit(1)
    print("SKIP: privileged test needs root")
    sys.exit(SKIP)


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Trace:
    """`synfin trace` in the background, stopped with SIGINT like a user's Ctrl-C. It also
    records the raw kernel records; stop() checks that `synfin replay` of the recording prints
    exactly what the live trace printed. With SYNFIN_FIXTURE (a path) the recording is kept
    there: that is how tests/fixtures/ is made."""

    def __init__(self, synfin, *args, suffix=".rec"):
        self.synfin, self.args = synfin, args
        fd, self.recording = tempfile.mkstemp(prefix="synfin-", suffix=suffix)
        os.close(fd)
        self.proc = subprocess.Popen([synfin, "trace", "--record", self.recording, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines = []
        # Its lines are read as they come, as a terminal would: a full pipe would stop it, and
        # a test may wait for a line (printed()) before it stops the trace.
        self.stdout_lines = []
        self.stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self.stdout_reader.start()
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        if not self.ready.wait(30):
            self.proc.kill()
            raise Failure("synfin trace did not start: " + " ".join(self.stderr_lines)[-500:])

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line)

    def printed(self):
        """Every JSON object printed so far (the trace still running)."""
        return [json.loads(line) for line in list(self.stdout_lines) if line.endswith("\n")]

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip())
            if "tracing" in line or "error" in line:
                self.ready.set()
        self.ready.set()

    def stop(self, keep_recording=False):
        """Returns every JSON object printed; the process must exit 0 after its final drain.
        With keep_recording the recording stays at self.recording for the caller (who removes
        it), and the live output is kept in self.output."""
        time.sleep(0.5)  # let the last softirq transitions land in the ring
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        self.stdout_reader.join(30)
        self.reader.join(10)
        out = "".join(self.stdout_lines)
        check(self.proc.returncode == 0,
              f"synfin trace exited {self.proc.returncode}: {self.stderr_lines[-3:]}")
        events = []
        for line in out.splitlines():
            events.append(json.loads(line))  # every line must be valid JSON
        # Replay takes the filters, not what only capture needs (interfaces to attach to).
        filters, skip = [], False
        for arg in self.args:
            if skip:
                skip = False
            elif arg in ("--xdp", "--xdp-mode", "--xdp-max-records"):
                skip = True
            else:
                filters.append(arg)
        replay = subprocess.run([self.synfin, "replay", self.recording, *filters],
                                capture_output=True, text=True, timeout=120)
        check(replay.returncode == 0, f"replay failed: {replay.stderr}")
        check(replay.stdout == out, "replaying the recording does not reproduce the live trace: "
              f"{len(replay.stdout.splitlines())} lines vs {len(out.splitlines())}")
        keep = os.environ.get("SYNFIN_FIXTURE")
        if keep:
            shutil.copy(self.recording, keep)
        self.output = out
        if not keep_recording:
            os.unlink(self.recording)
        return events

    def summary(self):
        return self.stderr_lines[-1] if self.stderr_lines else ""


class Peer:
    """A peers.py process, optionally inside a network namespace."""

    def __init__(self, role, mode, port, family="4", count=1, name=None, netns=None,
                 host=None, bind=None, cpu=None, close_first=0, script=PEERS, wrap=(),
                 source_port=None):
        cmd = [sys.executable, script, role, "--mode", mode, "--port", str(port),
               "--family", family, "--count", str(count)]
        if name:
            cmd += ["--name", name]
        if host:
            cmd += ["--host", host]
        if close_first:
            cmd += ["--close-first", str(close_first)]
        if bind:
            cmd += ["--bind", bind]
        if source_port:
            cmd += ["--source-port", str(source_port)]
        cmd = list(wrap) + cmd
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.pid = self.proc.pid  # ip netns exec, taskset and setpriv exec in place: same pid

    def expect(self, wanted, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise Failure(f"peer {self.pid} exited waiting for {wanted!r}")
            if line.strip() == wanted:
                return
        raise Failure(f"peer {self.pid} never said {wanted!r}")

    def tell(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout=60):
        self.proc.wait(timeout)
        check(self.proc.returncode == 0, f"peer {self.pid} exited {self.proc.returncode}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def kill_all(*peers):
    """Ends whatever peers are still running (None entries allowed): cleanup on any failure."""
    for peer in peers:
        if peer:
            peer.kill()


def run_pair(mode, port, family="4", count=1, timeout=60):
    """A server and a client of `mode`, in separate processes (comm sf-server / sf-client),
    run to completion. Returns both; their pids stay readable for the assertions."""
    server = Peer("server", mode, port, family, count=count, name="sf-server")
    client = None
    try:
        server.expect("ready")
        client = Peer("client", mode, port, family, count=count, name="sf-client")
        client.expect("done")
        client.wait(timeout)
        server.wait(timeout)
    finally:
        kill_all(client, server)
    return server, client


class NetnsPair:
    """Two network namespaces joined by a veth pair, IPv4 and IPv6 addressed; removed on exit
    even when the test fails."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.a, self.b = f"sfa{tag}", f"sfb{tag}"
        self.veth_a, self.veth_b = f"sfva{tag}", f"sfvb{tag}"
        self.addr = {"4": ("10.213.0.1", "10.213.0.2"), "6": ("fd00:5f1::1", "fd00:5f1::2")}

    def _ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def __enter__(self):
        try:
            self._ip("netns", "add", self.a)
            self._ip("netns", "add", self.b)
            self._ip("link", "add", self.veth_a, "netns", self.a, "type", "veth", "peer",
                     "name", self.veth_b, "netns", self.b)
            for ns, dev, v4, v6 in ((self.a, self.veth_a, self.addr["4"][0], self.addr["6"][0]),
                                    (self.b, self.veth_b, self.addr["4"][1], self.addr["6"][1])):
                # Keep the IPv6 address across the link flaps the tests make.
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                                f"net.ipv6.conf.{dev}.keep_addr_on_down=1"], check=True)
                self._ip("-n", ns, "addr", "add", v4 + "/24", "dev", dev)
                self._ip("-n", ns, "addr", "add", v6 + "/64", "dev", dev, "nodad")
                self._ip("-n", ns, "link", "set", dev, "up")
                self._ip("-n", ns, "link", "set", "lo", "up")
            self.wait_until_up()
            self.pin_neighbours()
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def link(self, ns, dev, state):
        self._ip("-n", ns, "link", "set", dev, state)

    def wait_until_up(self, timeout=10):
        """A SYN sent before the veth carrier is up is lost and inflates the RTO to seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [json.loads(subprocess.run(["ip", "-n", ns, "-j", "link", "show", "dev", dev],
                                                capture_output=True, text=True).stdout)[0]
                      .get("operstate") for ns, dev in ((self.a, self.veth_a), (self.b, self.veth_b))]
            if states == ["UP", "UP"]:
                return
            time.sleep(0.05)
        raise Failure("veth pair did not come up")

    def pin_neighbours(self):
        """Permanent ARP/ND entries, so that no address resolution runs after a link flap
        (it would delay one side's first segment and break symmetric timing)."""
        macs = {}
        for ns, dev in ((self.a, self.veth_a), (self.b, self.veth_b)):
            info = json.loads(subprocess.run(["ip", "-n", ns, "-j", "link", "show", "dev", dev],
                                             check=True, capture_output=True, text=True).stdout)
            macs[ns] = info[0]["address"]
        for ns, dev, peer_ns, index in ((self.a, self.veth_a, self.b, 1),
                                        (self.b, self.veth_b, self.a, 0)):
            for family in ("4", "6"):
                self._ip("-n", ns, "neigh", "replace", self.addr[family][index], "lladdr",
                         macs[peer_ns], "dev", dev, "nud", "permanent")

    def __exit__(self, *exc):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        return False


def wait_for_time_wait(netns, port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["ip", "netns", "exec", netns, "ss", "-tanH", "state", "time-wait"],
                             capture_output=True, text=True).stdout
        if f":{port}" in out:
            return
        time.sleep(0.1)
    raise Failure(f"no TIME_WAIT socket for port {port} in {netns}")


def simultaneous_close(net, port, family):
    """A connection between the two namespaces of `net` (client in a, server in b) whose ends
    both close at once, their FINs crossing: both go FIN_WAIT1 → CLOSING → TIME_WAIT. Returns
    the (server, client) peers, finished."""
    b_addr = net.addr[family][1]
    server = Peer("server", "simultaneous", port, family, name="sf-server", netns=net.b,
                  bind=b_addr, cpu=0)
    client = None
    try:
        server.expect("ready")
        client = Peer("client", "simultaneous", port, family, name="sf-client", netns=net.a,
                      host=b_addr, cpu=0)
        client.expect("connected")
        server.expect("accepted")
        # Both FINs are held back by the cut link (both ends down, so both sides fail the
        # same way and probe on the same backoff schedule). Each backoff step rounds the
        # two probe timers up to the same coarse timer-wheel bucket, so after three steps
        # they fire in the same tick, and with both owners pinned to one CPU the timers
        # run in one batch before either FIN is received: the FINs cross in flight.
        # (With one end down the sides back off differently and never cross.)
        for ns, dev in ((net.a, net.veth_a), (net.b, net.veth_b)):
            net.link(ns, dev, "down")
        for peer in (client, server):
            peer.tell("shutdown")
        for peer in (client, server):
            peer.expect("ok")
        time.sleep(1.6)
        for ns, dev in ((net.a, net.veth_a), (net.b, net.veth_b)):
            net.link(ns, dev, "up")
        net.pin_neighbours()  # admin down flushed them
        for ns in (net.a, net.b):
            wait_for_time_wait(ns, port)
        for peer in (client, server):
            peer.tell("close")
            peer.expect("ok")
        client.expect("done")
    finally:
        kill_all(client, server)
    return server, client


class Daemon:
    """`synfin daemon` on a loopback port; stopped with SIGTERM like systemd does."""

    def __init__(self, synfin, listen, *args, wrap=()):
        self.listen = listen
        self.proc = subprocess.Popen([*wrap, synfin, "daemon", "--listen", listen, *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"daemon exited {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                if self.get("/healthz")["status"] in ("ok", "degraded"):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise Failure("daemon did not become healthy")

    def get_text(self, path):
        with urllib.request.urlopen(f"http://{self.listen}{path}", timeout=30) as r:
            return r.read().decode()

    def get(self, path):
        return json.loads(self.get_text(path))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def eventually(probe, done, timeout=10):
    """Polls probe() until done(result) holds; the daemon drains its ring on an interval, so
    what the kernel did a moment ago shows up a moment later. Returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(0.1)


def ss_count(*filters):
    out = subprocess.run(["ss", "-tanH", *filters], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def port_without_sockets(ports):
    """The first of `ports` no socket uses, TIME_WAIT ones included (an earlier run's live
    60 s), or None."""
    return next((p for p in ports if not ss_count(f"( sport = :{p} or dport = :{p} )")), None)


def closes_on_port(events, port):
    return [e for e in events if e.get("event") == "close" and port in (e.get("sport"), e.get("dport"))]


def run_main(test):
    """Runs test(), printing a one-line verdict; exit 0 pass, 1 fail."""
    try:
        test()
    except Failure as failure:
        print(f"FAIL: {failure}")
        sys.exit(1)
    print("PASS")
