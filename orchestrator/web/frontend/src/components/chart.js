// A line chart of one numeric series over time, as SVG (materialization metadata: rows, durations...).

import { fmt, h, s } from "../dom.js";

export function lineChart(points, { label = "", unit = (v) => fmt.number(v), height = 200 } = {}) {
  // points: [{t, v, title}] in any order
  const data = points.filter((p) => Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  if (!data.length) return h("div", { class: "muted" }, "No values to plot.");
  const W = 720, H = height, L = 64, R = 16, T = 14, B = 28;
  const t0 = data[0].t, t1 = data[data.length - 1].t || t0 + 1;
  let lo = Math.min(...data.map((p) => p.v)), hi = Math.max(...data.map((p) => p.v));
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  lo = Math.min(lo, 0) === 0 && lo >= 0 ? 0 : lo;
  const x = (t) => L + (t1 === t0 ? (W - L - R) / 2 : ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    grid.push(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "chart-grid" }),
      s("text", { x: L - 8, y: y(v) + 4, class: "chart-axis", "text-anchor": "end" }, unit(v)));
  }
  const ticks = (t1 - t0 < 1 ? [t0] : [t0, (t0 + t1) / 2, t1]).map((t, i) => s("text", { x: x(t), y: H - 8, class: "chart-axis", "text-anchor": t1 - t0 < 1 ? "middle" : ["start", "middle", "end"][i] }, fmt.time(t).slice(5, 16)));
  const path = data.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
  const dots = data.map((p) => s("circle", { cx: x(p.t), cy: y(p.v), r: data.length > 200 ? 1.5 : 3, class: "chart-dot" },
    s("title", {}, `${fmt.time(p.t)}: ${unit(p.v)}${p.title ? " · " + p.title : ""}`)));
  return h("figure", { class: "chart" }, h("figcaption", {}, label),
    s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img", "aria-label": label }, ...grid, ...ticks,
      s("path", { d: path, class: "chart-line" }), ...dots));
}
