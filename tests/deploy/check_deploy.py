#!/usr/bin/env python3
"""Static checks of deploy/ (no root): the DaemonSet's structure and its agreement with the
systemd unit, YAML lint, the dashboard's shape, and systemd-analyze verify on the unit.

usage: check_deploy.py DEPLOY_DIR SYNFIN daemonset|yamllint|dashboard|systemd"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml


UNIT_EXPOSURE = 22  # systemd-analyze security's overall exposure, in tenths


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def unit_capabilities(deploy):
    text = open(os.path.join(deploy, "systemd", "synfin.service")).read()
    bounding = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M).group(1).split()
    ambient = re.search(r"^AmbientCapabilities=(.*)$", text, re.M).group(1).split()
    if sorted(bounding) != sorted(ambient):
        fail(f"unit: bounding set {bounding} != ambient {ambient}")
    return sorted(c.removeprefix("CAP_") for c in bounding)


def check_daemonset(deploy):
    docs = list(yaml.safe_load_all(open(os.path.join(deploy, "kubernetes", "daemonset.yaml"))))
    ds = [d for d in docs if d and d.get("kind") == "DaemonSet"]
    if len(ds) != 1:
        fail("want exactly one DaemonSet")
    ds = ds[0]
    if ds.get("apiVersion") != "apps/v1":
        fail("DaemonSet apiVersion is not apps/v1")
    spec = ds["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for key, value in spec["selector"]["matchLabels"].items():
        if labels.get(key) != value:
            fail(f"selector {key}={value} does not match the pod labels")
    pod = spec["template"]["spec"]
    if not (pod.get("hostNetwork") and pod.get("hostPID")):
        fail("hostNetwork and hostPID are needed to see the node's sockets and processes")
    (container,) = pod["containers"]
    sc = container["securityContext"]
    if sc.get("privileged") or sc.get("allowPrivilegeEscalation") is not False:
        fail("container must not be privileged nor escalate")
    if sc["capabilities"].get("drop") != ["ALL"]:
        fail("capabilities must drop ALL first")
    if sorted(sc["capabilities"]["add"]) != unit_capabilities(deploy):
        fail(f"capabilities {sc['capabilities']['add']} differ from the systemd unit's")
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for path in ("/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf"):
        if path not in mounts or volumes.get(mounts[path]) != path:
            fail(f"{path} is not mounted from the host")
    args = container["args"]
    if args[0] != "daemon" or "--listen" not in args:
        fail("container does not run `synfin daemon --listen`")
    port = int(args[args.index("--listen") + 1].rsplit(":", 1)[1])
    annotations = spec["template"]["metadata"].get("annotations", {})
    if int(annotations.get("prometheus.io/port", 0)) != port:
        fail("prometheus.io/port does not match --listen")
    if container["ports"][0]["containerPort"] != port:
        fail("containerPort does not match --listen")
    for probe in ("livenessProbe", "readinessProbe"):
        if container[probe]["httpGet"]["path"] != "/healthz":
            fail(f"{probe} does not use /healthz")
    print(f"DaemonSet: host network/PID, caps {unit_capabilities(deploy)}, btf/tracefs/bpffs, port {port}")


def check_yamllint(deploy):
    config = "{extends: default, rules: {line-length: {max: 200}, document-start: disable}}"
    files = [os.path.join(root, f) for root, _, names in os.walk(deploy) for f in names
             if f.endswith((".yml", ".yaml"))]
    r = subprocess.run(["yamllint", "-s", "-d", config, *files], capture_output=True, text=True)
    if r.returncode != 0:
        fail("yamllint:\n" + r.stdout + r.stderr)
    print(f"yamllint clean on {len(files)} files")


def check_dashboard(deploy):
    dashboard = json.load(open(os.path.join(deploy, "grafana", "synfin-dashboard.json")))
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    if len(set(ids)) != len(ids):
        fail("duplicate panel ids")
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    if not exprs or any("synfin_" not in e for e in exprs):
        fail("a dashboard query names no synfin metric")
    for p in panels:
        if not p.get("title") or not p.get("targets") or "gridPos" not in p:
            fail(f"panel {p.get('id')} incomplete")
    print(f"dashboard: {len(panels)} panels, {len(exprs)} queries "
          "(their metrics are checked against a live /metrics by the privileged monitoring test)")


def check_systemd(deploy, synfin):
    with tempfile.TemporaryDirectory() as tmp:
        unit = open(os.path.join(deploy, "systemd", "synfin.service")).read()
        unit = re.sub(r"(?m)^ExecStart=\S*/synfin ", f"ExecStart={os.path.abspath(synfin)} ", unit)
        path = os.path.join(tmp, "synfin.service")
        open(path, "w").write(unit)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        output = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or "synfin.service" in output:
            fail("systemd-analyze verify:\n" + output)
        # The exposure the unit was tightened to (3.1 before): a setting loosened fails here.
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                            f"--threshold={UNIT_EXPOSURE}", path], capture_output=True, text=True)
        score = re.search(r"Overall exposure level for synfin.service: (\S+)", r.stdout)
        if r.returncode != 0:
            fail(f"systemd-analyze security: exposure {score.group(1) if score else '?'}, "
                 f"above {UNIT_EXPOSURE / 10}")
    print(f"systemd-analyze verify: clean; security: exposure {score.group(1)}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    deploy, synfin, what = sys.argv[1:]
    if what == "systemd" and not shutil.which("systemd-analyze"):
        fail("systemd-analyze is missing (package systemd)")
    {"daemonset": lambda: check_daemonset(deploy), "yamllint": lambda: check_yamllint(deploy),
     "dashboard": lambda: check_dashboard(deploy),
     "systemd": lambda: check_systemd(deploy, synfin)}[what]()
    print("PASS")


if __name__ == "__main__":
    main()
