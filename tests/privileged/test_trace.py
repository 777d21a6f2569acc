#!/usr/bin/env python3
"""Privileged: `synfin trace` against the real kernel. Client and server are separate
processes; every scenario asserts each side's exact state sequence, outcome, verdict and owner.

usage: test_trace.py SYNFIN SCENARIO [4|6]"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from harness import (Failure, NetnsPair, Peer, Trace, check, closes_on_port, eventually,
                     kill_all, simultaneous_close, require_privileges, run_main, run_pair)

CLIENT_ACTIVE = ["CLOSE", "SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
CLIENT_PASSIVE = ["CLOSE", "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"]
SERVER_ACTIVE = ["LISTEN", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
SERVER_PASSIVE = ["LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"]
CLIENT_RESET = ["CLOSE", "SYN_SENT", "ESTABLISHED", "CLOSE"]
SERVER_RESET = ["LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE"]
SIMULTANEOUS = ["ESTABLISHED", "FIN_WAIT1", "CLOSING", "TIME_WAIT"]

PORT_BASE = {"client_first": 18501, "server_first": 18503, "simultaneous": 18505,
             "linger_abort": 18507, "refused": 18509, "unread_close": 18511,
             "listener": 18513, "burst": 18515, "port_filter": 18517,
             "close_after_shutdown": 18519, "gzip_recording": 18521}


def kernel_twin(close, others):
    """A server child the kernel made and dropped at once: two CPUs completed one handshake
    (the final ACK and the next segment each found the request; seen on 6.1 with two CPUs),
    and the loser went SYN_RECV -> CLOSE, unowned, beside its twin of the same 4-tuple."""
    return (close["role"] == "server" and close["states"] == ["LISTEN", "SYN_RECV", "CLOSE"] and
            close["outcome"] == "aborted" and close["pid"] is None and
            any(o is not close and (o["sport"], o["dport"]) == (close["sport"], close["dport"]) and
                "ESTABLISHED" in o["states"] for o in others))


def expect_side(events, port, role, states, outcome, pid, comm):
    sides = [e for e in closes_on_port(events, port) if e["role"] == role]
    twins = [e for e in sides if kernel_twin(e, sides)]
    if twins and len(sides) - len(twins) == 1:
        print(f"{role}: the kernel also made and dropped a twin child: {twins}")
        sides = [e for e in sides if e not in twins]
    check(len(sides) == 1, f"{role}: want 1 close line on port {port}, got {len(sides)}: {sides}")
    e = sides[0]
    check(e["states"] == states, f"{role}: states {e['states']} != {states}")
    check(e["outcome"] == outcome, f"{role}: outcome {e['outcome']} != {outcome}")
    check(e["verdict"] == "valid" and e["reason"] is None, f"{role}: verdict {e['verdict']} ({e['reason']})")
    check(e["pid"] == pid, f"{role}: pid {e['pid']} != owner {pid}")
    check(e["comm"] == comm, f"{role}: comm {e['comm']!r} != {comm!r}")
    return e


def expect_transitions_consistent(events, close):
    """The transition lines of a connection replay exactly its close line's states."""
    steps = [e for e in events if e.get("event") == "transition" and e["conn"] == close["conn"]]
    # A step to the same state (close() after shutdown()) is reported but changes nothing.
    steps = [s for s in steps if s["from"] != s["to"]]
    replay = [steps[0]["from"]] + [s["to"] for s in steps] if steps else []
    if close["states"][-1] == "TIME_WAIT":
        replay[-1] = "TIME_WAIT"
    check(replay == close["states"], f"transitions {replay} do not match close {close['states']}")


def two_peers(synfin, mode, port, family, server_states, server_outcome, client_states,
              client_outcome):
    trace = Trace(synfin)
    server, client = run_pair(mode, port, family)
    events = trace.stop()
    s = expect_side(events, port, "server", server_states, server_outcome, server.pid, "sf-server")
    c = expect_side(events, port, "client", client_states, client_outcome, client.pid, "sf-client")
    expect_transitions_consistent(events, s)
    expect_transitions_consistent(events, c)
    family_name = "ipv6" if family == "6" else "ipv4"
    check(s["family"] == family_name and c["family"] == family_name, "wrong family")
    check((s["saddr"], s["sport"], s["daddr"], s["dport"]) ==
          (c["daddr"], c["dport"], c["saddr"], c["sport"]), "the two sides' 4-tuples do not mirror")
    check(s["sport"] == port, f"server local port {s['sport']} != {port}")
    check(all(v >= 0 for v in c["durations_ns"].values()) and "SYN_SENT" in c["durations_ns"],
          f"client durations {c['durations_ns']}")


