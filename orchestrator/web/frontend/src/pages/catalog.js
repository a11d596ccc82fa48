// The asset catalog: every asset in a virtualised table (10,000 rows scroll smoothly), searchable,
// sortable, filtered by state and by a selection in the CLI's grammar.

import { api, follow } from "../api.js";
import { assetHref, badge, debounce, errorBox, fill, fmt, h, throttle } from "../dom.js";
import { setQuery } from "../router.js";
import { selectionBox } from "../components/selectionbox.js";

const ROW = 36;
const COLUMNS = [
  { key: "key", title: "Asset", width: "minmax(260px, 2.2fr)", value: (a) => a.key },
  { key: "group", title: "Group", width: "minmax(90px, 0.8fr)", value: (a) => a.group },
  { key: "kind", title: "Kind", width: "minmax(120px, 0.9fr)", value: (a) => a.kind },
  { key: "state", title: "State", width: "150px", value: (a) => a.state },
  { key: "last", title: "Materialized", width: "130px", value: (a) => a.last_materialized_at || 0 },
  { key: "checks", title: "Checks", width: "120px", value: (a) => a.checks_summary.failed * 1000 + a.checks_summary.passed },
  { key: "owners", title: "Owners", width: "minmax(120px, 1fr)", value: (a) => a.owners.join(", ") },
  { key: "tags", title: "Tags", width: "minmax(120px, 1fr)", value: (a) => a.tags.join(", ") },
];
const TEMPLATE = COLUMNS.map((c) => c.width).join(" ");

function checksCell(summary) {
  const parts = [];
  if (summary.failed) parts.push(h("span", { class: "pill pill-failed" }, `${summary.failed} failing`));
  if (summary.passed) parts.push(h("span", { class: "pill pill-passed" }, `${summary.passed} passing`));
  if (!parts.length && summary.unknown) parts.push(h("span", { class: "muted" }, `${summary.unknown} not run`));
  return parts.length ? parts : h("span", { class: "muted" }, "—");
}

function rowElement(a) {
  const cells = [
    h("a", { href: assetHref(a.key), "data-link": "", class: "asset-key", title: a.description || a.key }, a.key),
    h("span", { class: "group-chip" }, a.group),
    h("span", { class: "muted" }, a.kind),
    h("span", {}, badge(a.state, "", a.causes && a.causes.join("; ")), a.late ? [" ", badge("late", "", a.freshness_message)] : null),
    h("span", { title: fmt.time(a.last_materialized_at) }, a.last_materialized_at ? fmt.ago(a.last_materialized_at) : h("span", { class: "muted" }, "never")),
    checksCell(a.checks_summary),
    h("span", { class: "muted ellipsis" }, a.owners.join(", ")),
    h("span", { class: "ellipsis" }, a.tags.map((t) => h("span", { class: "tag" }, t))),
  ];
  return h("div", { class: "vrow", role: "row", style: { gridTemplateColumns: TEMPLATE } }, cells.map((c) => h("div", { class: "vcell", role: "cell" }, c)));
}

