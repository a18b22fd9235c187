// Small DOM helpers: text is always set as text; only the server's highlighted code
// (escaped by Pygments) is inserted as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "text") el.textContent = value;
    else if (key === "cls") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function code(html, cls = "") {
  const el = document.createElement("code");
  if (cls) el.className = cls;
  el.innerHTML = html; // Pygments output: every character of the source is escaped
  return el;
}

export function show(id, message, kind = "") {
  const el = document.getElementById(id);
  el.textContent = message;
  el.className = kind;
}

export function fileHref(project, path, start, end) {
  const q = new URLSearchParams({ view: "file", project, path });
  const anchor = start ? "#L" + start + (end && end !== start ? "-L" + end : "") : "";
  return "/?" + q.toString() + anchor;
}