def scenario_simultaneous(synfin, family, port):
    with NetnsPair() as net:
        trace = Trace(synfin)
        server, client = simultaneous_close(net, port, family)
        events = trace.stop()
    s = expect_side(events, port, "server", ["LISTEN", "SYN_RECV"] + SIMULTANEOUS,
                    "simultaneous_close", server.pid, "sf-server")
    c = expect_side(events, port, "client", ["CLOSE", "SYN_SENT"] + SIMULTANEOUS,
                    "simultaneous_close", client.pid, "sf-client")
    expect_transitions_consistent(events, s)
    expect_transitions_consistent(events, c)


def scenario_close_after_shutdown(synfin, family, port):
    """close() after shutdown(SHUT_WR): the kernel reports FIN_WAIT1 -> FIN_WAIT1 (FIN not yet
    acknowledged: held behind data Nagle keeps) or FIN_WAIT2 -> FIN_WAIT2 (acknowledged). Both
    are normal closes: valid, with the state once in `states`."""
    server_states = ["LISTEN", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
    client_states = ["CLOSE", "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"]
    for mode, self_step, mode_port in (("nagle_close", "FIN_WAIT1", port),
                                       ("shutdown_close", "FIN_WAIT2", port + 100)):
        trace = Trace(synfin)
        server, client = run_pair(mode, mode_port, family)
        events = trace.stop()
        s = expect_side(events, mode_port, "server", server_states, "active_close", server.pid,
                        "sf-server")
        expect_side(events, mode_port, "client", client_states, "passive_close", client.pid,
                    "sf-client")
        expect_transitions_consistent(events, s)
        steps = [(e["from"], e["to"]) for e in events
                 if e.get("event") == "transition" and e["conn"] == s["conn"]]
        check((self_step, self_step) in steps, f"{mode}: no {self_step} -> {self_step} step: {steps}")


def scenario_refused(synfin, family, port):
    trace = Trace(synfin)
    client = Peer("client", "refused", port, family, name="sf-client")
    try:
        client.expect("refused")
        client.wait()
    finally:
        client.kill()
    events = trace.stop()
    expect_side(events, port, "client", ["CLOSE", "SYN_SENT", "CLOSE"], "refused", client.pid,
                "sf-client")


def scenario_listener(synfin, family, port):
    trace = Trace(synfin)
    server = Peer("server", "listener_only", port, family, name="sf-listen")
    try:
        server.expect("ready")
        server.tell("close")
        server.expect("ok")
        server.wait()
    finally:
        server.kill()
    events = trace.stop()
    e = expect_side(events, port, "listener", ["CLOSE", "LISTEN", "CLOSE"], "listener_closed",
                    server.pid, "sf-listen")
    expect_transitions_consistent(events, e)


def scenario_burst(synfin, family, port, count=1000):
    trace = Trace(synfin)
    server, client = run_pair("client_first", port, family, count=count, timeout=120)
    events = trace.stop()
    closes = [e for e in closes_on_port(events, port) if e["role"] in ("client", "server")]
    by_role = {"client": [], "server": []}
    for e in closes:
        by_role[e["role"]].append(e)
    for role, pid, outcome in (("client", client.pid, "active_close"),
                               ("server", server.pid, "passive_close")):
        sides = by_role[role]
        valid = [e for e in sides if e["verdict"] == "valid" and e["pid"] == pid
                 and e["outcome"] == outcome]
        invalid = [e for e in sides if e["verdict"] == "invalid"]
        check(len(sides) == count, f"{role}: {len(sides)} close lines, want {count}")
        check(not invalid, f"{role}: {len(invalid)} invalid, first {invalid[:1]}")
        check(len(valid) == count, f"{role}: {len(valid)}/{count} valid with owner and outcome")
    summary = trace.summary()
    check(" 0 lost, 0 undecodable" in summary, f"losses reported: {summary}")
    print(f"burst: {count} client + {count} server sequences valid; {summary}")


def scenario_port_filter(synfin, family, port):
    """--sport/--dport are decided in the kernel once a socket's ports are known, and hold to
    the socket's end although the kernel zeroes its ports on the way to CLOSE."""
    other = port + 50

    def run(flag, wanted_port):
        trace = Trace(synfin, flag, str(wanted_port))
        wanted = run_pair("server_first", port, family)
        run_pair("server_first", other, family)
        return trace.stop(), wanted

    events, (server, client) = run("--sport", port)
    check(all(e["sport"] in (port, 0) for e in events), "--sport let another local port through")
    closes = [e for e in events if e["event"] == "close" and e["role"] != "listener"]
    check(len(closes) == 1 and closes[0]["role"] == "server", f"--sport: {closes}")
    check(closes[0]["states"] == SERVER_ACTIVE and closes[0]["pid"] == server.pid,
          f"--sport: server sequence {closes[0]['states']}")

    events, (server, client) = run("--dport", port)
    closes = [e for e in events if e["event"] == "close"]
    check(len(closes) == 1 and closes[0]["role"] == "client", f"--dport: {closes}")
    check(closes[0]["states"] == CLIENT_PASSIVE and closes[0]["pid"] == client.pid,
          f"--dport: client sequence {closes[0]['states']}")
    check(not [e for e in events if other in (e["sport"], e["dport"])], "--dport leaked the other port")


def replay(synfin, path):
    return subprocess.run([synfin, "replay", path], capture_output=True, text=True, timeout=120)


def expect_cut_reported(synfin, path, how, total_records):
    """`synfin replay` of a cut recording prints the lines of its whole records (valid JSON),
    then exactly one error line, last, naming the file, how it ends and how many records were
    whole; exit 1 (not a crash, not 0). Returns that count."""
    r = replay(synfin, path)
    check(r.returncode == 1, f"replay of {path}: exit {r.returncode}, stderr {r.stderr[-300:]!r}")
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    check(len(errors) == 1 and r.stderr.rstrip().splitlines()[-1] == errors[0],
          f"replay of {path}: want one error line, last: {r.stderr!r}")
    reported = re.fullmatch(rf"synfin: error: {re.escape(path)} {how}.*: replayed the (\d+) "
                            r"whole records before it \(was the trace killed while writing\?\)",
                            errors[0])
    check(reported, f"error line: {errors[0]!r}")
    whole = int(reported.group(1))
    check(whole < total_records, f"{whole} whole records of {total_records} in a cut file")
    for line in r.stdout.splitlines():
        json.loads(line)
    return whole


def whole_records(synfin, path):
    """How many whole records `synfin replay` reads from a recording still being written."""
    reported = re.search(r"replayed the (\d+) whole records", replay(synfin, path).stderr)
    return int(reported.group(1)) if reported else 0


def scenario_gzip_recording(synfin, family, port, count=500):
    """`--record FILE.gz` writes gzip, and its replay prints exactly the live trace (checked by
    Trace.stop); the same records uncompressed replay identically, whatever the file names say
    (content decides); a cut gzip file, a plain file cut mid-frame and the recording of a trace
    killed mid-write each replay their whole records, then one clear error line."""
    scratch = tempfile.mkdtemp(prefix="synfin-gzip-")
    killed = None
    try:
        trace = Trace(synfin, suffix=".rec.gz")
        run_pair("client_first", port, family, count=count, timeout=120)
        trace.stop(keep_recording=True)
        compressed_path = shutil.move(trace.recording, os.path.join(scratch, "live.rec.gz"))
        compressed = open(compressed_path, "rb").read()
        check(compressed[:2] == b"\x1f\x8b", "--record FILE.gz did not write gzip")
        plain = gzip.decompress(compressed)  # raises unless the stream is whole, trailer included
        check(plain[:8] == b"SYNFINR3", f"decompressed recording starts {plain[:8]!r}")

        plain_named_gz = os.path.join(scratch, "plain-after-all.rec.gz")
        gzip_named_plain = os.path.join(scratch, "compressed.rec")
        open(plain_named_gz, "wb").write(plain)
        open(gzip_named_plain, "wb").write(compressed)
        total = None
        for path in (plain_named_gz, gzip_named_plain):
            r = replay(synfin, path)
            check(r.returncode == 0 and r.stdout == trace.output,
                  f"replay of {os.path.basename(path)} differs from the live trace: exit "
                  f"{r.returncode}, {len(r.stdout.splitlines())} lines vs "
                  f"{len(trace.output.splitlines())}; {r.stderr[-200:]!r}")
            total = int(re.search(r"replayed (\d+) records", r.stderr).group(1))
        print(f"{count} connections: {total} records, {len(trace.output.splitlines())} lines; "
              f"recording {len(plain)} bytes plain, {len(compressed)} bytes gzip "
              f"({len(plain) / len(compressed):.1f}x); both replay the live trace exactly")

        cut_gzip = os.path.join(scratch, "cut.rec.gz")
        open(cut_gzip, "wb").write(compressed[:len(compressed) // 2])
        whole = expect_cut_reported(synfin, cut_gzip, "is cut off inside its gzip stream", total)
        cut_plain = os.path.join(scratch, "cut.rec")
        open(cut_plain, "wb").write(plain[:-7])
        check(expect_cut_reported(synfin, cut_plain, "ends in the middle of a record", total)
              == total - 1, "a plain file cut in its last frame lost more than that frame")
        print(f"half the gzip file: {whole} whole records replayed, then one error line")

        # Killed mid-write: no gzip trailer. Everything up to the last drain is readable.
        killed = Trace(synfin, suffix=".rec.gz")
        run_pair("client_first", port, family, count=100, timeout=120)
        # Drain by drain the records reach the file: readable up to the last one written.
        eventually(lambda: whole_records(synfin, killed.recording), lambda n: n >= 100 * 10,
                   timeout=30)
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait(30)
        whole = expect_cut_reported(synfin, killed.recording, "is cut off inside its gzip stream",
                                    10 ** 9)
        check(whole >= 100 * 10, f"trace killed after 100 connections: only {whole} records readable")
        print(f"trace killed by SIGKILL: {whole} whole records replayed, then one error line")
    finally:
        if killed:
            if killed.proc.poll() is None:
                killed.proc.kill()
            if os.path.exists(killed.recording):
                os.unlink(killed.recording)
        shutil.rmtree(scratch, ignore_errors=True)


# A server and a client of one peers.py mode, one row each: the mode (the scenario's name), then
# what the trace must show of each side.
#   mode             server states   server outcome    client states   client outcome
PAIRS = {
    "client_first": (SERVER_PASSIVE, "passive_close", CLIENT_ACTIVE, "active_close"),
    "server_first": (SERVER_ACTIVE, "active_close", CLIENT_PASSIVE, "passive_close"),
    "linger_abort": (SERVER_RESET, "reset_received", CLIENT_RESET, "reset_sent"),
    "unread_close": (SERVER_RESET, "reset_sent", CLIENT_RESET, "reset_received"),
}
# The scenarios that are more than a pair run to its end: their own function each.
SCENARIOS = {
    "simultaneous": scenario_simultaneous,
    "refused": scenario_refused,
    "listener": scenario_listener,
    "burst": scenario_burst,
    "port_filter": scenario_port_filter,
    "gzip_recording": scenario_gzip_recording,
    "close_after_shutdown": scenario_close_after_shutdown,
}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, scenario = sys.argv[1], sys.argv[2]
    family = sys.argv[3] if len(sys.argv) > 3 else "4"
    port = PORT_BASE[scenario] + (1 if family == "6" else 0)

    def test():
        if scenario in PAIRS:
            two_peers(synfin, scenario, port, family, *PAIRS[scenario])
        elif scenario in SCENARIOS:
            SCENARIOS[scenario](synfin, family, port)
        else:
            raise Failure(f"unknown scenario {scenario}")

    run_main(test)


if __name__ == "__main__":
    main()
