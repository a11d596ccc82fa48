// One asset: what it is, its code, its columns and their lineage, its neighbourhood, its history
// (a table and plots of numeric metadata), its partitions and its checks.

import { api } from "../api.js";
import { assetHref, assetLink, badge, clear, emptyState, errorBox, fill, fmt, h, link, runHref, table } from "../dom.js";
import { setQuery } from "../router.js";
import { codeBlock } from "../components/code.js";
import { drawGraph } from "../components/elkgraph.js";
import { lineChart } from "../components/chart.js";
import { healthBar } from "../components/partitions.js";
import { STATE_COLORS } from "../components/colors.js";
import { markdown } from "../components/markdown.js";
import { columnLineage } from "./column_lineage.js";
import { launchPanel } from "./launch.js";

const TABS = [
  ["overview", "Overview"], ["code", "Code"], ["columns", "Columns & lineage"], ["lineage", "Lineage graph"],
  ["history", "History"], ["partitions", "Partitions"], ["checks", "Checks"],
];

function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? h("span", { class: "muted" }, "—"))]));
}

function metaValue(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (typeof value === "object") return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
  return String(value);
}

function overview(asset) {
  const latest = asset.latest_materialization;
  const meta = latest ? latest.data.metadata || {} : {};
  const checks = asset.checks.map((c) => h("li", {}, c.latest ? badge(c.latest.data.passed ? "succeeded" : "failed") : badge("pending"), " ", c.name, c.blocking ? h("span", { class: "tag" }, "blocking") : null));
  return h("div", { class: "grid-2" },
    h("section", { class: "card" }, h("h3", {}, "Definition"),
      asset.description ? h("div", { class: "description" }, markdown(asset.description)) : h("p", { class: "muted" }, "No description."),
      kv([
        ["Kind", asset.kind], ["Group", h("span", { class: "group-chip" }, asset.group)],
        ["Owners", asset.owners.length ? asset.owners.join(", ") : null],
        ["Tags", asset.tags.length ? asset.tags.map((t) => h("span", { class: "tag" }, t)) : null],
        ["IO manager", asset.io_manager], ["Code version", asset.code_version ? h("code", {}, asset.code_version) : null],
        ["File", asset.path ? h("code", {}, asset.path) : null],
        ["Partitions", asset.partitions ? `${asset.partitions.description} · ${fmt.number(asset.partitions.count)} keys` : "not partitioned"],
      ]),
      Object.keys(asset.metadata).length ? [h("h4", {}, "Metadata"), kv(Object.entries(asset.metadata).map(([k, v]) => [k, metaValue(v)]))] : null),
    h("section", { class: "card" }, h("h3", {}, "Latest materialization"),
      latest ? kv([
        ["When", `${fmt.time(latest.timestamp)} (${fmt.ago(latest.timestamp)})`],
        ["Run", link(runHref(latest.run_id), h("code", {}, fmt.short(latest.run_id)))],
        latest.partition ? ["Partition", h("code", {}, latest.partition)] : null,
        ["Data version", asset.data_version ? h("code", { class: "wrap", title: asset.snapshot_id ? "Iceberg snapshot id" : "SHA-256 of the data" }, asset.data_version) : null],
        asset.snapshot_id ? ["Iceberg snapshot", h("code", {}, String(asset.snapshot_id))] : null,
        ...Object.entries(meta).filter(([k]) => !["schema", "data_version", "snapshot_id"].includes(k)).map(([k, v]) => [k, metaValue(v)]),
      ]) : emptyState("Never materialized."),
      asset.last_failure && (!latest || asset.last_failure.id > latest.id) ? h("div", { class: "error-box" },
        h("strong", {}, "Last attempt failed "), fmt.ago(asset.last_failure.timestamp), ": ", asset.last_failure.message || "",
        " ", link(runHref(asset.last_failure.run_id), "open the run")) : null,
      h("h3", {}, "Checks"), checks.length ? h("ul", { class: "plain" }, checks) : h("p", { class: "muted" }, "No checks."),
      h("h3", {}, "Upstream"), asset.upstream.length ? h("ul", { class: "plain" }, asset.upstream.map((k) => h("li", {}, assetLink(k)))) : h("p", { class: "muted" }, "None."),
      h("h3", {}, "Downstream"), asset.downstream.length ? h("ul", { class: "plain" }, asset.downstream.map((k) => h("li", {}, assetLink(k)))) : h("p", { class: "muted" }, "None.")));
}

