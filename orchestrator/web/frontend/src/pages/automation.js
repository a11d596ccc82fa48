// Automation: schedules and sensors (start, stop, their ticks), declarative-automation evaluations
// with the reason per asset, a dry run of what would run now, and freshness.

import { api, follow } from "../api.js";
import { assetLink, badge, emptyState, errorBox, fill, fmt, h, link, runHref, table, throttle } from "../dom.js";

const iso = (text) => (text ? fmt.time(Date.parse(text) / 1000) : "—");

function tickCell(tick) {
  if (!tick) return h("span", { class: "muted" }, "never ticked");
  return h("span", {}, badge(tick.status), " ", h("span", { class: "muted small" }, iso(tick.tick_at)));
}

function runsOf(ids) {
  return ids.length ? ids.map((id) => [link(runHref(id), h("code", {}, fmt.short(id))), " "]) : h("span", { class: "muted" }, "—");
}

function toggle(kind, row, reload, status) {
  const running = row.status === "running";
  return h("button", {
    class: "button small" + (running ? " danger" : ""),
    onclick: async (e) => {
      e.target.disabled = true;
      try { await api(`/automation/${kind}/${encodeURIComponent(row.name)}/${running ? "stop" : "start"}`, { method: "POST", body: {} }); reload(); }
      catch (err) { fill(status, errorBox(err)); e.target.disabled = false; }
    },
  }, running ? "Stop" : "Start");
}

export async function automationPage(outlet) {
  const body = h("div", { class: "stack" });
  const status = h("div", {});
  const dry = h("div", {});
  async function load() {
    let data;
    try { data = await api("/automation"); } catch (e) { fill(body, errorBox(e)); return; }
    const triggerState = (r) => badge(r.status === "running" ? "running" : "stopped", "", r.status === r.default_status ? "default" : "set here or with the CLI");
    fill(body,
      h("section", { class: "card" }, h("h3", {}, `Schedules (${data.schedules.length})`), table([
        { title: "Schedule", cell: (r) => h("strong", {}, r.name) },
        { title: "Job", cell: (r) => h("code", {}, r.job || "—") },
        { title: "Cron", cell: (r) => [h("code", {}, r.cron), " ", h("span", { class: "muted small" }, r.timezone)] },
        { title: "Status", cell: triggerState },
        { title: "Next tick", cell: (r) => r.status === "running" ? iso(r.next_tick) : h("span", { class: "muted" }, "stopped") },
        { title: "Last tick", cell: (r) => tickCell(r.last_tick) },
        { title: "", cell: (r) => toggle("schedule", r, load, status) },
      ], data.schedules, { empty: "No schedules in the definitions (Definitions(schedules=[...]))." })),
      h("section", { class: "card" }, h("h3", {}, `Sensors (${data.sensors.length})`), table([
        { title: "Sensor", cell: (r) => h("strong", {}, r.name) },
        { title: "Type", cell: (r) => r.type },
        { title: "Job", cell: (r) => h("code", {}, r.job || "—") },
        { title: "Every", cell: (r) => fmt.duration(r.interval_seconds) },
        { title: "Status", cell: triggerState },
        { title: "Cursor", cell: (r) => r.cursor ? h("code", { class: "ellipsis", title: r.cursor }, r.cursor.slice(0, 24)) : h("span", { class: "muted" }, "—") },
        { title: "Last tick", cell: (r) => tickCell(r.last_tick) },
        { title: "", cell: (r) => toggle("sensor", r, load, status) },
      ], data.sensors, { empty: "No sensors in the definitions (Definitions(sensors=[...]))." })),
      h("section", { class: "card" }, h("h3", {}, "Recent ticks"), table([
        { title: "When", cell: (t) => iso(t.tick_at) },
        { title: "Trigger", cell: (t) => [h("strong", {}, t.name), " ", h("span", { class: "muted small" }, t.type)] },
        { title: "Result", cell: (t) => badge(t.status) },
        { title: "Runs", cell: (t) => runsOf(t.run_ids) },
        { title: "Why", cell: (t) => t.error ? h("span", { class: "error-text" }, t.error.split("\n")[0]) : h("span", { class: "muted" }, t.skip_reason || "") },
      ], data.ticks, { empty: "No ticks yet: the daemon (`orch daemon`, `orch dev`) ticks running schedules and sensors." })),
      h("section", { class: "card" }, h("div", { class: "row" }, h("h3", {}, "Declarative automation"),
        h("button", { class: "button small", onclick: () => dryRun() }, "Evaluate now (dry run)")),
        dry,
        table([
          { title: "Asset", cell: (a) => assetLink(a.asset) },
          { title: "Condition", cell: (a) => h("code", { class: "small" }, a.condition) },
          { title: "Last decision", cell: (a) => a.result === null ? h("span", { class: "muted" }, "not evaluated") : badge(a.result ? "requested" : "skipped", "", a.result ? "would run" : "would not run") },
          { title: "Because", cell: (a) => h("span", { class: "muted" }, a.reasons.join("; ")) },
          { title: "Evaluated", cell: (a) => a.evaluated_at ? fmt.ago(a.evaluated_at) : "—" },
          { title: "Requested run", cell: (a) => a.requested_run_id ? link(runHref(a.requested_run_id), h("code", {}, fmt.short(a.requested_run_id))) : "—" },
        ], data.assets, { empty: "No asset has an automation condition (@asset(automation=...))." }),
        h("h4", {}, "Evaluations"),
        table([
          { title: "When", cell: (e) => fmt.time(e.evaluated_at) },
          { title: "Assets", cls: "num", cell: (e) => fmt.number(e.assets) },
          { title: "Took", cls: "num", cell: (e) => fmt.duration(e.seconds) },
          { title: "Runs requested", cell: (e) => runsOf(e.runs.map((r) => r.run_id).filter(Boolean)) },
        ], data.evaluations, { empty: "No evaluation stored yet." })),
      h("section", { class: "card" }, h("h3", {}, "Freshness"), table([
        { title: "Asset", cell: (f) => assetLink(f.asset) },
        { title: "State", cell: (f) => badge(f.state === "pass" ? "fresh" : f.state === "warn" ? "stale" : "late", "", f.state) },
        { title: "Since", cell: (f) => fmt.time(f.at) },
        { title: "Lag", cell: (f) => fmt.duration(f.lag_seconds) },
        { title: "Message", cell: (f) => h("span", { class: "muted" }, f.message || "") },
      ], data.freshness, { empty: "No freshness policy has been checked yet." })));
  }
  async function dryRun() {
    fill(dry, h("div", { class: "muted" }, "Evaluating…"));
    try {
      const found = await api("/automation/evaluate");
      const would = found.assets.filter((a) => a.would_run);
      fill(dry, h("div", { class: "notice" }, `At ${fmt.time(found.at)}: ${would.length} of ${found.assets.length} assets would run, in ${found.runs.length} run(s)`,
        would.length ? [": ", would.map((a) => [assetLink(a.asset), " (", a.reasons.join("; "), ") "])] : "."));
    } catch (e) { fill(dry, errorBox(e)); }
  }
  outlet.append(h("header", { class: "page-header" }, h("h1", {}, "Automation")), status, body);
  await load();
  const stop = follow("/stream", { types: "run_started,run_succeeded,run_failed,run_canceled" }, throttle(load, 2000));
  return () => stop();
}
