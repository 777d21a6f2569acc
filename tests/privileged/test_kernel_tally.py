#!/usr/bin/env python3
"""Privileged: the daemon's kernel side judges and counts every connection itself; `synfin
trace` sends every step to userspace, where the model judges it. On the same traffic, the two
must agree exactly: steps by (from, to), closes by outcome and verdict, and the number of
observations in every time histogram. Both are scoped to the test's own port (--port), so the
host's other traffic counts in neither.

usage: test_kernel_tally.py SYNFIN {agree|sampling}"""
import re
import sys

from harness import (Daemon, NetnsPair, Peer, Trace, check, closes_on_port, eventually, kill_all,
                     port_without_sockets, require_privileges, run_main, run_pair, ss_count,
                     simultaneous_close)

LISTEN = {"agree": "127.0.0.1:19741", "sampling": "127.0.0.1:19742"}
SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')


def metrics(daemon):
    """{(family, frozenset(labels)): value} of every sample."""
    samples = {}
    for line in daemon.get_text("/metrics").splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def samples_of(samples, name, *keys):
    """{(label values...): value} of one family, by the given label names."""
    out = {}
    for (sample, labels), value in samples.items():
        if sample == name:
            d = dict(labels)
            out[tuple(d.get(k) for k in keys)] = value
    return out


def traced_tallies(events, port):
    """What the model made of trace's per-step stream, counted the way the daemon counts."""
    transitions, outcomes, verdicts = {}, {}, {}
    handshakes = {"client": 0, "server": 0}
    durations = {"CLOSE_WAIT": 0, "FIN_WAIT2": 0, "LAST_ACK": 0}
    lifetimes = 0
    for e in events:
        if e.get("event") == "transition" and port in (e["sport"], e["dport"]):
            key = (e["from"], e["to"])
            transitions[key] = transitions.get(key, 0) + 1
            if e["to"] == "ESTABLISHED" and e["from"] == "SYN_SENT":
                handshakes["client"] += 1
            if e["to"] == "ESTABLISHED" and e["from"] == "SYN_RECV":
                handshakes["server"] += 1
            if e["from"] in durations and e["from"] != e["to"]:
                durations[e["from"]] += 1
    for e in closes_on_port(events, port):
        if e["role"] == "listener":
            continue
        outcomes[e["outcome"]] = outcomes.get(e["outcome"], 0) + 1
        verdicts[e["verdict"]] = verdicts.get(e["verdict"], 0) + 1
        if e["reason"] != "joined_mid_life":
            lifetimes += 1
    return transitions, outcomes, verdicts, handshakes, durations, lifetimes


def scenario_agree(synfin):
    port = port_without_sockets(range(18701, 18760, 2))
    check(port is not None, "no free port in 18701-18759")
    daemon = Daemon(synfin, LISTEN["agree"], "--port", str(port))
    trace = None
    peers = []
    try:
        trace = Trace(synfin, "--port", str(port))
        for family in ("4", "6"):
            for mode in ("client_first", "server_first", "linger_abort", "unread_close",
                         "nagle_close", "shutdown_close"):
                run_pair(mode, port, family, count=3)
            client = Peer("client", "refused", port, family, name="sf-client")
            peers.append(client)
            client.expect("refused")
            client.wait()
        listener = Peer("server", "listener_only", port, "4", name="sf-listen")
        peers.append(listener)
        listener.expect("ready")
        listener.tell("close")
        listener.expect("ok")
        listener.wait()
        with NetnsPair() as net:
            simultaneous_close(net, port, "4")
        # Every full socket of the port gone (TIME_WAIT mini-sockets are no longer full ones).
        eventually(lambda: ss_count("state", "connected", "state", "listening",
                                    f"( sport = :{port} or dport = :{port} )"),
                   lambda rows: all("TIME-WAIT" in r or "FIN-WAIT-2" in r for r in rows))
        events = trace.stop()
        trace = None
        want_t, want_o, want_v, want_h, want_d, want_l = traced_tallies(events, port)
        check(sum(want_o.values()) >= 40, f"only {sum(want_o.values())} closes traced: {want_o}")

        def read():
            s = metrics(daemon)
            got_t = {k: v for k, v in samples_of(s, "synfin_tcp_state_transitions_total", "from",
                                             "to").items() if v}
            got_o = {k[0]: v for k, v in samples_of(s, "synfin_tcp_connections_closed_total",
                                                "outcome").items() if v}
            got_v = {k[0]: v for k, v in samples_of(s, "synfin_tcp_sequences_total",
                                                "verdict").items() if v}
            got_h = {k[0]: v for k, v in samples_of(
                s, "synfin_tcp_handshake_duration_seconds_count", "role").items()}
            got_d = {k[0]: v for k, v in samples_of(
                s, "synfin_tcp_state_duration_seconds_count", "state").items() if k[0] in want_d}
            got_l = s.get(("synfin_tcp_connection_lifetime_seconds_count", frozenset()), 0)
            return got_t, got_o, got_v, got_h, got_d, got_l

        got = eventually(read, lambda g: g[1] == want_o)
        got_t, got_o, got_v, got_h, got_d, got_l = got
        check(got_t == want_t, f"transitions: kernel {got_t}\n  trace {want_t}")
        check(got_o == want_o, f"outcomes: kernel {got_o}, trace {want_o}")
        check(got_v == want_v, f"verdicts: kernel {got_v}, trace {want_v}")
        check(got_h == want_h, f"handshake counts: kernel {got_h}, trace {want_h}")
        check(got_d == want_d, f"state-duration counts: kernel {got_d}, trace {want_d}")
        check(got_l == want_l, f"lifetime count: kernel {got_l}, trace {want_l}")
        # A quiet host sees every close: the default sample holds all of these.
        closed = eventually(
            lambda: daemon.get(f"/api/v1/closed?port={port}&limit=10000")["closed"],
            lambda rows: len([c for c in rows if c["role"] != "listener"]) >= sum(want_o.values()))
        connections = [c for c in closed if c["role"] != "listener"]
        check(len(connections) == sum(want_o.values()),
              f"/api/v1/closed lists {len(connections)} closes, trace {sum(want_o.values())}")
        print(f"agree: {sum(want_o.values())} closes, {sum(want_t.values())} steps: kernel "
              f"tallies equal trace's model ({want_o})")
    finally:
        kill_all(*peers)
        if trace:
            trace.stop()
        daemon.stop()


