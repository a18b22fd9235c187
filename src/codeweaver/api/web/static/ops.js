// For operators: health components, key metrics sampled from /metrics as small charts,
// and backups. Each part is shown only to a role that may read it.
import { api } from "./api.js";
import { h, show } from "./dom.js";
import { showRunbooks } from "./runbooks.js";

const POINTS = 60;
const series = { request_ms: [], search_ms: [], error_rate: [], cache_hit: [] };
let last = null;
let timer = 0;

// Prometheus text format: sums of every sample of a metric, optionally filtered.
function parse(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) samples.push({ name: m[1], labels: m[2] || "", value: Number(m[3]) });
  }
  return samples;
}

function total(samples, name, test = () => true) {
  return samples.filter((s) => s.name === name && test(s.labels)).reduce((a, s) => a + s.value, 0);
}

function snapshot(samples) {
  return {
    reqSum: total(samples, "codeweaver_request_duration_seconds_sum"),
    reqCount: total(samples, "codeweaver_request_duration_seconds_count"),
    searchSum: total(samples, "codeweaver_search_latency_seconds_sum"),
    searchCount: total(samples, "codeweaver_search_latency_seconds_count"),
    requests: total(samples, "codeweaver_requests_total"),
    errors: total(samples, "codeweaver_requests_total", (l) => /status="5/.test(l)),
    hits: total(samples, "codeweaver_cache_hits_total"),
    misses: total(samples, "codeweaver_cache_misses_total"),
  };
}

function ratio(a, b) {
  return b > 0 ? a / b : 0;
}

function push(name, value) {
  series[name].push(value);
  if (series[name].length > POINTS) series[name].shift();
}

function draw(name, unit) {
  const canvas = document.getElementById("chart-" + name);
  const ctx = canvas.getContext("2d");
  const data = series[name];
  const max = Math.max(...data, unit === "%" ? 1 : 0.001);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#1f5fbf";
  ctx.lineWidth = 2;
  ctx.beginPath();
  data.forEach((v, i) => {
    const x = (i / (POINTS - 1)) * (canvas.width - 4) + 2;
    const y = canvas.height - 2 - (v / max) * (canvas.height - 4);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  const latest = data.length ? data[data.length - 1] : 0;
  const shown = unit === "%" ? (latest * 100).toFixed(1) + " %" : latest.toFixed(1) + " ms";
  document.getElementById("value-" + name).textContent = shown;
}

async function sample() {
  const now = snapshot(parse(await api("/metrics", { text: true })));
  const prev = last || { reqSum: 0, reqCount: 0, searchSum: 0, searchCount: 0, requests: 0, errors: 0, hits: 0, misses: 0 };
  push("request_ms", 1000 * ratio(now.reqSum - prev.reqSum, now.reqCount - prev.reqCount));
  push("search_ms", 1000 * ratio(now.searchSum - prev.searchSum, now.searchCount - prev.searchCount));
  push("error_rate", ratio(now.errors - prev.errors, now.requests - prev.requests));
  push("cache_hit", ratio(now.hits - prev.hits, now.hits - prev.hits + now.misses - prev.misses));
  last = now;
  draw("request_ms", "ms");
  draw("search_ms", "ms");
  draw("error_rate", "%");
  draw("cache_hit", "%");
}

async function health() {
  let answer;
  try {
    answer = await api("/api/v1/health");
  } catch (err) {
    if (err.status !== 503) throw err;
    answer = { status: "unhealthy", components: {} };
  }
  document.getElementById("health-overall").textContent = answer.status;
  document.getElementById("health-overall").className = "status-" + answer.status;
  const rows = Object.entries(answer.components).map(([name, c]) =>
    h("tr", {}, h("th", { scope: "row" }, name), h("td", { cls: "status-" + c.status }, c.status), h("td", {}, c.detail), h("td", { cls: "num" }, c.latency_ms + " ms")),
  );
  document.querySelector("#health-table tbody").replaceChildren(...rows);
}

async function backups() {
  const answer = await api("/api/v1/admin/backups");
  const list = answer.backups || [];
  const rows = list.map((b) =>
    h(
      "tr",
      {},
      h("td", {}, b.backup_id),
      h("td", {}, b.created_at || ""),
      h("td", {}, (b.components || []).join(", ")),
      h("td", { cls: "num" }, String(b.points ?? "")),
      h("td", { cls: "num" }, b.size_mb === undefined ? "" : b.size_mb + " MB"),
      h("td", { cls: "status-" + b.status }, b.status),
    ),
  );
  document.querySelector("#backup-table tbody").replaceChildren(...rows);
  show("backup-status", list.length ? "" : "No backups yet.");
}

export async function showOps(me) {
  clearTimeout(timer);
  const parts = [
    ["ops-health", "codeweaver:health:read", health],
    ["ops-metrics", "codeweaver:metrics:read", sample],
    ["ops-backups", "codeweaver:backup:read", backups],
    ["ops-runbooks", "codeweaver:runbook:read", showRunbooks],
  ];
  for (const [id, permission, load] of parts) {
    const allowed = me.can(permission);
    document.getElementById(id).hidden = !allowed;
    if (allowed) {
      try {
        await load();
      } catch (err) {
        show("ops-status", err.message, "error");
      }
    }
  }
  const tick = async () => {
    if (document.getElementById("ops").hidden || !me.can("codeweaver:metrics:read")) return;
    try {
      await sample();
    } catch (err) {
      show("ops-status", err.message, "error");
    }
    timer = setTimeout(tick, 5000);
  };
  timer = setTimeout(tick, 5000);
}