export async function catalogPage(outlet, _params, query) {
  let all = [];
  let shown = [];
  let sort = { key: query.sort || "key", dir: query.dir === "desc" ? -1 : 1 };
  let stateFilter = query.state || "";
  const counts = h("div", { class: "counts" });
  const search = h("input", { class: "input search", placeholder: "Search keys, groups, kinds, owners, tags…", value: query.q || "", "aria-label": "Search assets" });
  const stateSelect = h("select", { class: "input", "aria-label": "State" },
    h("option", { value: "" }, "Any state"),
    ...["fresh", "stale", "failed", "running", "missing", "external"].map((s) => h("option", { value: s, selected: s === stateFilter }, s)));
  const header = h("div", { class: "vrow vhead", role: "row", style: { gridTemplateColumns: TEMPLATE } });
  const spacer = h("div", { class: "vspacer" });
  const rows = h("div", { class: "vrows" });
  const body = h("div", { class: "vbody", role: "rowgroup" }, spacer, rows);
  const status = h("div", { class: "status-line" });
  const selection = selectionBox({
    value: query.select || "",
    onApply: async (text, setError) => {
      setQuery({ select: text });
      try { await load(text); setError(""); } catch (e) { setError(e.message); }
    },
  });

  function drawHeader() {
    fill(header, ...COLUMNS.map((c) => h("div", {
      class: "vcell sortable" + (sort.key === c.key ? " sorted" : ""), role: "columnheader",
      onclick: () => { sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : 1 }; setQuery({ sort: sort.key, dir: sort.dir < 0 ? "desc" : "" }); refilter(); },
    }, c.title, sort.key === c.key ? (sort.dir > 0 ? " ▲" : " ▼") : "")));
  }

  function refilter() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    shown = all.filter((a) => (!stateFilter || a.state === stateFilter) &&
      words.every((w) => a._text.includes(w)));
    const col = COLUMNS.find((c) => c.key === sort.key) || COLUMNS[0];
    shown.sort((x, y) => {
      const a = col.value(x), b = col.value(y);
      return (a < b ? -1 : a > b ? 1 : 0) * sort.dir || (x.key < y.key ? -1 : 1);
    });
    const byState = {};
    for (const a of all) byState[a.state] = (byState[a.state] || 0) + 1;
    fill(counts, 
      h("span", { class: "count-total" }, `${fmt.number(shown.length)} of ${fmt.number(all.length)} assets`),
      ...Object.entries(byState).sort().map(([s, n]) => h("button", {
        class: "count-chip" + (stateFilter === s ? " active" : ""),
        onclick: () => { stateFilter = stateFilter === s ? "" : s; stateSelect.value = stateFilter; setQuery({ state: stateFilter }); refilter(); },
      }, badge(s), " ", fmt.number(n))));
    drawHeader();
    spacer.style.height = `${shown.length * ROW}px`;
    draw(true);
  }

  let drawn = [-1, -1];
  function draw(force = false) {
    const top = body.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW) - 10);
    const last = Math.min(shown.length, Math.ceil((top + body.clientHeight) / ROW) + 10);
    if (!force && first === drawn[0] && last === drawn[1]) return;
    drawn = [first, last];
    rows.style.transform = `translateY(${first * ROW}px)`;
    fill(rows, ...shown.slice(first, last).map(rowElement));
  }

  async function load(select) {
    status.textContent = "Loading…";
    const data = await api("/assets", { params: { select } });
    all = data.assets;
    for (const a of all) a._text = [a.key, a.group, a.kind, a.state, ...a.owners, ...a.tags].join(" ").toLowerCase();
    status.textContent = "";
    refilter();
  }

  body.addEventListener("scroll", () => requestAnimationFrame(() => draw()));
  search.addEventListener("input", debounce(() => { setQuery({ q: search.value }); refilter(); }, 80));
  stateSelect.addEventListener("change", () => { stateFilter = stateSelect.value; setQuery({ state: stateFilter }); refilter(); });
  window.addEventListener("resize", () => draw(true));

  outlet.append(
    h("header", { class: "page-header" }, h("h1", {}, "Assets"),
      h("div", { class: "header-actions" }, h("a", { href: "/graph", "data-link": "", class: "button ghost" }, "View as graph"))),
    h("section", { class: "toolbar" }, search, stateSelect, selection.element),
    counts, status,
    h("div", { class: "vtable", role: "table", "aria-label": "Assets" }, header, body));
  try {
    await load(query.select || "");
  } catch (e) {
    fill(status, errorBox(e));
  }
  // Live: states change as runs materialize; refetch (cheap: the server folds in new events only).
  const refresh = throttle(() => load(selection.input.value.trim()).catch(() => {}), 1500);
  const stop = follow("/stream", { types: "materialization,step_failed,check_result,run_started,run_succeeded,run_failed,run_canceled" }, refresh);
  return () => stop();
}
