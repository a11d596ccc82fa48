// Runs newest first, filtered by status, asset, date and launcher; new runs appear as they start.

import { api, follow } from "../api.js";
import { badge, errorBox, fill, fmt, h, link, runHref, table, throttle } from "../dom.js";
import { setQuery } from "../router.js";

const STATUSES = ["queued", "starting", "running", "succeeded", "failed", "canceled"];
const LAUNCHERS = ["cli", "ui", "api", "schedule", "sensor", "automation", "backfill", "retry"];

export function runsTable(runs) {
  return table([
    { title: "Run", cell: (r) => link(runHref(r.run_id), h("code", {}, fmt.short(r.run_id))) },
    { title: "Status", cell: (r) => badge(r.status) },
    { title: "Launched by", cell: (r) => h("span", { class: "launcher" }, r.launched_by) },
    { title: "Selection", cell: (r) => h("code", { class: "ellipsis", title: r.selection || "*" }, r.selection || "*") },
    { title: "Assets", cls: "num", cell: (r) => fmt.number(r.asset_keys.length) },
    { title: "Partition", cell: (r) => r.partition ? h("code", {}, r.partition) : h("span", { class: "muted" }, "—") },
    { title: "Started", cell: (r) => h("span", { title: fmt.time(r.started_at) }, fmt.time(r.started_at)) },
    { title: "Duration", cls: "num", cell: (r) => fmt.duration(r.ended_at ? r.ended_at - r.started_at : Date.now() / 1000 - r.started_at) },
  ], runs, { empty: "No runs match." });
}

export async function runsPage(outlet, _params, query) {
  const filters = {
    status: query.status || "", asset: query.asset || "", launched_by: query.launched_by || "",
    since: query.since || "", until: query.until || "",
  };
  const status = h("select", { class: "input", "aria-label": "Status" }, h("option", { value: "" }, "Any status"),
    ...STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const launcher = h("select", { class: "input", "aria-label": "Launched by" }, h("option", { value: "" }, "Anyone"),
    ...LAUNCHERS.map((s) => h("option", { value: s, selected: s === filters.launched_by }, s)));
  const asset = h("input", { class: "input mono", placeholder: "Asset key", value: filters.asset, "aria-label": "Asset" });
  const since = h("input", { class: "input", type: "date", value: filters.since, "aria-label": "From" });
  const until = h("input", { class: "input", type: "date", value: filters.until, "aria-label": "Until" });
  const list = h("div", {});
  const more = h("button", { class: "button ghost", hidden: true }, "Load more");
  const error = h("div", {});
  let runs = [];
  let next = null;

  async function load(append = false) {
    const params = { ...filters, limit: 50, before: append ? next : undefined };
    if (params.until) params.until = new Date(new Date(params.until + "T00:00:00").getTime() + 86400000).toISOString().slice(0, 19);
    if (params.since) params.since = new Date(params.since + "T00:00:00").toISOString().slice(0, 19);
    try {
      const data = await api("/runs", { params });
      runs = append ? runs.concat(data.runs) : data.runs;
      next = data.next_before;
      fill(list, runsTable(runs));
      more.hidden = !next;
      fill(error);
    } catch (e) { fill(error, errorBox(e)); }
  }
  const apply = () => {
    Object.assign(filters, { status: status.value, launched_by: launcher.value, asset: asset.value.trim(), since: since.value, until: until.value });
    setQuery(filters);
    load();
  };
  for (const el of [status, launcher, since, until]) el.addEventListener("change", apply);
  asset.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
  more.addEventListener("click", () => load(true));
  outlet.append(
    h("header", { class: "page-header" }, h("h1", {}, "Runs")),
    h("section", { class: "toolbar" }, status, launcher, asset, h("label", { class: "muted" }, "from ", since), h("label", { class: "muted" }, "until ", until),
      h("button", { class: "button ghost", onclick: () => { status.value = launcher.value = asset.value = since.value = until.value = ""; apply(); } }, "Clear")),
    error, h("section", { class: "card flush" }, list), more);
  await load();
  const refresh = throttle(() => { if (!next || runs.length <= 50) load(); }, 1000);
  const stop = follow("/stream", { types: "run_started,run_succeeded,run_failed,run_canceled" }, refresh);
  return () => stop();
}
