// One run: a timeline of its steps, per-asset results (dbt's per-node results among them), errors
// with tracebacks, checks, and the event log, all updated live from the run's event stream.

import { api, follow } from "../api.js";
import { assetLink, badge, emptyState, errorBox, fill, fmt, h, link, runHref, s, table, throttle } from "../dom.js";
import { setQuery } from "../router.js";
import { STATE_COLORS } from "../components/colors.js";
import { runActions } from "./launch.js";

const LEVELS = ["debug", "info", "warning", "error"];
const MAX_BARS = 400;

function gantt(detail) {
  const nodes = detail.nodes.filter((n) => n.start !== null).slice(0, MAX_BARS);
  if (!nodes.length) return emptyState("No step has started yet.");
  const run = detail.run;
  const t0 = Math.min(run.started_at, ...nodes.map((n) => n.start));
  const now = Date.now() / 1000;
  const t1 = Math.max(detail.ended_at || now, ...nodes.map((n) => n.end || now));
  const span = Math.max(t1 - t0, 0.001);
  const LABEL = 260, W = 1000, ROW = 20, TOP = 24;
  const x = (t) => LABEL + ((t - t0) / span) * (W - LABEL - 10);
  const ticks = [];
  for (let i = 0; i <= 5; i++) {
    const t = t0 + (span * i) / 5;
    ticks.push(s("line", { x1: x(t), x2: x(t), y1: TOP - 6, y2: TOP + nodes.length * ROW, class: "gantt-grid" }),
      s("text", { x: x(t), y: 14, class: "gantt-axis", "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" }, "+" + fmt.duration(t - t0)));
  }
  const bars = nodes.map((n, i) => {
    const y = TOP + i * ROW;
    const end = n.end || now;
    return s("g", { class: "gantt-row" },
      s("text", { x: LABEL - 8, y: y + 14, class: "gantt-label", "text-anchor": "end" }, n.asset.length > 36 ? "…" + n.asset.slice(-35) : n.asset),
      s("rect", { x: x(n.start), y: y + 3, width: Math.max(2, x(end) - x(n.start)), height: ROW - 6, rx: 3,
        fill: STATE_COLORS[n.status] || "#94a3b8", class: n.end ? "" : "gantt-live" },
        s("title", {}, `${n.asset}: ${n.status}, ${fmt.duration(end - n.start)}${n.step && n.step !== n.asset ? " (step " + n.step + ")" : ""}`)));
  });
  const H = TOP + nodes.length * ROW + 6;
  return h("div", { class: "gantt" },
    s("svg", { viewBox: `0 0 ${W} ${H}`, class: "gantt-svg", style: `height:${H}px` }, ...ticks, ...bars),
    detail.nodes.length > MAX_BARS ? h("div", { class: "muted small" }, `The first ${MAX_BARS} of ${detail.nodes.length} assets.`) : null);
}

function results(detail) {
  return table([
    { title: "Asset", cell: (n) => assetLink(n.asset) },
    { title: "Status", cell: (n) => badge(n.status) },
    { title: "Step", cell: (n) => h("code", { class: "muted" }, n.step || "—") },
    { title: "Duration", cls: "num", cell: (n) => n.start && n.end ? fmt.duration(n.end - n.start) : "—" },
    { title: "Rows", cls: "num", cell: (n) => fmt.number(n.rows) },
    { title: "Retries", cls: "num", cell: (n) => n.retries || "" },
    { title: "Message", cell: (n) => h("span", { class: "muted ellipsis", title: n.message || "" }, n.message || "") },
  ], detail.nodes.slice(0, 2000));
}

function errors(detail) {
  if (!detail.errors.length) return null;
  return h("section", { class: "card" }, h("h3", {}, `Errors (${detail.errors.length})`),
    ...detail.errors.map((e) => h("details", { class: "error-detail", open: detail.errors.length <= 3 },
      h("summary", {}, badge(e.type === "step_retry" ? "skipped" : "failed"), " ", h("strong", {}, e.asset_key || e.step_key || "run"), ": ", e.message || (e.data.error && e.data.error.message) || ""),
      e.data.error && e.data.error.traceback ? h("pre", { class: "traceback" }, e.data.error.traceback) : null)));
}

