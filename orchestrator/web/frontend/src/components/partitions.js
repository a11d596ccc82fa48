// The partitions health bar: ranges of materialized / stale / failed / missing partitions drawn on
// one canvas, proportional to their counts, so 100,000 partitions cost as much as their ranges.

import { fmt, h } from "../dom.js";
import { STATE_COLORS } from "./colors.js";

export function healthBar(summary) {
  const total = summary.partitions;
  const canvas = h("canvas", { class: "health-bar", height: 36, width: 1000, role: "img", "aria-label": "Partition health" });
  const tip = h("div", { class: "health-tip muted" }, "Hover the bar for ranges.");
  const spans = [];
  let at = 0;
  for (const r of summary.ranges) { spans.push({ ...r, from: at, to: at + r.count }); at += r.count; }
  const draw = () => {
    const width = canvas.clientWidth || 1000;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = 36 * ratio;
    const c = canvas.getContext("2d");
    c.scale(ratio, ratio);
    for (const span of spans) {
      const x0 = (span.from / total) * width, x1 = (span.to / total) * width;
      c.fillStyle = STATE_COLORS[span.status] || "#999";
      c.fillRect(x0, 0, Math.max(1, x1 - x0), 36);
    }
  };
  canvas.addEventListener("mousemove", (e) => {
    const box = canvas.getBoundingClientRect();
    const i = ((e.clientX - box.left) / box.width) * total;
    const span = spans.find((sp) => i >= sp.from && i < sp.to);
    if (span) tip.textContent = `${span.start}${span.end !== span.start ? " … " + span.end : ""}: ${span.status} (${fmt.number(span.count)})`;
  });
  requestAnimationFrame(draw);
  window.addEventListener("resize", draw);
  const counts = Object.entries(summary.counts).map(([state, n]) => h("span", { class: "legend-row inline" },
    h("span", { class: "dot", style: { background: STATE_COLORS[state] } }), `${state} `, h("strong", {}, fmt.number(n))));
  const first = summary.ranges[0], last = summary.ranges[summary.ranges.length - 1];
  return h("div", { class: "health" },
    h("div", { class: "health-legend" }, h("span", { class: "muted" }, `${fmt.number(total)} partitions`), ...counts),
    canvas,
    h("div", { class: "health-axis muted small" }, h("span", {}, first ? first.start : ""), h("span", {}, last ? last.end : "")),
    tip);
}
