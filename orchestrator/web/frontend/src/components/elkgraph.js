// A layered drawing of a small graph (an asset's neighbourhood, a column's lineage): ELK lays it
// out in a Web Worker, the result is drawn as SVG with pan and zoom. Nodes may list rows (columns)
// that edges attach to.

import ELK from "elkjs/lib/elk-api.js";
import { fill, h, s } from "../dom.js";

let elk = null;
function engine() {
  if (!elk) elk = new ELK({ workerUrl: "/static/elk-worker.js" });
  return elk;
}

const ROW_H = 22, HEAD_H = 30, CHAR_W = 7.2, MIN_W = 150, MAX_W = 340;

function width(node) {
  const longest = Math.max(node.label.length, ...(node.rows || []).map((r) => r.text.length + 2));
  return Math.min(MAX_W, Math.max(MIN_W, longest * CHAR_W + 28));
}

// nodes: [{id, label, sub, color, stripe, rows: [{id, text, strong}], href}]; edges: [{id, source, target, sourceRow, targetRow, color, dashed, title}]
export async function drawGraph(container, nodes, edges, { onNode, direction = "RIGHT" } = {}) {
  const children = nodes.map((n) => {
    const w = width(n);
    const rows = n.rows || [];
    const height = rows.length ? HEAD_H + rows.length * ROW_H + 6 : n.sub ? 46 : HEAD_H;
    return {
      id: n.id, width: w, height,
      layoutOptions: { "org.eclipse.elk.portConstraints": "FIXED_POS" },
      ports: rows.flatMap((r, i) => [
        { id: `${n.id}::in::${r.id}`, x: -1, y: HEAD_H + i * ROW_H + ROW_H / 2, width: 1, height: 1 },
        { id: `${n.id}::out::${r.id}`, x: w, y: HEAD_H + i * ROW_H + ROW_H / 2, width: 1, height: 1 },
      ]),
    };
  });
  const elkEdges = edges.map((e) => ({
    id: e.id,
    sources: [e.sourceRow ? `${e.source}::out::${e.sourceRow}` : e.source],
    targets: [e.targetRow ? `${e.target}::in::${e.targetRow}` : e.target],
  }));
  const result = await engine().layout({
    id: "root",
    layoutOptions: {
      "org.eclipse.elk.algorithm": "layered",
      "org.eclipse.elk.direction": direction,
      "org.eclipse.elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "org.eclipse.elk.spacing.nodeNode": "26",
      "org.eclipse.elk.spacing.edgeEdge": "8",
      "org.eclipse.elk.edgeRouting": "SPLINES",
      "org.eclipse.elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
      "org.eclipse.elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
    },
    children, edges: elkEdges,
  });
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const W = result.width + 40, H = result.height + 40;
  const root = s("g", { transform: "translate(20,20)" });
  const defs = s("defs", {});
  const markers = new Set();
  function marker(color) {
    const id = "arrow-" + color.replace("#", "");
    if (!markers.has(id)) {
      markers.add(id);
      defs.append(s("marker", { id, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", fill: color })));
    }
    return `url(#${id})`;
  }
  const specs = Object.fromEntries(edges.map((e) => [e.id, e]));
  for (const edge of result.edges || []) {
    const spec = specs[edge.id];
    for (const section of edge.sections || []) {
      const pts = [section.startPoint, ...(section.bendPoints || []), section.endPoint];
      const d = pts.length === 2 ? `M${pts[0].x},${pts[0].y} C${(pts[0].x + pts[1].x) / 2},${pts[0].y} ${(pts[0].x + pts[1].x) / 2},${pts[1].y} ${pts[1].x},${pts[1].y}` : pathThrough(pts);
      const color = spec.color || "#94a3b8";
      root.append(s("path", { d, class: "elk-edge" + (spec.dashed ? " dashed" : ""), stroke: color, "marker-end": marker(color) },
        spec.title ? s("title", {}, spec.title) : null));
    }
  }
  for (const child of result.children || []) {
    const n = byId[child.id];
    const g = s("g", { transform: `translate(${child.x},${child.y})`, class: "elk-node" + (n.href ? " clickable" : "") + (n.focus ? " focus" : "") });
    g.append(s("rect", { width: child.width, height: child.height, rx: 8, class: "elk-box" }));
    g.append(s("rect", { width: 6, height: child.height, rx: 3, fill: n.stripe || "#94a3b8" }));
    g.append(s("text", { x: 14, y: 19, class: "elk-label" }, truncate(n.label, (child.width - 20) / CHAR_W)));
    if (n.sub) g.append(s("text", { x: 14, y: 36, class: "elk-sub" }, n.sub));
    (n.rows || []).forEach((r, i) => {
      const y = HEAD_H + i * ROW_H;
      g.append(s("rect", { x: 8, y: y + 1, width: child.width - 16, height: ROW_H - 2, rx: 4, class: "elk-row" + (r.strong ? " strong" : "") }));
      g.append(s("text", { x: 16, y: y + 15, class: "elk-row-text" + (r.strong ? " strong" : "") }, truncate(r.text, (child.width - 30) / CHAR_W)));
    });
    g.append(s("title", {}, n.title || n.label));
    if (n.href && onNode) g.addEventListener("click", () => onNode(n));
    root.append(g);
  }
  const svg = s("svg", { class: "elk-svg", viewBox: `0 0 ${W} ${H}`, width: W, height: H, preserveAspectRatio: "xMidYMin meet" }, defs, root);
  fill(container, h("div", { class: "elk-frame" }, svg));
  panZoom(svg, W, H);
  return { width: W, height: H };
}

function truncate(text, chars) {
  const n = Math.max(4, Math.floor(chars));
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function pathThrough(pts) {
  let d = `M${pts[0].x},${pts[0].y}`;
  for (let i = 1; i < pts.length; i++) d += ` L${pts[i].x},${pts[i].y}`;
  return d;
}

function panZoom(svg, W, H) {
  let view = { x: 0, y: 0, w: W, h: H };
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  svg.addEventListener("wheel", (e) => {
    if (!e.ctrlKey && !e.metaKey && !e.altKey) return; // plain wheel scrolls the page
    e.preventDefault();
    const box = svg.getBoundingClientRect();
    const fx = (e.clientX - box.left) / box.width, fy = (e.clientY - box.top) / box.height;
    const k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
    const nw = Math.min(W * 4, Math.max(W / 20, view.w * k)), nh = view.h * (nw / view.w);
    view = { x: view.x + (view.w - nw) * fx, y: view.y + (view.h - nh) * fy, w: nw, h: nh };
    apply();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => { if (e.target.closest(".clickable")) return; drag = { x: e.clientX, y: e.clientY, view: { ...view } }; svg.setPointerCapture(e.pointerId); });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    const k = view.w / box.width;
    view = { ...drag.view, x: drag.view.x - (e.clientX - drag.x) * k, y: drag.view.y - (e.clientY - drag.y) * k };
    apply();
  });
  svg.addEventListener("pointerup", () => { drag = null; });
  svg.addEventListener("dblclick", () => { view = { x: 0, y: 0, w: W, h: H }; apply(); });
}
