// The search page: one request per chosen project, painted as each answers,
// grouped by file; the query lives in the URL so a search can be shared.
import { api } from "./api.js";
import { code, fileHref, h, show } from "./dom.js";

const FIELDS = ["q", "mode", "language", "path", "kind", "limit"];
let generation = 0;

export function fillForm(params) {
  for (const name of FIELDS) {
    const el = document.getElementById(name);
    const value = params.get(name);
    if (value !== null) el.value = value;
  }
  const chosen = params.getAll("project");
  for (const option of document.getElementById("project").options) {
    option.selected = chosen.includes(option.value);
  }
}

export function formParams() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = document.getElementById(name).value.trim();
    if (value && !(name === "mode" && value === "hybrid") && !(name === "limit" && value === "10")) {
      params.set(name, value);
    }
  }
  for (const option of document.getElementById("project").selectedOptions) {
    params.append("project", option.value);
  }
  return params;
}

export function setProjects(projects) {
  const select = document.getElementById("project");
  const chosen = new Set([...select.selectedOptions].map((o) => o.value));
  select.replaceChildren(
    ...projects.map((p) =>
      h("option", { value: p.project, selected: chosen.has(p.project) }, p.project + (p.state === "complete" ? "" : " (" + p.state + ")")),
    ),
  );
  select.size = Math.min(4, Math.max(2, projects.length));
}

function group(results) {
  const files = new Map();
  for (const hit of results) {
    if (!files.has(hit.path)) files.set(hit.path, []);
    files.get(hit.path).push(hit);
  }
  return files;
}

function hitCard(project, hit, canRead) {
  const range = "L" + hit.start_line + "-" + hit.end_line;
  const title = [hit.symbol || "(no symbol)", hit.kind, range].filter(Boolean).join(" · ");
  const head = canRead
    ? h("a", { href: fileHref(project, hit.path, hit.start_line, hit.end_line), cls: "hit-link" }, title)
    : h("span", { cls: "hit-link" }, title);
  const lines = hit.snippet_html || hit.snippet.split("\n");
  const body = h(
    "pre",
    { cls: "snippet" },
    lines.map((line, i) =>
      h("span", { cls: "sline" }, h("span", { cls: "ln", "aria-hidden": "true" }, String(hit.start_line + i)), hit.snippet_html ? code(line) : h("code", { text: line })),
    ),
  );
  return h("article", { cls: "hit" }, h("h3", {}, head, h("span", { cls: "score" }, "score " + hit.score.toFixed(3))), body);
}

function paint(box, project, answer, canRead) {
  const section = h("section", { cls: "project-results", "data-project": project });
  const notes = [answer.query_type.replace("_", " "), answer.took_ms.toFixed(0) + " ms"];
  section.append(h("h2", {}, project + " — " + answer.results.length + " results", h("small", {}, " (" + notes.join(", ") + ")")));
  if (answer.degraded) section.append(h("p", { cls: "warn degraded" }, "degraded: the embedding provider failed, keyword results only"));
  for (const [path, hits] of group(answer.results)) {
    section.append(h("div", { cls: "file-group" }, h("h3", { cls: "path" }, path), hits.map((hit) => hitCard(project, hit, canRead))));
  }
  box.append(section);
}

function paintStructural(box, project, answer, canRead) {
  const section = h("section", { cls: "project-results", "data-project": project });
  section.append(h("h2", {}, project + " — " + answer.matches.length + " matches in " + answer.files_searched + " files"));
  if (answer.truncated) section.append(h("p", { cls: "warn partial" }, "partial: more matches than shown"));
  for (const m of answer.matches) {
    const title = m.path + ":" + m.start_line + "-" + m.end_line;
    const link = canRead ? h("a", { href: fileHref(project, m.path, m.start_line, m.end_line), cls: "hit-link" }, title) : h("span", {}, title);
    section.append(h("article", { cls: "hit" }, h("h3", {}, link), h("pre", { cls: "snippet" }, h("code", { text: m.text }))));
  }
  box.append(section);
}

function request(project, params) {
  const query = params.get("q");
  if (params.get("mode") === "structural") {
    const body = { pattern: query, language: params.get("language") || "python", project };
    return api("/api/v1/structural-search", { method: "POST", body });
  }
  const body = { query, project, highlight: true, limit: Number(params.get("limit") || 10) };
  for (const name of ["language", "path", "kind"]) if (params.get(name)) body[name] = params.get(name);
  return api("/api/v1/search", { method: "POST", body });
}

export async function runSearch(params, projects, canRead) {
  const box = document.getElementById("results");
  box.replaceChildren();
  const query = params.get("q");
  if (!query) {
    show("search-status", "");
    return;
  }
  const mine = ++generation;
  const chosen = params.getAll("project");
  const targets = chosen.length ? chosen : projects.map((p) => p.project);
  if (!targets.length) {
    show("search-status", "No project is indexed yet, or none is visible to you.", "warn");
    return;
  }
  show("search-status", "Searching " + targets.length + " project(s)…");
  let failed = 0;
  const structural = params.get("mode") === "structural";
  await Promise.all(
    targets.map(async (project) => {
      try {
        const answer = await request(project, params);
        if (mine !== generation) return;
        (structural ? paintStructural : paint)(box, project, answer, canRead);
      } catch (err) {
        if (mine !== generation) return;
        failed += 1;
        box.append(h("p", { cls: "error", role: "alert" }, project + ": " + err.message));
      }
    }),
  );
  if (mine !== generation) return;
  const done = targets.length - failed;
  const status = failed ? "partial: " + done + " of " + targets.length + " projects answered" : "Done: " + targets.length + " project(s).";
  show("search-status", status, failed ? "warn partial" : "");
  document.body.dataset.searched = String(mine);
}

// Keyboard: "/" focuses the query box; j/k or arrow keys move between results.
export function installKeys() {
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      document.getElementById("q").focus();
      return;
    }
    const down = event.key === "j" || event.key === "ArrowDown";
    const up = event.key === "k" || event.key === "ArrowUp";
    if ((!down && !up) || typing || document.getElementById("search").hidden) return;
    const links = [...document.querySelectorAll("#results .hit-link")];
    if (!links.length) return;
    event.preventDefault();
    const at = links.indexOf(document.activeElement);
    const next = down ? Math.min(links.length - 1, at + 1) : Math.max(0, at - 1);
    links[next].focus();
  });
}
