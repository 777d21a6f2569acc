#!/usr/bin/env python3
"""Privileged end to end: a real Prometheus (Debian's package, loopback, 1 s scrapes, temporary
data dir) scrapes a real synfin daemon with deploy/'s alert rules loaded. The test drives 200
loopback connections and one stuck CLOSE_WAIT, then asserts through Prometheus's query API that
synfin_tcp_connections_closed_total grew by exactly 400 and the stuck alert fires; the live
/metrics passes `promtool check metrics` and is answered gzip when asked (as Prometheus asks);
every dashboard and alert query runs and names only
metrics synfin exports.

usage: test_monitoring.py SYNFIN DEPLOY_DIR"""
import gzip
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from harness import (Daemon, Failure, Peer, check, eventually, kill_all, require_privileges,
                     run_main, run_pair)

DAEMON = "127.0.0.1:19741"
PROMETHEUS_PORT = 19742


class PrometheusServer:
    def __init__(self, deploy, workdir):
        rules = open(os.path.join(deploy, "prometheus", "synfin-rules.yml")).read()
        # The rules as shipped, only their hold times shortened so a test can watch them fire.
        rules = re.sub(r"^(\s+for:\s*)\S+$", r"\g<1>3s", rules, flags=re.M)
        open(os.path.join(workdir, "rules.yml"), "w").write(rules)
        open(os.path.join(workdir, "prometheus.yml"), "w").write(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            f"scrape_configs: [{{job_name: synfin, static_configs: [{{targets: ['{DAEMON}']}}]}}]\n")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={workdir}/prometheus.yml",
             f"--storage.tsdb.path={workdir}/data", f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
             "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # One keep-alive connection for every query: the test's own HTTP traffic must not add
        # closed connections to the count it checks.
        self.http = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"prometheus exited: {self.proc.stderr.read()[-500:]}")
            try:
                self.http = http.client.HTTPConnection("127.0.0.1", PROMETHEUS_PORT, timeout=10)
                self.http.request("GET", "/-/ready")
                response = self.http.getresponse()
                response.read()
                if response.status == 200:
                    return
            except OSError:
                pass
            # Closed now, not whenever the garbage collector gets to it: a late close would
            # land in the count under test.
            self.http.close()
            self.http = None
            time.sleep(0.5)
        raise Failure("prometheus never became ready")

    def api(self, path, **params):
        self.http.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
        response = self.http.getresponse()
        body = json.loads(response.read())
        check(body.get("status") == "success", f"prometheus {path} {params}: {body}")
        return body["data"]

    def scalar(self, query):
        result = self.api("/api/v1/query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, query, done, timeout):
        return eventually(lambda: self.scalar(query), lambda v: v is not None and done(v), timeout)

    def scrapes(self):
        """How many scrapes of synfin Prometheus has stored so far."""
        return self.scalar('count_over_time(up{job="synfin"}[1h])') or 0

    def wait_for_scrapes(self, count, timeout=30):
        """Until `count` more scrapes than now are stored."""
        want = self.scrapes() + count
        check(self.wait_for('count_over_time(up{job="synfin"}[1h])', lambda v: v >= want, timeout)
              >= want, f"Prometheus did not scrape {count} more times")

    def stop(self):
        if self.http:
            self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def families(metrics_text):
    return set(re.findall(r"^# TYPE (\S+) ", metrics_text, re.M))


def metric_names(expr):
    names = set(re.findall(r"\b(synfin_[a-z0-9_]+)", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    require_privileges()
    synfin, deploy = sys.argv[1], sys.argv[2]
    check(shutil.which("prometheus") and shutil.which("promtool"), "prometheus/promtool missing")
    port, n = 18631, 200

    def test():
        workdir = tempfile.mkdtemp(prefix="synfin-prom-")
        # XDP on lo too, so that the packet-view panels and alerts have their series.
        # Scoped to the test's own ports: the host's other connections count in none of the
        # sums below.
        daemon = Daemon(synfin, DAEMON, "--stuck-threshold", "CLOSE_WAIT=2", "--xdp", "lo",
                        "--handshake-timeout", "2", "--port", str(port), "--port", str(port + 1))
        prom = stuck_server = stuck_client = None
        try:
            prom = PrometheusServer(deploy, workdir)
            check(prom.wait_for('up{job="synfin"}', lambda v: v == 1, 30) == 1, "target not up")

            # One connection left in CLOSE_WAIT: the client shuts down but keeps its socket, so
            # neither end closes (nothing is added to the closed count).
            stuck_server = Peer("server", "hold", port + 1, count=1, name="sf-leaky")
            stuck_server.expect("ready")
            stuck_client = Peer("client", "shutdown_hold", port + 1, count=1, name="sf-client")
            stuck_client.expect("connected")

            closed = "sum(synfin_tcp_connections_closed_total)"
            prom.wait_for_scrapes(2)  # a whole scrape after the stuck pair exists
            before = prom.scalar(closed)
            run_pair("client_first", port, count=n)
            after = prom.wait_for(closed, lambda v: v >= before + 2 * n, 30)
            prom.wait_for_scrapes(3)  # three more scrapes: the count must have settled, not overshot
            settled = prom.scalar(closed)
            if settled != before + 2 * n:  # name the strays before failing
                for c in daemon.get("/api/v1/closed?limit=10000")["closed"]:
                    if port not in (c["sport"], c["dport"]) and c["role"] != "listener":
                        print("unexpected close:", json.dumps(c)[:400])
            check(after == before + 2 * n and settled == after,
                  f"closed grew by {after - before:g} then {settled - before:g}, want exactly {2 * n}")

            def stuck_alert():
                alerts = prom.api("/api/v1/alerts")["alerts"]
                return [a for a in alerts if a["labels"].get("alertname") == "SynfinStuckCloseWait"]
            firing = eventually(lambda: [a for a in stuck_alert() if a["state"] == "firing"],
                                lambda alerts: alerts, timeout=60)
            check(firing, f"SynfinStuckCloseWait not firing: {stuck_alert()}")
            check(firing[0]["labels"]["instance"] == DAEMON, "alert on the wrong instance")

            # The exposition is promtool-clean with real data in it.
            text = daemon.get_text("/metrics")
            lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                                  text=True)
            check(lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(),
                  f"promtool check metrics: {lint.stdout}{lint.stderr}")
            exported = families(text)

            # Prometheus asks every scrape with `Accept-Encoding: gzip` (2.42 always does): the
            # daemon answers gzip, as node_exporter does, the same exposition once inflated.
            host, http_port = DAEMON.rsplit(":", 1)
            scrape = http.client.HTTPConnection(host, int(http_port), timeout=30)
            try:
                scrape.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
                response = scrape.getresponse()
                compressed = response.read()
                encoding = response.getheader("Content-Encoding")
            finally:
                scrape.close()
            check(response.status == 200 and encoding == "gzip",
                  f"/metrics asked for gzip: status {response.status}, Content-Encoding {encoding}")
            inflated = gzip.decompress(compressed).decode()
            check(families(inflated) == exported, "the gzip exposition has other metric families")
            check(len(compressed) * 4 < len(inflated),
                  f"gzip /metrics is {len(compressed)} bytes for {len(inflated)}")
            print(f"/metrics with traffic: {len(inflated)} bytes, {len(compressed)} bytes gzip")

            # Every dashboard and alert query runs in Prometheus and names only exported metrics.
            dashboard = json.load(open(os.path.join(deploy, "grafana", "synfin-dashboard.json")))
            queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
            queries += re.findall(r"^\s+expr:\s*(?:\|\n)?(.+?)(?=\n\s+(?:for|labels):)",
                                  open(os.path.join(deploy, "prometheus", "synfin-rules.yml")).read(),
                                  flags=re.M | re.S)
            unknown = set()
            for q in queries:
                unknown |= metric_names(q) - exported
                q = q.replace("$__rate_interval", "1m").replace("$instance", ".*")
                prom.api("/api/v1/query", query=q)
            check(not unknown, f"queries name metrics synfin does not export: {sorted(unknown)}")
            # Every handshake to a listener on lo completed, the scrapes' own included (refused
            # connects elsewhere on the host may count as no_listener).
            unanswered = prom.scalar('sum(synfin_tcp_syns_without_socket_total'
                                     '{reason=~"not_completed|accept_queue_full"})')
            check(unanswered == 0, f"{unanswered} SYNs to a listener never completed on lo: " +
                  str([line for line in daemon.get_text("/metrics").splitlines()
                       if line.startswith("synfin_tcp_syns_without_socket_total")]))
            check(prom.scalar('sum(synfin_xdp_packets_total{iface="lo",flags="syn"})') >= n,
                  "XDP on lo did not count the connections' SYNs")
            lifetime = prom.scalar("sum(synfin_tcp_connection_lifetime_seconds_count)")
            check(lifetime and lifetime >= 2 * n, f"lifetime histogram count {lifetime}")
            print(f"closed +{after - before:g}, SynfinStuckCloseWait firing, {len(queries)} queries ok, "
                  f"{len(exported)} families promtool-clean")
        finally:
            kill_all(stuck_client, stuck_server)
            if prom:
                prom.stop()
            daemon.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    run_main(test)


if __name__ == "__main__":
    main()
