// The page's router: the URL's query says which view and what to search.
import { allows, api, onSignOut, signIn, signOut, signedIn } from "./api.js";
import { show } from "./dom.js";
import { installLineLinks, openFile } from "./file.js";
import { showOps } from "./ops.js";
import { showProjects } from "./projects.js";
import { fillForm, formParams, installKeys, runSearch, setProjects } from "./search.js";

const VIEWS = ["login", "search", "file", "projects", "ops"];
let me = null;
let projects = [];

function only(view) {
  for (const id of VIEWS) document.getElementById(id).hidden = id !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function loadProjects() {
  projects = me.can("codeweaver:index:read") ? (await api("/api/v1/projects")).projects : [];
  setProjects(projects);
  return projects;
}

async function route() {
  if (!me) return;
  const params = new URLSearchParams(location.search);
  const view = params.get("view") || "search";
  if (view === "file") {
    only("file");
    await openFile(params);
  } else if (view === "projects") {
    only("projects");
    await showProjects(me, loadProjects);
  } else if (view === "ops") {
    only("ops");
    await showOps(me);
  } else {
    only("search");
    fillForm(params);
    await runSearch(params, projects, me.can("codeweaver:code:read"));
  }
}

function go(url) {
  history.pushState(null, "", url);
  route();
}

async function start() {
  try {
    const caller = await api("/api/v1/user/permissions");
    me = { ...caller, can: (p) => allows(caller.permissions, p) };
  } catch (err) {
    if (err.status !== 401) throw err;
    only("login");
    document.getElementById("username").focus();
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = me.user + " · " + me.roles.join(", ") + " · " + me.tenants.join(", ");
  document.getElementById("logout").hidden = !signedIn();
  document.getElementById("nav-ops").hidden = !me.can("codeweaver:health:read") || !me.can("codeweaver:metrics:read");
  await loadProjects();
  await route();
}

function signedOut(message) {
  me = null;
  projects = [];
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("results").replaceChildren();
  only("login");
  show("login-error", message || "");
}

function install() {
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    show("login-error", "");
    try {
      await signIn(document.getElementById("username").value, document.getElementById("password").value);
      document.getElementById("password").value = "";
      await start();
    } catch (err) {
      show("login-error", err.message, "error");
    }
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await signOut();
    signedOut("Signed out.");
  });
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = formParams();
    go(params.toString() ? "/?" + params.toString() : "/");
  });
  document.getElementById("structural-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams({
      mode: "structural",
      q: document.getElementById("structural-pattern").value,
      language: document.getElementById("structural-language").value,
      project: document.getElementById("structural-project").value,
    });
    go("/?" + q.toString());
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='/']");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || link.classList.contains("ln")) return;
    event.preventDefault();
    go(link.getAttribute("href"));
  });
  window.addEventListener("popstate", route);
  onSignOut(signedOut);
  installKeys();
  installLineLinks();
}

install();
start().catch((err) => show("search-status", err.message, "error"));
