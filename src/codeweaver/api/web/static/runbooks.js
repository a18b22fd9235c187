// For operators: search the runbook articles and read one. An article's Markdown is
// turned into elements whose text is set as text: no HTML from the article is ever parsed.
import { api } from "./api.js";
import { h, show } from "./dom.js";

// Inline `code` and **strong**; everything else stays text.
function inline(text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push(m[1] !== undefined ? h("code", {}, m[1]) : h("strong", {}, m[2]));
    at = re.lastIndex;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

// Headings (one level below the page's), lists, fenced code and paragraphs.
export function renderMarkdown(markdown) {
  const nodes = [];
  let para = [];
  let list = null;
  let fence = null;
  const flush = () => {
    if (para.length) nodes.push(h("p", {}, inline(para.join(" "))));
    para = [];
    list = null;
  };
  for (const line of markdown.split("\n")) {
    if (fence !== null) {
      if (/^```/.test(line)) {
        nodes.push(h("pre", {}, h("code", {}, fence.join("\n"))));
        fence = null;
      } else fence.push(line);
      continue;
    }
    if (/^```/.test(line)) {
      flush();
      fence = [];
      continue;
    }
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    const item = /^\s*(?:[-*]|(\d+)\.)\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      nodes.push(h("h" + (heading[1].length + 2), {}, inline(heading[2])));
    } else if (item) {
      if (para.length) flush();
      const tag = item[1] ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = h(tag, {});
        nodes.push(list);
      }
      list.append(h("li", {}, inline(item[2])));
    } else if (!line.trim()) flush();
    else if (list && /^\s+/.test(line)) list.lastElementChild.append(" ", ...inline(line.trim()));
    else {
      list = null;
      para.push(line.trim());
    }
  }
  if (fence !== null) nodes.push(h("pre", {}, h("code", {}, fence.join("\n"))));
  flush();
  return nodes;
}

async function open(id) {
  const art = await api("/api/v1/runbooks/" + encodeURIComponent(id));
  const box = document.getElementById("runbook-article");
  box.replaceChildren(...renderMarkdown(art.text));
  box.hidden = false;
  box.dataset.article = art.id;
}

async function search(query) {
  const q = new URLSearchParams({ q: query });
  const answer = await api("/api/v1/runbooks?" + q.toString());
  const items = answer.articles.map((a) =>
    h(
      "li",
      {},
      h("button", { type: "button", cls: "runbook-link", "data-article": a.id, onclick: () => open(a.id).catch((err) => show("runbook-status", err.message, "error")) }, a.title),
      a.snippet ? h("span", { cls: "muted" }, " — " + a.snippet) : null,
    ),
  );
  document.getElementById("runbook-results").replaceChildren(...items);
  show("runbook-status", items.length ? items.length + " articles" : "No article matches.");
}

let installed = false;

export async function showRunbooks() {
  if (!installed) {
    installed = true;
    document.getElementById("runbook-form").addEventListener("submit", (event) => {
      event.preventDefault();
      show("runbook-status", "Searching…");
      search(document.getElementById("runbook-q").value).catch((err) => show("runbook-status", err.message, "error"));
    });
  }
  await search(document.getElementById("runbook-q").value);
}