def scenario_sampling(synfin):
    """--closes-per-second 0: clean closes stay in the kernel, counted; closes that matter cross
    whole; the TIME_WAIT sockets of unsent active closes are still counted exactly."""
    port = port_without_sockets(range(18761, 18800, 2))
    check(port is not None, "no free port in 18761-18799")
    n = 30
    daemon = Daemon(synfin, LISTEN["sampling"], "--port", str(port), "--closes-per-second", "0")
    try:
        run_pair("client_first", port, "4", count=n)  # clean: the client's TIME_WAIT remains
        run_pair("linger_abort", port, "4", count=2)  # resets: these matter

        def counters():
            s = metrics(daemon)
            return {name: s.get((name, frozenset()), 0) for name in (
                "synfin_closes_clean_total", "synfin_closes_sampled_total",
                "synfin_closes_notable_total", "synfin_time_wait_records_total")}

        c = eventually(counters, lambda c: c["synfin_closes_clean_total"] >= 2 * n and
                       c["synfin_closes_notable_total"] >= 4)
        check(c["synfin_closes_clean_total"] == 2 * n and c["synfin_closes_sampled_total"] == 0,
              f"clean closes: {c}")
        check(c["synfin_time_wait_records_total"] == n, f"TIME_WAIT records: {c}")
        closed = eventually(
            lambda: daemon.get(f"/api/v1/closed?port={port}&limit=10000")["closed"],
            lambda rows: len([x for x in rows if x["role"] != "listener"]) >= 4)
        crossed = [x for x in closed if x["role"] != "listener"]
        check(len(crossed) == 4 and all(x["outcome"] in ("reset_sent", "reset_received")
                                        for x in crossed),
              f"crossed: {[(x['role'], x['outcome']) for x in crossed]}")
        kernel_tw = len(ss_count("state", "time-wait", f"( dport = :{port} )"))
        rows = eventually(
            lambda: daemon.get(f"/api/v1/connections?state=TIME_WAIT&port={port}")["connections"],
            lambda rows: len(rows) == kernel_tw)
        check(len(rows) == kernel_tw == n, f"TIME_WAIT: daemon {len(rows)}, ss {kernel_tw}, want {n}")
        closed_total = sum(samples_of(metrics(daemon), "synfin_tcp_connections_closed_total",
                                  "outcome").values())
        check(closed_total == 2 * n + 4, f"closes counted {closed_total}, want {2 * n + 4}")
        print(f"sampling: {2 * n} clean closes counted, none sent; 4 resets sent whole; "
              f"{n} TIME_WAIT equal to ss")
    finally:
        daemon.stop()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, scenario = sys.argv[1], sys.argv[2]
    run_main(lambda: {"agree": scenario_agree, "sampling": scenario_sampling}[scenario](synfin))


if __name__ == "__main__":
    main()
