// The global asset graph: every asset, laid out on the server (layered, grouped, cached per graph
// version), drawn with WebGL by sigma.js, coloured by state, live. Pan, zoom, search, select a
// subgraph with the selection grammar, click through to an asset.

import Graph from "graphology";
import Sigma from "sigma";
import { EdgeLineProgram, NodePointProgram } from "sigma/rendering";
import { api, follow } from "../api.js";
import { assetHref, badge, errorBox, fill, fmt, h, throttle } from "../dom.js";
import { navigate, setQuery } from "../router.js";
import { finder } from "../components/finder.js";
import { selectionBox } from "../components/selectionbox.js";
import { STATE_COLORS, groupColor } from "../components/colors.js";

const DIM = "#e5e7eb";
const EDGE = "#cbd5e1";
const EDGE_FAINT = "#e6ebf1"; // 10,000s of edges: a light haze the nodes stand out of
const EDGE_HOT = "#475569";

export async function graphPage(outlet, _params, query) {
  const started = performance.now();
  const container = h("div", { class: "graph-canvas", id: "graph-canvas" });
  const overlay = h("canvas", { class: "graph-groups" });
  const tooltip = h("div", { class: "graph-tooltip", hidden: true });
  const legend = h("div", { class: "graph-legend" });
  const info = h("div", { class: "graph-info muted" }, "Loading the layout…");
  const findSlot = h("div", {});
  const selection = selectionBox({ value: query.select || "", onApply: (text, setError) => applySelection(text, setError) });
  const zoom = (factor) => () => renderer && renderer.getCamera().animatedZoom({ factor, duration: 200 });
  const controls = h("div", { class: "graph-controls" },
    h("button", { class: "icon-button", title: "Zoom in", onclick: zoom(1.6) }, "+"),
    h("button", { class: "icon-button", title: "Zoom out", onclick: () => renderer && renderer.getCamera().animatedUnzoom({ factor: 1.6, duration: 200 }) }, "−"),
    h("button", { class: "icon-button", title: "Fit the whole graph", onclick: () => renderer && renderer.getCamera().animatedReset({ duration: 300 }) }, "⤢"));
  outlet.append(
    h("header", { class: "page-header" }, h("h1", {}, "Asset graph"), info),
    h("section", { class: "toolbar" }, findSlot, selection.element),
    h("div", { class: "graph-wrap" }, overlay, container, controls, legend, tooltip));

  let layout, renderer, graph;
  let selected = null; // Set of keys, or null for all
  let hovered = null;
  let focus = null;
  let near = false; // the camera is close enough for edges to be read one by one
  let states = [];
  let names = [];
  try {
    const [l, s] = await Promise.all([api("/graph"), api("/graph/states")]);
    layout = l;
    names = s.names;
    states = s.states;
  } catch (e) {
    fill(info, errorBox(e));
    return () => {};
  }
  const n = layout.keys.length;
  graph = new Graph({ type: "directed", multi: false, allowSelfLoops: false });
  const size = n > 3000 ? 2.2 : n > 500 ? 3.5 : 7;
  for (let i = 0; i < n; i++) {
    const key = layout.keys[i];
    graph.addNode(key, { x: layout.x[i], y: layout.y[i], size, label: key, color: STATE_COLORS[names[states[i]]] || "#999", index: i });
  }
  const edges = layout.edges;
  for (let i = 0; i < edges.length; i += 2) {
    graph.addDirectedEdgeWithKey(i / 2, layout.keys[edges[i]], layout.keys[edges[i + 1]], { size: n > 3000 ? 0.4 : 1, color: n > 2000 ? EDGE_FAINT : EDGE });
  }
  fill(findSlot, finder({ keys: layout.keys, onPick: (key) => focusOn(key) }));
  // Large graphs draw edges as 1-pixel GL lines and nodes as points: a fraction of the fill of
  // triangles, which counts where WebGL runs in software (SwiftShader on machines without a GPU).
  const large = n > 2000;
  renderer = new Sigma(graph, container, {
    renderEdgeLabels: false,
    defaultEdgeType: large ? "line" : "arrow",
    defaultNodeType: large ? "point" : "circle",
    edgeProgramClasses: large ? { line: EdgeLineProgram } : {},
    nodeProgramClasses: large ? { point: NodePointProgram } : {},
    hideEdgesOnMove: n > 5000,
    labelRenderedSizeThreshold: n > 300 ? 5 : 0,
    labelDensity: n > 300 ? 0.6 : 10,
    labelFont: "Inter, system-ui, sans-serif",
    labelSize: 12,
    labelColor: { color: "#1e293b" },
    zIndex: true,
    minCameraRatio: 0.002,
    maxCameraRatio: 4,
    nodeReducer: (node, data) => {
      const res = { ...data };
      if (selected && !selected.has(node)) { res.color = DIM; res.label = ""; res.zIndex = 0; }
      else res.zIndex = 1;
      if (hovered && (node === hovered || graph.areNeighbors(node, hovered))) { res.highlighted = node === hovered; res.zIndex = 2; res.forceLabel = true; }
      if (node === focus) { res.highlighted = true; res.forceLabel = true; res.size = data.size * 2.2; res.zIndex = 3; }
      return res;
    },
    edgeReducer: (edge, data) => {
      const res = { ...data };
      if (near && data.color === EDGE_FAINT) res.color = "#b6c2d1"; // zoomed in: few edges on screen, draw them plainly
      const [source, target] = graph.extremities(edge);
      if (selected && !(selected.has(source) && selected.has(target))) res.hidden = true;
      if (hovered && (source === hovered || target === hovered)) { res.color = EDGE_HOT; res.size = Math.max(1, data.size * 2); res.zIndex = 1; }
      return res;
    },
  });
  renderer.on("clickNode", ({ node }) => navigate(assetHref(node)));
  renderer.getCamera().on("updated", (state) => {
    if ((state.ratio < 0.2) !== near) { near = state.ratio < 0.2; renderer.refresh({ skipIndexation: true }); }
  });
  renderer.on("enterNode", ({ node }) => {
    hovered = node;
    const i = graph.getNodeAttribute(node, "index");
    fill(tooltip, h("div", { class: "mono" }, node), h("div", {}, badge(names[states[i]]), " ", h("span", { class: "muted" }, layout.groups[layout.group_of[i]])),
      h("div", { class: "muted small" }, `${graph.inDegree(node)} upstream · ${graph.outDegree(node)} downstream · click to open`));
    tooltip.hidden = false;
    renderer.refresh({ skipIndexation: true });
  });
  renderer.on("leaveNode", () => { hovered = null; tooltip.hidden = true; renderer.refresh({ skipIndexation: true }); });
  container.addEventListener("mousemove", (e) => {
    const box = container.getBoundingClientRect();
    tooltip.style.left = `${e.clientX - box.left + 14}px`;
    tooltip.style.top = `${e.clientY - box.top + 14}px`;
  });

  // Group boxes behind the nodes: one rectangle per group per column, labelled when zoomed in.
  const ctx = overlay.getContext("2d");
  function drawGroups() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = container.getBoundingClientRect();
    if (overlay.width !== Math.round(width * ratio)) { overlay.width = Math.round(width * ratio); overlay.height = Math.round(height * ratio); }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const pad = 0.8;
    const labelled = new Set();
    for (const [g, x0, y0, x1, y1] of layout.group_boxes) {
      const p = renderer.graphToViewport({ x: x0 - pad, y: y0 + pad });
      const q = renderer.graphToViewport({ x: x1 + pad, y: y1 - pad });
      const a = { x: Math.min(p.x, q.x), y: Math.min(p.y, q.y) }, b = { x: Math.max(p.x, q.x), y: Math.max(p.y, q.y) };
      const w = b.x - a.x, hgt = b.y - a.y;
      if (a.x > width || b.x < 0 || a.y > height || b.y < 0) continue;
      const color = groupColor(g);
      ctx.fillStyle = color + "22";
      ctx.strokeStyle = color + "55";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.roundRect(a.x, a.y, Math.max(w, 4), Math.max(hgt, 4), 6);
      ctx.fill();
      ctx.stroke();
      if (hgt > 28 && w > 2 && !labelled.has(`${g}:${Math.round(a.x / 80)}`)) {
        labelled.add(`${g}:${Math.round(a.x / 80)}`);
        ctx.fillStyle = color;
        ctx.font = "600 11px Inter, system-ui, sans-serif";
        ctx.fillText(layout.groups[g], a.x + 4, a.y - 4);
      }
    }
  }
  renderer.on("afterRender", drawGroups);
  drawGroups(); // the first render happened in the constructor

  function drawLegend() {
    const counts = {};
    for (const s of states) counts[names[s]] = (counts[names[s]] || 0) + 1;
    fill(legend, h("div", { class: "legend-title" }, "State"),
      ...names.filter((s) => counts[s]).map((s) => h("div", { class: "legend-row" },
        h("span", { class: "dot", style: { background: STATE_COLORS[s] } }), s, h("span", { class: "muted" }, fmt.number(counts[s])))),
      h("div", { class: "legend-title" }, "Groups"),
      ...layout.groups.slice(0, 12).map((g, i) => h("div", { class: "legend-row" }, h("span", { class: "swatch", style: { background: groupColor(i) } }), g)),
      layout.groups.length > 12 ? h("div", { class: "muted small" }, `+${layout.groups.length - 12} more`) : null);
  }
  drawLegend();

  async function applySelection(text, setError) {
    setQuery({ select: text });
    if (!text) { selected = null; setError(""); renderer.refresh({ skipIndexation: true }); info.textContent = `${fmt.number(n)} assets`; return; }
    try {
      const found = await api("/select", { params: { select: text } });
      selected = new Set(found.keys);
      setError("");
      info.textContent = `${fmt.number(found.count)} of ${fmt.number(n)} assets selected`;
      renderer.refresh({ skipIndexation: true });
      fitTo(found.keys);
    } catch (e) { setError(e.message); }
  }

  function fitTo(keys) {
    if (!keys.length) return;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (const k of keys) {
      const d = renderer.getNodeDisplayData(k);
      if (!d) continue;
      minX = Math.min(minX, d.x); maxX = Math.max(maxX, d.x); minY = Math.min(minY, d.y); maxY = Math.max(maxY, d.y);
    }
    const ratio = Math.min(1, Math.max(maxX - minX, maxY - minY) * 1.3 + 0.02);
    renderer.getCamera().animate({ x: (minX + maxX) / 2, y: (minY + maxY) / 2, ratio }, { duration: 400 });
  }

  function focusOn(key) {
    if (!graph.hasNode(key)) return;
    focus = key;
    const d = renderer.getNodeDisplayData(key);
    renderer.getCamera().animate({ x: d.x, y: d.y, ratio: Math.min(0.08, renderer.getCamera().ratio) }, { duration: 400 });
    renderer.refresh({ skipIndexation: true });
  }

  if (query.select) await applySelection(query.select, selection.setError);
  else info.textContent = `${fmt.number(n)} assets · ${fmt.number(edges.length / 2)} edges`;
  // For benchmarks/ui.py: when the graph was first drawn, measured from the page's navigation.
  window.__orchGraph = { drawnAt: performance.now(), startedAt: started, nodes: n, renderer };

  const refreshStates = throttle(async () => {
    try {
      const s = await api("/graph/states");
      states = s.states;
      graph.updateEachNodeAttributes((_node, attrs) => ({ ...attrs, color: STATE_COLORS[names[states[attrs.index]]] || "#999" }));
      drawLegend();
    } catch { /* the next event retries */ }
  }, 1000);
  const stop = follow("/stream", { types: "materialization,step_started,step_failed,run_started,run_succeeded,run_failed,run_canceled" }, refreshStates);
  return () => { stop(); renderer.kill(); };
}