function checks(detail) {
  if (!detail.checks.length) return null;
  return h("section", { class: "card" }, h("h3", {}, `Checks (${detail.checks.length})`), table([
    { title: "Asset", cell: (c) => assetLink(c.asset_key) },
    { title: "Check", cell: (c) => c.data.check },
    { title: "Result", cell: (c) => badge(c.data.passed ? "succeeded" : "failed") },
    { title: "Details", cell: (c) => { const m = c.data.metadata || {}; return h("span", { class: "muted" }, [m.failures !== undefined ? `${m.failures} failing rows` : "", m.message || ""].filter(Boolean).join(" · ")); } },
  ], detail.checks));
}

function eventRow(e) {
  const data = e.data || {};
  let text = e.message || "";
  if (e.type === "materialization") {
    const m = data.metadata || {};
    text = [m.rows !== undefined ? `${fmt.number(m.rows)} rows` : "", m.rows_affected !== undefined ? `${fmt.number(m.rows_affected)} rows affected` : "",
      m.execution_time !== undefined ? fmt.duration(m.execution_time) : "", m.message || "", m.data_version ? `version ${String(m.data_version).slice(0, 12)}` : ""].filter(Boolean).join(" · ");
  } else if (e.type === "check_result") text = `${data.check}: ${data.passed ? "passed" : "FAILED"}`;
  else if (e.type === "step_started" && data.assets) text = `${data.assets.length} assets: ${data.assets.slice(0, 6).join(", ")}${data.assets.length > 6 ? ", …" : ""}`;
  else if (e.type === "run_started") text = `${data.steps} steps, ${data.assets} assets`;
  return h("div", { class: `log-row level-${e.level}`, dataset: { id: e.id } },
    h("span", { class: "log-time" }, fmt.clock(e.timestamp)),
    h("span", { class: `log-level` }, e.level),
    h("span", { class: `log-type type-${e.type}` }, e.type.replace("_", " ")),
    h("span", { class: "log-where" }, e.asset_key ? assetLink(e.asset_key) : e.step_key ? h("code", {}, e.step_key) : ""),
    h("span", { class: "log-text" }, text, data.error && data.error.traceback ? h("details", {}, h("summary", {}, "traceback"), h("pre", { class: "traceback" }, data.error.traceback)) : null));
}

