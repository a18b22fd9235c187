// The file view: every line numbered and linkable (#L120-L140), the range highlighted.
import { api } from "./api.js";
import { show } from "./dom.js";

const WINDOW = 2000; // lines the API returns per read (its cap)
const FIRST = 200; // lines painted first, around the target line: highlighting is per line

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

function read(project, path, start, end) {
  const q = new URLSearchParams({ path, start_line: String(start), end_line: String(end), highlight: "true" });
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
    const range = parseRange(location.hash);
    let from = Math.max(1, (range ? range.start : 1) - FIRST / 2);
    let past = "";
    if (from > 1) {
      // A link far into the file may point past its end (the file changed): ask its length first.
      const q = new URLSearchParams({ path, start_line: "1", end_line: "1" });
      const total = (await api("/api/v1/projects/" + encodeURIComponent(project) + "/files?" + q.toString())).total_lines;
      if (range.start > total) {
        from = Math.max(1, total - FIRST + 1);
        past = " · line " + range.start + " is past the end (" + total + " lines)";
      }
    }
    const first = await read(project, path, from, from + FIRST - 1);
    const before = document.createElement("div");
    const middle = document.createElement("div");
    const after = document.createElement("div");
    middle.innerHTML = rows(first); // Pygments-escaped lines, numbers and ids we made
    box.replaceChildren(before, middle, after);
    const ms = performance.now() - started;
    show("file-meta", project + " · " + first.language + " · " + first.total_lines + " lines" + past);
    document.body.dataset.fileMs = ms.toFixed(1);
    document.getElementById("structural-language").value = first.language;
    markRange(location.hash);
    if (past) middle.lastElementChild?.scrollIntoView({ block: "end" });
    // The rest in the background, in file order, without moving the line in view.
    const shown = first.start_line + first.lines_html.length - 1;
    const earlier = [];
    for (let start = 1; start < first.start_line; start += WINDOW)
      earlier.push(read(project, path, start, Math.min(first.start_line - 1, start + WINDOW - 1)));
    for (let start = shown + 1; start <= first.total_lines; start += WINDOW) {
      const answer = await read(project, path, start, start + WINDOW - 1);
      after.insertAdjacentHTML("beforeend", rows(answer));
    }
    const top = middle.getBoundingClientRect().top;
    for (const answer of await Promise.all(earlier)) before.insertAdjacentHTML("beforeend", rows(answer));
    window.scrollBy(0, middle.getBoundingClientRect().top - top);
    if (range) for (let n = range.start; n <= range.end; n++) document.getElementById("L" + n)?.classList.add("hl");
    document.body.dataset.fileAllMs = (performance.now() - started).toFixed(1);
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
