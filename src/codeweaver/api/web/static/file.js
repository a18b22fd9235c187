// The file view: every line numbered and linkable (#L120-L140), the range highlighted.
import { api } from "./api.js";
import { show } from "./dom.js";

const WINDOW = 2000; // lines the API returns per read

function parseRange(hash) {
  const m = /^#L(\d+)(?:-L(\d+))?$/.exec(hash);
  if (!m) return null;
  const start = Number(m[1]);
  return { start, end: Math.max(start, Number(m[2] || m[1])) };
}

function rows(answer) {
  const parts = [];
  answer.lines_html.forEach((html, i) => {
    const n = answer.start_line + i;
    parts.push('<div class="fline" id="L' + n + '"><a class="ln" href="#L' + n + '">' + n + "</a><code>" + html + "</code></div>");
  });
  return parts.join("");
}

function read(project, path, start) {
  const q = new URLSearchParams({ path, start_line: String(start), end_line: String(start + WINDOW - 1), highlight: "true" });
  return api("/api/v1/projects/" + encodeURIComponent(project) + "/files?" + q.toString());
}

export function markRange(hash) {
  for (const el of document.querySelectorAll("#file-lines .hl")) el.classList.remove("hl");
  const range = parseRange(hash);
  if (!range) return;
  for (let n = range.start; n <= range.end; n++) {
    const el = document.getElementById("L" + n);
    if (el) el.classList.add("hl");
  }
  const first = document.getElementById("L" + range.start);
  if (first) first.scrollIntoView({ block: "center" });
}

export async function openFile(params) {
  const project = params.get("project");
  const path = params.get("path");
  const box = document.getElementById("file-lines");
  box.replaceChildren();
  document.getElementById("file-title").textContent = path || "";
  document.getElementById("structural-project").value = project || "";
  if (!project || !path) {
    show("file-meta", "Give a project and a path.", "error");
    return;
  }
  show("file-meta", "Loading…");
  const started = performance.now();
  try {
    const first = await read(project, path, 1);
    box.innerHTML = rows(first); // Pygments-escaped lines, numbers and ids we made
    const rest = [];
    for (let start = WINDOW + 1; start <= first.total_lines; start += WINDOW) rest.push(read(project, path, start));
    for (const answer of await Promise.all(rest)) box.insertAdjacentHTML("beforeend", rows(answer));
    const ms = performance.now() - started;
    show("file-meta", project + " · " + first.language + " · " + first.total_lines + " lines");
    document.body.dataset.fileMs = ms.toFixed(1);
    document.getElementById("structural-language").value = first.language;
    markRange(location.hash);
  } catch (err) {
    show("file-meta", err.message, "error");
  }
}

// Shift-click on a line number extends the highlighted range from the last one.
export function installLineLinks() {
  document.getElementById("file-lines").addEventListener("click", (event) => {
    const link = event.target.closest("a.ln");
    if (!link) return;
    const current = parseRange(location.hash);
    const n = Number(link.textContent);
    if (event.shiftKey && current) {
      event.preventDefault();
      const start = Math.min(current.start, n);
      const end = Math.max(current.start, n);
      history.replaceState(null, "", location.search + "#L" + start + "-L" + end);
      markRange(location.hash);
    }
  });
  window.addEventListener("hashchange", () => markRange(location.hash));
}