async function codeTab(key, el) {
  const code = await api("/code/" + key);
  const parts = [];
  if (code.language === "python") {
    parts.push(h("div", { class: "code-title" }, h("code", {}, `${code.path || ""}${code.line ? ":" + code.line : ""}`)));
    parts.push(code.code ? codeBlock(code.code, "python", { firstLine: code.line || 1 }) : errorBox(code.error));
  } else {
    parts.push(h("h3", {}, "Raw SQL ", h("code", { class: "muted" }, code.path || "")));
    parts.push(code.raw ? codeBlock(code.raw, "sql") : errorBox(code.error || "No SQL."));
    parts.push(h("h3", {}, "Compiled SQL"));
    parts.push(code.compiled ? codeBlock(code.compiled, "sql") : h("p", { class: "muted" }, code.compiled_error || "Not compiled (no column lineage provider, or the model is not SQL)."));
  }
  fill(el, h("section", { class: "card" }, parts));
}

async function lineageTab(key, el, depth) {
  const found = await api("/neighbourhood/" + key, { params: { depth } });
  const controls = h("div", { class: "row" }, "Hops: ",
    ...[1, 2, 3, 4].map((d) => h("button", { class: "button small" + (d === found.depth ? " active" : ""), onclick: () => { setQuery({ depth: d }); lineageTab(key, el, d); } }, String(d))),
    found.truncated ? h("span", { class: "muted" }, " (cut to the nearest assets)") : null,
    h("span", { class: "muted small" }, "  Drag to pan, Ctrl+wheel to zoom, double-click to reset."));
  const frame = h("div", { class: "elk-container" }, h("div", { class: "muted" }, "Laying out…"));
  fill(el, h("section", { class: "card" }, controls, frame));
  await drawGraph(frame, found.nodes.map((n) => ({
    id: n.key, label: n.key, sub: n.kind, stripe: STATE_COLORS[n.state], href: assetHref(n.key), focus: n.key === found.asset,
    title: `${n.key}\n${n.kind} · ${n.group} · ${n.state}`,
  })), found.edges.map((e, i) => ({ id: "e" + i, source: e.source, target: e.target })), {
    onNode: (n) => { location.href = n.href; },
  });
}

function numericSeries(rows) {
  const series = {};
  for (const row of rows) {
    const meta = (row.data && row.data.metadata) || {};
    const add = (name, v) => { if (typeof v === "number" && Number.isFinite(v)) (series[name] = series[name] || []).push({ t: row.timestamp, v, title: row.partition || "" }); };
    add("duration (s)", row.duration);
    for (const [k, v] of Object.entries(meta)) if (k !== "snapshot_id") add(k, v);
  }
  return series;
}

async function historyTab(key, el) {
  const data = await api("/materializations/" + key, { params: { limit: 500 } });
  const rows = data.materializations;
  if (!rows.length) { fill(el, h("section", { class: "card" }, emptyState("No materializations yet."))); return; }
  const series = numericSeries(rows);
  const names = Object.keys(series).sort((a, b) => (a.startsWith("rows") ? -1 : 0) - (b.startsWith("rows") ? -1 : 0) || a.localeCompare(b));
  const chartBox = h("div", {});
  const pick = h("select", { class: "input", "aria-label": "Metadata to plot" }, names.map((n) => h("option", { value: n }, n)));
  const plot = () => {
    const name = pick.value;
    const unit = name.includes("bytes") ? fmt.bytes : name.includes("(s)") || name.includes("time") ? (v) => fmt.duration(v) : (v) => fmt.number(Math.round(v * 100) / 100);
    fill(chartBox, lineChart(series[name] || [], { label: `${name} over time`, unit }));
  };
  pick.addEventListener("change", plot);
  const meta = (r) => (r.data.metadata || {});
  fill(el, 
    h("section", { class: "card" }, h("div", { class: "row" }, h("h3", {}, "Metadata over time"), names.length ? pick : null), chartBox),
    h("section", { class: "card" }, h("h3", {}, `Materializations (${rows.length}${data.next_before ? "+" : ""})`),
      table([
        { title: "When", cell: (r) => h("span", { title: fmt.time(r.timestamp) }, fmt.time(r.timestamp)) },
        { title: "Run", cell: (r) => link(runHref(r.run_id), h("code", {}, fmt.short(r.run_id))) },
        { title: "Partition", cell: (r) => r.partition ? h("code", {}, r.partition) : h("span", { class: "muted" }, "—") },
        { title: "Rows", cls: "num", cell: (r) => fmt.number(meta(r).rows ?? meta(r).rows_affected) },
        { title: "Duration", cls: "num", cell: (r) => fmt.duration(r.duration) },
        { title: "Data version", cell: (r) => meta(r).data_version ? h("code", { title: String(meta(r).data_version) }, String(meta(r).data_version).slice(0, 12)) : "—" },
      ], rows)));
  if (names.length) plot();
}