export async function runPage(outlet, params, query) {
  let detail;
  try {
    detail = await api("/runs/" + encodeURIComponent(params.id));
  } catch (e) {
    outlet.append(h("header", { class: "page-header" }, h("h1", {}, "Run " + params.id)), errorBox(e));
    return;
  }
  const runId = detail.run.run_id;
  const head = h("div", {});
  const timeline = h("section", { class: "card" });
  const errorBoxEl = h("div", {});
  const checksEl = h("div", {});
  const resultsEl = h("section", { class: "card" });
  const filter = { level: query.level || "info", asset: query.asset || "", step: query.step || "", type: query.type || "" };
  const level = h("select", { class: "input", "aria-label": "Lowest level" }, LEVELS.map((l) => h("option", { value: l, selected: l === filter.level }, l)));
  const assetFilter = h("input", { class: "input mono", placeholder: "Asset", value: filter.asset, list: "run-assets", "aria-label": "Asset filter" });
  const stepFilter = h("input", { class: "input mono", placeholder: "Step", value: filter.step, list: "run-steps", "aria-label": "Step filter" });
  const typeFilter = h("select", { class: "input", "aria-label": "Event type" }, h("option", { value: "" }, "Any event"),
    ...["log", "materialization", "check_result", "step_started", "step_succeeded", "step_failed", "step_skipped", "step_retry", "run_started", "run_succeeded", "run_failed", "run_canceled"]
      .map((t) => h("option", { value: t, selected: t === filter.type }, t)));
  const assetList = h("datalist", { id: "run-assets" }, detail.run.asset_keys.map((k) => h("option", { value: k })));
  const stepList = h("datalist", { id: "run-steps" }, detail.steps.map((st) => h("option", { value: st.key })));
  const log = h("div", { class: "log", role: "log", "aria-live": "polite" });
  const logCount = h("span", { class: "muted" });
  const live = h("span", { class: "live-dot", title: "Live" });
  let events = [];

  const shows = (e) => LEVELS.indexOf(e.level) >= LEVELS.indexOf(filter.level) &&
    (!filter.asset || e.asset_key === filter.asset) && (!filter.step || e.step_key === filter.step) && (!filter.type || e.type === filter.type);
  function drawLog() {
    const shown = events.filter(shows);
    fill(log, ...shown.slice(-5000).map(eventRow));
    logCount.textContent = `${fmt.number(shown.length)} of ${fmt.number(events.length)} events`;
  }
  for (const [el, name] of [[level, "level"], [typeFilter, "type"], [assetFilter, "asset"], [stepFilter, "step"]]) {
    el.addEventListener("change", () => { filter[name] = el.value.trim(); setQuery({ [name]: filter[name] === "info" && name === "level" ? "" : filter[name] }); drawLog(); });
  }

  function drawDetail() {
    const run = detail.run;
    const ended = detail.ended_at;
    fill(head, h("header", { class: "page-header" },
      h("div", {},
        h("div", { class: "crumbs" }, link("/runs", "Runs")),
        h("h1", {}, "Run ", h("code", {}, fmt.short(runId)), " ", badge(run.status), ended ? null : live),
        h("div", { class: "run-meta" },
          h("span", {}, "launched by ", h("strong", {}, run.launched_by)),
          h("span", {}, "selection ", h("code", {}, run.selection || "*")),
          run.partition ? h("span", {}, "partition ", h("code", {}, run.partition)) : null,
          h("span", {}, `${fmt.number(run.asset_keys.length)} assets`),
          h("span", {}, "started ", fmt.time(run.started_at)),
          h("span", {}, "took ", fmt.duration((ended || Date.now() / 1000) - run.started_at)),
          run.parent_run_id ? h("span", {}, "re-executes ", link(runHref(run.parent_run_id), h("code", {}, fmt.short(run.parent_run_id)))) : null,
          h("code", { class: "muted small" }, runId)),
        run.error ? h("div", { class: "error-box" }, run.error) : null,
        run.status === "queued" && query.queued === "nodaemon" ? h("div", { class: "notice" }, "Queued. No daemon is running: start `orch daemon` (or use `orch dev`) to execute it.") : null),
      runActions(detail, () => refreshDetail())));
    const counts = Object.entries(detail.counts).map(([k, v]) => h("span", { class: "legend-row inline" }, badge(k), " ", fmt.number(v)));
    fill(timeline, h("div", { class: "row" }, h("h3", {}, "Timeline"), ...counts), gantt(detail));
    fill(errorBoxEl, errors(detail) || "");
    fill(checksEl, checks(detail) || "");
    fill(resultsEl, h("h3", {}, "Results per asset"), results(detail));
  }
  const refreshDetail = throttle(async () => {
    try { detail = await api("/runs/" + runId); drawDetail(); } catch { /* next event retries */ }
  }, 700);

  outlet.append(head, timeline, errorBoxEl,
    h("section", { class: "card" },
      h("div", { class: "row" }, h("h3", {}, "Event log"), logCount),
      h("div", { class: "toolbar" }, level, typeFilter, assetFilter, assetList, stepFilter, stepList),
      log),
    resultsEl, checksEl);
  drawDetail();
  // the log: every page so far, then the live tail from the last id (no table is ever re-read)
  let after = 0;
  for (;;) {
    const page = await api(`/runs/${runId}/events`, { params: { after, limit: 5000 } });
    events = events.concat(page.events);
    after = page.next_after;
    if (!page.more) break;
  }
  drawLog();
  if (detail.ended_at) return () => {};
  const seen = new Set(events.map((e) => e.id));
  const stop = follow(`/runs/${runId}/stream`, { after }, (batch) => {
    const fresh = batch.filter((e) => !seen.has(e.id));
    for (const e of fresh) seen.add(e.id);
    events = events.concat(fresh);
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
    for (const e of fresh) if (shows(e)) log.append(eventRow(e));
    logCount.textContent = `${fmt.number(events.filter(shows).length)} of ${fmt.number(events.length)} events`;
    if (stick) log.scrollTop = log.scrollHeight;
    // for benchmarks/ui.py: when each event reached the page
    const arrived = Date.now() / 1000;
    (window.__orchArrivals = window.__orchArrivals || []).push(...fresh.map((e) => [e.id, arrived]));
    refreshDetail();
  }, { onEnd: () => refreshDetail() });
  return () => stop();
}
