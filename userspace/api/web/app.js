// synfin's page: the daemon's JSON API, refreshed in place every two seconds. Everything from
// the API goes into the page as text (textContent), never as markup.
"use strict";

const REFRESH_MS = 2000;

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (className) td.className = className;
  return td;
}

function connLink(row, conn, text) {
  const td = row.insertCell();
  const a = document.createElement("a");
  a.href = "/conn/" + encodeURIComponent(conn);
  a.textContent = text;
  td.appendChild(a);
  return td;
}

function age(seconds, lowerBound) {
  const s = Number(seconds);
  const text = s >= 3600 ? (s / 3600).toFixed(1) + " h" : s >= 60 ? (s / 60).toFixed(1) + " min" : s.toFixed(1) + " s";
  return (lowerBound ? "≥ " : "") + text;
}

function owner(r) {
  return r.pid === null || r.pid === undefined ? null : (r.comm || "?") + " [" + r.pid + "]";
}

// What the owner's cgroup path names: a pod (UID, QoS), else a container, else a systemd unit.
function identity(r) {
  if (r.pod_uid) return "pod " + r.pod_uid + (r.pod_qos ? " (" + r.pod_qos + ")" : "");
  if (r.container_id) return (r.container_runtime || "container") + " " + r.container_id.slice(0, 12);
  return r.unit || null;
}

function netns(r) {
  if (r.netns === null || r.netns === undefined) return null;
  return r.netns_is_host ? "host" : String(r.netns);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  return { status: response.status, body: await response.json() };
}

function fill(table, rows, render) {
  const body = document.querySelector("#" + table + " tbody");
  body.replaceChildren();
  for (const r of rows) render(body.insertRow(), r);
}

async function refreshHealth() {
  const { body } = await getJson("/healthz");
  const badge = document.getElementById("health");
  badge.textContent = body.status;
  badge.className = "badge " + body.status;
}

async function refreshStuck() {
  const { body } = await getJson("/api/v1/stuck");
  const rows = (body.stuck || []).slice().sort((a, b) => b.age_seconds - a.age_seconds);
  fill("stuck", rows, (tr, r) => {
    tr.dataset.conn = r.conn;
    tr.dataset.state = r.state;
    connLink(tr, r.conn, r.state);
    cell(tr, age(r.age_seconds, r.age_is_lower_bound));
    cell(tr, r.local);
    cell(tr, r.remote);
    cell(tr, owner(r), "owner");
    cell(tr, r.activity);
    cell(tr, r.recv_queue_bytes === undefined ? null : r.recv_queue_bytes + " / " + r.send_queue_bytes);
    cell(tr, r.close_wait_reaction_seconds === undefined ? null : age(r.close_wait_reaction_seconds, false));
    cell(tr, identity(r));
    cell(tr, netns(r));
  });
  document.getElementById("stuck-empty").hidden = rows.length > 0;
}

async function refreshListeners() {
  const section = document.getElementById("listeners-section");
  let answer;
  try {
    answer = await getJson("/api/v1/listeners");
  } catch (e) {
    section.hidden = true;
    return;
  }
  const rows = answer.status === 200 ? answer.body.listeners || [] : null;
  section.hidden = rows === null;
  if (!rows) return;
  const columns = rows.length ? Object.keys(rows[0]).filter((k) => typeof rows[0][k] !== "object" || rows[0][k] === null) : [];
  const head = document.querySelector("#listeners thead");
  head.replaceChildren();
  const tr = head.insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c.replaceAll("_", " ");
    tr.appendChild(th);
  }
  fill("listeners", rows, (row, r) => { for (const c of columns) cell(row, r[c]); });
}

async function refreshTimeWait() {
  const { body } = await getJson("/api/v1/timewait?limit=10");
  const waiting = body.awaiting_peer_fin || 0;
  document.getElementById("timewait-total").textContent =
    (body.total - waiting) + " sockets in TIME_WAIT" +
    (waiting ? ", " + waiting + " in FIN_WAIT2 awaiting the peer's FIN" : "");
  fill("timewait", body.by_peer || [], (tr, r) => {
    cell(tr, r.remote);
    cell(tr, r.saddr);
    cell(tr, r.count);
    cell(tr, (100 * r.port_range_usage).toFixed(2) + " %");
  });
}

const knownOutcomes = new Set();

async function refreshClosed() {
  const outcome = document.getElementById("outcome").value;
  const verdict = document.getElementById("verdict").value;
  const query = new URLSearchParams({ limit: "200" });
  if (outcome) query.set("outcome", outcome);
  if (verdict) query.set("verdict", verdict);
  const { body } = await getJson("/api/v1/closed?" + query);
  const rows = (body.closed || []).slice().reverse();  // newest first
  const select = document.getElementById("outcome");
  for (const r of rows) {
    if (knownOutcomes.has(r.outcome)) continue;
    knownOutcomes.add(r.outcome);
    const option = document.createElement("option");
    option.textContent = r.outcome;
    select.appendChild(option);
  }
  fill("closed", rows, (tr, r) => {
    tr.dataset.conn = r.conn;
    cell(tr, new Date(r.ts_ns / 1e6).toLocaleTimeString());
    connLink(tr, r.conn, r.role);
    cell(tr, r.saddr + ":" + r.sport);
    cell(tr, r.daddr + ":" + r.dport);
    cell(tr, r.states.join(" → "), "states");
    cell(tr, r.outcome.replaceAll("_", " "));
    cell(tr, r.verdict + (r.reason ? " (" + r.reason + ")" : ""), r.verdict === "invalid" ? "invalid" : "");
    const anomalies = r.anomalies && r.anomalies.length ? r.anomalies.join(", ") : null;
    cell(tr, anomalies, anomalies ? "anomaly" : "");
    cell(tr, owner(r), "owner");
  });
}

async function refresh() {
  const parts = [refreshHealth, refreshStuck, refreshListeners, refreshTimeWait, refreshClosed];
  await Promise.allSettled(parts.map((part) => part()));
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

document.getElementById("outcome").addEventListener("change", refresh);
document.getElementById("verdict").addEventListener("change", refresh);
refresh();
setInterval(refresh, REFRESH_MS);