async function partitionsTab(key, asset, el) {
  if (!asset.partitions) { fill(el, h("section", { class: "card" }, emptyState("This asset is not partitioned."))); return; }
  const summary = await api("/partitions/" + key);
  fill(el, h("section", { class: "card" }, h("h3", {}, "Partition health"), healthBar(summary),
    h("h4", {}, "Ranges"),
    table([
      { title: "From", cell: (r) => h("code", {}, r.start) }, { title: "To", cell: (r) => h("code", {}, r.end) },
      { title: "State", cell: (r) => badge(r.status) }, { title: "Partitions", cls: "num", cell: (r) => fmt.number(r.count) },
    ], summary.ranges.slice(0, 500))));
}

async function checksTab(key, el) {
  const data = await api("/checks/" + key);
  if (!data.checks.length) { fill(el, h("section", { class: "card" }, emptyState("No checks on this asset."))); return; }
  fill(el, ...data.checks.map((c) => h("section", { class: "card" },
    h("h3", {}, c.name, " ", c.blocking ? h("span", { class: "tag" }, "blocking") : null, c.results[0] ? badge(c.results[0].data.passed ? "succeeded" : "failed") : badge("pending")),
    c.description ? h("p", { class: "muted" }, c.description) : null,
    h("div", { class: "check-strip" }, c.results.slice(0, 60).reverse().map((r) => h("span", { class: "check-tick " + (r.data.passed ? "ok" : "bad"), title: `${fmt.time(r.timestamp)}: ${r.data.passed ? "passed" : "failed"}` }))),
    table([
      { title: "When", cell: (r) => fmt.time(r.timestamp) },
      { title: "Result", cell: (r) => badge(r.data.passed ? "succeeded" : "failed") },
      { title: "Run", cell: (r) => link(runHref(r.run_id), h("code", {}, fmt.short(r.run_id))) },
      { title: "Details", cell: (r) => { const m = r.data.metadata || {}; return h("span", { class: "muted" }, [m.failures !== undefined ? `${m.failures} failing rows` : "", m.message || (r.data.error && r.data.error.message) || ""].filter(Boolean).join(" · ")); } },
    ], c.results.slice(0, 50)))));
}

export async function assetPage(outlet, params, query) {
  const key = params.key.split("/").map(encodeURIComponent).join("/");
  let asset;
  try {
    asset = await api("/assets/" + key);
  } catch (e) {
    outlet.append(h("header", { class: "page-header" }, h("h1", {}, params.key)), errorBox(e));
    return;
  }
  let tab = TABS.some(([t]) => t === query.tab) ? query.tab : "overview";
  const body = h("div", { class: "tab-body" });
  const tabs = h("nav", { class: "tabs" });
  const crumbs = asset.key.split("/");
  const drawTabs = () => fill(tabs, ...TABS.filter(([t]) => t !== "partitions" || asset.partitions).map(([t, label]) =>
    h("button", { class: "tab" + (t === tab ? " active" : ""), onclick: () => { tab = t; setQuery({ tab: t === "overview" ? "" : t, column: "" }); drawTabs(); show(); } }, label)));
  async function show() {
    clear(body).append(h("div", { class: "muted pad" }, "Loading…"));
    try {
      if (tab === "overview") fill(body, overview(asset));
      else if (tab === "code") await codeTab(key, body);
      else if (tab === "columns") await columnLineage(asset, body, new URLSearchParams(location.search).get("column"));
      else if (tab === "lineage") await lineageTab(key, body, Number(query.depth) || 2);
      else if (tab === "history") await historyTab(key, body);
      else if (tab === "partitions") await partitionsTab(key, asset, body);
      else if (tab === "checks") await checksTab(key, body);
    } catch (e) {
      fill(body, errorBox(e));
    }
  }
  outlet.append(
    h("header", { class: "page-header asset-header" },
      h("div", {},
        h("div", { class: "crumbs" }, link("/assets", "Assets"), ...crumbs.slice(0, -1).map((c) => [" / ", h("span", {}, c)])),
        h("h1", {}, h("span", { class: "mono" }, crumbs[crumbs.length - 1]), " ", badge(asset.state, "", asset.causes.join("; ")),
          asset.late ? badge("late", "", asset.freshness_message) : null, " ", h("span", { class: "kind-chip" }, asset.kind)),
        asset.causes.length && asset.state !== "fresh" ? h("div", { class: "muted small" }, asset.causes.join(" · ")) : null,
        asset.running_in ? h("div", {}, "Running now in ", link(runHref(asset.running_in), h("code", {}, fmt.short(asset.running_in)))) : null),
      launchPanel(asset)),
    tabs, body);
  drawTabs();
  await show();
}
