#!/usr/bin/env python3
"""Privileged: the daemon's API against hostile input and as an exposed service.

  hostile_name  a process whose name is not UTF-8 and holds quotes, a backslash, a newline and
                an escape sequence owns a stuck CLOSE_WAIT socket: /api/v1/connections,
                /api/v1/stuck and `synfin stuck` (table and --json) show the name escaped,
                never fail; a percent-encoded byte that is not UTF-8 is a JSON 400.
  exposure      --listen on every interface starts with a warning, loopback without one; the
                listen backlog is the kernel's maximum, not cpp-httplib's 5; unknown paths and
                wrong methods are JSON 404 / 405 with Allow.

usage: test_api.py SYNFIN hostile_name|exposure"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from harness import Daemon, Peer, check, eventually, kill_all, require_privileges, run_main

LISTEN = {"hostile_name": "127.0.0.1:19731", "exposure": "127.0.0.1:19732"}
HOSTILE = b'\xff"q\\\n\x1b[1m\xc3(x'  # 12 bytes: the kernel keeps up to 15
# As the API renders it: each ill-formed piece becomes U+FFFD, the rest is kept and escaped.
RENDERED = '\ufffd"q\\\n\x1b[1m\ufffd(x'
# As `synfin stuck` prints it in its table: control characters and backslashes as \xNN.
TABLE_CELL = '\ufffd"q\\x5c\\x0a\\x1b[1m\ufffd(x'


def request(listen, method, path):
    req = urllib.request.Request(f"http://{listen}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def scenario_hostile_name(synfin):
    port, listen = 18651, LISTEN["hostile_name"]
    daemon = Daemon(synfin, listen, "--stuck-threshold", "CLOSE_WAIT=1")
    server = client = None
    try:
        server = Peer("server", "hold", port, name=os.fsdecode(HOSTILE))
        server.expect("ready")
        client = Peer("client", "client_first", port, name="sf-client")
        client.expect("done")
        server.expect("accepted")
        comm = open(f"/proc/{server.pid}/comm", "rb").read()
        check(comm == HOSTILE + b"\n", f"the kernel keeps the name as set: {comm!r}")

        # The accepted socket's owner comes from accept() (the BPF side's comm)...
        rows = eventually(lambda: daemon.get(f"/api/v1/connections?port={port}&state=CLOSE_WAIT")
                          ["connections"], lambda rows: len(rows) == 1)
        check(len(rows) == 1 and rows[0]["pid"] == server.pid, f"connections: {rows}")
        check(rows[0]["comm"] == RENDERED, f"connections comm {rows[0]['comm']!r} != {RENDERED!r}")
        # ...a stuck socket's through /proc/PID/fd and /proc/PID/comm.
        stuck = eventually(lambda: daemon.get(f"/api/v1/stuck?port={port}")["stuck"],
                           lambda rows: len(rows) == 1)
        check(len(stuck) == 1 and stuck[0]["pid"] == server.pid and stuck[0]["owner_source"] == "proc",
              f"stuck: {stuck}")
        check(stuck[0]["comm"] == RENDERED, f"stuck comm {stuck[0]['comm']!r} != {RENDERED!r}")
        # Every listing that includes the socket still answers.
        for path in ("/api/v1/connections", "/api/v1/stuck", "/api/v1/closed", "/api/v1/timewait"):
            status, _, body = request(listen, "GET", path)
            check(status == 200, f"{path} answered {status}: {body[:200]}")
            json.loads(body)
        status, _, body = request(listen, "GET", "/api/v1/stuck?state=%ff")
        check(status == 400 and "\ufffd" in json.loads(body)["error"], f"state=%ff: {status} {body}")

        table = subprocess.run([synfin, "stuck", "--daemon", listen, "--port", str(port)],
                               capture_output=True, timeout=30)
        out = table.stdout.decode()
        check(table.returncode == 0, f"synfin stuck exited {table.returncode}: {table.stderr!r}")
        rows = [line for line in out.splitlines() if line.startswith("CLOSE_WAIT")]
        check(len(rows) == 1 and TABLE_CELL in rows[0] and str(server.pid) in rows[0],
              f"synfin stuck table: {out!r}")
        check(b"\x1b" not in table.stdout and len(out.splitlines()) == 3,
              f"a name reached the terminal raw: {out!r}")
        as_json = subprocess.run([synfin, "stuck", "--daemon", listen, "--json", "--port", str(port)],
                                 capture_output=True, timeout=30)
        check(as_json.returncode == 0, f"synfin stuck --json exited {as_json.returncode}")
        parsed = json.loads(as_json.stdout)
        check(parsed["stuck"][0]["comm"] == RENDERED, f"--json comm {parsed['stuck'][0]['comm']!r}")
        print(rows[0])
    finally:
        kill_all(client, server)
        rc = daemon.stop()
    check(rc == 0, f"daemon exited {rc}")


def listen_backlog(port):
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return [int(line.split()[2]) for line in out.splitlines() if line.strip()]


def scenario_exposure(synfin):
    # Every interface: a warning before anything else is served.
    wide = Daemon(synfin, "0.0.0.0:19733")
    wide.stop()
    warning = wide.proc.stderr.read()
    check("warning" in warning and "reachable from other hosts" in warning,
          f"no warning for --listen 0.0.0.0: {warning!r}")

    listen = LISTEN["exposure"]
    daemon = Daemon(synfin, listen)
    try:
        backlog = listen_backlog(int(listen.rsplit(":", 1)[1]))
        somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
        check(backlog == [somaxconn], f"listen backlog {backlog}, want [{somaxconn}]")
        status, headers, body = request(listen, "GET", "/nope")
        check(status == 404 and "error" in json.loads(body), f"unknown path: {status} {body}")
        status, headers, body = request(listen, "DELETE", "/api/v1/stuck")
        check(status == 405 and headers.get("Allow") == "GET, HEAD" and "error" in json.loads(body),
              f"wrong method: {status} {headers} {body}")
        status, _, body = request(listen, "GET", "/api/v1/closed?verdict=bogus")
        check(status == 400 and "error" in json.loads(body), f"verdict=bogus: {status} {body}")
        print(f"backlog {backlog[0]}, 404/405/400 as JSON, warning: {warning.strip().splitlines()[0]}")
    finally:
        rc = daemon.stop()
    check(rc == 0, f"daemon exited {rc}")
    check("warning" not in daemon.proc.stderr.read(), "a loopback daemon warned about exposure")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, scenario = sys.argv[1], sys.argv[2]
    run_main(lambda: {"hostile_name": scenario_hostile_name,
                      "exposure": scenario_exposure}[scenario](synfin))


if __name__ == "__main__":
    main()
