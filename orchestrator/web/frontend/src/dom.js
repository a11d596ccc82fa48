// Small DOM helpers: h() builds elements, plus formatting used across the pages.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value);
  }
  append(el, children);
  return el;
}

// Replace an element's children (null, false and undefined are skipped, arrays flattened).
export function fill(el, ...children) {
  clear(el);
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const STATE_LABELS = {
  materialized: "Materialized", fresh: "Fresh", stale: "Stale", failed: "Failed", running: "Running",
  missing: "Missing", external: "External", queued: "Queued", starting: "Starting", started: "Running",
  succeeded: "Succeeded", canceled: "Canceled", canceling: "Canceling", skipped: "Skipped", pending: "Pending",
  requested: "Requested", late: "Late", stopped: "Stopped",
};

export function badge(state, extra = "", title = "") {
  return h("span", { class: `badge state-${state} ${extra}`.trim(), title: title || STATE_LABELS[state] || state },
    STATE_LABELS[state] || state);
}

export function link(href, ...children) {
  return h("a", { href, "data-link": "" }, ...children);
}

export function assetHref(key) {
  return "/assets/" + key.split("/").map(encodeURIComponent).join("/");
}

// A key that may wrap after each "/" when its column is narrow (<wbr>: copying it gives the key).
export function breakable(key) {
  return key.split("/").flatMap((part, i) => (i ? ["/", h("wbr"), part] : [part]));
}

export function assetLink(key, text) {
  return h("a", { href: assetHref(key), "data-link": "", class: "asset-key" }, text ?? breakable(key));
}

export function runHref(runId) {
  return "/runs/" + encodeURIComponent(runId);
}

export const fmt = {
  time(ts) {
    if (ts === null || ts === undefined) return "—";
    const d = new Date(ts * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  },
  clock(ts) {
    const d = new Date(ts * 1000);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  },
  ago(ts) {
    if (ts === null || ts === undefined) return "never";
    const s = Date.now() / 1000 - ts;
    if (s < 5) return "just now";
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
    const m = Math.floor(seconds / 60);
    if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  },
  number(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  },
  bytes(n) {
    if (n === null || n === undefined) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  },
  short(id) {
    return id ? id.slice(0, 8) : "";
  },
};

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// At most one call per `ms`, the last one always made: for refreshes that events trigger.
export function throttle(fn, ms) {
  let last = 0, timer = null;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) { last = Date.now(); fn(); return; }
    if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
  };
}

export function emptyState(text, hint) {
  return h("div", { class: "empty" }, h("div", { class: "empty-title" }, text), hint ? h("div", { class: "muted" }, hint) : null);
}

export function errorBox(error) {
  return h("div", { class: "error-box" }, h("strong", {}, "Error: "), String(error && error.message ? error.message : error));
}

export function table(columns, rows, { empty = "Nothing here yet.", cls = "" } = {}) {
  if (!rows.length) return emptyState(empty);
  return h("table", { class: `table ${cls}` },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.cls }, c.title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.cls }, c.cell(row)))))));
}
