#!/usr/bin/env python3
"""Privileged: synfin's XDP packet view on a veth pair, XDP on the receiving end only.

The server side lives in the root namespace on one end of a veth pair (XDP attached there);
the client side is a network namespace holding the other end. Crafted packets come from
scapy inside the client namespace; real connections from peers.py processes.

usage: test_xdp.py SYNFIN counts|handshake|backlog|anomalies|lifecycle"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

from harness import (HERE, Daemon, Failure, Peer, Trace, check, eventually, kill_all,
                     require_privileges, run_main)

CRAFTER = os.path.join(HERE, "crafter.py")
LISTEN = {"counts": "127.0.0.1:19761", "handshake": "127.0.0.1:19762",
          "backlog": "127.0.0.1:19763", "anomalies": "127.0.0.1:19764",
          "lifecycle": "127.0.0.1:19765"}
SERVER, CLIENT = "10.214.0.1", "10.214.0.2"
SERVER6, CLIENT6 = "fd00:5f2::1", "fd00:5f2::2"


class XdpLink:
    """A veth pair: `server_dev` in the root namespace (where synfin attaches XDP), its peer
    in a fresh client namespace. Removed on exit even when the test fails."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.server_dev, self.client_dev, self.netns = f"sfxs{tag}", f"sfxc{tag}", f"sfxn{tag}"

    def ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def __enter__(self):
        try:
            self.ip("netns", "add", self.netns)
            self.ip("link", "add", self.server_dev, "type", "veth", "peer", "name",
                    self.client_dev, "netns", self.netns)
            self.ip("addr", "add", SERVER + "/24", "dev", self.server_dev)
            self.ip("addr", "add", SERVER6 + "/64", "dev", self.server_dev, "nodad")
            self.ip("link", "set", self.server_dev, "up")
            self.ip("-n", self.netns, "addr", "add", CLIENT + "/24", "dev", self.client_dev)
            self.ip("-n", self.netns, "addr", "add", CLIENT6 + "/64", "dev", self.client_dev,
                    "nodad")
            self.ip("-n", self.netns, "link", "set", self.client_dev, "up")
            self.ip("-n", self.netns, "link", "set", "lo", "up")
            mac = lambda ns, dev: json.loads(subprocess.run(  # noqa: E731
                ["ip", *(["-n", ns] if ns else []), "-j", "link", "show", "dev", dev],
                check=True, capture_output=True, text=True).stdout)[0]["address"]
            server_mac, client_mac = mac(None, self.server_dev), mac(self.netns, self.client_dev)
            for address in (CLIENT, CLIENT6):
                self.ip("neigh", "replace", address, "lladdr", client_mac, "dev", self.server_dev,
                        "nud", "permanent")
            for address in (SERVER, SERVER6):
                self.ip("-n", self.netns, "neigh", "replace", address, "lladdr", server_mac,
                        "dev", self.client_dev, "nud", "permanent")
            self.server_mac = server_mac
            time.sleep(0.3)  # carrier up
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def craft(self, dst, *specs):
        """scapy, inside the client namespace, to the server's MAC."""
        subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, CRAFTER,
                        self.client_dev, dst, *specs], check=True, timeout=60,
                       env={**os.environ, "SYNFIN_DST_MAC": self.server_mac})

    def client(self, mode, port, count=1, family="4", name="sf-xclient"):
        return Peer("client", mode, port, family, count=count, name=name, netns=self.netns,
                    host=SERVER if family == "4" else SERVER6)

    def __exit__(self, *exc):
        subprocess.run(["ip", "link", "del", self.server_dev], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        return False


def metric(text, name, **labels):
    """The value of one sample of the Prometheus text, 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def flag_class(flags):
    """tshark's tcp.flags (hex) → synfin's class, the rule TCP implies."""
    fin, syn, rst, ack = flags & 1, flags & 2, flags & 4, flags & 16
    if (syn and fin) or (syn and rst) or (rst and fin) or not flags & 0x3f:
        return "invalid"
    if syn:
        return "synack" if ack else "syn"
    return "rst" if rst else "fin" if fin else "other"


class Capture:
    """tshark on the server end, ingress TCP only (from the client's addresses)."""

    def __init__(self, dev):
        self.path = f"/tmp/synfin-xdp-{uuid.uuid4().hex[:8]}.pcap"
        self.proc = subprocess.Popen(
            ["tshark", "-q", "-i", dev, "-w", self.path, "-f",
             f"tcp and (src host {CLIENT} or src host {CLIENT6})"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        for line in self.proc.stderr:
            if "Capturing on" in line or time.monotonic() > deadline:
                break

    def classes(self):
        time.sleep(1)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        out = subprocess.run(["tshark", "-r", self.path, "-T", "fields", "-e", "tcp.flags"],
                             capture_output=True, text=True, check=True).stdout
        os.unlink(self.path)
        counts = {}
        for line in out.split():
            cls = flag_class(int(line, 16))
            counts[cls] = counts.get(cls, 0) + 1
        return counts


def scenario_counts(synfin):
    """Crafted SYN / SYN+FIN / RST / no-flag packets and real connections: synfin's per-class
    counters equal tshark's capture of the same interface."""
    port = 18801
    with XdpLink() as link:
        daemon = Daemon(synfin, LISTEN["counts"], "--xdp", link.server_dev, "--xdp-mode",
                        "generic")
        server = client = None
        try:
            health = daemon.get("/healthz")
            check(len(health["xdp"]) == 1 and health["xdp"][0]["iface"] == link.server_dev and
                  health["xdp"][0]["mode"] == "generic" and health["xdp"][0]["attached"],
                  f"healthz xdp: {health['xdp']}")
            capture = Capture(link.server_dev)
            server = Peer("server", "client_first", port, count=20, bind=SERVER, name="sf-xserver")
            server.expect("ready")
            client = link.client("client_first", port, count=20)
            client.expect("done")
            client.wait()
            server.wait()
            link.craft(SERVER, "S:31000:18802:5000:0:7", "SF:31001:18802", "R:31002:18802",
                       ":31003:18802", "FA:31004:18802", "RF:31005:18802", "SR:31006:18802",
                       "PA:31007:18802")
            link.craft(SERVER6, "S:31010:18802:1:0:3", "SF:31011:18802", "R:31012:18802")
            truth = capture.classes()
            check(truth.get("syn", 0) >= 30, f"tshark saw too few SYNs: {truth}")
            text = eventually(lambda: daemon.get_text("/metrics"),
                              lambda t: all(metric(t, "synfin_xdp_packets_total",
                                                   iface=link.server_dev, flags=c) >= n
                                            for c, n in truth.items()))
            seen = {c: int(metric(text, "synfin_xdp_packets_total", iface=link.server_dev,
                                  flags=c))
                    for c in ("syn", "synack", "fin", "rst", "invalid", "other")}
            want = {c: truth.get(c, 0) for c in seen}
            check(seen == want, f"synfin {seen} != tshark {want}")
            check(metric(text, "synfin_xdp_records_total", iface=link.server_dev,
                         result="lost") == 0, "records lost")
            check(metric(text, "synfin_xdp_parse_errors_total", iface=link.server_dev,
                         reason="truncated_tcp") == 0, "parse errors on well-formed traffic")
            print(f"classes {seen} equal to tshark's")
        finally:
            kill_all(client, server)
            check(daemon.stop() == 0, "daemon did not stop cleanly")
        status = subprocess.run(["xdp-loader", "status", link.server_dev], capture_output=True,
                                text=True).stdout
        check("synfin_xdp" not in status, f"XDP program left after SIGTERM:\n{status}")


def scenario_handshake(synfin):
    """Real connections: each accepted socket's close line has its handshake time from the
    SYN, no anomaly; a peer's FIN to a server that does not close shows the CLOSE_WAIT
    reaction time growing, and the close line gives it once the server closes."""
    port = 18811
    with XdpLink() as link:
        trace = Trace(synfin, "--xdp", link.server_dev, "--sport", str(port))
        server = client = None
        try:
            server = Peer("server", "client_first", port, count=10, bind=SERVER,
                          name="sf-xserver")
            server.expect("ready")
            client = link.client("client_first_settled", port, count=10)
            client.expect("done")
            client.wait()
            server.wait()
        finally:
            kill_all(client, server)
        events = trace.stop()
        closes = [e for e in events if e["event"] == "close" and e["role"] == "server"]
        check(len(closes) == 10, f"{len(closes)} server closes, want 10")
        for close in closes:
            check(close["verdict"] == "valid", f"verdict {close['verdict']}")
            check(close["anomalies"] == [], f"anomalies on a clean connection: {close}")
            syn_ns = close["packets"].get("syn_to_established_ns", 0)
            established = close["durations_ns"].get("SYN_RECV", 0)
            check(syn_ns > 0, f"no handshake time from the SYN: {close}")
            check(syn_ns >= established, "SYN-based handshake shorter than SYN_RECV-based")
            check(close["packets"].get("peer_fin_to_close_wait_ns", 0) > 0,
                  f"no FIN → CLOSE_WAIT timing: {close}")
        packets = [e for e in events if e["event"] == "packet"]
        check(any(p["flags"] == "SYN" and p["socket"] and p["socket"]["state"] == "LISTEN"
                  for p in packets), "no SYN matched to the listener")
        check(sum(1 for p in packets if p.get("completes_handshake")) == 10,
              "completing ACKs not all seen")

        # On a quiet interface too, an unanswered SYN is reported once its time is up, and the
        # replay of the recording reports it at the same moment (Trace.stop checks).
        quiet = Trace(synfin, "--xdp", link.server_dev, "--handshake-timeout", "1", "--dport",
                      "32100")
        link.craft(SERVER, "S:32100:18819")
        eventually(lambda: [e for e in quiet.printed() if e["event"] == "syn_without_socket"],
                   lambda lines: lines)
        lines = [e for e in quiet.stop() if e["event"] == "syn_without_socket"]
        check(len(lines) == 1 and lines[0]["reason"] == "no_listener" and
              lines[0]["dport"] == 18819 and lines[0]["iface"] == link.server_dev,
              f"unanswered SYN lines: {lines}")

        daemon = Daemon(synfin, LISTEN["handshake"], "--xdp", link.server_dev)
        server = client = None
        try:
            server = Peer("server", "hold", port + 1, count=1, bind=SERVER, name="sf-xleaky")
            server.expect("ready")
            client = link.client("client_first", port + 1)
            client.expect("done")
            server.expect("accepted")
            query = f"/api/v1/connections?state=CLOSE_WAIT&port={port + 1}"
            first = eventually(lambda: daemon.get(query)["connections"],
                               lambda rows: rows and "close_wait_reaction_seconds" in rows[0])
            check(first and "close_wait_reaction_seconds" in first[0],
                  f"no reaction time on the CLOSE_WAIT socket: {first}")
            # It grows while the owner has not closed: by a second, in a second or more.
            started = time.monotonic()
            grown = lambda: (daemon.get(query)["connections"][0]["close_wait_reaction_seconds"]
                             - first[0]["close_wait_reaction_seconds"])
            grew = eventually(grown, lambda g: g >= 1.0, timeout=15)
            check(grew >= 1.0,
                  f"reaction time grew by {grew:.2f} s in {time.monotonic() - started:.2f} s")
            server.tell("close")
            server.expect("ok")
            closed = eventually(
                lambda: [c for c in daemon.get(f"/api/v1/closed?port={port + 1}")["closed"]
                         if c["role"] == "server"],
                lambda rows: rows)
            # At least what the live row last showed: the owner closed after that.
            seen_ns = (first[0]["close_wait_reaction_seconds"] + grew) * 1e9
            check(closed and closed[0]["packets"].get("close_wait_reaction_ns", 0) >= seen_ns,
                  f"close line lacks the reaction time ({seen_ns:.0f} ns seen live): {closed}")
            text = daemon.get_text("/metrics")
            check(metric(text, "synfin_tcp_close_wait_reaction_seconds_count") >= 1,
                  "reaction histogram empty")
            check(metric(text, "synfin_tcp_server_handshake_from_syn_seconds_count") >= 1,
                  "handshake-from-SYN histogram empty")
        finally:
            kill_all(client, server)
            daemon.stop()


def scenario_backlog(synfin):
    """A listener that never accepts, listen(0): once its accept queue is full, further SYNs
    are dropped by the kernel and show up as SYNs without a socket (accept_queue_full); SYNs to
    a port nobody listens on are no_listener."""
    port, clients = 18821, 5
    with XdpLink() as link:
        daemon = Daemon(synfin, LISTEN["backlog"], "--xdp", link.server_dev,
                        "--handshake-timeout", "1", "--metrics-port", str(port))
        listener = first = None
        try:
            listener = subprocess.Popen(
                [sys.executable, "-c",
                 "import socket,sys\n"
                 "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                 f"s.bind(('{SERVER}', {port})); s.listen(0); print('ready', flush=True)\n"
                 "sys.stdin.read()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            check(listener.stdout.readline().strip() == "ready", "listener did not start")
            first = link.client("hold", port, name="sf-xfirst")
            first.expect("connected")  # fills the accept queue (one more than listen(0))
            time.sleep(0.3)
            # Clients that give up after one SYN retransmission (TCP_SYNCNT=1).
            script = ("import socket\n"
                      f"for i in range({clients}):\n"
                      "  s=socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)\n"
                      "  s.settimeout(0.2)\n"
                      f"  try: s.connect(('{SERVER}', {port}))\n"
                      "  except OSError: pass\n")
            subprocess.run(["ip", "netns", "exec", link.netns, sys.executable, "-c", script],
                           check=True, timeout=60)
            link.craft(SERVER, "S:32000:18829", "S:32001:18829")
            text = eventually(
                lambda: daemon.get_text("/metrics"),
                lambda t: metric(t, "synfin_tcp_syns_without_socket_total",
                                 reason="accept_queue_full") >= clients and
                metric(t, "synfin_tcp_syns_without_socket_total", reason="no_listener") >= 2,
                timeout=20)
            full = metric(text, "synfin_tcp_syns_without_socket_total", reason="accept_queue_full")
            closed = metric(text, "synfin_tcp_syns_without_socket_total", reason="no_listener")
            by_port = metric(text, "synfin_tcp_port_syns_without_socket_total", port=str(port),
                             reason="accept_queue_full")
            check(full == clients, f"{full} SYNs without socket (accept queue full), want {clients}")
            check(by_port == clients, f"per-port count {by_port}, want {clients}")
            check(closed == 2, f"{closed} SYNs to a closed port, want 2")
            check(metric(text, "synfin_tcp_syns_without_socket_total",
                         reason="not_completed") == 0, "the accepted connection counted")
        finally:
            kill_all(first)
            if listener:
                listener.kill()
                listener.wait()
            daemon.stop()


def scenario_anomalies(synfin):
    """On a live connection, a crafted RST far outside the window and a SYN+FIN: the kernel
    ignores both, the connection closes normally (valid), and its close line names them."""
    port, client_port = 18831, 38831
    with XdpLink() as link:
        trace = Trace(synfin, "--xdp", link.server_dev, "--sport", str(port))
        server = client = None
        try:
            server = Peer("server", "hold", port, count=1, bind=SERVER, name="sf-xserver")
            server.expect("ready")
            client = Peer("client", "hold", port, count=1, name="sf-xclient", netns=link.netns,
                          host=SERVER, source_port=client_port)
            client.expect("connected")
            server.expect("accepted")
            link.craft(SERVER, f"R:{client_port}:{port}:12345:0", f"SF:{client_port}:{port}")
            time.sleep(0.5)
            client.tell("close")
            client.expect("ok")
            server.tell("close")
            server.expect("ok")
        finally:
            kill_all(client, server)
        events = trace.stop()
        closes = [e for e in events if e["event"] == "close" and e["role"] == "server"]
        check(len(closes) == 1, f"{len(closes)} server closes")
        close = closes[0]
        check(close["verdict"] == "valid", f"verdict {close}")
        check(close["outcome"] == "passive_close", f"outcome {close['outcome']}")
        check(close["anomalies"] == ["invalid_flags", "rst_out_of_window"],
              f"anomalies {close['anomalies']}")
        check(close["packets"]["rst"] == 1, "the crafted RST not counted on the connection")


def scenario_lifecycle(synfin):
    """Attach errors are one line and exit non-zero; a SIGKILLed daemon leaves nothing that
    blocks the next start; a program libxdp cannot share is refused, never replaced; an
    externally detached program turns /healthz down."""
    with XdpLink() as link:
        bad = subprocess.run([synfin, "trace", "--xdp", "sfx-no-such0", "--duration", "1"],
                             capture_output=True, text=True, timeout=60)
        check(bad.returncode != 0, "unknown interface accepted")
        check(len(bad.stderr.strip().splitlines()) == 1 and "sfx-no-such0" in bad.stderr,
              f"unknown interface error: {bad.stderr!r}")

        daemon = Daemon(synfin, LISTEN["lifecycle"], "--xdp", link.server_dev)
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait()
        daemon = Daemon(synfin, LISTEN["lifecycle"], "--xdp", link.server_dev)
        try:
            status = subprocess.run(["xdp-loader", "status", link.server_dev],
                                    capture_output=True, text=True).stdout
            check(status.count("synfin_xdp") == 1, f"after a SIGKILL and restart:\n{status}")
            # Someone detaches synfin's program behind its back: health says so.
            subprocess.run(["xdp-loader", "unload", link.server_dev, "--all"], check=True,
                           capture_output=True)
            health = eventually(lambda: daemon_health(daemon), lambda h: h[0] == 503)
            check(health[0] == 503 and health[1]["status"] == "down" and
                  not health[1]["xdp"][0]["attached"], f"healthz after detach: {health}")
        finally:
            daemon.stop()

        # Another tool's program attached the old way, outside libxdp's dispatcher.
        pin = f"/sys/fs/bpf/sfx_legacy_{uuid.uuid4().hex[:6]}"
        obj = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o"
        subprocess.run(["bpftool", "prog", "load", obj, pin, "type", "xdp"], check=True,
                       capture_output=True)
        try:
            subprocess.run(["bpftool", "net", "attach", "xdpgeneric", "pinned", pin, "dev",
                            link.server_dev], check=True, capture_output=True)
            refused = subprocess.run([synfin, "trace", "--xdp", link.server_dev, "--duration",
                                      "1"], capture_output=True, text=True, timeout=60)
            check(refused.returncode != 0, "a foreign XDP program was not refused")
            check("will not replace" in refused.stderr and "xdpfilt_alw_all" in refused.stderr
                  and len(refused.stderr.strip().splitlines()) == 1,
                  f"refusal: {refused.stderr!r}")
            foreign = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "pinned", pin],
                                                capture_output=True, text=True).stdout)["id"]
            status = subprocess.run(["bpftool", "net", "show", "dev", link.server_dev],
                                    capture_output=True, text=True).stdout
            check(f"id {foreign}" in status, f"the foreign program was replaced: {status}")
        finally:
            subprocess.run(["bpftool", "net", "detach", "xdpgeneric", "dev", link.server_dev],
                           capture_output=True)
            os.unlink(pin)


def daemon_health(daemon):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{daemon.listen}/healthz", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


SCENARIOS = {"counts": scenario_counts, "handshake": scenario_handshake,
             "backlog": scenario_backlog, "anomalies": scenario_anomalies,
             "lifecycle": scenario_lifecycle}

if __name__ == "__main__":
    require_privileges()
    synfin, scenario = sys.argv[1], sys.argv[2]
    run_main(lambda: SCENARIOS[scenario](synfin))
