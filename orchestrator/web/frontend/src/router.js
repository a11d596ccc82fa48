// History-API routing: every page has a stable URL; links marked data-link navigate in place.

const routes = [];
let current = null; // { cleanup }
let outlet = null;
let onNavigate = null;

export function route(pattern, load) {
  // "/assets/*key" -> the rest of the path; ":id" -> one segment
  const names = [];
  const regex = pattern.replace(/\*(\w+)/g, (_, n) => { names.push(n); return "(.+)"; })
    .replace(/:(\w+)/g, (_, n) => { names.push(n); return "([^/]+)"; });
  routes.push({ regex: new RegExp("^" + regex + "/?$"), names, load });
}

export function start(element, navigated) {
  outlet = element;
  onNavigate = navigated;
  window.addEventListener("popstate", () => render());
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[data-link]");
    if (!a || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(a.getAttribute("href"));
  });
  render();
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
}

// Change the query string of the current page without rendering it again.
export function setQuery(params) {
  const search = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") search.delete(k);
    else search.set(k, v);
  }
  const text = search.toString();
  history.replaceState(null, "", location.pathname + (text ? "?" + text : ""));
}

async function render() {
  if (current && current.cleanup) current.cleanup();
  current = null;
  const path = location.pathname;
  const query = Object.fromEntries(new URLSearchParams(location.search));
  for (const r of routes) {
    const match = r.regex.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(match[i + 1])]));
    const mine = (current = { cleanup: null });
    if (onNavigate) onNavigate(path);
    outlet.replaceChildren();
    const page = await r.load(outlet, params, query);
    if (current === mine) mine.cleanup = page;
    else if (typeof page === "function") page();
    return;
  }
  outlet.replaceChildren(document.createTextNode("No page here."));
}
