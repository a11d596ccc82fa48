// The asset page's columns: types, descriptions, direct sources; pick one to see its whole lineage
// upstream (down to source columns) and downstream (its impact) as a graph and as tables, with the
// filter edges (columns that decide which rows exist) shown apart.

import { api } from "../api.js";
import { assetHref, assetLink, emptyState, errorBox, fill, h, table } from "../dom.js";
import { navigate, setQuery } from "../router.js";
import { drawGraph } from "../components/elkgraph.js";
import { EDGE_KIND_COLORS } from "../components/colors.js";
import { markdown } from "../components/markdown.js";

const ref = (r) => (r.column ? `${r.asset}.${r.column}` : r.asset);

function refCell(r) {
  return h("span", {}, assetLink(r.asset), r.column ? h("span", { class: "col-name" }, "." + r.column) : null);
}

function kindChip(kind, clause) {
  return h("span", { class: "kind-pill", style: { borderColor: EDGE_KIND_COLORS[kind] || "#999", color: EDGE_KIND_COLORS[kind] || "#555" } }, clause ? `${kind}: ${clause}` : kind);
}

async function showColumn(asset, column, el) {
  fill(el, h("div", { class: "muted pad" }, `Tracing ${asset.key}.${column}…`));
  const found = await api("/lineage/column", { params: { asset: asset.key, column, direction: "both", filters: "true" } });
  const value = [...found.upstream, ...found.downstream];
  const filters = [...found.upstream_filters, ...found.downstream_filters];
  // boxes: one per asset, with the columns the edges touch
  const rows = new Map();
  const touch = (r) => {
    if (!rows.has(r.asset)) rows.set(r.asset, new Set());
    if (r.column) rows.get(r.asset).add(r.column);
  };
  touch({ asset: asset.key, column });
  for (const e of value) { touch(e.source); touch(e.target); }
  for (const e of filters) { touch(e.source); touch(e.target); }
  const nodes = [...rows.entries()].map(([key, cols]) => ({
    id: key, label: key, href: assetHref(key), focus: key === asset.key,
    stripe: key === asset.key ? "#2563eb" : "#94a3b8",
    rows: [...cols].sort().map((c) => ({ id: c, text: c, strong: key === asset.key && c === column })),
  }));
  const edges = [
    ...value.map((e, i) => ({ id: "v" + i, source: e.source.asset, sourceRow: e.source.column, target: e.target.asset, targetRow: e.target.column,
      color: EDGE_KIND_COLORS[e.kind], title: `${ref(e.source)} → ${ref(e.target)} (${e.kind})` })),
    ...filters.map((e, i) => ({ id: "f" + i, source: e.source.asset, sourceRow: e.source.column, target: e.target.asset, targetRow: null,
      color: EDGE_KIND_COLORS.filter, dashed: true, title: `${ref(e.source)} filters ${e.target.asset} (${e.clause})` })),
  ];
  const frame = h("div", { class: "elk-container" });
  const legend = h("div", { class: "row small" }, ...Object.entries(EDGE_KIND_COLORS).map(([k, c]) =>
    h("span", { class: "legend-row inline" }, h("span", { class: "line-swatch" + (k === "filter" ? " dashed" : ""), style: { borderColor: c } }), k)));
  const edgeColumns = [
    { title: "From", cell: (e) => refCell(e.source) }, { title: "To", cell: (e) => refCell(e.target) },
    { title: "Kind", cell: (e) => kindChip(e.kind, e.clause) },
  ];
  fill(el, 
    h("section", { class: "card" },
      h("div", { class: "row" }, h("h3", {}, "Lineage of ", h("code", {}, `${asset.key}.${column}`)), legend),
      value.length || filters.length ? frame : emptyState("No lineage: this column has no upstream or downstream columns."),
      h("p", { class: "muted small" }, "Value edges: direct (copied or renamed), transform (an expression of it), aggregate (under an aggregate). Dashed: filter edges, columns that decide which rows exist (where, join, group by, ...).")),
    h("div", { class: "grid-2" },
      h("section", { class: "card" }, h("h3", {}, `Upstream (${found.upstream.length})`), table(edgeColumns, found.upstream, { empty: "No upstream columns: a source column." })),
      h("section", { class: "card" }, h("h3", {}, `Downstream (${found.downstream.length})`), table(edgeColumns, found.downstream, { empty: "Nothing reads this column." }))),
    h("section", { class: "card" }, h("h3", {}, `Filter edges (${filters.length})`), table(edgeColumns, filters, { empty: "No filters along this column's lineage." })));
  if (value.length || filters.length) await drawGraph(frame, nodes, edges, { onNode: (n) => navigate(n.href + "?tab=columns") });
}

export async function columnLineage(asset, el, initial) {
  const data = await api("/columns/" + asset.key.split("/").map(encodeURIComponent).join("/"));
  const detail = h("div", {});
  let picked = initial;
  const list = h("div", {});
  const draw = () => fill(list, table([
    { title: "Column", cell: (c) => h("button", { class: "link-button mono" + (c.name === picked ? " active" : ""), onclick: () => pick(c.name) }, c.name) },
    { title: "Type", cell: (c) => c.type ? h("code", {}, c.type) : h("span", { class: "muted" }, "—") },
    { title: "Description", cell: (c) => c.description ? markdown(c.description) : h("span", { class: "muted" }, "") },
    { title: "Comes from", cell: (c) => c.sources.length ? c.sources.slice(0, 4).map((s) => h("div", {}, refCell(s), " ", kindChip(s.kind))) : h("span", { class: "muted" }, "—") },
  ], data.columns, { empty: "No columns known." }));
  async function pick(name) {
    picked = name;
    setQuery({ column: name });
    draw();
    try { await showColumn(asset, name, detail); } catch (e) { fill(detail, errorBox(e)); }
  }
  const notes = [
    data.error ? errorBox(data.error) : null,
    data.reason ? h("p", { class: "muted" }, data.reason) : null,
    data.filters.length ? h("p", { class: "muted small" }, "Rows decided by: ", data.filters.map((f) => h("span", { class: "filter-ref" }, refCell(f), ` (${f.clause})`))) : null,
  ];
  fill(el, h("section", { class: "card" }, h("h3", {}, `Columns (${data.columns.length})`, data.origin ? h("span", { class: "muted small" }, `  lineage from ${data.origin}`) : null), notes, list), detail);
  draw();
  if (picked) await pick(picked);
  else if (data.columns.length) fill(detail, h("p", { class: "muted pad" }, "Pick a column to trace its lineage upstream and downstream."));
}
