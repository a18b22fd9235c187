// Projects and their index jobs; managers may start a re-index (the API decides anyway).
import { api } from "./api.js";
import { h, show } from "./dom.js";

let poller = 0;

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "never";
}

function projectRow(p, canIndex, onIndex) {
  const failures = p.failures.length
    ? h("details", {}, h("summary", {}, p.failures.length + " failed"), h("ul", {}, p.failures.map((f) => h("li", {}, f.path + ": " + f.reason))))
    : "0";
  const action = canIndex
    ? h("button", { type: "button", cls: "reindex", "data-project": p.project, onclick: () => onIndex(p) }, "Re-index")
    : "";
  return h(
    "tr",
    { "data-project": p.project },
    h("th", { scope: "row" }, p.project),
    h("td", {}, p.tenant),
    h("td", { cls: "num" }, String(p.files)),
    h("td", { cls: "num" }, String(p.chunks)),
    h("td", { cls: "state-" + String(p.state).replace(/\W+/g, "-") }, p.state),
    h("td", {}, when(p.last_run_at)),
    h("td", {}, failures),
    h("td", {}, action),
  );
}

function jobRow(job) {
  const total = job.files_total || 0;
  const bar = h("progress", { max: String(Math.max(total, 1)), value: String(job.files_done || 0), "aria-label": "progress of " + job.project });
  return h(
    "tr",
    { "data-job": job.job_id },
    h("td", {}, job.project),
    h("td", { cls: "job-state" }, job.state),
    h("td", {}, bar, " " + (job.files_done || 0) + "/" + total + " files, " + (job.chunks || 0) + " chunks"),
    h("td", {}, job.errors.length ? job.errors.join("; ") : ""),
  );
}

async function refreshJobs(canRead) {
  if (!canRead) return false;
  const { jobs } = await api("/api/v1/jobs");
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...jobs.map(jobRow));
  document.getElementById("jobs").hidden = jobs.length === 0;
  return jobs.some((j) => j.state === "queued" || j.state === "running");
}

export async function showProjects(me, reload) {
  clearTimeout(poller);
  const canIndex = me.can("codeweaver:index:write");
  const onIndex = async (p) => {
    try {
      const job = await api("/api/v1/index", { method: "POST", body: { path: p.root, project: p.project } });
      show("projects-status", "Re-index of " + p.project + " started (job " + job.job_id + ").");
      await poll(me, reload);
    } catch (err) {
      show("projects-status", err.message, "error");
    }
  };
  try {
    const projects = await reload();
    document.querySelector("#project-table tbody").replaceChildren(...projects.map((p) => projectRow(p, canIndex, onIndex)));
    document.getElementById("reindex-col").hidden = !canIndex;
    show("projects-status", projects.length ? "" : "No project is visible to you.");
    await poll(me, reload, false);
  } catch (err) {
    show("projects-status", err.message, "error");
  }
}

async function poll(me, reload, again = true) {
  clearTimeout(poller);
  const busy = await refreshJobs(me.can("codeweaver:index:read"));
  if (document.getElementById("projects").hidden) return;
  if (busy) {
    poller = setTimeout(() => poll(me, reload), 1000);
  } else if (again) {
    showProjects(me, reload); // the job ended: show the new counts
  }
}
