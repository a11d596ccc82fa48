// Backfills: the list with progress, and one backfill's chunks and per-partition status.

import { api, follow } from "../api.js";
import { assetLink, badge, errorBox, fill, fmt, h, link, runHref, table, throttle } from "../dom.js";
import { healthBar } from "../components/partitions.js";
import { backfillActions } from "./launch.js";

function progress(b) {
  const pct = Math.round(b.progress * 100);
  return h("div", { class: "progress", title: `${pct}% of chunks done` },
    h("div", { class: "progress-fill", style: { width: `${pct}%` } }), h("span", { class: "progress-text" }, `${pct}%`));
}

export async function backfillsPage(outlet) {
  const list = h("div", {});
  async function load() {
    try {
      const data = await api("/backfills");
      fill(list, table([
        { title: "Backfill", cell: (b) => link(`/backfills/${b.backfill_id}`, h("code", {}, b.backfill_id)) },
        { title: "Status", cell: (b) => badge(b.status) },
        { title: "Selection", cell: (b) => h("code", {}, b.selection || "*") },
        { title: "Range", cell: (b) => h("code", {}, `${b.from} … ${b.to}`) },
        { title: "Partitions", cls: "num", cell: (b) => fmt.number(b.partitions) },
        { title: "Progress", cell: progress },
        { title: "Created", cell: (b) => fmt.time(b.created_at) },
      ], data.backfills, { empty: "No backfills yet. Start one from an asset page, or with `orch backfill`." }));
    } catch (e) { fill(list, errorBox(e)); }
  }
  outlet.append(h("header", { class: "page-header" }, h("h1", {}, "Backfills")), h("section", { class: "card flush" }, list));
  await load();
  const stop = follow("/stream", { types: "run_started,run_succeeded,run_failed,run_canceled" }, throttle(load, 1500));
  return () => stop();
}

export async function backfillPage(outlet, params) {
  const body = h("div", { class: "stack" });
  async function load() {
    let b;
    try { b = await api("/backfills/" + encodeURIComponent(params.id)); } catch (e) { fill(body, errorBox(e)); return; }
    fill(body, 
      h("header", { class: "page-header" },
        h("div", {}, h("div", { class: "crumbs" }, link("/backfills", "Backfills")),
          h("h1", {}, "Backfill ", h("code", {}, b.backfill_id), " ", badge(b.status)),
          h("div", { class: "run-meta" }, h("span", {}, "selection ", h("code", {}, b.selection || "*")), b.exclude ? h("span", {}, "exclude ", h("code", {}, b.exclude)) : null,
            h("span", {}, "range ", h("code", {}, `${b.from} … ${b.to}`)), h("span", {}, `${fmt.number(b.partitions)} partition runs in ${b.chunks} chunks`),
            h("span", {}, "created ", fmt.time(b.created_at)))),
        backfillActions(b, load)),
      b.error ? errorBox(b.error) : null,
      h("section", { class: "card" }, h("h3", {}, "Progress"), progress(b),
        h("div", { class: "row" }, ...Object.entries(b.chunk_counts).map(([k, v]) => h("span", { class: "legend-row inline" }, badge(k), " ", v)))),
      ...Object.entries(b.assets).map(([key, summary]) => h("section", { class: "card" }, h("h3", {}, assetLink(key)), healthBar(summary))),
      h("section", { class: "card" }, h("h3", {}, "Chunks"), table([
        { title: "#", cls: "num", cell: (c) => c.seq },
        { title: "Assets", cell: (c) => c.assets.length > 3 ? `${c.assets.slice(0, 3).join(", ")} +${c.assets.length - 3}` : c.assets.join(", ") },
        { title: "Range", cell: (c) => c.range ? h("code", {}, c.range) : h("span", { class: "muted" }, "unpartitioned") },
        { title: "Partitions", cls: "num", cell: (c) => fmt.number(c.partitions) },
        { title: "Status", cell: (c) => badge(c.status) },
        { title: "Run", cell: (c) => c.run_id ? link(runHref(c.run_id), h("code", {}, fmt.short(c.run_id))) : "—" },
        { title: "Error", cell: (c) => c.error ? h("span", { class: "error-text" }, c.error) : "" },
      ], b.chunk_list)));
  }
  outlet.append(body);
  await load();
  const stop = follow("/stream", { types: "run_started,run_succeeded,run_failed,run_canceled,materialization" }, throttle(load, 1500));
  return () => stop();
}
