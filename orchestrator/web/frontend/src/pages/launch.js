// The buttons that start and stop work: materialize an asset (or one partition of it), backfill a
// range, cancel or re-execute a run, resume / retry / cancel a backfill. Runs go on the queue; a
// note says so when no daemon (`orch daemon`, `orch dev`) is alive to execute them.

import { api } from "../api.js";
import { fill, h } from "../dom.js";
import { navigate } from "../router.js";

const ACTIVE = ["queued", "starting", "running", "started"];

function problem(el, error) {
  fill(el, h("span", { class: "error-text" }, error.message || String(error)));
}

async function daemonNote() {
  try {
    const info = await api("/launch");
    return info.daemons.length ? null :
      "No daemon is running: the run waits in the queue until `orch daemon` (or `orch dev`) starts.";
  } catch { return null; }
}

export function launchPanel(asset) {
  if (!asset.executable) return h("div", { class: "launch muted small" }, "Not materialized by orch (external).");
  const status = h("div", { class: "small" });
  const selection = `key:${asset.key}`;
  async function run(partition) {
    fill(status, "Queuing…");
    try {
      const found = await api("/runs", { method: "POST", body: { selection, partition: partition || undefined } });
      const note = found.daemons ? "" : "?queued=nodaemon";
      navigate(`/runs/${found.run.run_id}${note}`);
    } catch (e) { problem(status, e); }
  }
  const buttons = [h("button", { class: "button primary", onclick: () => (asset.partitions ? form.hidden = !form.hidden : run()) },
    asset.partitions ? "Materialize…" : "Materialize")];
  const form = h("div", { class: "launch-form", hidden: true });
  if (asset.partitions) {
    const p = asset.partitions;
    const one = h("input", { class: "input mono", placeholder: p.last || "partition", value: p.last || "", "aria-label": "Partition" });
    const from = h("input", { class: "input mono", placeholder: "from", value: p.first || "", "aria-label": "From partition" });
    const to = h("input", { class: "input mono", placeholder: "to", value: p.last || "", "aria-label": "To partition" });
    const backfill = async () => {
      fill(status, "Planning the backfill…");
      try {
        const found = await api("/backfills", { method: "POST", body: { selection, from: from.value.trim(), to: to.value.trim() } });
        navigate(`/backfills/${found.backfill_id}`);
      } catch (e) { problem(status, e); }
    };
    fill(form, h("span", { class: "muted" }, "One partition"), one,
      h("button", { class: "button", onclick: () => run(one.value.trim()) }, "Materialize partition"),
      h("span", { class: "muted" }, "or a range"), from, "…", to,
      h("button", { class: "button", onclick: backfill }, "Backfill range"));
  }
  return h("div", { class: "launch" }, ...buttons, form, status);
}

export function runActions(detail, refresh) {
  const run = detail.run;
  const status = h("div", { class: "small" });
  const note = h("div", { class: "small muted" });
  const act = (label, path, body, go) => h("button", {
    class: "button" + (label === "Cancel" ? " danger" : ""),
    onclick: async (e) => {
      e.target.disabled = true;
      try {
        const found = await api(path, { method: "POST", body });
        if (go) navigate(`/runs/${found.run.run_id}`); else refresh();
      } catch (err) { problem(status, err); e.target.disabled = false; }
    },
  }, label);
  const buttons = [];
  if (ACTIVE.includes(run.status)) {
    buttons.push(act("Cancel", `/runs/${run.run_id}/cancel`, {}, false));
    if (run.status === "queued") daemonNote().then((text) => { if (text) fill(note, text); });
  } else {
    buttons.push(act("Re-execute", `/runs/${run.run_id}/reexecute`, { from_failure: false }, true));
    if (run.status === "failed" || run.status === "canceled") {
      buttons.push(act("Re-execute from failure", `/runs/${run.run_id}/reexecute`, { from_failure: true }, true));
    }
  }
  return h("div", { class: "launch" }, ...buttons, status, note);
}

export function backfillActions(b, refresh) {
  const status = h("div", { class: "small" });
  const act = (label, verb) => h("button", {
    class: "button" + (verb === "cancel" ? " danger" : ""),
    onclick: async (e) => {
      e.target.disabled = true;
      try { await api(`/backfills/${b.backfill_id}/${verb}`, { method: "POST", body: {} }); fill(status, `${label}: done`); refresh(); }
      catch (err) { problem(status, err); e.target.disabled = false; }
    },
  }, label);
  const buttons = [];
  if (["requested", "running"].includes(b.status)) buttons.push(act("Cancel", "cancel"));
  if (["failed", "canceled", "requested"].includes(b.status)) buttons.push(act("Resume", "resume"));
  if ((b.chunk_counts.failed || 0) > 0 && b.status !== "running") buttons.push(act("Retry failed", "retry"));
  return h("div", { class: "launch" }, ...buttons, status);
}
