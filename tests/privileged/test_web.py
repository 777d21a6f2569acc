#!/usr/bin/env python3
"""Privileged: the daemon's web page in a real browser (Debian's headless chromium).

A stuck CLOSE_WAIT made here appears in the page's table with its owner; a client-first, a
server-first and a simultaneous close each render a ladder whose states, in order, equal the
`close` lines `synfin trace` printed for the same sockets (read from the DOM). Screenshots are
kept in BUILD/artifacts/ for people to look at.

usage: test_web.py SYNFIN"""
import html
import os
import re
import shutil
import subprocess
import sys
import time

from harness import (Daemon, NetnsPair, Peer, Trace, check, eventually, kill_all, require_privileges,
                     run_main, run_pair, simultaneous_close)

LISTEN = "127.0.0.1:19751"
PORTS = {"stuck": 18901, "client_first": 18903, "server_first": 18905, "simultaneous": 18907}


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("FAIL: chromium is not installed (setup.sh installs it)")


def browse(url, *args):
    """The page as the browser has it after its scripts ran (a few seconds of virtual time)."""
    out = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=6000", *args, url],
                         capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, f"chromium failed on {url}: {out.stderr[-500:]}")
    return out.stdout


def screenshot(url, path):
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                    "--virtual-time-budget=6000", "--hide-scrollbars", "--window-size=1280,1500",
                    f"--screenshot={path}", url], capture_output=True, timeout=120)
    check(os.path.getsize(path) > 10000, f"screenshot {path} is empty")
    print(f"screenshot: {path}")


def ladder_states(dom, end):
    """The state names the ladder SVG draws for one end, top to bottom."""
    pattern = (r'<text[^>]*class="state"[^>]*data-end="%d"[^>]*>([A-Z_0-9]+)</text>'
               r'(<text[^>]*class="state-note"[^>]*>awaiting the peer&#39;s FIN</text>|'
               r'<text[^>]*class="state-note"[^>]*>awaiting the peer\'s FIN</text>)?' % end)
    # A mini-socket handed off before the peer's FIN is drawn FIN_WAIT2 with that note, where
    # trace's states write the hand-off as the RFC draws it: TIME_WAIT.
    return ["TIME_WAIT" if note else state for state, note in re.findall(pattern, dom)]


def stuck_rows(dom):
    body = re.search(r'<table id="stuck">.*?<tbody>(.*?)</tbody>', dom, re.S)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S) if body else []
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]


def main():
    require_privileges()
    synfin = sys.argv[1]
    artifacts = os.path.join(os.path.dirname(os.path.abspath(synfin)), "artifacts")
    os.makedirs(artifacts, exist_ok=True)

    def test():
        daemon = Daemon(synfin, LISTEN, "--stuck-threshold", "CLOSE_WAIT=1")
        trace = Trace(synfin)
        leaky = leaker = None
        try:
            base = f"http://{LISTEN}"
            index = daemon.get_text("/")
            check(not re.search(r'(src|href)="https?://', index),
                  "the page loads something from elsewhere: it must work air-gapped")

            # A socket left in CLOSE_WAIT by its owner.
            leaky = Peer("server", "hold", PORTS["stuck"], count=1, name="sf-leaky")
            leaky.expect("ready")
            leaker = Peer("client", "shutdown_hold", PORTS["stuck"], count=1, name="sf-client")
            leaker.expect("connected")
            leaky.expect("accepted")
            # Stuck once its second is up: the API says so first, then the page must show it.
            eventually(lambda: daemon.get(f"/api/v1/stuck?port={PORTS['stuck']}")["stuck"],
                       lambda rows: rows)
            rows = stuck_rows(browse(base + "/", "--dump-dom"))
            mine = [r for r in rows if r and r[0] == "CLOSE_WAIT" and f":{PORTS['stuck']}" in r[2]]
            check(len(mine) == 1, f"stuck CLOSE_WAIT not in the page's table: {rows}")
            check(mine[0][4] == f"sf-leaky [{leaky.pid}]", f"owner cell {mine[0][4]!r}")

            run_pair("client_first", PORTS["client_first"])
            run_pair("server_first", PORTS["server_first"])
            with NetnsPair() as net:
                simultaneous_close(net, PORTS["simultaneous"], "4")
                events = trace.stop()
            trace = None
            ladders = 0
            for scenario in ("client_first", "server_first", "simultaneous"):
                port = PORTS[scenario]
                closes = [e for e in events if e["event"] == "close" and e["role"] != "listener"
                          and port in (e["sport"], e["dport"])]
                check(len(closes) == 2, f"{scenario}: {len(closes)} close lines, want 2")
                for close in closes:
                    dom = browse(f"{base}/conn/{close['conn']}", "--dump-dom")
                    drawn = ladder_states(dom, 0)
                    check(drawn == close["states"],
                          f"{scenario} {close['role']}: ladder {drawn} != trace {close['states']}")
                    peer_states = ladder_states(dom, 1)
                    other = [c for c in closes if c is not close][0]
                    check(peer_states == other["states"],
                          f"{scenario}: the peer column {peer_states} != {other['states']}")
                    ladders += 1
                if scenario == "simultaneous":
                    screenshot(f"{base}/conn/{closes[0]['conn']}",
                               os.path.join(artifacts, "synfin-ladder-simultaneous.png"))
            screenshot(base + "/", os.path.join(artifacts, "synfin-page.png"))
            text = daemon.get_text(f"/api/v1/ladder/{closes[0]['conn']}?format=text")
            check("CLOSING" in text and "simultaneous close" in text, f"text ladder: {text}")
            print(f"stuck row with its owner; {ladders} ladders equal to trace's close lines")
        finally:
            kill_all(leaker, leaky)
            if trace:
                trace.proc.kill()
            daemon.stop()

    run_main(test)


if __name__ == "__main__":
    main()
